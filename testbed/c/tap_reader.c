/* The RX limit: reads frames from a TAP with plain blocking read() and counts them, until
 * --count frames, or --idle-ms without a frame after the first. Prints frames, the span from
 * the first frame to the last, frames/s and CPU seconds. */
#include "common.h"
#include <poll.h>

int main(int argc, char **argv) {
  int fd = tap_attach(opt(argc, argv, "tap", "tap0"));
  long count = atol(opt(argc, argv, "count", "1000000"));
  int idle_ms = atoi(opt(argc, argv, "idle-ms", "1000"));
  static unsigned char buf[65536];
  long frames = 0, bytes = 0;
  double first = 0, last = 0, cpu0 = cpu_s();
  printf("{\"ready\":true}\n");
  fflush(stdout);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (frames < count) {
    int r = poll(&p, 1, frames == 0 ? 30000 : idle_ms);
    if (r <= 0) break;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) { if (errno == EINTR || errno == EAGAIN) continue; perror("read"); return 74; }
    if (n < 42 || buf[23] != 17) continue; /* count UDP only, as udp_sink does */
    if (buf[36] == 9999 >> 8 && buf[37] == (9999 & 0xff)) break; /* the bench's "that was all" */
    if (frames == 0) first = now_s();
    frames++;
    bytes += n;
    last = now_s();
  }
  double span = last - first;
  printf("{\"frames\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"fps\":%.0f,\"cpu_s\":%.6f}\n", frames, bytes, span,
         span > 0 ? (frames - 1) / span : 0, cpu_s() - cpu0);
  return 0;
}
