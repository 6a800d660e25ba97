// Module entry: per-environment state and the small helpers every module uses.
#include "shmtender.h"
#include <cerrno>
#include <cmath>
#include <cstring>

namespace shmtender {

AddonState& State(const Napi::Env& env) {
  AddonState* s = env.GetInstanceData<AddonState>();
  if (s == nullptr) {
    s = new AddonState();
    env.SetInstanceData<AddonState>(s);  // freed by node-addon-api when the env goes away
  }
  return *s;
}

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSPC: return "ENOSPC";
    case ENXIO: return "ENXIO";
    case EBADFD: return "EBADFD";
    case EMSGSIZE: return "EMSGSIZE";
    case ENETDOWN: return "ENETDOWN";
    case ENOBUFS: return "ENOBUFS";
    case ERANGE: return "ERANGE";
    case EPIPE: return "EPIPE";
    case EFBIG: return "EFBIG";
    case EDQUOT: return "EDQUOT";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case ECONNRESET: return "ECONNRESET";
    case ENOTCONN: return "ENOTCONN";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    default: return "EUNKNOWN";
  }
}

Napi::Value ThrowErrno(const Napi::Env& env, int err, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// One napi call per argument: napi_get_value_double itself says when the value is not a
// number, so a typeof before it would only repeat the check (the burst calls take up to 8).
bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t& out) {
  double d;
  if (i >= info.Length() || napi_get_value_double(info.Env(), info[i], &d) != napi_ok) {
    Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740991.0) {
    Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " must be an integer")
        .ThrowAsJavaScriptException();
    return false;
  }
  out = static_cast<int64_t>(d);
  return true;
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, int& out) {
  int64_t v;
  if (!ArgInt(info, i, v)) return false;
  if (v < 0 || v > INT32_MAX) {
    Napi::RangeError::New(info.Env(), "file descriptor out of range").ThrowAsJavaScriptException();
    return false;
  }
  out = static_cast<int>(v);
  return true;
}

}  // namespace shmtender

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  shmtender::State(env);
  shmtender::InitTap(env, exports);
  shmtender::InitBurst(env, exports);
  shmtender::InitUringRx(env, exports);
  shmtender::InitEventfdEpoll(env, exports);
  shmtender::InitThread(env, exports);
  shmtender::InitPrivileges(env, exports);
  shmtender::InitRlimit(env, exports);
  shmtender::InitSeccomp(env, exports);
  return exports;
}

NODE_API_MODULE(shmtender, InitAddon)
