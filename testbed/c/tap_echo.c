/* The ping limit: answers ARP and ICMP echo for 10.0.0.2 on a TAP with plain blocking
 * read()/write(), until --count echoes. The same in-place rewrite ping_serve.js does. */
#include "common.h"

static const unsigned char MY_IP[4] = {10, 0, 0, 2};
static const unsigned char MY_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};

int main(int argc, char **argv) {
  int fd = tap_attach(opt(argc, argv, "tap", "tap0"));
  long count = atol(opt(argc, argv, "count", "100000"));
  unsigned char f[65536], t[6];
  long echoes = 0;
  double cpu0 = cpu_s();
  printf("{\"ready\":true}\n");
  fflush(stdout);
  while (echoes < count) {
    ssize_t n = read(fd, f, sizeof f);
    if (n < 0) { if (errno == EINTR) continue; perror("read"); return 74; }
    if (n >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 && memcmp(f + 38, MY_IP, 4) == 0) {
      memcpy(f, f + 6, 6); memcpy(f + 6, MY_MAC, 6); f[21] = 2;
      memcpy(f + 32, f + 22, 10); memcpy(f + 22, MY_MAC, 6); memcpy(f + 28, MY_IP, 4);
    } else if (n >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 1 && memcmp(f + 30, MY_IP, 4) == 0) {
      int icmp = 14 + (f[14] & 0xf) * 4;
      if (f[icmp] != 8) continue;
      memcpy(t, f, 6); memcpy(f, f + 6, 6); memcpy(f + 6, t, 6);
      memcpy(t, f + 26, 4); memcpy(f + 26, f + 30, 4); memcpy(f + 30, t, 4);
      f[icmp] = 0;
      unsigned long s = (~((f[icmp + 2] << 8) | f[icmp + 3]) & 0xffff) + (~0x0800 & 0xffff);
      s = (s & 0xffff) + (s >> 16);
      f[icmp + 2] = (~s >> 8) & 0xff; f[icmp + 3] = ~s & 0xff;
      echoes++;
    } else continue;
    if (write(fd, f, n) < 0 && errno != EINTR) { perror("write"); return 74; }
  }
  printf("{\"echoes\":%ld,\"cpu_s\":%.6f}\n", echoes, cpu_s() - cpu0);
  return 0;
}
