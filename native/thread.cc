// Per-thread CPU time and identity, so every thread's cost can be reported on its own.
#include "shmtender.h"
#include <cerrno>
#include <cstring>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace shmtender {

// threadCpuSeconds() -> user + system CPU seconds of the calling thread (getrusage RUSAGE_THREAD).
// A bare number through the C API: a guest thread reads its CPU time in the handler of its own
// crash or fault, where the tender may be terminating it that very moment; setting an object's
// properties then fails, and node-addon-api turns a failure it cannot throw into an abort.
static Napi::Value ThreadCpuSeconds(const Napi::CallbackInfo& info) {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) < 0) return ThrowErrno(info.Env(), errno, std::string("getrusage: ") + std::strerror(errno));
  double s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  napi_value out;
  if (napi_create_double(info.Env(), s, &out) != napi_ok) return Napi::Value();
  return Napi::Value(info.Env(), out);
}

// threadCpuSecondsOf(tid) -> CPU seconds of another thread of this process (its per-thread
// CPU clock, as pthread_getcpuclockid makes it), or null once it has ended. For a guest that
// was stopped and could not report its own; no file to read, so it works after the lock.
static Napi::Value ThreadCpuSecondsOf(const Napi::CallbackInfo& info) {
  int64_t tid;
  if (!ArgInt(info, 0, tid)) return info.Env().Undefined();
  if (tid <= 0 || tid > INT32_MAX) return info.Env().Null();
  clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);  // CPUCLOCK_SCHED | PERTHREAD
  struct timespec ts;
  if (clock_gettime(clock, &ts) < 0) return info.Env().Null();  // not a thread of ours
  return Napi::Number::New(info.Env(), ts.tv_sec + ts.tv_nsec / 1e9);
}

static Napi::Value ThreadId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

// yieldCpu(): sched_yield. A spinning thread calls it when a round found no work, so on a
// machine with few cores a runnable thread (the traffic source, the peer) gets the CPU now
// rather than at the next tick, while the spinner still never sleeps.
static Napi::Value YieldCpu(const Napi::CallbackInfo& info) {
  sched_yield();
  return info.Env().Undefined();
}

// setThreadName(name): the calling thread's name (PR_SET_NAME, at most 15 bytes kept), so that
// top -H, ps -L and perf tell the tender's threads apart; every thread of a Node process is
// "node" otherwise.
static Napi::Value SetThreadName(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (prctl(PR_SET_NAME, name.c_str(), 0, 0, 0) < 0) return ThrowErrno(info.Env(), errno, std::string("prctl(PR_SET_NAME): ") + std::strerror(errno));
  return info.Env().Undefined();
}

// exitNow(code): _exit(code), from the main thread. process.exit() first joins every worker
// thread, and a guest blocked in a system call that no stop interrupts (a read of a blocking
// fd) is never joined: the tender, its lines and files written, ends without it.
static Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  int64_t code;
  if (!ArgInt(info, 0, code)) return info.Env().Undefined();
  _exit(static_cast<int>(code & 0xff));
}

void InitThread(Napi::Env env, Napi::Object exports) {
  if (syscall(SYS_gettid) == getpid()) exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
  exports.Set("setThreadName", Napi::Function::New(env, SetThreadName, "setThreadName"));
  exports.Set("yieldCpu", Napi::Function::New(env, YieldCpu, "yieldCpu"));
  exports.Set("threadCpuSeconds", Napi::Function::New(env, ThreadCpuSeconds, "threadCpuSeconds"));
  exports.Set("threadCpuSecondsOf", Napi::Function::New(env, ThreadCpuSecondsOf, "threadCpuSecondsOf"));
  exports.Set("threadId", Napi::Function::New(env, ThreadId, "threadId"));
}

}  // namespace shmtender
