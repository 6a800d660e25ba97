// The seccomp filters. Two layers:
//
//  seccompLock(protect)  the process filter, after dropPrivileges (privileges.cc): sets
//      PR_SET_NO_NEW_PRIVS, then loads an allow-list on every thread at once (TSYNC).
//      Anything off the list fails with EPERM (clone3 with ENOSYS, so libc falls back to
//      clone, which is refused in turn): Node turns that into a JavaScript error instead of
//      dying. Main thread only.
//  guestFilter() / guestFilterThreadpool(n)  a second filter, stacked on the first by each
//      thread the guest can make issue system calls (its own, the module hooks thread, libuv's
//      threadpool): no read or write on the process's pipes (libuv's signal pipes carry raw
//      pointers: bytes written there would be dereferenced), no read of an eventfd but its own
//      loop's (a read swallows another thread's wake-up), no close, no epoll_ctl on
//      another thread's loop, no changing an fd's flags, no pwritev2 (so protectedWrite
//      fails there), no io_uring but on the rings the thread opened itself (the guest's
//      thread with the IO token; never the IO thread's); and every signal blocked, so
//      libuv's signal handler never runs on these threads and needs none of that from them.
//
// solo5's tenders/hvt/hvt_seccomp_linux.c is the model (allow-list, TSYNC); unlike hvt we
// return errors rather than kill, because Node must be able to report them.
#include "shmtender.h"
#include <linux/io_uring.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <pthread.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

namespace shmtender {

static std::atomic<bool> g_locked{false};
static bool ListLockFds(std::string& why);

// ---- the filter ----------------------------------------------------------------------------

// What the tender, its IO thread, the guest's thread and Node's own threads (V8's platform
// workers, libuv's threadpool) were seen to need once set up (strace -f of every mode and
// every ending; docs/reliability.md says how to redo it). Nothing here opens a path, makes
// an fd, a process or a thread, or reaches the network.
static const int kAllowed[] = {
    // memory (V8's heap and code space, malloc, thread stacks)
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(brk),
    SCMP_SYS(pkey_mprotect),
    // waiting and waking: futexes (Atomics.wait, locks, joins), epoll (every event loop)
    SCMP_SYS(futex), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(epoll_ctl),
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(sched_yield), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
    // I/O on fds that already exist (TAPs, eventfds, stdio); writes filtered below
    SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(preadv), SCMP_SYS(lseek),
    // time, identity, accounting (uname, sysinfo: Node's os module aborts without them)
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(getrusage),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
    SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(getgroups), SCMP_SYS(getrandom),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(getcpu), SCMP_SYS(uname), SCMP_SYS(sysinfo),
    // signals within the process, thread and process exit
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

// Calls that take an fd to write to or close: refused on the protected fds (see Relocate).
static const int kFdWrites[] = {
    SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(pwrite64), SCMP_SYS(pwritev), SCMP_SYS(close),
};

// fcntl and ioctl requests Node and the tender make on fds they already hold.
static const int kFcntl[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL};
static const unsigned long kIoctl[] = {FIONBIO, FIOCLEX, FIONCLEX, FIONREAD, TCGETS, TIOCGWINSZ, SIOCGIFFLAGS};

static int AddRules(scmp_filter_ctx ctx, int protLo, int protHi) {
  int rc = 0;
  for (int sc : kAllowed)
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 0)) < 0) return rc;
  // The IO thread's rings (uring_rx.cc), restricted to reading their TAP into their RX slots, writing to it, and
  // unregistering it at close; io_uring_setup and any other io_uring_register are not allowed, so
  // no other ring can be made or changed.
  for (int fd : UringFds()) {
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_enter), 1, SCMP_A0_32(SCMP_CMP_EQ, static_cast<uint32_t>(fd)))) < 0) return rc;
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_register), 2, SCMP_A0_32(SCMP_CMP_EQ, static_cast<uint32_t>(fd)),
                               SCMP_A1_32(SCMP_CMP_EQ, IORING_UNREGISTER_FILES))) < 0) return rc;
  }
  for (int sc : kFdWrites) {
    if (protLo < 0) {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 0);
    } else {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 1, SCMP_A0_32(SCMP_CMP_LT, static_cast<uint32_t>(protLo)));
      if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sc, 1, SCMP_A0_32(SCMP_CMP_GT, static_cast<uint32_t>(protHi)));
    }
    if (rc < 0) return rc;
  }
  // The tender's own writes to a protected fd: pwritev2 with RWF_APPEND, which nothing in
  // Node or libuv issues, so the guest cannot write there even through Node's fs.
  if (protLo >= 0 && (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwritev2), 2,
                                            SCMP_A0_32(SCMP_CMP_GE, static_cast<uint32_t>(protLo)),
                                            SCMP_A5_32(SCMP_CMP_EQ, RWF_APPEND))) < 0)
    return rc;
  for (int cmd : kFcntl)
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, SCMP_A1_32(SCMP_CMP_EQ, cmd))) < 0) return rc;
  for (unsigned long req : kIoctl)
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, SCMP_A1_32(SCMP_CMP_EQ, static_cast<uint32_t>(req)))) < 0) return rc;
  // fstat(fd) is fstatat/statx(fd, "", AT_EMPTY_PATH); Node cannot pass that flag with a
  // path, so stat of a path (which would tell the guest what files exist) stays refused.
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fstat), 0)) < 0) return rc;
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
                             SCMP_A3_32(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH))) < 0)
    return rc;
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(statx), 1,
                             SCMP_A2_32(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH))) < 0)
    return rc;
  // Signals only among this process's threads (glibc's raise and abort, V8): tgkill to our
  // own pid. kill() is refused outright: nothing here needs it, and the guest would reach it
  // through process._kill (SIGKILL to itself ends the tender before it reports).
  uint32_t pid = static_cast<uint32_t>(getpid());
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0_32(SCMP_CMP_EQ, pid))) < 0) return rc;
  // prctl for thread names and reading state only.
  for (int op : {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS})
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0_32(SCMP_CMP_EQ, op))) < 0) return rc;
  // More filters (guestFilter) may be stacked: that only takes more away. Not with a
  // listener, which would be a new fd.
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 1,
                             SCMP_A1_32(SCMP_CMP_MASKED_EQ, SECCOMP_FILTER_FLAG_NEW_LISTENER, 0))) < 0)
    return rc;
  // clone3 cannot be filtered by flags (they sit in memory): ENOSYS makes glibc use clone,
  // which the default action refuses like every other way to a new thread or process.
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0) return rc;
  return 0;
}

// The protected fds are moved to the top of the fd table, one after another, so one range
// check covers them (libseccomp compares an argument once per rule). After the lock nothing
// can make a new fd, so nothing else ever lands in that range.
static bool Relocate(std::vector<int>& fds, std::string& why) {
  int top = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) {
    why = std::string("/proc/self/fd: ") + std::strerror(errno);
    return false;
  }
  while (struct dirent* e = readdir(d)) top = std::max(top, std::atoi(e->d_name));
  closedir(d);
  for (size_t i = 0; i < fds.size(); i++) {
    int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, top + 1 + static_cast<int>(i));
    if (moved != top + 1 + static_cast<int>(i)) {
      why = std::string("moving fd ") + std::to_string(fds[i]) + ": " + (moved < 0 ? std::strerror(errno) : "not contiguous");
      if (moved >= 0) close(moved);
      return false;
    }
    close(fds[i]);
    fds[i] = moved;
  }
  return true;
}

// seccompLock(protectFds: number[]) -> the protected fds' new numbers, in order.
static Napi::Value SeccompLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "seccompLock(protectFds): an array of fds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0) {
      Napi::TypeError::New(env, "seccompLock: fds must be non-negative integers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }
  std::string why;
  if (!fds.empty() && !Relocate(fds, why)) return ThrowErrno(env, EBADF, why);
  int lo = fds.empty() ? -1 : fds.front(), hi = fds.empty() ? -1 : fds.back();
  if (!ListLockFds(why)) return ThrowErrno(env, EBADF, why);

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return ThrowErrno(env, errno, std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + std::strerror(errno));
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) return ThrowErrno(env, ENOMEM, "seccomp_init failed");
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  // A binary tree over syscall numbers rather than a list: every system call pays for the
  // filter, the hot path's (futex, read, write, epoll, sched_yield) included.
  if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc == 0) rc = AddRules(ctx, lo, hi);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc < 0) return ThrowErrno(env, -rc, std::string("installing the seccomp filter: ") + std::strerror(-rc));
  g_locked = true;
  Napi::Array out = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) out.Set(i, Napi::Number::New(env, fds[i]));
  return out;
}

// ---- the guest's threads ---------------------------------------------------------------------

static std::vector<int> g_pipes;     // every pipe fd above stderr at the lock; the set is final then
static std::vector<int> g_eventfds;  // every eventfd at the lock: each loop's wake-up, the tender's kicks and controls

static bool ListLockFds(std::string& why) {
  g_pipes.clear();
  g_eventfds.clear();
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) {
    why = std::string("/proc/self/fd: ") + std::strerror(errno);
    return false;
  }
  while (struct dirent* e = readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd <= STDERR_FILENO) continue;  // stdio stays the guest's console, pipe or not
    char target[64];
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
    if (n > 5 && std::strncmp(target, "pipe:", 5) == 0) g_pipes.push_back(fd);
    if (n > 0 && std::string(target, static_cast<size_t>(n)) == "anon_inode:[eventfd]") g_eventfds.push_back(fd);
  }
  closedir(d);
  return true;
}

// Denies sc unless its first argument is one of `allowed` (none: always), in rules a filter can
// hold: below the lowest, above the highest, and each fd in between that is not one of them.
static int DenyFdsBut(scmp_filter_ctx ctx, uint32_t deny, int sc, std::vector<int> allowed) {
  if (allowed.empty()) return seccomp_rule_add(ctx, deny, sc, 0);
  std::sort(allowed.begin(), allowed.end());
  int lo = allowed.front(), hi = allowed.back();
  if (hi - lo > 1024) return -E2BIG;
  int rc = seccomp_rule_add(ctx, deny, sc, 1, SCMP_A0_32(SCMP_CMP_LT, static_cast<uint32_t>(lo)));
  if (rc == 0) rc = seccomp_rule_add(ctx, deny, sc, 1, SCMP_A0_32(SCMP_CMP_GT, static_cast<uint32_t>(hi)));
  for (int fd = lo + 1; fd < hi && rc == 0; fd++)
    if (!std::binary_search(allowed.begin(), allowed.end(), fd))
      rc = seccomp_rule_add(ctx, deny, sc, 1, SCMP_A0_32(SCMP_CMP_EQ, static_cast<uint32_t>(fd)));
  return rc;
}

// Stacks the guest filter on the calling thread; ownLoop is this thread's libuv epoll fd and
// ownWakeup its loop's eventfd (-1: it has no loop), ownRings the io_uring fds it opened
// (uring_rx.cc). Returns 0 or -errno.
static int LoadGuestFilter(int ownLoop, int ownWakeup, const std::vector<int>& ownRings) {
  // A loop whose wake-up is not among the eventfds listed at the lock (libuv's layout not the
  // one compiled against) fails here: its own read refused, libuv would abort().
  if (ownLoop >= 0 && std::find(g_eventfds.begin(), g_eventfds.end(), ownWakeup) == g_eventfds.end()) return -EINVAL;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);  // the process filter below still applies
  if (ctx == nullptr) return -ENOMEM;
  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);  // already set, and prctl is filtered
  if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (int sc : {SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(preadv), SCMP_SYS(write),
                 SCMP_SYS(writev), SCMP_SYS(pwrite64), SCMP_SYS(pwritev)})
    for (int p : g_pipes)
      if (rc == 0) rc = seccomp_rule_add(ctx, deny, sc, 1, SCMP_A0_32(SCMP_CMP_EQ, static_cast<uint32_t>(p)));
  // No read of another thread's eventfd: a read takes the count, so the wake-up it carried
  // (a worker's message to the main loop, a kick, the tender's stop) would never be seen and
  // its thread would wait for a timer. Writing them stays: posting a message writes the main
  // loop's, a kick the IO thread's.
  for (int sc : {SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(preadv)})
    for (int e : g_eventfds)
      if (rc == 0 && e != ownWakeup) rc = seccomp_rule_add(ctx, deny, sc, 1, SCMP_A0_32(SCMP_CMP_EQ, static_cast<uint32_t>(e)));
  if (rc == 0) rc = seccomp_rule_add(ctx, deny, SCMP_SYS(close), 0);
  // Rings: only those this thread opened itself (with the IO token: reading and writing its
  // own TAPs, as read() and write() on them do), never the IO thread's.
  for (int sc : {SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register)})
    if (rc == 0) rc = DenyFdsBut(ctx, deny, sc, ownRings);
  if (rc == 0) rc = seccomp_rule_add(ctx, deny, SCMP_SYS(pwritev2), 0);  // so protectedWrite is the tender's only
  if (rc == 0) {
    rc = ownLoop < 0 ? seccomp_rule_add(ctx, deny, SCMP_SYS(epoll_ctl), 0)
                     : seccomp_rule_add(ctx, deny, SCMP_SYS(epoll_ctl), 1, SCMP_A0_32(SCMP_CMP_NE, static_cast<uint32_t>(ownLoop)));
  }
  for (int cmd : {F_SETFL, F_SETFD})
    if (rc == 0) rc = seccomp_rule_add(ctx, deny, SCMP_SYS(fcntl), 1, SCMP_A1_32(SCMP_CMP_EQ, cmd));
  for (unsigned long req : {FIONBIO, FIOCLEX, FIONCLEX})
    if (rc == 0) rc = seccomp_rule_add(ctx, deny, SCMP_SYS(ioctl), 1, SCMP_A1_32(SCMP_CMP_EQ, static_cast<uint32_t>(req)));
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  return rc;
}

static uv_loop_s* OwnLoop(const Napi::Env& env) {
  uv_loop_s* loop = nullptr;
  return napi_get_uv_event_loop(env, &loop) == napi_ok ? loop : nullptr;
}

// The eventfd other threads write to wake this loop (libuv's async handles on Linux: one per
// loop, read by the loop alone). A field of uv_loop_t's private part, as libuv 1.x has it.
static int OwnWakeupFd(uv_loop_s* loop) {
  return loop == nullptr ? -1 : loop->async_io_watcher.fd;
}

// guestFilter(): on the calling thread (the guest's, the module hooks'), after the lock.
static Napi::Value GuestFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!g_locked) return ThrowErrno(env, EINVAL, "guestFilter: the process is not locked");
  uv_loop_s* loop = OwnLoop(env);
  int rc = LoadGuestFilter(loop == nullptr ? -1 : uv_backend_fd(loop), OwnWakeupFd(loop), UringFdsOf(env));
  if (rc < 0) return ThrowErrno(env, -rc, std::string("installing the guest filter: ") + std::strerror(-rc));
  return env.Undefined();
}

// guestFilterThreadpool(n) -> Promise: one job per threadpool thread, each of which stacks
// the guest filter on its own thread and then waits until all n have, so that no thread
// takes two jobs and every one of the n is covered. n must be the pool's size.
struct PoolLock {
  int n;
  std::atomic<int> arrived{0};
  std::atomic<int> failed{0};
  int finished = 0;
  Napi::Promise::Deferred deferred;
  explicit PoolLock(Napi::Env env, int count) : n(count), deferred(Napi::Promise::Deferred::New(env)) {}
};

class PoolLockJob : public Napi::AsyncWorker {
 public:
  PoolLockJob(Napi::Env env, std::shared_ptr<PoolLock> s) : Napi::AsyncWorker(env, "shmtender:guestFilter"), s_(std::move(s)) {}
  void Execute() override {
    if (LoadGuestFilter(-1, -1, {}) != 0) s_->failed.fetch_add(1);
    s_->arrived.fetch_add(1);
    for (int i = 0; i < 5000 && s_->arrived.load() < s_->n; i++) {
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, nullptr);
    }
    if (s_->arrived.load() < s_->n) s_->failed.fetch_add(1);  // fewer threads than n
  }
  void OnOK() override { Finish(); }
  void OnError(const Napi::Error&) override { Finish(); }

 private:
  void Finish() {
    if (++s_->finished < s_->n) return;
    Napi::Env env = Env();
    if (s_->failed.load() == 0) s_->deferred.Resolve(env.Undefined());
    else s_->deferred.Reject(Napi::Error::New(env, "could not filter every threadpool thread").Value());
  }
  std::shared_ptr<PoolLock> s_;
};

static Napi::Value GuestFilterThreadpool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n;
  if (!ArgInt(info, 0, n)) return env.Undefined();
  if (!g_locked) return ThrowErrno(env, EINVAL, "guestFilterThreadpool: the process is not locked");
  if (n < 1 || n > 1024) return ThrowErrno(env, EINVAL, "guestFilterThreadpool: n must be 1..1024");
  auto s = std::make_shared<PoolLock>(env, static_cast<int>(n));
  for (int i = 0; i < n; i++) (new PoolLockJob(env, s))->Queue();
  return s->deferred.Promise();
}

// protectedWrite(fd, bytes, offset = 0, length = rest) -> bytes written by one pwritev2 with
// RWF_APPEND, the one write the filters let through to a protected fd (a file the tender
// writes), and only from a tender thread. Works before the lock too, and on pipes and
// sockets; errors (EAGAIN from a non-blocking pipe among them) throw with .code.
static Napi::Value ProtectedWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, fd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "protectedWrite(fd, bytes): bytes must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  int64_t off = 0, len = static_cast<int64_t>(bytes.ByteLength());
  if (info.Length() > 2 && !ArgInt(info, 2, off)) return env.Undefined();
  if (info.Length() > 3) {
    if (!ArgInt(info, 3, len)) return env.Undefined();
  } else {
    len -= off;
  }
  if (off < 0 || len < 0 || static_cast<uint64_t>(off + len) > bytes.ByteLength())
    return ThrowErrno(env, EINVAL, "protectedWrite: offset and length outside the buffer");
  for (;;) {
    struct iovec iov = {bytes.Data() + off, static_cast<size_t>(len)};
    long n = syscall(SYS_pwritev2, fd, &iov, 1, -1L, 0L, RWF_APPEND);
    if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
    if (errno == EINTR) continue;
    // Worded as Node's fs errors are ("EPIPE: broken pipe, write"), so callers describe both alike.
    int err = errno;
    std::string text = std::strerror(err);
    if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return ThrowErrno(env, err, std::string(ErrnoName(err)) + ": " + text + ", write");
  }
}

void InitSeccomp(Napi::Env env, Napi::Object exports) {
  // Every thread may take more away from itself.
  exports.Set("guestFilter", Napi::Function::New(env, GuestFilter, "guestFilter"));
  exports.Set("guestFilterThreadpool", Napi::Function::New(env, GuestFilterThreadpool, "guestFilterThreadpool"));
  // Any tender thread may write its protected files; on the guest's threads the guest
  // filter refuses pwritev2, so this fails there.
  exports.Set("protectedWrite", Napi::Function::New(env, ProtectedWrite, "protectedWrite"));
  // The lock: the main thread's environment only, so a guest that gets hold of the addon in
  // its own worker does not find it.
  if (syscall(SYS_gettid) != getpid()) return;
  exports.Set("seccompLock", Napi::Function::New(env, SeccompLock, "seccompLock"));
}

}  // namespace shmtender
