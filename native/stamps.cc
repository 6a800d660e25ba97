// The stamps of stamps.h, kept per thread and summed over the process; empty unless built with
// -DSHMT_STAMPS (bench/profile-stamps.sh). A round trip is a successful read() followed, on the
// same thread, by a write(): the request's read and its answer's write when the guest answers
// holding the IO token. Gaps over 1 ms (a wait that slept, a stream) are not round trips and are
// left out. At exit one line on stderr, in ns:
//   shmtender stamps: {"round_trips":N,"read_to_write":..,"read_to_js":..,"js_to_write":..,
//                      "read":..,"write":..,"write_to_read":..}
// read_to_js: from the read's return to burstRead's return to JS; js_to_write: from there to
// burstWrite's entry (the JS between them); read and write: the two system calls' own time;
// write_to_read: from an answer's write to the next request's read (the peer's turn).
#include "stamps.h"

#ifdef SHMT_STAMPS
#include "shmtender.h"
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace shmtender::stamps {
namespace {

constexpr int64_t kGapNs = 1000000;

struct Sum {
  std::atomic<int64_t> ns{0}, n{0};
  void Add(int64_t d) {
    ns += d;
    n++;
  }
  long long Mean() const { return n.load() > 0 ? static_cast<long long>(ns.load() / n.load()) : -1; }
};

Sum readToWrite, readToJs, jsToWrite, readCall, writeCall, writeToRead;

// Per thread: the IO thread and the guest each have their own round trips.
thread_local int64_t readBegan = 0, readAt = 0, jsAt = 0, enteredAt = 0, writeBegan = 0, writeAt = 0;

void Report() {
  if (readToWrite.n.load() == 0) return;
  std::fprintf(stderr,
               "shmtender stamps: {\"round_trips\":%lld,\"read_to_write\":%lld,\"read_to_js\":%lld,\"js_to_write\":%lld,"
               "\"read\":%lld,\"write\":%lld,\"write_to_read\":%lld}\n",
               static_cast<long long>(readToWrite.n.load()), readToWrite.Mean(), readToJs.Mean(), jsToWrite.Mean(), readCall.Mean(),
               writeCall.Mean(), writeToRead.Mean());
}
[[maybe_unused]] const int registered = std::atexit(Report);

}  // namespace

void ReadBegin() { readBegan = MonotonicNs(); }

void ReadGot() {
  int64_t now = MonotonicNs();
  readCall.Add(now - readBegan);
  if (writeAt != 0 && now - writeAt < kGapNs) writeToRead.Add(now - writeAt);
  writeAt = 0;
  readAt = now;
  jsAt = enteredAt = 0;
}

void BurstReadReturn() {
  if (readAt != 0 && jsAt == 0) jsAt = MonotonicNs();
}

void BurstWriteEnter() {
  if (readAt != 0 && jsAt != 0 && enteredAt == 0) enteredAt = MonotonicNs();
}

void WriteBegin() { writeBegan = MonotonicNs(); }

void WriteDone() {
  int64_t now = MonotonicNs();
  writeCall.Add(now - writeBegan);
  if (readAt != 0 && writeBegan - readAt < kGapNs) {
    readToWrite.Add(writeBegan - readAt);
    if (jsAt != 0 && enteredAt != 0) {
      readToJs.Add(jsAt - readAt);
      jsToWrite.Add(enteredAt - jsAt);
    }
  }
  readAt = jsAt = enteredAt = 0;
  writeAt = now;
}

}  // namespace shmtender::stamps
#endif
