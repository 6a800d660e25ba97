// Wall-clock stamps on a round trip's path through the addon: the read() that brings a frame,
// the return of burstRead to JS, the entry of burstWrite, the write() of the answer. For
// bench/profile-stamps.sh only, which builds the addon apart with -DSHMT_STAMPS; in every
// other build each SHMT_STAMP is nothing. The means go to stderr at exit (stamps.cc);
// testbed/c/tap_echo.c measures the same of the C loop (-DTAP_ECHO_STAMPS).
#pragma once

#ifdef SHMT_STAMPS
namespace shmtender::stamps {
void ReadBegin();
void ReadGot();
void BurstReadReturn();
void BurstWriteEnter();
void WriteBegin();
void WriteDone();
}  // namespace shmtender::stamps
#define SHMT_STAMP(step) ::shmtender::stamps::step()
#else
#define SHMT_STAMP(step) ((void)0)
#endif
