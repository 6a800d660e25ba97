// Reading a TAP through io_uring: the IO thread's RX path where the kernel allows it
// (--tap-reads, docs/tuning.md "Reading the TAP"). A burst of reads goes to the kernel in one
// io_uring_enter instead of one read() each, into the NIC's RX slots registered once as a
// fixed buffer (no per-read page lookup), from the TAP registered once as a fixed file (no
// per-read file reference, which a threaded process otherwise takes and drops on every read).
//
// Containment: the ring is made before the lock and restricted before it is enabled. It can
// only read (IORING_OP_READ_FIXED) from its registered TAP into its registered slots, and the
// one io_uring_register call allowed on it afterwards is unregistering that TAP (at close). The process filter lets io_uring_enter
// through on these rings' fds only, and the guest's threads not at all (seccomp.cc).
#include "shmtender.h"
#include <liburing.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace shmtender {

// Reads per io_uring_enter at most: the IO thread's poll budget (64) in one submission.
static constexpr unsigned kDepth = 64;

struct UringRx {
  struct io_uring ring;
  uint8_t* slots;  // the registered buffer: one NIC's RX slots
  size_t length;
  // Reads to submit next: doubles while every read finds a frame, then shrinks to what the
  // last batch found (+1), so a poll of an idle TAP costs one read, as readBurst's does.
  unsigned batch = 1;
};

// Process-wide, so the lock (seccomp.cc) sees every ring; each is used by the thread that
// opened it only (the IO thread).
static std::mutex g_mutex;
static std::vector<std::unique_ptr<UringRx>> g_rings;  // by id; null once closed

std::vector<int> UringFds() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<int> fds;
  for (auto& u : g_rings)
    if (u) fds.push_back(u->ring.ring_fd);
  return fds;
}

static UringRx* Lookup(const Napi::Env& env, int64_t id) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (id < 0 || static_cast<size_t>(id) >= g_rings.size() || !g_rings[id]) {
    Napi::RangeError::New(env, "no such io_uring").ThrowAsJavaScriptException();
    return nullptr;
  }
  return g_rings[id].get();
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
  auto u = std::make_unique<UringRx>();
  u->slots = r->base + first;
  u->length = static_cast<size_t>(length);
  int rc = io_uring_queue_init(kDepth, &u->ring, IORING_SETUP_R_DISABLED);
  if (rc < 0) return ThrowErrno(env, -rc, std::string("io_uring_setup: ") + std::strerror(-rc));
  struct iovec slots = {u->slots, u->length};
  struct io_uring_restriction only[4];
  std::memset(only, 0, sizeof only);
  only[0].opcode = IORING_RESTRICTION_SQE_OP;
  only[0].sqe_op = IORING_OP_READ_FIXED;
  only[1].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
  only[1].sqe_flags = IOSQE_FIXED_FILE;
  only[2].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
  only[2].sqe_flags = IOSQE_FIXED_FILE;
  only[3].opcode = IORING_RESTRICTION_REGISTER_OP;  // uringRxClose's, so the TAP is free at exit
  only[3].register_op = IORING_UNREGISTER_FILES;
  const char* step = "registering the TAP";
  rc = io_uring_register_files(&u->ring, &fd, 1);
  if (rc == 0) step = "registering the RX slots", rc = io_uring_register_buffers(&u->ring, &slots, 1);
  // io_uring_register() itself: Debian's liburing 2.3 declares io_uring_register_restrictions
  // and io_uring_enable_rings but does not export them.
  int ringFd = u->ring.ring_fd;
  if (rc == 0) step = "restricting it", rc = io_uring_register(ringFd, IORING_REGISTER_RESTRICTIONS, only, 4);
  if (rc == 0) step = "enabling it", rc = io_uring_register(ringFd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  if (rc < 0) {
    io_uring_queue_exit(&u->ring);
    return ThrowErrno(env, -rc, std::string("io_uring (") + step + "): " + std::strerror(-rc));
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  auto free = std::find(g_rings.begin(), g_rings.end(), nullptr);
  if (free == g_rings.end()) free = g_rings.insert(g_rings.end(), nullptr);
  *free = std::move(u);
  return Napi::Number::New(env, static_cast<double>(free - g_rings.begin()));
}

// uringReadBurst(region, id, firstOffset, stride, capacity, count, lens) -> frames read.
// What readBurst does, with the reads batched: each batch's reads are non-blocking
// (RWF_NOWAIT: one that finds no frame completes with EAGAIN instead of waiting), a frame
// read after one that found none is moved down so the frames stay in order and contiguous,
// and the burst ends at the first batch that was not all frames. A hard error ends the burst
// and is thrown if no frame came before it (else the next call meets it).
static Napi::Value UringReadBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Burst b;
  int64_t capacity;
  if (!ParseBurst(info, b, capacity)) return env.Undefined();
  UringRx* u = Lookup(env, b.fd);
  if (u == nullptr) return env.Undefined();
  if (b.count > 0 && (b.at(0) < u->slots || b.at(b.count - 1) + capacity > u->slots + u->length)) {
    Napi::RangeError::New(env, "burst lies outside the registered RX slots").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t n = 0;
  int32_t res[kDepth];
  while (n < b.count) {
    unsigned want = static_cast<unsigned>(std::min<int64_t>(b.count - n, u->batch));
    for (unsigned i = 0; i < want; i++) {
      struct io_uring_sqe* sqe = io_uring_get_sqe(&u->ring);  // never null: every batch is reaped below
      io_uring_prep_read_fixed(sqe, 0, b.at(n + i), static_cast<unsigned>(capacity), 0, 0);
      sqe->flags |= IOSQE_FIXED_FILE;
      sqe->rw_flags = RWF_NOWAIT;
      sqe->user_data = i;
    }
    int rc;
    do rc = io_uring_submit_and_wait(&u->ring, want);
    while (rc == -EINTR);
    if (rc < 0) return ThrowErrno(env, -rc, std::string("io_uring_enter: ") + std::strerror(-rc));
    for (unsigned i = 0; i < want; i++) {
      struct io_uring_cqe* cqe;
      do rc = io_uring_wait_cqe(&u->ring, &cqe);
      while (rc == -EINTR);
      if (rc < 0) return ThrowErrno(env, -rc, std::string("io_uring_enter: ") + std::strerror(-rc));
      res[cqe->user_data < want ? cqe->user_data : 0] = cqe->res;
      io_uring_cqe_seen(&u->ring, cqe);
    }
    unsigned got = 0;
    int hard = 0;
    for (unsigned i = 0; i < want; i++) {
      if (res[i] < 0) {
        if (res[i] != -EAGAIN && res[i] != -EINTR && hard == 0) hard = -res[i];
        continue;
      }
      if (i != got) std::memmove(b.at(n + got), b.at(n + i), static_cast<size_t>(res[i]));
      b.lens[n + got++] = static_cast<uint32_t>(res[i]);
    }
    n += got;
    if (got == want && hard == 0) {
      u->batch = std::min(kDepth, 2 * want);
      continue;
    }
    u->batch = got + 1;
    if (hard != 0 && n == 0) return ThrowErrno(env, hard, std::string("read: ") + std::strerror(hard));
    break;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// uringRxClose(id). The TAP is unregistered first: a ring is torn down by a kernel worker some
// time after its fd is closed, and until then it holds the TAP, so that a tender started
// right after this one exited would find it busy.
static Napi::Value UringRxClose(const Napi::CallbackInfo& info) {
  int64_t id;
  if (!ArgInt(info, 0, id) || Lookup(info.Env(), id) == nullptr) return info.Env().Undefined();
  std::lock_guard<std::mutex> lock(g_mutex);
  io_uring_unregister_files(&g_rings[id]->ring);
  io_uring_queue_exit(&g_rings[id]->ring);
  g_rings[id].reset();
  return info.Env().Undefined();
}

void InitUringRx(Napi::Env env, Napi::Object exports) {
  exports.Set("uringRxOpen", Napi::Function::New(env, UringRxOpen, "uringRxOpen"));
  exports.Set("uringReadBurst", Napi::Function::New(env, UringReadBurst, "uringReadBurst"));
  exports.Set("uringRxClose", Napi::Function::New(env, UringRxClose, "uringRxClose"));
}

}  // namespace shmtender
