// The lock: once the tender has set everything up, the process gives up what the guest must
// not have. In the order host/sandbox.ts calls them:
//   dropPrivileges()  root -> nobody/nogroup with no supplementary groups; or, started
//                     without root but with capabilities (CAP_NET_ADMIN), every capability
//                     dropped on every thread that takes signals. Checked from /proc after.
//   seccompLock(...)  PR_SET_NO_NEW_PRIVS, then an allow-list filter on all threads at once
//                     (TSYNC). Anything off the list fails with EPERM (clone3 with ENOSYS, so
//                     libc falls back to clone, which is refused in turn): Node turns that into
//                     a JavaScript error instead of dying.
// solo5's tenders/hvt/hvt_seccomp_linux.c is the model (allow-list, TSYNC); unlike hvt we
// return errors rather than kill, because Node must be able to report them.
//
// Only the main thread's environment gets these functions and protectedWrite(): a guest that
// gets hold of the addon in its own worker finds none of them.
#include "shmtender.h"
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

namespace shmtender {

// ---- privileges ----------------------------------------------------------------------------

static int DropOwnCapabilities() {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  std::memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &hdr, data) < 0) return -errno;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  return 0;
}

// Capabilities are per thread and capset() acts on the caller only, so every other thread is
// asked, by a signal, to drop its own (glibc does the same for setuid(); we cannot use its
// signal). A thread that blocks every signal (Node's SIGUSR1 watcher, which sleeps on a
// semaphore and runs no JavaScript) cannot be asked: it is listed in `deaf`.
static std::atomic<int> g_pending{0};
static std::atomic<int> g_failed{0};

static void DropCapsHandler(int) {
  int saved = errno;
  if (DropOwnCapabilities() != 0) g_failed.fetch_add(1);
  g_pending.fetch_sub(1);
  errno = saved;
}

static std::vector<pid_t> Threads() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  closedir(d);
  return out;
}

// A field of /proc/self/task/TID/status ("CapEff", "SigBlk", ...), or "" if gone.
static std::string StatusField(pid_t tid, const char* field) {
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/status";
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return "";
  char line[256];
  std::string out;
  size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      out = line + n + 1;
      break;
    }
  }
  std::fclose(f);
  size_t a = out.find_first_not_of(" \t\n"), b = out.find_last_not_of(" \t\n");
  return a == std::string::npos ? "" : out.substr(a, b - a + 1);
}

static std::string DropCapabilitiesEverywhere(std::vector<pid_t>& deaf) {
  int rc = DropOwnCapabilities();
  if (rc < 0) return std::string("capset: ") + std::strerror(-rc);
  const int sig = SIGRTMIN + 3;  // used by neither glibc (SIGRTMIN-1, -2), libuv nor Node
  struct sigaction sa, old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = DropCapsHandler;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &old) < 0) return std::string("sigaction: ") + std::strerror(errno);
  g_failed = 0;
  pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  for (pid_t tid : Threads()) {
    if (tid == self) continue;
    unsigned long long blocked = std::strtoull(StatusField(tid, "SigBlk").c_str(), nullptr, 16);
    if (blocked & (1ULL << (sig - 1))) {
      deaf.push_back(tid);
      continue;
    }
    g_pending.fetch_add(1);
    if (syscall(SYS_tgkill, getpid(), tid, sig) < 0) g_pending.fetch_sub(1);  // it ended meanwhile
  }
  for (int i = 0; i < 2000 && g_pending.load() > 0; i++) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, nullptr);
  }
  sigaction(sig, &old, nullptr);
  if (g_pending.load() > 0) return std::to_string(g_pending.load()) + " thread(s) did not drop their capabilities";
  if (g_failed.load() > 0) return "capset failed on another thread";
  return "";
}

// Every thread but `skip`, from /proc: no capability in any set, and (from root) nobody's
// ids and no supplementary group.
static std::string CheckThreads(bool expectIds, uid_t uid, gid_t gid, const std::vector<pid_t>& skip) {
  for (pid_t tid : Threads()) {
    if (std::find(skip.begin(), skip.end(), tid) != skip.end()) continue;
    for (const char* f : {"CapInh", "CapPrm", "CapEff", "CapAmb"}) {
      std::string v = StatusField(tid, f);
      if (!v.empty() && std::strtoull(v.c_str(), nullptr, 16) != 0)
        return "thread " + std::to_string(tid) + " still has capabilities (" + f + " " + v + ")";
    }
    if (!expectIds) continue;
    std::string want = std::to_string(uid) + "\t" + std::to_string(uid) + "\t" + std::to_string(uid) + "\t" + std::to_string(uid);
    std::string wantG = std::to_string(gid) + "\t" + std::to_string(gid) + "\t" + std::to_string(gid) + "\t" + std::to_string(gid);
    std::string u = StatusField(tid, "Uid"), g = StatusField(tid, "Gid"), groups = StatusField(tid, "Groups");
    if (u.empty()) continue;  // the thread ended
    if (u != want) return "thread " + std::to_string(tid) + " kept uid " + u;
    if (g != wantG) return "thread " + std::to_string(tid) + " kept gid " + g;
    if (!groups.empty()) return "thread " + std::to_string(tid) + " kept groups " + groups;
  }
  return "";
}

static bool LookupUnprivileged(uid_t* uid, gid_t* gid) {
  *uid = 65534;
  *gid = 65534;
  if (struct passwd* pw = getpwnam("nobody")) *uid = pw->pw_uid;
  if (struct group* gr = getgrnam("nogroup")) *gid = gr->gr_gid;
  else if (struct group* gr2 = getgrnam("nobody")) *gid = gr2->gr_gid;
  return *uid != 0 && *gid != 0;
}

// dropPrivileges() -> { uid, gid, from: 'root' | 'capabilities' | 'unprivileged', deaf: tids }
static Napi::Value DropPrivileges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uid_t ruid, euid, suid;
  getresuid(&ruid, &euid, &suid);
  Napi::Object out = Napi::Object::New(env);
  std::vector<pid_t> deaf;
  std::string why;
  if (ruid == 0 || euid == 0 || suid == 0) {
    uid_t uid;
    gid_t gid;
    if (!LookupUnprivileged(&uid, &gid)) return ThrowErrno(env, EINVAL, "no unprivileged user (nobody) to drop to");
    // glibc applies each of these to every thread (its signal for this cannot be blocked);
    // leaving uid 0 clears the permitted, effective and ambient capabilities.
    if (setgroups(0, nullptr) < 0) return ThrowErrno(env, errno, std::string("setgroups: ") + std::strerror(errno));
    if (setresgid(gid, gid, gid) < 0) return ThrowErrno(env, errno, std::string("setresgid: ") + std::strerror(errno));
    if (setresuid(uid, uid, uid) < 0) return ThrowErrno(env, errno, std::string("setresuid: ") + std::strerror(errno));
    if (setresuid(0, 0, 0) == 0) return ThrowErrno(env, EPERM, "root could be regained after dropping privileges");
    why = CheckThreads(true, uid, gid, deaf);
    out.Set("uid", Napi::Number::New(env, uid));
    out.Set("gid", Napi::Number::New(env, gid));
    out.Set("from", "root");
  } else {
    bool had = !CheckThreads(false, 0, 0, deaf).empty();
    why = DropCapabilitiesEverywhere(deaf);
    if (why.empty()) why = CheckThreads(false, 0, 0, deaf);
    out.Set("uid", Napi::Number::New(env, ruid));
    out.Set("gid", Napi::Number::New(env, getgid()));
    out.Set("from", had ? "capabilities" : "unprivileged");
  }
  if (!why.empty()) return ThrowErrno(env, EPERM, "dropping privileges: " + why);
  Napi::Array d = Napi::Array::New(env, deaf.size());
  for (uint32_t i = 0; i < deaf.size(); i++) d.Set(i, Napi::Number::New(env, deaf[i]));
  out.Set("deaf", d);
  return out;
}

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
  // Signals only to this process: V8 and glibc signal their own threads (tgkill); Node's
  // process.kill(process.pid) stays possible, anyone else's pid is refused.
  uint32_t pid = static_cast<uint32_t>(getpid());
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0_32(SCMP_CMP_EQ, pid))) < 0) return rc;
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0_32(SCMP_CMP_EQ, pid))) < 0) return rc;
  // prctl for thread names and reading state only.
  for (int op : {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS})
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0_32(SCMP_CMP_EQ, op))) < 0) return rc;
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

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return ThrowErrno(env, errno, std::string("prctl(PR_SET_NO_NEW_PRIVS): ") + std::strerror(errno));
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) return ThrowErrno(env, ENOMEM, "seccomp_init failed");
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc == 0) rc = AddRules(ctx, lo, hi);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc < 0) return ThrowErrno(env, -rc, std::string("installing the seccomp filter: ") + std::strerror(-rc));
  Napi::Array out = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) out.Set(i, Napi::Number::New(env, fds[i]));
  return out;
}

// protectedWrite(fd, bytes): appends to a protected fd (pwritev2 with RWF_APPEND, the one
// form of write the filter lets through to it). Also works before the lock.
static Napi::Value ProtectedWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, fd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "protectedWrite(fd, bytes): bytes must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  size_t off = 0;
  while (off < bytes.ByteLength()) {
    struct iovec iov = {bytes.Data() + off, bytes.ByteLength() - off};
    long n = syscall(SYS_pwritev2, fd, &iov, 1, -1L, 0L, RWF_APPEND);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ThrowErrno(env, n < 0 ? errno : EIO, std::string("write: ") + std::strerror(n < 0 ? errno : EIO));
    off += static_cast<size_t>(n);
  }
  return env.Undefined();
}

void InitSeccomp(Napi::Env env, Napi::Object exports) {
  if (syscall(SYS_gettid) != getpid()) return;  // workers (the guest's among them) get none of this
  exports.Set("dropPrivileges", Napi::Function::New(env, DropPrivileges, "dropPrivileges"));
  exports.Set("seccompLock", Napi::Function::New(env, SeccompLock, "seccompLock"));
  exports.Set("protectedWrite", Napi::Function::New(env, ProtectedWrite, "protectedWrite"));
}

}  // namespace shmtender
