// Frame I/O between a file descriptor and memory: bursts into a registered shared region
// (the shm modes' zero-copy path) and single frames into any Uint8Array (the baseline trap).
#include "shmtender.h"
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/uio.h>
#include <unistd.h>

namespace shmtender {

bool TypedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type want, void** data, size_t* length) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsTypedArray()) {
    Napi::TypeError::New(env, "argument " + std::to_string(i) + " must be a typed array").ThrowAsJavaScriptException();
    return false;
  }
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, info[i], &type, length, data, &ab, &offset) != napi_ok || type != want) {
    Napi::TypeError::New(env, "argument " + std::to_string(i) + " has the wrong typed array type").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// regionOpen(u8: Uint8Array over a SharedArrayBuffer) -> region id
static Napi::Value RegionOpen(const Napi::CallbackInfo& info) {
  void* data;
  size_t length;
  if (!TypedArg(info, 0, napi_uint8_array, &data, &length)) return info.Env().Undefined();
  Region r;
  r.base = static_cast<uint8_t*>(data);
  r.length = length;
  r.keepAlive = Napi::Persistent(info[0].As<Napi::Uint8Array>());
  AddonState& st = State(info.Env());
  for (size_t id = 0; id < st.regions.size(); id++) {
    if (st.regions[id].base == nullptr) {
      st.regions[id] = std::move(r);
      return Napi::Number::New(info.Env(), static_cast<double>(id));
    }
  }
  st.regions.push_back(std::move(r));
  return Napi::Number::New(info.Env(), static_cast<double>(st.regions.size() - 1));
}

Region* ArgRegion(const Napi::CallbackInfo& info, size_t i) {
  int64_t id;
  if (!ArgInt(info, i, id)) return nullptr;
  AddonState& st = State(info.Env());
  if (id < 0 || static_cast<size_t>(id) >= st.regions.size() || st.regions[id].base == nullptr) {
    Napi::RangeError::New(info.Env(), "no such region").ThrowAsJavaScriptException();
    return nullptr;
  }
  return &st.regions[id];
}

static Napi::Value RegionClose(const Napi::CallbackInfo& info) {
  Region* r = ArgRegion(info, 0);
  if (r != nullptr) {
    r->keepAlive.Reset();
    r->base = nullptr;
    r->length = 0;
  }
  return info.Env().Undefined();
}

bool ParseBurst(const Napi::CallbackInfo& info, Burst& b, int64_t& span) {
  Napi::Env env = info.Env();
  size_t a = 2;
  b.region = ArgRegion(info, 0);
  if (b.region == nullptr || !ArgFd(info, 1, b.fd) || !ArgInt(info, a++, b.first) || !ArgInt(info, a++, b.stride)) return false;
  if (!ArgInt(info, a++, span)) return false;
  if (!ArgInt(info, a++, b.count)) return false;
  void* lensData;
  size_t lensLen;
  if (!TypedArg(info, a, napi_uint32_array, &lensData, &lensLen)) return false;
  b.lens = static_cast<uint32_t*>(lensData);
  bool ok = b.first >= 0 && b.stride > 0 && b.stride <= (1 << 20) && span >= 0 && span <= b.stride && b.count >= 0 &&
            b.count <= 65536 && static_cast<uint64_t>(b.count) <= lensLen;
  if (ok && b.count > 0)
    ok = static_cast<uint64_t>(b.first) + static_cast<uint64_t>(b.count - 1) * b.stride + span <= b.region->length;
  if (!ok) Napi::RangeError::New(env, "burst lies outside the shared region").ThrowAsJavaScriptException();
  return ok;
}

ssize_t SpinRead(int fd, void* buf, size_t n, int64_t spinNs) {
  int64_t until = 0;
  for (;;) {
    ssize_t got = RawRead(fd, buf, n);
    if (got >= 0 || (errno != EAGAIN && errno != EINTR) || spinNs <= 0) return got;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    if (until == 0) until = now + spinNs;
    else if (now >= until) {
      errno = EAGAIN;
      return -1;
    }
  }
}

bool ArgSpinNs(const Napi::CallbackInfo& info, size_t i, int64_t& out) {
  out = 0;
  if (info.Length() <= i || info[i].IsUndefined()) return true;
  if (!ArgInt(info, i, out)) return false;
  if (out < 0 || out > 1000000000) {
    Napi::RangeError::New(info.Env(), "spinNs outside 0..1e9").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// readBurst(region, fd, firstOffset, stride, capacity, count, lens: Uint32Array, spinNs?) -> frames read
// One read() per frame into buffer i (capacity bytes), length into lens[i]; stops at the
// first EAGAIN. A frame larger than capacity comes back with a length >= capacity: the
// caller compares against its max frame size and counts it, it is never passed on cut short.
static Napi::Value ReadBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Burst b;
  int64_t capacity;
  int64_t spinNs;
  if (!ParseBurst(info, b, capacity) || !ArgSpinNs(info, 7, spinNs)) return env.Undefined();
  int64_t n = 0;
  while (n < b.count) {
    ssize_t got = SpinRead(b.fd, b.at(n), static_cast<size_t>(capacity), n == 0 ? spinNs : 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || n > 0) break;  // a hard error is reported on the next call
      return ThrowErrno(env, errno, std::string("read: ") + std::strerror(errno));
    }
    b.lens[n++] = static_cast<uint32_t>(got);
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

bool ParseWriteBurst(const Napi::CallbackInfo& info, WriteBurstArgs& w) {
  Napi::Env env = info.Env();
  w.region = ArgRegion(info, 0);
  if (w.region == nullptr || !ArgFd(info, 1, w.fd) || !ArgInt(info, 4, w.count)) return false;
  void* offsData;
  void* lensData;
  size_t offsLen, lensLen;
  if (!TypedArg(info, 2, napi_uint32_array, &offsData, &offsLen) || !TypedArg(info, 3, napi_uint32_array, &lensData, &lensLen)) return false;
  if (w.count < 0 || static_cast<uint64_t>(w.count) > lensLen || static_cast<uint64_t>(w.count) > offsLen) {
    Napi::RangeError::New(env, "count outside the offsets/lens arrays").ThrowAsJavaScriptException();
    return false;
  }
  w.offs = static_cast<const uint32_t*>(offsData);
  w.lens = static_cast<uint32_t*>(lensData);
  for (int64_t i = 0; i < w.count; i++) {
    if (static_cast<uint64_t>(w.offs[i]) + w.lens[i] > w.region->length) {
      Napi::RangeError::New(env, "burst lies outside the shared region").ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

int WriteOne(int fd, const void* buf, size_t n) {
  for (;;) {
    if (RawWrite(fd, buf, n) >= 0) return kWritten;
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == ENOBUFS) return kAgain;
    if (err == EBADF || err == EBADFD || err == EFAULT || err == ENODEV) return err;
    return kRefused;
  }
}

// writeBurst(region, fd, offsets: Uint32Array, lens: Uint32Array, count) -> frames consumed
// One write() per frame, of lens[i] bytes at offsets[i], each checked to lie inside the region
// before any is written (a frame may be anywhere: in another ring's slot when the guest
// forwards it without a copy). Stops at EAGAIN (the frame stays queued). A frame the kernel
// refuses (bad length, a virtio-net header it rejects, interface down) is consumed and its
// lens[i] set to 0 so the caller counts it as dropped instead of retrying it forever.
static Napi::Value WriteBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WriteBurstArgs w;
  if (!ParseWriteBurst(info, w)) return env.Undefined();
  const int fd = w.fd;
  const int64_t count = w.count;
  uint32_t* lens = w.lens;
  int64_t n = 0;
  while (n < count) {
    int r = WriteOne(fd, w.at(n), static_cast<size_t>(lens[n]));
    if (r == kAgain) break;
    if (r > 0) {
      if (n > 0) break;
      return ThrowErrno(env, r, std::string("write: ") + std::strerror(r));
    }
    if (r == kRefused) lens[n] = 0;  // dropped, counted by the caller
    n++;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// readFrame(fd, buf: Uint8Array, hdr?: Uint8Array) -> length, or -1 when nothing is waiting
// (EAGAIN). With hdr (a TAP opened with a virtio-net header) one readv() puts the header
// in hdr and the frame in buf; the length returned counts both, as read() does.
static Napi::Value ReadFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, fd)) return env.Undefined();
  struct iovec iov[2];
  int n = 0;
  size_t length;
  bool withHdr = info.Length() > 2 && !info[2].IsUndefined();
  if (withHdr) {
    if (!TypedArg(info, 2, napi_uint8_array, &iov[0].iov_base, &length)) return env.Undefined();
    iov[n++].iov_len = length;
  }
  if (!TypedArg(info, 1, napi_uint8_array, &iov[n].iov_base, &length)) return env.Undefined();
  iov[n++].iov_len = length;
  for (;;) {
    ssize_t got = syscall(SYS_readv, fd, iov, n);
    if (got >= 0) return Napi::Number::New(env, static_cast<double>(got));
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Napi::Number::New(env, -1);
    return ThrowErrno(env, errno, std::string("read: ") + std::strerror(errno));
  }
}

// writeFrame(fd, buf: Uint8Array, length, hdr?: Uint8Array) -> 0 written, -1 EAGAIN, -2 refused
// (dropped). With hdr, one writev() sends the virtio-net header followed by the frame.
static Napi::Value WriteFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t len;
  if (!ArgFd(info, 0, fd)) return env.Undefined();
  void* data;
  size_t length;
  if (!TypedArg(info, 1, napi_uint8_array, &data, &length) || !ArgInt(info, 2, len)) return env.Undefined();
  if (len < 0 || static_cast<uint64_t>(len) > length) {
    Napi::RangeError::New(env, "length outside the buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct iovec iov[2];
  int n = 0;
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    size_t hdrLen;
    if (!TypedArg(info, 3, napi_uint8_array, &iov[0].iov_base, &hdrLen)) return env.Undefined();
    iov[n++].iov_len = hdrLen;
  }
  iov[n].iov_base = data;
  iov[n++].iov_len = static_cast<size_t>(len);
  for (;;) {
    ssize_t put = syscall(SYS_writev, fd, iov, n);
    if (put >= 0) return Napi::Number::New(env, 0);
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == ENOBUFS) return Napi::Number::New(env, -1);
    if (err == EBADF || err == EBADFD || err == EFAULT || err == ENODEV)
      return ThrowErrno(env, err, std::string("write: ") + std::strerror(err));
    return Napi::Number::New(env, -2);
  }
}

void InitBurst(Napi::Env env, Napi::Object exports) {
  exports.Set("regionOpen", Napi::Function::New(env, RegionOpen, "regionOpen"));
  exports.Set("regionClose", Napi::Function::New(env, RegionClose, "regionClose"));
  exports.Set("readBurst", Napi::Function::New(env, ReadBurst, "readBurst"));
  exports.Set("writeBurst", Napi::Function::New(env, WriteBurst, "writeBurst"));
  exports.Set("readFrame", Napi::Function::New(env, ReadFrame, "readFrame"));
  exports.Set("writeFrame", Napi::Function::New(env, WriteFrame, "writeFrame"));
}

}  // namespace shmtender
