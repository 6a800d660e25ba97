// Reading and writing a TAP through io_uring: the IO thread's RX and TX paths where the kernel
// allows it (--tap-reads, --tap-writes; docs/tuning.md "Reading the TAP", "Writing the TAP"). A
// burst of reads goes to the kernel in one io_uring_enter instead of one read() each, into the
// NIC's RX slots registered once as a fixed buffer (no per-read page lookup), from the TAP
// registered once as a fixed file (no per-read file reference, which a threaded process
// otherwise takes and drops on every read); a burst of writes likewise, one write() each saved.
// Below that, a look at an idle TAP and a lone reply, it is read() and write() on the same TAP.
//
// Containment: the ring is made before the lock and restricted before it is enabled. It can
// only read (IORING_OP_READ_FIXED) from its registered TAP into its registered slots and write
// (IORING_OP_WRITE) to that TAP, and the one io_uring_register call allowed on it afterwards is
// unregistering that TAP (at close). The process filter lets io_uring_enter
// through on these rings' fds only, and a guest thread's filter on the rings it opened itself
// (with the IO token; seccomp.cc).
#include "shmtender.h"
#include <liburing.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmtender {

// Reads (or writes) per io_uring_enter at most: the IO thread's poll budget (64) in one submission.
static constexpr unsigned kDepth = 64;

#ifndef IORING_SETUP_SUBMIT_ALL  // liburing before 2.2 (Ubuntu 22.04's 2.1) does not name it; the kernel's value
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif

struct UringRx {
  struct io_uring ring;
  napi_env env;  // the environment (thread) that opened it: only it reads, closes, or is cleaned up with it
  uint8_t* slots;  // the registered buffer: one NIC's RX slots
  size_t length;
  int tap;  // the TAP, registered as the ring's fixed file; read() and write() it alone
  // Reads to submit next: doubles while every read finds a frame, then shrinks to what the
  // last batch found (+1), so a poll of an idle TAP costs one read, as ReadFrames' does.
  unsigned batch = 1;
  // Set by Retire: its bursts are read() and write() from then on.
  bool retired = false;
};

// Process-wide, so the lock (seccomp.cc) sees every ring; each is used, closed and cleaned up
// with the environment (thread) that opened it only: the IO thread, or the guest's thread
// holding the IO token.
static std::mutex g_mutex;
static std::vector<std::unique_ptr<UringRx>> g_rings;  // by id; null once closed

std::vector<int> UringFds() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<int> fds;
  for (auto& u : g_rings)
    if (u) fds.push_back(u->ring.ring_fd);
  return fds;
}

std::vector<int> UringFdsOf(napi_env env) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<int> fds;
  for (auto& u : g_rings)
    if (u && u->env == env) fds.push_back(u->ring.ring_fd);
  return fds;
}

// The raw system call: liburing exports io_uring_register() only from 2.3, and Debian's 2.3
// declares io_uring_register_restrictions and io_uring_enable_rings without exporting them.
static int Register(int ringFd, unsigned op, const void* arg, unsigned n) {
  return syscall(__NR_io_uring_register, ringFd, op, arg, n) < 0 ? -errno : 0;
}

static void CloseLocked(size_t id) {
  Register(g_rings[id]->ring.ring_fd, IORING_UNREGISTER_FILES, nullptr, 0);
  io_uring_queue_exit(&g_rings[id]->ring);
  g_rings[id].reset();
}

// A worker that ends without closing its rings (terminated, or thrown out of its set-up)
// still unregisters its TAPs.
static void CloseWithEnv(void* arg) {
  std::lock_guard<std::mutex> lock(g_mutex);
  size_t id = reinterpret_cast<uintptr_t>(arg);
  if (id < g_rings.size() && g_rings[id]) CloseLocked(id);
}

// The ring `id` if the calling environment opened it (else it throws and returns null).
static UringRx* Lookup(const Napi::Env& env, int64_t id) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (id < 0 || static_cast<size_t>(id) >= g_rings.size() || !g_rings[id] || g_rings[id]->env != static_cast<napi_env>(env)) {
    Napi::RangeError::New(env, "no such io_uring").ThrowAsJavaScriptException();
    return nullptr;
  }
  return g_rings[id].get();
}

bool RingServes(const Napi::Env& env, int64_t ring, int fd) {
  UringRx* u = Lookup(env, ring);
  if (u == nullptr) return false;
  if (u->tap != fd) {
    Napi::RangeError::New(env, "the io_uring is on another TAP").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// uringRxOpen(region, tapFd, slotsOffset, slotsLength) -> id. Errors carry .code (errno name):
// ENOSYS or EPERM where io_uring is missing or disabled (sysctl kernel.io_uring_disabled),
// ENOMEM past RLIMIT_MEMLOCK for the pinned slots without CAP_IPC_LOCK.
static Napi::Value UringRxOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* r = ArgRegion(info, 0);
  int fd;
  int64_t first, length;
  if (r == nullptr || !ArgFd(info, 1, fd) || !ArgInt(info, 2, first) || !ArgInt(info, 3, length)) return env.Undefined();
  if (first < 0 || length <= 0 || static_cast<uint64_t>(first) + static_cast<uint64_t>(length) > r->length) {
    Napi::RangeError::New(env, "the RX slots lie outside the shared region").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Each read of a batch must end at once, frame or EAGAIN: a blocking TAP would leave one
  // waiting in the kernel, where RWF_NOWAIT is not honoured, and the batch with it.
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ThrowErrno(env, errno, std::string("fcntl: ") + std::strerror(errno));
  if (!(flags & O_NONBLOCK)) return ThrowErrno(env, EINVAL, "io_uring: the TAP must be non-blocking");
  auto u = std::make_unique<UringRx>();
  u->env = env;
  u->slots = r->base + first;
  u->length = static_cast<size_t>(length);
  u->tap = fd;
  // SUBMIT_ALL (Linux 5.18): an entry that fails is completed with its error and the kernel
  // takes the rest of the batch, instead of stopping there (SubmitAndReap).
  int rc = io_uring_queue_init(kDepth, &u->ring, IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL);
  if (rc == -EINVAL) rc = io_uring_queue_init(kDepth, &u->ring, IORING_SETUP_R_DISABLED);
  if (rc < 0) return ThrowErrno(env, -rc, std::string("io_uring_setup: ") + std::strerror(-rc));
  struct iovec slots = {u->slots, u->length};
  struct io_uring_restriction only[5];
  std::memset(only, 0, sizeof only);
  only[0].opcode = IORING_RESTRICTION_SQE_OP;
  only[0].sqe_op = IORING_OP_READ_FIXED;
  only[1].opcode = IORING_RESTRICTION_SQE_OP;  // UringWriteFrames': TX frames to the same TAP
  only[1].sqe_op = IORING_OP_WRITE;
  only[2].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
  only[2].sqe_flags = IOSQE_FIXED_FILE;
  only[3].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
  only[3].sqe_flags = IOSQE_FIXED_FILE;
  only[4].opcode = IORING_RESTRICTION_REGISTER_OP;  // uringRxClose's, so the TAP is free at exit
  only[4].register_op = IORING_UNREGISTER_FILES;
  const char* step = "registering the TAP";
  rc = io_uring_register_files(&u->ring, &fd, 1);
  const bool tapRegistered = rc == 0;
  if (rc == 0) step = "registering the RX slots", rc = io_uring_register_buffers(&u->ring, &slots, 1);
  int ringFd = u->ring.ring_fd;
  if (rc == 0) step = "restricting it", rc = Register(ringFd, IORING_REGISTER_RESTRICTIONS, only, 5);
  if (rc == 0) step = "enabling it", rc = Register(ringFd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  if (rc < 0) {
    // As uringRxClose: a registered TAP is let go of first, or it stays held until a kernel
    // worker tears the ring down, and the next program to attach to it finds it busy.
    if (tapRegistered) Register(ringFd, IORING_UNREGISTER_FILES, nullptr, 0);
    io_uring_queue_exit(&u->ring);
    return ThrowErrno(env, -rc, std::string("io_uring (") + step + "): " + std::strerror(-rc));
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  auto free = std::find(g_rings.begin(), g_rings.end(), nullptr);
  if (free == g_rings.end()) free = g_rings.insert(g_rings.end(), nullptr);
  *free = std::move(u);
  uintptr_t id = free - g_rings.begin();
  napi_add_env_cleanup_hook(env, CloseWithEnv, reinterpret_cast<void*>(id));
  return Napi::Number::New(env, static_cast<double>(id));
}

// Retires the ring with a line on stderr: its bursts are read() and write() from now on. Entries
// prepared or queued and not taken would go out with its next batch, so it is never entered again.
static void Retire(UringRx* u, const std::string& why) {
  u->retired = true;
  std::string line = "tender: io_uring on TAP fd " + std::to_string(u->tap) + ": " + why + "; its frames go by read() and write() from now on\n";
  (void)!write(2, line.data(), line.size());
}

// Submits the `want` entries prepared (user_data 0..want-1) and waits for all that the kernel
// takes; res[i] is entry i's result, -EAGAIN for an entry not taken (not done: a write keeps
// its frame, a read found none). It takes them in order, all of them unless it cannot allocate
// (or, before Linux 5.18, after an entry that failed at submission): the rest stay queued and
// are handed again a few times, and any still not taken retire the ring. It never throws: a
// burst that already moved frames must return their count, and the TAP itself still works, so
// an io_uring_enter that fails outright or a completion that cannot be had retires the ring
// (Retire) and the burst goes on by read() and write().
static void SubmitAndReap(UringRx* u, unsigned want, int32_t* res) {
  std::fill(res, res + want, -EAGAIN);
  int rc;
  do rc = io_uring_submit_and_wait(&u->ring, want);
  while (rc == -EINTR);
  if (rc < 0 && rc != -EAGAIN) return Retire(u, std::string("io_uring_enter: ") + std::strerror(-rc));
  unsigned taken = rc > 0 ? static_cast<unsigned>(rc) : 0;
  for (int tries = 0; taken < want && tries < 8; tries++) {
    rc = io_uring_submit(&u->ring);  // what is still queued: the entries not taken
    if (rc > 0) taken += static_cast<unsigned>(rc);
    else if (rc != -EAGAIN && rc != -EINTR) break;
  }
  if (taken < want) Retire(u, "the kernel took " + std::to_string(taken) + " of " + std::to_string(want) + " entries");
  unsigned reaped = 0;
  for (; reaped < std::min(taken, want); reaped++) {
    struct io_uring_cqe* cqe;
    do rc = io_uring_wait_cqe(&u->ring, &cqe);
    while (rc == -EINTR);
    // Non-blocking reads and writes complete within the submission; a wait that fails all the
    // same may still leave completions posted: take those without entering the ring.
    if (rc < 0 && io_uring_peek_cqe(&u->ring, &cqe) != 0) {
      Retire(u, std::string("io_uring_enter: ") + std::strerror(-rc) + "; " + std::to_string(taken - reaped) +
                    " of its reads or writes ended unseen (a frame read there is lost, one written may go out again)");
      break;
    }
    if (cqe->user_data < want) res[cqe->user_data] = cqe->res;
    io_uring_cqe_seen(&u->ring, cqe);
  }
}

// ReadFrames (burst.cc) through the ring `ring` (burstRead, for a port bound to it): the same
// frames, with the reads batched. Each batch's reads are non-blocking
// (RWF_NOWAIT: one that finds no frame completes with EAGAIN instead of waiting), a frame
// read after one that found none is moved down so the frames stay in order and contiguous,
// and the burst ends at the first batch that was not all frames. A hard error ends the burst
// and is thrown if no frame came before it (else the next call meets it).
Napi::Value UringReadFrames(const Napi::Env& env, int64_t ring, const Burst& b, int64_t capacity, int64_t spinNs) {
  UringRx* u = Lookup(env, ring);
  if (u == nullptr) return env.Undefined();
  if (u->retired) return ReadFrames(env, b, capacity, spinNs);
  if (b.count > 0 && (b.at(0) < u->slots || b.at(b.count - 1) + capacity > u->slots + u->length)) {
    Napi::RangeError::New(env, "burst lies outside the registered RX slots").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t n = 0;
  int32_t res[kDepth];
  // Batches of one and two are read() calls: a look at an idle TAP, and a request/response
  // peer's frame (read alone after an empty or a one-frame burst: RingService.rx) or a frame
  // and a look. A read() costs less than an io_uring_enter for so few (on the PVM guest
  // measured, ~1.2 against ~1.5 µs a look). A stream doubles past them; a burst of one frame
  // is a read() whatever the batch has grown to.
  while (n < b.count && (u->batch <= 2 || b.count - n == 1)) {
    ssize_t got;
    do got = SpinRead(u->tap, b.at(n), static_cast<size_t>(capacity), n == 0 ? spinNs : 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
      int err = errno;
      u->batch = 1;
      if (err == EAGAIN || n > 0) return Napi::Number::New(env, static_cast<double>(n));  // a hard error: thrown now, or met by the next call
      return ThrowErrno(env, err, std::string("read: ") + std::strerror(err));
    }
    b.lens[n++] = static_cast<uint32_t>(got);
    if (u->batch <= 2) u->batch *= 2;  // one-frame bursts in a row say nothing of a stream
  }
  while (n < b.count) {
    unsigned want = static_cast<unsigned>(std::min<int64_t>(b.count - n, u->batch));
    for (unsigned i = 0; i < want; i++) {
      struct io_uring_sqe* sqe = io_uring_get_sqe(&u->ring);  // never null: a batch not all taken retires the ring
      if (sqe == nullptr) {
        Retire(u, "no free submission entry");
        if (n > 0) return Napi::Number::New(env, static_cast<double>(n));
        return ReadFrames(env, b, capacity, 0);
      }
      io_uring_prep_read_fixed(sqe, 0, b.at(n + i), static_cast<unsigned>(capacity), 0, 0);
      sqe->flags |= IOSQE_FIXED_FILE;
      sqe->rw_flags = RWF_NOWAIT;
      sqe->user_data = i;
    }
    SubmitAndReap(u, want, res);
    unsigned got = 0;
    int hard = 0;
    for (unsigned i = 0; i < want; i++) {
      if (res[i] < 0) {
        if (res[i] != -EAGAIN && res[i] != -EINTR && hard == 0) hard = -res[i];
        continue;
      }
      if (i != got) std::memmove(b.at(n + got), b.at(n + i), std::min<size_t>(static_cast<size_t>(res[i]), static_cast<size_t>(capacity)));
      b.lens[n + got++] = static_cast<uint32_t>(res[i]);
    }
    n += got;
    if (got == want && hard == 0) {
      u->batch = std::min(kDepth, std::max(u->batch, 2 * want));  // a burst cut short by room does not shrink it
      continue;
    }
    u->batch = got + 1;
    if (hard != 0 && n == 0) return ThrowErrno(env, hard, std::string("read: ") + std::strerror(hard));
    break;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// WriteFrames (burst.cc) through the ring `ring`: up to 64 writes per io_uring_enter instead
// of a write() each; on a machine where a system call is dear that is most of a frame's cost
// (docs/tuning.md, "Writing the TAP"). Each write is non-blocking (RWF_NOWAIT), so none is
// handed to a kernel worker and they reach the TAP in order. As WriteFrames: a frame the
// kernel refuses is consumed with its length zeroed (the caller counts it); EAGAIN/ENOBUFS
// ends the burst there, the frame kept (unless a later one of its batch went out: then it is
// refused, so no frame overtakes another); a dead TAP is thrown if nothing went before it.
Napi::Value UringWriteFrames(const Napi::Env& env, int64_t ring, const WriteBurstArgs& w) {
  UringRx* u = Lookup(env, ring);
  if (u == nullptr) return env.Undefined();
  if (u->retired) return WriteFrames(env, w);
  const int64_t count = w.count;
  uint32_t* lens = w.lens;
  // One frame (a reply): one write(), for the reason a lone read is one (above).
  if (count == 1) {
    const uint8_t* buf;
    uint32_t len;
    if (!w.frame(0, &buf, &len)) return ThrowFrameMoved(env);
    int r = WriteOne(u->tap, buf, len);
    if (r > 0) return ThrowErrno(env, r, std::string("write: ") + std::strerror(r));
    if (r == kRefused) lens[0] = 0;  // dropped, counted by the caller
    return Napi::Number::New(env, r == kAgain ? 0 : 1);
  }
  int64_t n = 0;
  int32_t res[kDepth];
  while (n < count) {
    unsigned want = static_cast<unsigned>(std::min<int64_t>(count - n, kDepth));
    // The batch's frames, read and checked before any entry is taken (WriteBurstArgs::frame).
    // A frame that moved ends the burst before it: what went before it is counted, and the
    // next call meets it first.
    const uint8_t* bufs[kDepth];
    uint32_t lensNow[kDepth];
    unsigned fit = 0;
    while (fit < want && w.frame(n + fit, &bufs[fit], &lensNow[fit])) fit++;
    if (fit == 0) {
      if (n > 0) return Napi::Number::New(env, static_cast<double>(n));
      return ThrowFrameMoved(env);
    }
    bool moved = fit < want;
    want = fit;
    for (unsigned i = 0; i < want; i++) {
      struct io_uring_sqe* sqe = io_uring_get_sqe(&u->ring);  // never null, as in UringReadFrames
      if (sqe == nullptr) {
        Retire(u, "no free submission entry");
        return Napi::Number::New(env, static_cast<double>(n));  // the rest go by write() at the next call
      }
      io_uring_prep_write(sqe, 0, bufs[i], lensNow[i], 0);
      sqe->flags |= IOSQE_FIXED_FILE;
      sqe->rw_flags = RWF_NOWAIT;
      sqe->user_data = i;
    }
    SubmitAndReap(u, want, res);
    // The last write of the batch that went out: a frame kept back must come after it.
    int last = -1;
    for (unsigned i = 0; i < want; i++) if (res[i] >= 0) last = static_cast<int>(i);
    for (unsigned i = 0; i < want; i++) {
      int err = res[i] < 0 ? -res[i] : 0;
      if (err == 0) continue;
      if ((err == EAGAIN || err == ENOBUFS || err == EINTR) && static_cast<int>(i) > last) return Napi::Number::New(env, static_cast<double>(n + i));
      // A dead TAP ends the burst there, as EAGAIN does. If a later write of the batch went out
      // all the same, this frame is refused like any other instead: ending the burst here would
      // have the caller send that later frame again. The next call meets a TAP truly gone.
      if ((err == EBADF || err == EBADFD || err == EFAULT || err == ENODEV) && static_cast<int>(i) > last) {
        if (n + i > 0) return Napi::Number::New(env, static_cast<double>(n + i));
        return ThrowErrno(env, err, std::string("write: ") + std::strerror(err));
      }
      lens[n + i] = 0;  // refused frame: dropped, counted by the caller
    }
    n += want;
    if (moved) break;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// uringRxClose(id). The TAP is unregistered first: a ring is torn down by a kernel worker some
// time after its fd is closed, and until then it holds the TAP, so that a program attaching
// to it right after the tender exited would find it busy.
static Napi::Value UringRxClose(const Napi::CallbackInfo& info) {
  int64_t id;
  if (!ArgInt(info, 0, id) || Lookup(info.Env(), id) == nullptr) return info.Env().Undefined();
  napi_remove_env_cleanup_hook(info.Env(), CloseWithEnv, reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
  PortsLoseRing(info.Env(), id);  // its id may be handed out again, to a ring on another TAP
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_rings[id]) CloseLocked(static_cast<size_t>(id));
  return info.Env().Undefined();
}

// uringEnterProbe(fd): io_uring_enter(fd) submitting nothing and waiting for nothing; 0 or
// -errno (EOPNOTSUPP: fd is no ring). It can do nothing a ring's owner could not, and shows
// what a thread's seccomp filter lets through on which fd (test/escape.test.ts: the guest's
// thread may enter its own rings, not the IO thread's).
static Napi::Value UringEnterProbe(const Napi::CallbackInfo& info) {
  int64_t fd;
  if (!ArgInt(info, 0, fd)) return info.Env().Undefined();
  if (fd < 0 || fd > INT32_MAX) {
    Napi::RangeError::New(info.Env(), "uringEnterProbe: fd out of range").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  long rc = syscall(__NR_io_uring_enter, static_cast<int>(fd), 0, 0, 0, nullptr, 0);
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : static_cast<double>(rc));
}

void InitUringRx(Napi::Env env, Napi::Object exports) {
  exports.Set("uringEnterProbe", Napi::Function::New(env, UringEnterProbe, "uringEnterProbe"));
  exports.Set("uringRxOpen", Napi::Function::New(env, UringRxOpen, "uringRxOpen"));
  exports.Set("uringRxClose", Napi::Function::New(env, UringRxClose, "uringRxClose"));
}

}  // namespace shmtender
