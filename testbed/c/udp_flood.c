/* A UDP sender for the namespace side: sendmmsg bursts of --size byte datagrams to --dst:--port,
 * --count datagrams or --seconds, whichever comes first; --pps paces it (0 = flat out).
 * --gso=G (UDP_SEGMENT): each send of --size bytes leaves as datagrams of G bytes, one
 * super-frame to a TAP with USO on. Prints {"sent":N,"seconds":S,"pps":R} (N: sends). */
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#define BURST 64
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

int main(int argc, char **argv) {
  const char *dst = netns_dst(argc, argv, "udp_flood");
  int port = atoi(opt(argc, argv, "port", "9000"));
  int size = atoi(opt(argc, argv, "size", "1300"));
  long count = atol(opt(argc, argv, "count", "1000000"));
  double seconds = atof(opt(argc, argv, "seconds", "10"));
  double pps = atof(opt(argc, argv, "pps", "0"));
  if (size < 4 || size > 65000 || count < 0 || seconds <= 0) { fprintf(stderr, "udp_flood: bad arguments\n"); return 64; }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int sndbuf = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  int gso = atoi(opt(argc, argv, "gso", "0"));
  if (gso > 0 && setsockopt(s, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso) < 0) { perror("UDP_SEGMENT"); return 69; }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, dst, &to.sin_addr) != 1) { fprintf(stderr, "udp_flood: bad --dst\n"); return 64; }
  static char bufs[BURST][65536];
  struct mmsghdr msgs[BURST];
  struct iovec iov[BURST];
  for (int i = 0; i < BURST; i++) {
    memset(bufs[i], 0xab, size);
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = size;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  long sent = 0;
  double t0 = now_s(), end = t0 + seconds;
  while (sent < count) {
    double t = now_s();
    if (t >= end) break;
    if (pps > 0 && sent > (t - t0) * pps) { usleep(50); continue; }
    int n = count - sent < BURST ? (int)(count - sent) : BURST;
    for (int i = 0; i < n; i++) *(uint32_t *)bufs[i] = htonl((uint32_t)(sent + i));
    int r = sendmmsg(s, msgs, n, 0);
    if (r < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue;
      perror("sendmmsg");
      return 1;
    }
    sent += r;
  }
  double dt = now_s() - t0;
  printf("{\"sent\":%ld,\"seconds\":%.6f,\"pps\":%.0f}\n", sent, dt, sent / dt);
  return 0;
}
