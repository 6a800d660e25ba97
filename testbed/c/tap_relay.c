/* The relay limit: forwards every frame between two TAPs (--a, --b) with a busy-poll
 * loop of non-blocking read()/write(), sched_yield() when a round moved nothing (as the
 * tender's IO thread does), until SIGINT/SIGTERM or --seconds. With --offload the TAPs
 * are opened IFF_VNET_HDR (12-byte header) with checksum/TSO/USO offloads, and each
 * frame's header is passed through untouched, as examples/firewall.js does under the
 * tender. Prints {"frames","bytes","max_frame","seconds","cpu_s","offloads"} at the end.
 * Only the busy loop (common.h's LOOP_BUSY): a relay polls two TAPs, and it is the limit. */
#include "common.h"

#define VNET_HDR 12
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* The same sets, in the same order, as host/tap.ts tries. */
static unsigned attach_offload(int fd) {
  const unsigned sets[] = {TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
                           TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_F_CSUM};
  for (unsigned i = 0; i < sizeof sets / sizeof sets[0]; i++)
    if (ioctl(fd, TUNSETOFFLOAD, sets[i]) == 0) return sets[i];
  perror("TUNSETOFFLOAD");
  exit(69);
}

static int open_tap(const char *name, int offload, unsigned *offloads) {
  if (!offload) { *offloads = 0; return tap_attach(name); }
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) { perror("/dev/net/tun"); exit(69); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(69); }
  int sz = VNET_HDR;
  if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) { perror("TUNSETVNETHDRSZ"); exit(69); }
  *offloads = attach_offload(fd);
  return fd;
}

int main(int argc, char **argv) {
  int offload = 0;
  for (int i = 1; i < argc; i++) if (strcmp(argv[i], "--offload") == 0) offload = 1;
  double seconds = atof(opt(argc, argv, "seconds", "0"));
  unsigned offA, offB;
  int fd[2] = {open_tap(opt(argc, argv, "a", "tap0"), offload, &offA), open_tap(opt(argc, argv, "b", "tap1"), offload, &offB)};
  for (int i = 0; i < 2; i++) fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
  stop_on_signals();
  static unsigned char buf[VNET_HDR + 65536 + 64];
  const long hdr = offload ? VNET_HDR : 0;
  long frames = 0, max_frame = 0;
  double bytes = 0;
  printf("{\"ready\":true}\n");
  fflush(stdout);
  double t0 = now_s(), cpu0 = cpu_s(), end = seconds > 0 ? t0 + seconds : 1e300;
  while (!stopping) {
    int moved = 0;
    for (int s = 0; s < 2; s++) {
      ssize_t n = read(fd[s], buf, sizeof buf);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        perror("read");
        return 74;
      }
      moved = 1;
      if (write(fd[1 - s], buf, (size_t)n) < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
        perror("write");
        return 74;
      }
      frames++;
      bytes += (double)(n - hdr);
      if (n - hdr > max_frame) max_frame = n - hdr;
    }
    if (!moved) {
      sched_yield();
      if (now_s() > end) break;
    }
  }
  printf("{\"frames\":%ld,\"bytes\":%.0f,\"max_frame\":%ld,\"seconds\":%.6f,\"cpu_s\":%.6f,\"offloads\":%u}\n", frames, bytes, max_frame,
         now_s() - t0, cpu_s() - cpu0, offA & offB);
  return 0;
}
