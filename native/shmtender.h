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

// One instance per Node environment (main thread and each worker), never process-wide,
// so the addon can be loaded in several worker_threads at once.
struct AddonState {
  std::vector<Region> regions;
};

AddonState& State(const Napi::Env& env);

// read()/write() as bare system calls. glibc's wrappers are cancellation points: in a process
// with threads they switch asynchronous cancellation on and off around every call, which
// showed as ~8% of a guest thread's user time under perf in a drain. Nothing here is ever
// cancelled, so the frame paths skip it.
inline ssize_t RawRead(int fd, void* buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
inline ssize_t RawWrite(int fd, const void* buf, size_t n) { return syscall(SYS_write, fd, buf, n); }

// One frame read, looked for again while the TAP is empty, for up to spinNs: a guest that
// holds the IO token and is about to wait spins here rather than coming back to JS between
// looks, which made each look ~2x a bare read() (docs/tuning.md, "Spinning in the addon").
// -1 with errno set as read() sets it (EAGAIN: nothing came in time).
ssize_t SpinRead(int fd, void* buf, size_t n, int64_t spinNs);
// The optional spin argument of readBurst/uringReadBurst (index i): 0 when absent.
bool ArgSpinNs(const Napi::CallbackInfo& info, size_t i, int64_t& out);

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

// A burst's arguments: (region, fd, firstOffset, stride, capacity, count, lens: Uint32Array).
// Buffer i starts at firstOffset + i*stride. ParseBurst checks that every buffer, `span`
// (capacity) bytes long, lies inside the region, and that lens holds count entries.
struct Burst {
  Region* region;
  int fd;
  int64_t first, stride, count;
  uint32_t* lens;
  uint8_t* at(int64_t i) const { return region->base + first + i * stride; }
};
bool ParseBurst(const Napi::CallbackInfo& info, Burst& b, int64_t& span);

// A write burst's arguments: (region, fd, offsets: Uint32Array, lens: Uint32Array, count).
// Frame i is lens[i] bytes at offsets[i], anywhere in the region (a forwarded frame lies in an
// RX slot). ParseWriteBurst checks every frame before any is written.
struct WriteBurstArgs {
  Region* region;
  int fd;
  const uint32_t* offs;
  uint32_t* lens;
  int64_t count;
  uint8_t* at(int64_t i) const { return region->base + offs[i]; }
};
bool ParseWriteBurst(const Napi::CallbackInfo& info, WriteBurstArgs& w);

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
