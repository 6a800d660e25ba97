// The addon's one header: what each module exports and the per-environment state.
//
// The addon knows no ring layout. It is pointed at a shared region (a Uint8Array over a
// SharedArrayBuffer) and at buffers inside it by offset and stride, and it does syscalls
// into that memory. Every offset and length it is given is checked against the region's
// bounds here, so a bad value (from a buggy caller or a hostile guest) is an error, never
// an out-of-bounds access. Ring indices, wrap and publication live in TypeScript
// (guest-api/ring.ts) and nowhere else.
#pragma once
#include <napi.h>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace shmtender {

struct Region {
  uint8_t* base = nullptr;
  size_t length = 0;
  Napi::Reference<Napi::Uint8Array> keepAlive;  // the SharedArrayBuffer must outlive our pointer
};

// A NIC as the burst calls see it, bound once by burstPortOpen (burst.cc): its TAP, the io_uring
// its reads and its writes go through (or -1: read()/write()), its RX slots, and the lens and
// offsets arrays a burst fills and reads. A burst then passes only where it starts and how many
// frames: converting and checking the eight arguments of an unbound burst was most of the
// call's cost (~150 ns against ~50 bound, bench/call-costs.js), twice on every round trip.
static constexpr int64_t kNoRing = -1;      // read()/write() per frame
static constexpr int64_t kRingClosed = -2;  // its ring was closed under it: bursts that way are refused
struct BurstPort {
  bool open = false;
  size_t region = 0;
  bool regionClosed = false;  // its region was closed under it (and the id may be handed out again)
  int fd = -1;
  int64_t readRing = kNoRing, writeRing = kNoRing;
  int64_t rxFirst = 0, rxStride = 0, rxCapacity = 0, rxSlots = 0;
  uint32_t* lens = nullptr;
  size_t lensLen = 0;
  const uint32_t* offs = nullptr;
  size_t offsLen = 0;
  Napi::Reference<Napi::Uint32Array> lensRef, offsRef;  // the arrays must outlive our pointers
};

// One instance per Node environment (main thread and each worker), never process-wide,
// so the addon can be loaded in several worker_threads at once.
struct AddonState {
  std::vector<Region> regions;
  std::vector<BurstPort> ports;
};

AddonState& State(const Napi::Env& env);

// read()/write() as bare system calls. glibc's wrappers are cancellation points: in a process
// with threads they switch asynchronous cancellation on and off around every call, which
// showed as ~8% of a guest thread's user time under perf in a drain. Nothing here is ever
// cancelled, so the frame paths skip it.
inline ssize_t RawRead(int fd, void* buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
inline ssize_t RawWrite(int fd, const void* buf, size_t n) { return syscall(SYS_write, fd, buf, n); }

// CLOCK_MONOTONIC in ns (the vDSO's: no system call).
inline int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// One frame read, looked for again while the TAP is empty, for up to spinNs: a guest that
// holds the IO token and is about to wait spins here rather than coming back to JS between
// looks, which made each look ~2x a bare read() (docs/tuning.md, "Spinning in the addon").
// -1 with errno set as read() sets it (EAGAIN: nothing came in time).
ssize_t SpinRead(int fd, void* buf, size_t n, int64_t spinNs);

// Throws a JS Error whose .code is the errno name and whose message is `what`,
// then returns undefined for the caller to return.
Napi::Value ThrowErrno(const Napi::Env& env, int err, const std::string& what);
const char* ErrnoName(int err);

// Argument helpers: on a bad argument they throw a TypeError/RangeError and return false
// (ArgRegion: nullptr).
bool ArgInt(const Napi::CallbackInfo& info, size_t i, int64_t& out);
bool ArgFd(const Napi::CallbackInfo& info, size_t i, int& out);
bool TypedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type want, void** data, size_t* length);
Region* ArgRegion(const Napi::CallbackInfo& info, size_t i);

// A read burst, checked by the caller (BurstRead): buffer i starts at first + i*stride, and
// every buffer, capacity bytes long, lies inside the region; lens holds count entries.
struct Burst {
  Region* region;
  int fd;
  int64_t first, stride, count;
  uint32_t* lens;
  uint8_t* at(int64_t i) const { return region->base + first + i * stride; }
};
// Up to b.count frames read() into the burst's buffers, lengths into b.lens; the number read,
// or undefined with an exception pending (a hard error before any frame).
Napi::Value ReadFrames(const Napi::Env& env, const Burst& b, int64_t capacity, int64_t spinNs);
Napi::Value UringReadFrames(const Napi::Env& env, int64_t ring, const Burst& b, int64_t capacity, int64_t spinNs);

// A write burst, checked by the caller (BurstWrite): frame i is lens[i] bytes at offs[i],
// anywhere in the region (a forwarded frame lies in an RX slot). The arrays are over
// SharedArrayBuffers, so each frame is read once more, and checked again, where it is written:
// a value changed since the caller's check can never point the write outside the region.
struct WriteBurstArgs {
  Region* region;
  int fd;
  const uint32_t* offs;
  uint32_t* lens;
  int64_t count;
  // Frame i's bytes and length, or false (nothing set) where it no longer lies inside the region.
  bool frame(int64_t i, const uint8_t** buf, uint32_t* len) const {
    // Atomic loads: a plain one may be done again after the check.
    uint64_t off = __atomic_load_n(&offs[i], __ATOMIC_RELAXED);
    uint32_t n = __atomic_load_n(&lens[i], __ATOMIC_RELAXED);
    if (off + n > region->length) return false;
    *buf = region->base + off;
    *len = n;
    return true;
  }
};
Napi::Value WriteFrames(const Napi::Env& env, const WriteBurstArgs& w);
// A frame that moved out of the region between the check and its write (WriteBurstArgs::frame).
Napi::Value ThrowFrameMoved(const Napi::Env& env);
// Whether ring is open, env's, and on TAP fd (else it throws and returns false): a port binds only such a ring.
bool RingServes(const Napi::Env& env, int64_t ring, int fd);
// A ring closed (uringRxClose): the ports of env bound to it refuse bursts that way from now on.
void PortsLoseRing(const Napi::Env& env, int64_t ring);
Napi::Value UringWriteFrames(const Napi::Env& env, int64_t ring, const WriteBurstArgs& w);

// One frame's write(), as every write path treats its outcome: kWritten; kAgain (EAGAIN,
// ENOBUFS: the frame stays queued); kRefused (the kernel refused this frame: it is consumed
// and counted as dropped, never retried); or, > 0, the errno of a TAP that is gone (EBADF,
// EBADFD, EFAULT, ENODEV).
enum WriteOutcome { kWritten = 0, kAgain = -1, kRefused = -2 };
int WriteOne(int fd, const void* buf, size_t n);

// The io_uring instances the TAPs are read and written through (uring_rx.cc), the IO thread's
// and, with the IO token, the guest thread's: the process filter lets io_uring_enter through on
// these fds only, and a guest thread's filter on those it opened itself (seccomp.cc).
std::vector<int> UringFds();
std::vector<int> UringFdsOf(napi_env env);

void InitTap(Napi::Env env, Napi::Object exports);
void InitBurst(Napi::Env env, Napi::Object exports);
void InitEventfdEpoll(Napi::Env env, Napi::Object exports);
void InitThread(Napi::Env env, Napi::Object exports);
void InitSeccomp(Napi::Env env, Napi::Object exports);
void InitPrivileges(Napi::Env env, Napi::Object exports);
void InitRlimit(Napi::Env env, Napi::Object exports);
void InitUringRx(Napi::Env env, Napi::Object exports);

}  // namespace shmtender
