/* The TX limit: writes --count UDP frames (--size payload bytes) from 10.0.0.2/--src-mac to
 * 10.0.0.1:--port/--dst-mac into a TAP as fast as it goes, with --loop=block (a blocking
 * write()), epoll (non-blocking; on EAGAIN wait for EPOLLOUT), busy (non-blocking; yield and
 * retry EAGAIN) or uring (below). Prints frames, seconds, frames/s, the process's CPU seconds
 * since it started and how often the kernel said EAGAIN. --warm=W first writes W frames to
 * --warm-port (default 9001) the same way, untimed, and prints {"warmed":W}: the bench's TX
 * workloads give every sender, C or JS, the warm-up a JIT needs (bench/README.md, "Warm-up"). */
#include "common.h"
#include <arpa/inet.h>
#include <liburing.h>

/* --loop=uring: the batched writer a C program can be, as tap_reader's --loop=uring is the
 * batched reader. URING_BATCH frames, each in its own buffer, go to the kernel in one
 * io_uring_enter (IORING_OP_WRITE to the TAP registered once), non-blocking (RWF_NOWAIT); one
 * that comes back EAGAIN is counted and sent again in the next batch. Where a system call is
 * dear (docs/tuning.md, "Writing the TAP") this is worth several times a write() per frame.
 * Registering the buffers too (IORING_OP_WRITE_FIXED) was no faster: 0.98-1.01M frames/s
 * against 1.00-1.04M, three interleaved runs each. */
#define URING_BATCH 64
static long uring_send(int fd, unsigned char *f, int len, unsigned char *seqAt, long count, long *again) {
  static unsigned char bufs[URING_BATCH][2048];
  struct io_uring ring;
  int rc = io_uring_queue_init(URING_BATCH, &ring, 0);
  if (rc == 0) rc = io_uring_register_files(&ring, &fd, 1);
  if (rc < 0) { fprintf(stderr, "io_uring: %s\n", strerror(-rc)); exit(71); }
  for (int i = 0; i < URING_BATCH; i++) memcpy(bufs[i], f, len);
  long done = 0, next = 0; /* next: the sequence number the next new frame gets */
  long retry[URING_BATCH];
  int retries = 0;
  while (done < count) {
    int want = 0;
    long seqs[URING_BATCH];
    for (; want < URING_BATCH && (want < retries || next < count); want++) {
      long seq = want < retries ? retry[want] : next++;
      uint32_t s = htonl((uint32_t)seq);
      memcpy(bufs[want] + (seqAt - f), &s, 4);
      seqs[want] = seq;
      struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
      io_uring_prep_write(sqe, 0, bufs[want], len, 0);
      sqe->flags |= IOSQE_FIXED_FILE;
      sqe->rw_flags = RWF_NOWAIT;
      sqe->user_data = want;
    }
    retries = 0;
    if ((rc = io_uring_submit_and_wait(&ring, want)) < 0) { fprintf(stderr, "io_uring_submit: %s\n", strerror(-rc)); exit(74); }
    for (int i = 0; i < want; i++) {
      struct io_uring_cqe *cqe;
      if ((rc = io_uring_wait_cqe(&ring, &cqe)) < 0) { fprintf(stderr, "io_uring_wait_cqe: %s\n", strerror(-rc)); exit(74); }
      if (cqe->res >= 0) done++;
      else if (cqe->res == -EAGAIN || cqe->res == -ENOBUFS) { (*again)++; retry[retries++] = seqs[cqe->user_data]; }
      else { fprintf(stderr, "write: %s\n", strerror(-cqe->res)); exit(74); }
      io_uring_cqe_seen(&ring, cqe);
    }
    if (retries > 0) sched_yield();
  }
  /* A closed ring is torn down by a kernel worker later, holding the TAPs till then: the next
   * program to attach would find them busy. Unregistered now, they are free at exit. */
  io_uring_unregister_files(&ring);
  io_uring_queue_exit(&ring);
  return done;
}

static void mac_parse(const char *s, unsigned char *m) {
  if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) { fprintf(stderr, "bad MAC %s\n", s); exit(64); }
}

static unsigned short csum(const unsigned char *p, int n) {
  unsigned long s = 0;
  for (int i = 0; i < n; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/* Writes `count` copies of frame f numbered from 0 (at seqAt) by the loop asked for. */
static long send_frames(int fd, unsigned char *f, int len, unsigned char *seqAt, long count, int uring, enum loop l, int ep, long *again) {
  if (uring) return uring_send(fd, f, len, seqAt, count, again);
  long done = 0;
  while (done < count) {
    uint32_t seq = htonl((uint32_t)done);
    memcpy(seqAt, &seq, 4);
    if (write(fd, f, len) < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) { perror("write"); exit(74); }
      (*again)++;
      loop_wait(l, ep, 100);
      continue;
    }
    done++;
  }
  return done;
}

int main(int argc, char **argv) {
  int fd = tap_attach(opt(argc, argv, "tap", "tap0"));
  int uring = strcmp(opt(argc, argv, "loop", "block"), "uring") == 0;
  enum loop l = uring ? LOOP_BUSY : loop_opt(argc, argv);
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
  long again = 0;
  long warm = atol(opt(argc, argv, "warm", "0"));
  if (warm > 0) {
    int warmPort = atoi(opt(argc, argv, "warm-port", "9001"));
    udp[2] = warmPort >> 8; udp[3] = warmPort & 0xff;
    long warmAgain = 0;
    send_frames(fd, f, len, udp + 8, warm, uring, l, ep, &warmAgain);
    udp[2] = port >> 8; udp[3] = port & 0xff;
    printf("{\"warmed\":%ld}\n", warm);
    fflush(stdout);
  }
  double t0 = now_s();
  long done = send_frames(fd, f, len, udp + 8, count, uring, l, ep, &again);
  double dt = now_s() - t0;
  printf("{\"loop\":\"%s\",\"frames\":%ld,\"seconds\":%.6f,\"fps\":%.0f,\"cpu_s\":%.6f,\"again\":%ld}\n", uring ? "uring" : LOOP_NAMES[l], done, dt, done / dt, cpu_s(), again);
  return 0;
}
