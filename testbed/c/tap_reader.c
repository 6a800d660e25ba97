/* The RX limit: reads frames from a TAP and counts the UDP ones to 10.0.0.2, with the
 * --loop=block|epoll|busy of common.h, until --count frames, a datagram to port 9999 (the
 * bench's "that was all"), SIGTERM, or (epoll, busy) --idle-ms without a frame after the
 * first. --work-ns=N spends about N ns per frame checksumming its payload, as udp_sink.js does.
 * --skip-port=P: datagrams to port P are read and worked on but not counted (a warm-up).
 * Prints frames, the span from the first frame to the last, frames/s over that span (as
 * udp_sink prints it: frames / span) and the process's CPU seconds since it started (cpu_s). */
#include "common.h"

/* Not inlined: the calibration and the per-frame work must run the same machine code (inlined
 * into the read loop, gcc made it 2.2x slower than the calibrated copy: 4.4 µs for "2000 ns"). */
__attribute__((noinline)) static unsigned adler(const unsigned char *p, long from, long to) {
  unsigned a = 1, b = 0;
  for (long i = from; i < to; i++) { a = (a + p[i]) % 65521; b = (b + a) % 65521; }
  return (b << 16) | a;
}

static unsigned calibrated;

/* Bytes of checksum that take about `ns`: calibrated for 50 ms, as examples/lib/ether.js does. */
static long work_bytes(long ns) {
  if (ns <= 0) return 0;
  static unsigned char buf[1300];
  for (int i = 0; i < 1300; i++) buf[i] = i & 0xff;
  unsigned x = 0;
  long bytes = 0;
  double t0 = now_s();
  while (now_s() - t0 < 0.05) { x ^= adler(buf, 0, sizeof buf); bytes += sizeof buf; }
  calibrated = x; /* printed at the end, so the compiler cannot drop the calibration */
  long want = (long)(ns / ((now_s() - t0) * 1e9 / bytes) + 0.5);
  return want < 1 ? 1 : want;
}

int main(int argc, char **argv) {
  int fd = tap_attach(opt(argc, argv, "tap", "tap0"));
  enum loop l = loop_opt(argc, argv);
  long count = atol(opt(argc, argv, "count", "1000000"));
  int idle_ms = atoi(opt(argc, argv, "idle-ms", "1000"));
  long want = work_bytes(atol(opt(argc, argv, "work-ns", "0")));
  int skip_port = atoi(opt(argc, argv, "skip-port", "-1"));
  int ep = loop_setup(fd, l, EPOLLIN);
  stop_on_signals();
  static unsigned char buf[65536];
  long frames = 0, bytes = 0;
  unsigned sum = 0;
  double first = 0, last = 0, waited = now_s();
  printf("{\"ready\":true}\n");
  fflush(stdout);
  while (frames < count && !stopping) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) { perror("read"); return 74; }
      int idle = frames > 0 && idle_ms > 0;
      if (idle && now_s() - waited > idle_ms / 1e3) break;
      if (!loop_wait(l, ep, idle ? idle_ms : 1000) && idle) break;
      continue;
    }
    if (n < 42 || buf[12] != 0x08 || buf[13] != 0x00 || buf[23] != 17 || buf[30] != 10 || buf[31] != 0 || buf[32] != 0 || buf[33] != 2) continue;
    long off = 14 + (buf[14] & 0xf) * 4 + 8;
    if (buf[off - 6] == 9999 >> 8 && buf[off - 5] == (9999 & 0xff)) break;
    for (long left = want; left > 0 && n > off; left -= n - off) sum ^= adler(buf, off, left < n - off ? off + left : n);
    if (((buf[off - 6] << 8) | buf[off - 5]) == skip_port) continue;
    last = waited = now_s();
    if (frames++ == 0) first = last;
    bytes += n;
  }
  double span = last - first;
  printf("{\"loop\":\"%s\",\"frames\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"fps\":%.0f,\"cpu_s\":%.6f,\"work\":%u}\n",
         LOOP_NAMES[l], frames, bytes, span, span > 0 ? frames / span : 0, cpu_s(), (sum ^ calibrated) & 1);
  return 0;
}
