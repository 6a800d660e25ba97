/* The relay limit: forwards every frame between two TAPs (--a, --b) with a busy-poll
 * loop of non-blocking read()/write(), sched_yield() when a round moved nothing (as the
 * tender's IO thread does), until SIGINT/SIGTERM or --seconds. With --offload the TAPs
 * are opened IFF_VNET_HDR (12-byte header) with checksum/TSO/USO offloads, and each
 * frame's header is passed through untouched, as examples/firewall.js does under the
 * tender. Prints {"frames","bytes","max_frame","seconds","cpu_s","offloads"} at the end.
 * Only the busy loop (common.h's LOOP_BUSY): a relay polls two TAPs, and it is the limit.
 * --loop=uring: the same loop with its reads and writes batched through io_uring (below). */
#include "common.h"
#include <liburing.h>

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

/* --loop=uring: each round submits up to URING_BATCH non-blocking reads (RWF_NOWAIT) per TAP,
 * into buffers registered once, from the TAPs registered once, in one io_uring_enter; then
 * every frame read goes to the other TAP in one more (IORING_OP_WRITE, in the order read). A
 * TAP's batch doubles while every read finds a frame and shrinks to what the last batch found,
 * so an idle round costs one read per TAP, as tap_reader's --loop=uring. Two system calls a
 * round instead of two a frame: where a system call is dear, the C relay that can keep up. */
#define URING_BATCH 32
#define SLOT (VNET_HDR + 65536 + 64)
static int relay_uring(int fd[2], long hdr, double end, long *frames, double *bytes, long *max_frame) {
  static unsigned char bufs[2][URING_BATCH][SLOT];
  struct io_uring ring;
  struct iovec all = {bufs, sizeof bufs};
  int rc = io_uring_queue_init(4 * URING_BATCH, &ring, 0);
  if (rc == 0) rc = io_uring_register_files(&ring, fd, 2);
  if (rc == 0) rc = io_uring_register_buffers(&ring, &all, 1);
  if (rc < 0) { fprintf(stderr, "io_uring: %s\n", strerror(-rc)); return 71; }
  int batch[2] = {1, 1};
  int res[2][URING_BATCH];
  while (!stopping) {
    unsigned want = 0;
    for (int s = 0; s < 2; s++)
      for (int i = 0; i < batch[s]; i++, want++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_read_fixed(sqe, s, bufs[s][i], SLOT, 0, 0);
        sqe->flags |= IOSQE_FIXED_FILE;
        sqe->rw_flags = RWF_NOWAIT;
        sqe->user_data = (unsigned)(s * URING_BATCH + i);
      }
    if ((rc = io_uring_submit_and_wait(&ring, want)) < 0) { fprintf(stderr, "io_uring_enter: %s\n", strerror(-rc)); return 74; }
    for (unsigned k = 0; k < want; k++) {
      struct io_uring_cqe *cqe;
      if ((rc = io_uring_wait_cqe(&ring, &cqe)) < 0) { fprintf(stderr, "io_uring_wait_cqe: %s\n", strerror(-rc)); return 74; }
      res[cqe->user_data / URING_BATCH][cqe->user_data % URING_BATCH] = cqe->res;
      io_uring_cqe_seen(&ring, cqe);
    }
    unsigned writes = 0;
    for (int s = 0; s < 2; s++) {
      int got = 0;
      for (int i = 0; i < batch[s]; i++) {
        if (res[s][i] == -EAGAIN || res[s][i] == -EINTR) continue;
        if (res[s][i] < 0) { fprintf(stderr, "read: %s\n", strerror(-res[s][i])); return 74; }
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_write(sqe, 1 - s, bufs[s][i], (unsigned)res[s][i], 0);
        sqe->flags |= IOSQE_FIXED_FILE;
        sqe->rw_flags = RWF_NOWAIT;
        sqe->user_data = 0;
        writes++, got++;
        (*frames)++;
        *bytes += (double)(res[s][i] - hdr);
        if (res[s][i] - hdr > *max_frame) *max_frame = res[s][i] - hdr;
      }
      batch[s] = got == batch[s] ? (2 * got < URING_BATCH ? 2 * got : URING_BATCH) : got + 1;
    }
    if (writes == 0) {
      sched_yield();
      if (now_s() > end) break;
      continue;
    }
    if ((rc = io_uring_submit_and_wait(&ring, writes)) < 0) { fprintf(stderr, "io_uring_enter: %s\n", strerror(-rc)); return 74; }
    for (unsigned k = 0; k < writes; k++) {
      struct io_uring_cqe *cqe;
      if ((rc = io_uring_wait_cqe(&ring, &cqe)) < 0) { fprintf(stderr, "io_uring_wait_cqe: %s\n", strerror(-rc)); return 74; }
      int r = cqe->res;
      io_uring_cqe_seen(&ring, cqe);
      if (r < 0 && r != -EAGAIN && r != -ENOBUFS && r != -EINTR) { fprintf(stderr, "write: %s\n", strerror(-r)); return 74; }
    }
  }
  /* A closed ring is torn down by a kernel worker later, holding the TAPs till then: the next
   * program to attach would find them busy. Unregistered now, they are free at exit. */
  io_uring_unregister_files(&ring);
  io_uring_queue_exit(&ring);
  return 0;
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
  int uring = strcmp(opt(argc, argv, "loop", "busy"), "uring") == 0;
  if (uring) {
    int rc = relay_uring(fd, hdr, end, &frames, &bytes, &max_frame);
    if (rc != 0) return rc;
  }
  while (!uring && !stopping) {
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
