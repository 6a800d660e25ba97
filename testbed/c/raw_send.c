/* Sends raw Ethernet frames of the given --lengths (comma-separated) out of --tap with an
 * AF_PACKET socket: ethertype 0x88b5, byte i = i & 0xff after the header, to --dst-mac.
 * For the bad-frames tests (frames of exactly the slot size, larger than the MTU, ...). */
#include "common.h"
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  const char *tap = opt(argc, argv, "tap", "tap0");
  unsigned char dst[6];
  if (sscanf(opt(argc, argv, "dst-mac", "02:00:00:00:00:02"), "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst[0], &dst[1], &dst[2], &dst[3], &dst[4], &dst[5]) != 6) return 64;
  int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (s < 0) { perror("socket"); return 77; }
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(tap), .sll_halen = 6};
  memcpy(to.sll_addr, dst, 6);
  static unsigned char f[65536];
  char *list = strdup(opt(argc, argv, "lengths", "60"));
  int sent = 0;
  for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
    int len = atoi(tok);
    memcpy(f, dst, 6);
    memset(f + 6, 0x02, 6);
    f[12] = 0x88; f[13] = 0xb5;
    for (int i = 14; i < len; i++) f[i] = i & 0xff;
    if (sendto(s, f, len, 0, (struct sockaddr *)&to, sizeof to) != len) { fprintf(stderr, "send %d: %s\n", len, strerror(errno)); return 1; }
    sent++;
    usleep(2000);
  }
  printf("{\"sent\":%d}\n", sent);
  return 0;
}
