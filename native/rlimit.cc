// The process's data limit (RLIMIT_DATA), the hard half of --mem (host/memory-watch.ts): set
// once before the guest runs, soft and hard limit alike, so nothing in the process can raise
// it again (setrlimit is not on the filter's list either). Main thread only, as the lock.
#include "shmtender.h"
#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmtender {

// limitData(bytes): private writable memory the process may map in all (brk, mmap, mprotect
// past it fail with ENOMEM; V8 then throws RangeError for an ArrayBuffer).
static Napi::Value LimitData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t bytes;
  if (!ArgInt(info, 0, bytes)) return env.Undefined();
  if (bytes <= 0) {
    Napi::RangeError::New(env, "limitData: bytes must be positive").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct rlimit lim = {static_cast<rlim_t>(bytes), static_cast<rlim_t>(bytes)};
  if (setrlimit(RLIMIT_DATA, &lim) < 0) return ThrowErrno(env, errno, std::string("setrlimit(RLIMIT_DATA): ") + std::strerror(errno));
  return env.Undefined();
}

void InitRlimit(Napi::Env env, Napi::Object exports) {
  if (syscall(SYS_gettid) != getpid()) return;  // the main thread's environment only
  exports.Set("limitData", Napi::Function::New(env, LimitData, "limitData"));
}

}  // namespace shmtender
