/* The RX limit: reads frames from a TAP and counts the UDP ones to 10.0.0.2, with the
 * --loop=block|epoll|busy of common.h, until --count frames, a datagram to port 9999 (the
 * bench's "that was all"), SIGTERM, or (epoll, busy) --idle-ms without a frame after the
 * first. --work-ns=N spends about N ns per frame checksumming its payload, as udp_sink.js does.
 * --skip-port=P: datagrams to port P are read and worked on but not counted (a warm-up).
 * --loop=uring: busy, but reads in batches through io_uring (below).
 * Prints frames, the span from the first frame to the last, frames/s over that span (as
 * udp_sink prints it: frames / span) and the process's CPU seconds since it started (cpu_s). */
#include "common.h"
#include <liburing.h>

/* Not inlined: the calibration and the per-frame work must run the same machine code (inlined
 * into the read loop, gcc made it 2.2x slower than the calibrated copy: 4.4 µs for "2000 ns"). */
__attribute__((noinline)) static unsigned adler(const unsigned char *p, long from, long to) {
  unsigned a = 1, b = 0;
  for (long i = from; i < to; i++) { a = (a + p[i]) % 65521; b = (b + a) % 65521; }
  return (b << 16) | a;
}

static unsigned calibrated;

/* --loop=uring: the batched reader a C program can be. Up to URING_BATCH reads go to the kernel
 * in one io_uring_enter, each into a buffer registered once (the kernel pins it: no per-read
 * page lookup) from the TAP registered once (no per-read file reference), non-blocking
 * (RWF_NOWAIT: a read that would wait completes with -EAGAIN instead of waiting). The batch
 * doubles while every read finds a frame and shrinks to what the last one found, so an idle
 * poll costs one read. Measured on the 2-vCPU VM (bench/README.md, RX drain): faster than
 * read() per frame, but only with the registered buffer; plain IORING_OP_READ was slower. */
#define URING_BATCH 64
#define URING_SLOT 2048 /* the TAP's MTU is 1500: a frame is at most 1514 bytes */
struct uring_rx {
  struct io_uring ring;
  unsigned char (*slots)[URING_SLOT];
  unsigned lens[URING_BATCH];
  int have, next, batch;
};

static void uring_setup(struct uring_rx *u, int fd) {
  static unsigned char slots[URING_BATCH][URING_SLOT];
  struct iovec all = {slots, sizeof slots};
  int rc = io_uring_queue_init(URING_BATCH, &u->ring, 0);
  if (rc == 0) rc = io_uring_register_files(&u->ring, &fd, 1);
  if (rc == 0) rc = io_uring_register_buffers(&u->ring, &all, 1);
  if (rc < 0) { fprintf(stderr, "io_uring: %s\n", strerror(-rc)); exit(71); }
  u->slots = slots;
  u->have = u->next = 0;
  u->batch = 1;
}

/* The next frame's length and *frame, or -1 with errno EAGAIN when a batch found none. Frames
 * come back in the order they were read: the reads of one submit run in order and, each
 * finishing at once (RWF_NOWAIT on a non-blocking TAP), complete in that order; a frame read
 * after a read that found none is moved down to stay contiguous. (The tender's copy,
 * native/uring_rx.cc, does not rely on the completion order.) */
static ssize_t uring_read(struct uring_rx *u, unsigned char **frame) {
  if (u->next == u->have) {
    for (int i = 0; i < u->batch; i++) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
      io_uring_prep_read_fixed(sqe, 0, u->slots[i], URING_SLOT, 0, 0);
      sqe->flags |= IOSQE_FIXED_FILE;
      sqe->rw_flags = RWF_NOWAIT;
      sqe->user_data = i;
    }
    int rc = io_uring_submit(&u->ring);
    if (rc < 0) { fprintf(stderr, "io_uring_submit: %s\n", strerror(-rc)); exit(74); }
    int got = 0;
    for (int i = 0; i < u->batch; i++) {
      struct io_uring_cqe *cqe;
      if ((rc = io_uring_wait_cqe(&u->ring, &cqe)) < 0) { fprintf(stderr, "io_uring_wait_cqe: %s\n", strerror(-rc)); exit(74); }
      int res = cqe->res, at = (int)cqe->user_data;
      io_uring_cqe_seen(&u->ring, cqe);
      if (res == -EAGAIN || res == -EINTR) continue;
      if (res < 0) { fprintf(stderr, "read: %s\n", strerror(-res)); exit(74); }
      if (at != got) memmove(u->slots[got], u->slots[at], res);
      u->lens[got++] = res;
    }
    u->batch = got == u->batch ? (2 * got > URING_BATCH ? URING_BATCH : 2 * got) : got + 1;
    u->have = got;
    u->next = 0;
    if (got == 0) { errno = EAGAIN; return -1; }
  }
  *frame = u->slots[u->next];
  return u->lens[u->next++];
}

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
  int uring = strcmp(opt(argc, argv, "loop", "block"), "uring") == 0;
  enum loop l = uring ? LOOP_BUSY : loop_opt(argc, argv);
  long count = atol(opt(argc, argv, "count", "1000000"));
  int idle_ms = atoi(opt(argc, argv, "idle-ms", "1000"));
  long want = work_bytes(atol(opt(argc, argv, "work-ns", "0")));
  int skip_port = atoi(opt(argc, argv, "skip-port", "-1"));
  int ep = loop_setup(fd, l, EPOLLIN);
  stop_on_signals();
  static unsigned char frame[65536];
  static struct uring_rx u;
  if (uring) uring_setup(&u, fd);
  long frames = 0, bytes = 0;
  unsigned sum = 0;
  double first = 0, last = 0, waited = now_s();
  printf("{\"ready\":true}\n");
  fflush(stdout);
  while (frames < count && !stopping) {
    unsigned char *buf = frame;
    ssize_t n = uring ? uring_read(&u, &buf) : read(fd, buf, sizeof frame);
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
  if (uring) io_uring_unregister_files(&u.ring); /* the TAP free at exit, as tap_writer's */
  double span = last - first;
  printf("{\"loop\":\"%s\",\"frames\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"fps\":%.0f,\"cpu_s\":%.6f,\"work\":%u}\n",
         uring ? "uring" : LOOP_NAMES[l], frames, bytes, span, span > 0 ? frames / span : 0, cpu_s(), (sum ^ calibrated) & 1);
  return 0;
}
