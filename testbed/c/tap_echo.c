/* The echo limit: answers ARP and ICMP echo for 10.0.0.2 on a TAP, with the
 * --loop=block|epoll|busy of common.h (read, then write the reply at once), until --count
 * echoes (0: no limit) or SIGTERM. The same in-place rewrite ping_serve.js does; other frames
 * (a flood beside the probe) are read and dropped, as ping_serve drops them. --delay-ns=N
 * spins N ns before each echo's reply: a slower responder, to see what its tail looks like
 * (docs/tuning.md, "Under a flood: the request behind a slow reply"). --touch-kb=N writes a
 * byte in every 64 of an N KiB buffer before each echo's reply: other code having had the caches
 * before the reply's write (docs/tuning.md, "Where a round trip's time goes"). Built with
 * -DTAP_ECHO_STAMPS (bench/profile-stamps.sh, a build of its own) it also times each round trip's
 * read() and write() as native/stamps.cc does the tender's, and prints the means at exit. */
#include "common.h"

#ifdef TAP_ECHO_STAMPS
/* Sums in ns: a round trip is a read() that got a frame and the write() of its answer. */
static double st_r2w, st_read, st_write, st_w2r;
static long st_n, st_nw2r, st_nread, st_nwrite;
static double st_read_began, st_read_at, st_write_at;
#define STAMP_READ_BEGIN() (st_read_began = now_s())
#define STAMP_READ_GOT() do { double t_ = now_s(); st_read += t_ - st_read_began; st_nread++; \
    if (st_write_at > 0 && t_ - st_write_at < 1e-3) { st_w2r += t_ - st_write_at; st_nw2r++; } \
    st_write_at = 0; st_read_at = t_; } while (0)
#define STAMP_WRITE(call) do { double w0_ = now_s(); call; st_write_at = now_s(); st_write += st_write_at - w0_; st_nwrite++; \
    if (st_read_at > 0 && w0_ - st_read_at < 1e-3) { st_r2w += w0_ - st_read_at; st_n++; } st_read_at = 0; } while (0)
static void stamps_report(void) {
  if (st_n == 0) return;
  fprintf(stderr, "tap_echo stamps: {\"round_trips\":%ld,\"read_to_write\":%.0f,\"read\":%.0f,\"write\":%.0f,\"write_to_read\":%.0f}\n",
          st_n, st_r2w / st_n * 1e9, st_read / st_nread * 1e9, st_write / st_nwrite * 1e9, st_nw2r ? st_w2r / st_nw2r * 1e9 : -1);
}
#else
#define STAMP_READ_BEGIN() ((void)0)
#define STAMP_READ_GOT() ((void)0)
#define STAMP_WRITE(call) call
static void stamps_report(void) {}
#endif

static const unsigned char MY_IP[4] = {10, 0, 0, 2};
static const unsigned char MY_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};

/* Rewrites f into its reply; 1 for an echo, 2 for ARP, 0 when there is nothing to answer. */
static int answer(unsigned char *f, ssize_t n) {
  unsigned char t[6];
  if (n >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 && memcmp(f + 38, MY_IP, 4) == 0) {
    memcpy(f, f + 6, 6); memcpy(f + 6, MY_MAC, 6); f[21] = 2;
    memcpy(f + 32, f + 22, 10); memcpy(f + 22, MY_MAC, 6); memcpy(f + 28, MY_IP, 4);
    return 2;
  }
  if (n < 42 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 1 || memcmp(f + 30, MY_IP, 4) != 0) return 0;
  int icmp = 14 + (f[14] & 0xf) * 4;
  if (icmp + 4 > n || f[icmp] != 8) return 0;
  memcpy(t, f, 6); memcpy(f, f + 6, 6); memcpy(f + 6, t, 6);
  memcpy(t, f + 26, 4); memcpy(f + 26, f + 30, 4); memcpy(f + 30, t, 4);
  f[icmp] = 0;
  unsigned long s = (~((f[icmp + 2] << 8) | f[icmp + 3]) & 0xffff) + (~0x0800 & 0xffff);
  s = (s & 0xffff) + (s >> 16);
  f[icmp + 2] = (~s >> 8) & 0xff; f[icmp + 3] = ~s & 0xff;
  return 1;
}

int main(int argc, char **argv) {
  char *end;
  const char *delay_arg = opt(argc, argv, "delay-ns", "0");
  double delay = strtod(delay_arg, &end) * 1e-9;
  if (*end != '\0' || !(delay >= 0 && delay <= 1)) { fprintf(stderr, "tap_echo: --delay-ns must be 0..1e9\n"); return 64; }
  const char *touch_arg = opt(argc, argv, "touch-kb", "0");
  long touch_kb = strtol(touch_arg, &end, 10);
  if (*end != '\0' || touch_kb < 0 || touch_kb > 65536) { fprintf(stderr, "tap_echo: --touch-kb must be 0..65536\n"); return 64; }
  static volatile unsigned char touched[64 << 20];
  int fd = tap_attach(opt(argc, argv, "tap", "tap0"));
  enum loop l = loop_opt(argc, argv);
  long count = atol(opt(argc, argv, "count", "0"));
  int ep = loop_setup(fd, l, EPOLLIN);
  stop_on_signals();
  static unsigned char f[65536];
  long echoes = 0, frames = 0;
  printf("{\"ready\":true}\n");
  fflush(stdout);
  while ((count == 0 || echoes < count) && !stopping) {
    STAMP_READ_BEGIN();
    ssize_t n = read(fd, f, sizeof f);
    if (n >= 0) STAMP_READ_GOT();
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) { perror("read"); return 74; }
      loop_wait(l, ep, 1000);
      continue;
    }
    frames++;
    int what = answer(f, n);
    if (!what) continue;
    echoes += what == 1;
    if (delay > 0 && what == 1) for (double until = now_s() + delay; now_s() < until;) {}
    if (what == 1) for (long i = 0; i < touch_kb << 10; i += 64) touched[i]++;
    /* A TAP write does not block (the kernel takes the frame or drops it); a reply lost here
     * shows as the probe's loss. */
    STAMP_WRITE(while (write(fd, f, n) < 0 && errno == EINTR) {});
  }
  stamps_report();
  printf("{\"loop\":\"%s\",\"echoes\":%ld,\"frames\":%ld,\"cpu_s\":%.6f}\n", LOOP_NAMES[l], echoes, frames, cpu_s());
  return 0;
}
