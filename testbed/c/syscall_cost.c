/* What one system call costs on this machine: the best of five timed runs of 200,000
 * getppid() calls (the cheapest call there is: entry, exit and whatever the machine adds to
 * them, e.g. page-table isolation or a paravirtual guest's trip through its hypervisor).
 * A read() or write() per frame pays it on every frame; a batch through io_uring pays it once.
 * The bench prints it in its Machine line, so runs on different machines can be told apart.
 * Prints {"syscall_ns": N}. */
#include "common.h"
#include <sys/syscall.h>

int main(void) {
  const long n = 200000;
  double best = 1e300;
  for (int run = 0; run < 5; run++) {
    double t0 = now_s();
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
    double per = (now_s() - t0) / n;
    if (per < best) best = per;
  }
  printf("{\"syscall_ns\":%.0f}\n", best * 1e9);
  return 0;
}
