// Dropping privileges, the first half of the lock (host/sandbox.ts calls it, then
// seccompLock): root -> nobody/nogroup with no supplementary groups (and no inheritable
// capabilities, which a change of uid keeps); or, started without root
// but with capabilities (CAP_NET_ADMIN), every capability dropped on every thread that takes
// signals. Checked on every thread from /proc afterwards. Main thread only (see seccomp.cc).
#include "shmtender.h"
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace shmtender {

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

std::vector<pid_t> Threads() {
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
  // A thread that has not run its handler yet still has the signal pending: with the old
  // action (the default: terminate) back, it would end the process before the one clear line.
  if (g_pending.load() > 0) {
    struct sigaction ignore;
    std::memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(sig, &ignore, nullptr);
    return std::to_string(g_pending.load()) + " thread(s) did not drop their capabilities";
  }
  sigaction(sig, &old, nullptr);
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
    // Leaving uid 0 leaves the inheritable set as it was: a container runtime may start us with
    // one. Every thread that takes signals clears its own, as in the capabilities path.
    if (why.find("(CapInh ") != std::string::npos) {
      why = DropCapabilitiesEverywhere(deaf);
      if (why.empty()) why = CheckThreads(true, uid, gid, deaf);
    }
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

void InitPrivileges(Napi::Env env, Napi::Object exports) {
  if (syscall(SYS_gettid) != getpid()) return;  // the main thread's environment only
  exports.Set("dropPrivileges", Napi::Function::New(env, DropPrivileges, "dropPrivileges"));
}

}  // namespace shmtender
