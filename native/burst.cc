// Frame I/O between a file descriptor and memory: bursts into a registered shared region
// (the shm modes' zero-copy path) and single frames into any Uint8Array (the baseline trap).
#include "shmtender.h"
#include "stamps.h"
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/uio.h>
#include <unistd.h>

namespace shmtender {

bool TypedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type want, void** data, size_t* length) {
  Napi::Env env = info.Env();
  napi_typedarray_type type;
  // napi_get_typedarray_info refuses a value that is not a typed array (napi_invalid_arg):
  // that is the check, without a napi_is_typedarray before it.
  if (i >= info.Length() || napi_get_typedarray_info(env, info[i], &type, length, data, nullptr, nullptr) != napi_ok) {
    Napi::TypeError::New(env, "argument " + std::to_string(i) + " must be a typed array").ThrowAsJavaScriptException();
    return false;
  }
  if (type != want) {
    Napi::TypeError::New(env, "argument " + std::to_string(i) + " has the wrong typed array type").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// A region, and a port's lens and offsets arrays, are pointed at between calls: an ArrayBuffer
// can be detached (transferred) or resized under the pointer, a SharedArrayBuffer cannot.
static bool OverSharedBuffer(const Napi::CallbackInfo& info, size_t i) {
  napi_value ab;
  bool plain = true;
  if (napi_get_typedarray_info(info.Env(), info[i], nullptr, nullptr, nullptr, &ab, nullptr) != napi_ok ||
      napi_is_arraybuffer(info.Env(), ab, &plain) != napi_ok || plain) {
    Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be over a SharedArrayBuffer").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// regionOpen(u8: Uint8Array over a SharedArrayBuffer) -> region id
static Napi::Value RegionOpen(const Napi::CallbackInfo& info) {
  void* data;
  size_t length;
  if (!TypedArg(info, 0, napi_uint8_array, &data, &length) || !OverSharedBuffer(info, 0)) return info.Env().Undefined();
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
  int64_t id;
  Region* r = ArgRegion(info, 0);
  if (r != nullptr && ArgInt(info, 0, id)) {
    r->keepAlive.Reset();
    r->base = nullptr;
    r->length = 0;
    // Its id goes to the next region opened, maybe a smaller one: the RX slots a port checked
    // against this region would not be checked against that one.
    for (BurstPort& p : State(info.Env()).ports)
      if (p.open && p.region == static_cast<size_t>(id)) p.regionClosed = true;
  }
  return info.Env().Undefined();
}

ssize_t SpinRead(int fd, void* buf, size_t n, int64_t spinNs) {
  int64_t until = 0;
  for (;;) {
    SHMT_STAMP(ReadBegin);
    ssize_t got = RawRead(fd, buf, n);
    if (got >= 0) SHMT_STAMP(ReadGot);
    if (got >= 0 || (errno != EAGAIN && errno != EINTR) || spinNs <= 0) return got;
    int64_t now = MonotonicNs();
    if (until == 0) until = now + spinNs;
    else if (now >= until) {
      errno = EAGAIN;
      return -1;
    }
  }
}

static bool ArgSpinNs(const Napi::CallbackInfo& info, size_t i, int64_t& out) {
  out = 0;
  if (info.Length() <= i || info[i].IsUndefined()) return true;
  if (!ArgInt(info, i, out)) return false;
  if (out < 0 || out > 1000000000) {
    Napi::RangeError::New(info.Env(), "spinNs outside 0..1e9").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// One read() per frame into buffer i (capacity bytes), length into lens[i]; stops at the
// first EAGAIN. A frame larger than capacity comes back with a length >= capacity: the
// caller compares against its max frame size and counts it, it is never passed on cut short.
Napi::Value ReadFrames(const Napi::Env& env, const Burst& b, int64_t capacity, int64_t spinNs) {
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

int WriteOne(int fd, const void* buf, size_t n) {
  for (;;) {
    SHMT_STAMP(WriteBegin);
    if (RawWrite(fd, buf, n) >= 0) {
      SHMT_STAMP(WriteDone);
      return kWritten;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == ENOBUFS) return kAgain;
    if (err == EBADF || err == EBADFD || err == EFAULT || err == ENODEV) return err;
    return kRefused;
  }
}

// One write() per frame. Stops at EAGAIN (the frame stays queued). A frame the kernel refuses
// (bad length, a virtio-net header it rejects, interface down) is consumed and its lens[i]
// set to 0 so the caller counts it as dropped instead of retrying it forever.
Napi::Value WriteFrames(const Napi::Env& env, const WriteBurstArgs& w) {
  uint32_t* lens = w.lens;
  int64_t n = 0;
  while (n < w.count) {
    const uint8_t* buf;
    uint32_t len;
    // A frame that moved: what went before it is counted; the next call meets it first.
    if (!w.frame(n, &buf, &len)) {
      if (n > 0) break;
      return ThrowFrameMoved(env);
    }
    int r = WriteOne(w.fd, buf, len);
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

// burstPortOpen(region, fd, readRing, writeRing, rxFirst, rxStride, rxCapacity, rxSlots,
// lens: Uint32Array, offsets: Uint32Array) -> port id. A NIC's bursts, bound (BurstPort in
// shmtender.h): its RX slots (rxSlots buffers of rxCapacity bytes, rxStride apart from rxFirst)
// are checked against the region here, once; readRing/writeRing are io_uring ids (uring_rx.cc)
// or -1 for read()/write() per frame.
static Napi::Value BurstPortOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BurstPort p;
  int64_t region;
  if (!ArgInt(info, 0, region) || ArgRegion(info, 0) == nullptr || !ArgFd(info, 1, p.fd) || !ArgInt(info, 2, p.readRing) ||
      !ArgInt(info, 3, p.writeRing) || !ArgInt(info, 4, p.rxFirst) || !ArgInt(info, 5, p.rxStride) ||
      !ArgInt(info, 6, p.rxCapacity) || !ArgInt(info, 7, p.rxSlots))
    return env.Undefined();
  void* lensData;
  void* offsData;
  if (!TypedArg(info, 8, napi_uint32_array, &lensData, &p.lensLen) || !TypedArg(info, 9, napi_uint32_array, &offsData, &p.offsLen) ||
      !OverSharedBuffer(info, 8) || !OverSharedBuffer(info, 9))
    return env.Undefined();
  // A ring given must be open, this environment's, on this TAP: a ring id not open yet would
  // later name whatever ring took it.
  for (int64_t ring : {p.readRing, p.writeRing}) {
    if (ring == kNoRing) continue;
    if (ring < 0) {
      Napi::RangeError::New(env, "no such io_uring").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!RingServes(env, ring, p.fd)) return env.Undefined();
  }
  AddonState& st = State(env);
  const Region& r = st.regions[static_cast<size_t>(region)];
  bool ok = p.rxFirst >= 0 && p.rxStride > 0 && p.rxStride <= (1 << 20) && p.rxCapacity > 0 && p.rxCapacity <= p.rxStride &&
            p.rxSlots > 0 && p.rxSlots <= 65536 &&
            static_cast<uint64_t>(p.rxFirst) + static_cast<uint64_t>(p.rxSlots - 1) * p.rxStride + p.rxCapacity <= r.length;
  if (!ok) {
    Napi::RangeError::New(env, "the RX slots lie outside the shared region").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  p.region = static_cast<size_t>(region);
  p.lens = static_cast<uint32_t*>(lensData);
  p.offs = static_cast<const uint32_t*>(offsData);
  p.lensRef = Napi::Persistent(info[8].As<Napi::Uint32Array>());
  p.offsRef = Napi::Persistent(info[9].As<Napi::Uint32Array>());
  p.open = true;
  for (size_t id = 0; id < st.ports.size(); id++) {
    if (!st.ports[id].open) {
      st.ports[id] = std::move(p);
      return Napi::Number::New(env, static_cast<double>(id));
    }
  }
  st.ports.push_back(std::move(p));
  return Napi::Number::New(env, static_cast<double>(st.ports.size() - 1));
}

// The open port `id` of this environment and its region, still open (else it throws and returns null).
static BurstPort* ArgPort(const Napi::CallbackInfo& info, Region** region) {
  int64_t id;
  if (!ArgInt(info, 0, id)) return nullptr;
  AddonState& st = State(info.Env());
  if (id < 0 || static_cast<size_t>(id) >= st.ports.size() || !st.ports[id].open) {
    Napi::RangeError::New(info.Env(), "no such burst port").ThrowAsJavaScriptException();
    return nullptr;
  }
  BurstPort* p = &st.ports[id];
  if (p->regionClosed) {  // closed under the port: its slots are gone
    Napi::RangeError::New(info.Env(), "no such region").ThrowAsJavaScriptException();
    return nullptr;
  }
  *region = &st.regions[p->region];
  return p;
}

// burstRead(port, slot, count, spinNs?) -> frames read into RX slots slot.. slot+count-1 (lengths
// into the port's lens), by read() per frame or its read ring. spinNs: while the TAP is empty,
// the first read is tried again for up to that long.
static Napi::Value BurstRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Region* region;
  BurstPort* p = ArgPort(info, &region);
  int64_t slot, count, spinNs;
  if (p == nullptr || !ArgInt(info, 1, slot) || !ArgInt(info, 2, count) || !ArgSpinNs(info, 3, spinNs)) return env.Undefined();
  if (slot < 0 || count < 0 || slot + count > p->rxSlots || static_cast<uint64_t>(count) > p->lensLen) {
    Napi::RangeError::New(env, "burst lies outside the RX slots").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Burst b{region, p->fd, p->rxFirst + slot * p->rxStride, p->rxStride, count, p->lens};
  Napi::Value got = p->readRing != kNoRing ? UringReadFrames(env, p->readRing, b, p->rxCapacity, spinNs) : ReadFrames(env, b, p->rxCapacity, spinNs);
  SHMT_STAMP(BurstReadReturn);
  return got;
}

// burstWrite(port, count) -> frames consumed: frame i is lens[i] bytes at offsets[i] (the port's
// arrays), anywhere in the region (a forwarded frame lies in another NIC's RX slot); every one
// is checked before any is written. By write() per frame or the port's write ring.
static Napi::Value BurstWrite(const Napi::CallbackInfo& info) {
  SHMT_STAMP(BurstWriteEnter);
  Napi::Env env = info.Env();
  Region* region;
  BurstPort* p = ArgPort(info, &region);
  int64_t count;
  if (p == nullptr || !ArgInt(info, 1, count)) return env.Undefined();
  if (count < 0 || static_cast<uint64_t>(count) > p->lensLen || static_cast<uint64_t>(count) > p->offsLen) {
    Napi::RangeError::New(env, "count outside the offsets/lens arrays").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  for (int64_t i = 0; i < count; i++) {
    if (static_cast<uint64_t>(p->offs[i]) + p->lens[i] > region->length) {
      Napi::RangeError::New(env, "burst lies outside the shared region").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  WriteBurstArgs w{region, p->fd, p->offs, p->lens, count};
  return p->writeRing != kNoRing ? UringWriteFrames(env, p->writeRing, w) : WriteFrames(env, w);
}

Napi::Value ThrowFrameMoved(const Napi::Env& env) {
  Napi::RangeError::New(env, "a burst's frame moved outside the shared region while it was written").ThrowAsJavaScriptException();
  return env.Undefined();
}

void PortsLoseRing(const Napi::Env& env, int64_t ring) {
  for (BurstPort& p : State(env).ports) {
    if (!p.open) continue;
    if (p.readRing == ring) p.readRing = kRingClosed;
    if (p.writeRing == ring) p.writeRing = kRingClosed;
  }
}

static Napi::Value BurstPortClose(const Napi::CallbackInfo& info) {
  int64_t id;
  if (!ArgInt(info, 0, id)) return info.Env().Undefined();
  AddonState& st = State(info.Env());
  if (id >= 0 && static_cast<size_t>(id) < st.ports.size() && st.ports[id].open) st.ports[id] = BurstPort();
  return info.Env().Undefined();
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
  exports.Set("burstPortOpen", Napi::Function::New(env, BurstPortOpen, "burstPortOpen"));
  exports.Set("burstRead", Napi::Function::New(env, BurstRead, "burstRead"));
  exports.Set("burstWrite", Napi::Function::New(env, BurstWrite, "burstWrite"));
  exports.Set("burstPortClose", Napi::Function::New(env, BurstPortClose, "burstPortClose"));
  exports.Set("readFrame", Napi::Function::New(env, ReadFrame, "readFrame"));
  exports.Set("writeFrame", Napi::Function::New(env, WriteFrame, "writeFrame"));
}

}  // namespace shmtender
