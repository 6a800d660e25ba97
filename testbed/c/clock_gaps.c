/* How often this CPU stops running a thread that never sleeps: spins reading CLOCK_MONOTONIC
 * for --seconds and counts the gaps between two readings longer than 5, 10 and 30 µs (timer
 * ticks, interrupts, and on a VM the host taking the vCPU). Run it pinned (taskset -c N) beside
 * a workload to see what that CPU costs any responder there; docs/tuning.md, "Under a flood:
 * the request behind a slow reply". Prints {"seconds":S,"reads":N,"gaps_5us":A,"gaps_10us":B,
 * "gaps_30us":C,"longest_us":L}; a bad --seconds: one line, exit 64. */
#include "common.h"

int main(int argc, char **argv) {
  double seconds = atof(opt(argc, argv, "seconds", "3"));
  if (!(seconds > 0 && seconds <= 3600)) { fprintf(stderr, "clock_gaps: --seconds must be in (0, 3600]\n"); return 64; }
  double start = now_s(), last = start, longest = 0;
  long reads = 0, g5 = 0, g10 = 0, g30 = 0;
  for (;;) {
    double t = now_s(), gap = (t - last) * 1e6;
    reads++;
    g5 += gap > 5;
    g10 += gap > 10;
    g30 += gap > 30;
    if (gap > longest) longest = gap;
    last = t;
    if (t - start >= seconds) break;
  }
  printf("{\"seconds\":%.3f,\"reads\":%ld,\"gaps_5us\":%ld,\"gaps_10us\":%ld,\"gaps_30us\":%ld,\"longest_us\":%.1f}\n", last - start, reads, g5, g10, g30, longest);
  return 0;
}
