/* The namespace side of TX runs: counts UDP datagrams on --port with recvmmsg until --count
 * or --idle-ms without one after the first. Prints {"received":N,"bytes":B,"seconds":S}. */
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#define BURST 64

int main(int argc, char **argv) {
  long count = atol(opt(argc, argv, "count", "1000000"));
  int idle_ms = atoi(opt(argc, argv, "idle-ms", "1000"));
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  int rcvbuf = 32 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(atoi(opt(argc, argv, "port", "9000")))};
  inet_pton(AF_INET, opt(argc, argv, "addr", "10.0.0.1"), &me.sin_addr);
  if (bind(s, (struct sockaddr *)&me, sizeof me) < 0) { perror("bind"); return 69; }
  static char bufs[BURST][2048];
  struct mmsghdr msgs[BURST];
  struct iovec iov[BURST];
  for (int i = 0; i < BURST; i++) {
    iov[i].iov_base = bufs[i]; iov[i].iov_len = sizeof bufs[i];
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("{\"ready\":true}\n");
  fflush(stdout);
  long received = 0, bytes = 0;
  double first = 0, last = 0;
  struct pollfd p = {.fd = s, .events = POLLIN};
  while (received < count) {
    if (poll(&p, 1, received == 0 ? 30000 : idle_ms) <= 0) break;
    int n = recvmmsg(s, msgs, BURST, MSG_DONTWAIT, NULL);
    if (n <= 0) continue;
    if (received == 0) first = now_s();
    for (int i = 0; i < n; i++) bytes += msgs[i].msg_len;
    received += n;
    last = now_s();
  }
  printf("{\"received\":%ld,\"bytes\":%ld,\"seconds\":%.6f}\n", received, bytes, last - first);
  return 0;
}
