// eventfd (kicks, shutdown) and epoll (the event-driven IO thread's sleep).
#include "shmtender.h"
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

namespace shmtender {

static Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(info.Env(), errno, std::string("eventfd: ") + std::strerror(errno));
  return Napi::Number::New(info.Env(), fd);
}

// eventfdWrite(fd, value = 1): one notification; the reader sees the sum of all writes. A
// counter too full to add to (EAGAIN) is already readable, so the notification is delivered
// (libuv's uv_async_send reads it the same way): a guest that writes 2^64-2 into the tender's
// stop fd, which nobody reads, must not make the tender's own write fail.
static Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd;
  int64_t v = 1;
  if (!ArgFd(info, 0, fd)) return info.Env().Undefined();
  if (info.Length() > 1 && !ArgInt(info, 1, v)) return info.Env().Undefined();
  uint64_t value = static_cast<uint64_t>(v);
  for (;;) {
    if (RawWrite(fd, &value, sizeof value) == sizeof value) return info.Env().Undefined();
    if (errno == EINTR) continue;
    if (errno == EAGAIN && value != 0) return info.Env().Undefined();
    return ThrowErrno(info.Env(), errno, std::string("eventfd write: ") + std::strerror(errno));
  }
}

// eventfdRead(fd) -> the counter (number of writes of 1 since the last read), 0 if none.
static Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgFd(info, 0, fd)) return info.Env().Undefined();
  uint64_t value = 0;
  for (;;) {
    if (RawRead(fd, &value, sizeof value) == sizeof value) return Napi::Number::New(info.Env(), static_cast<double>(value));
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Napi::Number::New(info.Env(), 0);
    return ThrowErrno(info.Env(), errno, std::string("eventfd read: ") + std::strerror(errno));
  }
}

static Napi::Value EpollCreate(const Napi::CallbackInfo& info) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return ThrowErrno(info.Env(), errno, std::string("epoll_create1: ") + std::strerror(errno));
  return Napi::Number::New(info.Env(), fd);
}

// epollCtl(epfd, op: 'add'|'mod'|'del', fd, readable: boolean): level-triggered EPOLLIN.
static Napi::Value EpollCtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd, fd;
  if (!ArgFd(info, 0, epfd) || !ArgFd(info, 2, fd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsString()) {
    Napi::TypeError::New(env, "epollCtl: op must be 'add', 'mod' or 'del'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string op = info[1].As<Napi::String>().Utf8Value();
  int cop = op == "add" ? EPOLL_CTL_ADD : op == "mod" ? EPOLL_CTL_MOD : op == "del" ? EPOLL_CTL_DEL : -1;
  if (cop < 0) {
    Napi::TypeError::New(env, "epollCtl: op must be 'add', 'mod' or 'del'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool readable = info.Length() < 4 || info[3].ToBoolean();
  struct epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = readable ? static_cast<uint32_t>(EPOLLIN) : 0u;
  ev.data.fd = fd;
  if (epoll_ctl(epfd, cop, fd, &ev) < 0) return ThrowErrno(env, errno, "epoll_ctl " + op + ": " + std::strerror(errno));
  return env.Undefined();
}

// epollWait(epfd, timeoutNs (-1 = forever), readyFds: Int32Array) -> count.
// The fds that are ready go into readyFds; an error flag (EPOLLERR/EPOLLHUP) is reported
// as the negated fd so the caller can tell a device fault from data.
static Napi::Value EpollWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd;
  if (!ArgFd(info, 0, epfd)) return env.Undefined();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    Napi::TypeError::New(env, "epollWait(epfd, timeoutNs, readyFds: Int32Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double timeoutNs = info[1].As<Napi::Number>().DoubleValue();
  Napi::Int32Array ready = info[2].As<Napi::Int32Array>();
  const int maxEvents = static_cast<int>(std::min<size_t>(ready.ElementLength(), 64));
  if (maxEvents < 1) {
    Napi::RangeError::New(env, "readyFds must hold at least one fd").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct epoll_event events[64];
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeoutNs >= 0 && std::isfinite(timeoutNs)) {
    ts.tv_sec = static_cast<time_t>(timeoutNs / 1e9);
    ts.tv_nsec = static_cast<long>(std::fmod(timeoutNs, 1e9));
    tsp = &ts;
  }
  int n;
  do {
    n = epoll_pwait2(epfd, events, maxEvents, tsp, nullptr);
  } while (n < 0 && errno == EINTR && tsp == nullptr);
  if (n < 0) {
    if (errno == EINTR) return Napi::Number::New(env, 0);
    return ThrowErrno(env, errno, std::string("epoll_wait: ") + std::strerror(errno));
  }
  for (int i = 0; i < n; i++) {
    bool fault = (events[i].events & (EPOLLERR | EPOLLHUP)) && !(events[i].events & EPOLLIN);
    ready[i] = fault ? -events[i].data.fd - 1 : events[i].data.fd;
  }
  return Napi::Number::New(env, n);
}

void InitEventfdEpoll(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate, "eventfdCreate"));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite, "eventfdWrite"));
  exports.Set("eventfdRead", Napi::Function::New(env, EventfdRead, "eventfdRead"));
  exports.Set("epollCreate", Napi::Function::New(env, EpollCreate, "epollCreate"));
  exports.Set("epollCtl", Napi::Function::New(env, EpollCtl, "epollCtl"));
  exports.Set("epollWait", Napi::Function::New(env, EpollWait, "epollWait"));
}

}  // namespace shmtender
