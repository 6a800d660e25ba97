/* The TX limit: writes --count UDP frames (--size payload bytes) from 10.0.0.2/--src-mac to
 * 10.0.0.1:--port/--dst-mac into a TAP as fast as it goes, with --loop=block (a blocking
 * write()), epoll (non-blocking; on EAGAIN wait for EPOLLOUT) or busy (non-blocking; yield and
 * retry EAGAIN). Prints frames, seconds, frames/s, the process's CPU seconds since it
 * started and how often the kernel said EAGAIN. */
#include "common.h"
#include <arpa/inet.h>

static void mac_parse(const char *s, unsigned char *m) {
  if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) { fprintf(stderr, "bad MAC %s\n", s); exit(64); }
}

static unsigned short csum(const unsigned char *p, int n) {
  unsigned long s = 0;
  for (int i = 0; i < n; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

int main(int argc, char **argv) {
  int fd = tap_attach(opt(argc, argv, "tap", "tap0"));
  enum loop l = loop_opt(argc, argv);
  int ep = loop_setup(fd, l, EPOLLOUT);
  long count = atol(opt(argc, argv, "count", "1000000"));
  int size = atoi(opt(argc, argv, "size", "1300"));
  int port = atoi(opt(argc, argv, "port", "9000"));
  unsigned char f[2048] = {0};
  mac_parse(opt(argc, argv, "dst-mac", "ff:ff:ff:ff:ff:ff"), f);
  mac_parse(opt(argc, argv, "src-mac", "02:00:00:00:00:02"), f + 6);
  f[12] = 0x08; f[13] = 0x00;
  unsigned char *ip = f + 14;
  ip[0] = 0x45; ip[2] = (20 + 8 + size) >> 8; ip[3] = (20 + 8 + size) & 0xff; ip[6] = 0x40; ip[8] = 64; ip[9] = 17;
  ip[12] = 10; ip[15] = 2; ip[16] = 10; ip[19] = 1;
  unsigned short c = csum(ip, 20); ip[10] = c >> 8; ip[11] = c & 0xff;
  unsigned char *udp = ip + 20;
  udp[0] = 9000 >> 8; udp[1] = 9000 & 0xff; udp[2] = port >> 8; udp[3] = port & 0xff;
  udp[4] = (8 + size) >> 8; udp[5] = (8 + size) & 0xff;
  for (int i = 4; i < size; i++) udp[8 + i] = i & 0xff;
  int len = 42 + size;
  printf("{\"ready\":true}\n");
  fflush(stdout);
  double t0 = now_s();
  long done = 0, again = 0;
  while (done < count) {
    uint32_t seq = htonl((uint32_t)done);
    memcpy(udp + 8, &seq, 4);
    if (write(fd, f, len) < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) { perror("write"); return 74; }
      again++;
      loop_wait(l, ep, 100);
      continue;
    }
    done++;
  }
  double dt = now_s() - t0;
  printf("{\"loop\":\"%s\",\"frames\":%ld,\"seconds\":%.6f,\"fps\":%.0f,\"cpu_s\":%.6f,\"again\":%ld}\n", LOOP_NAMES[l], done, dt, done / dt, cpu_s(), again);
  return 0;
}
