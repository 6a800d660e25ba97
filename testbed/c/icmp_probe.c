/* The latency probe: sends --count ICMP echo requests of --size payload bytes to --dst at a
 * fixed --rate (open loop: on schedule, whether or not replies came back, so a slow responder
 * cannot slow the probe down and hide its own delay), timestamps every request and reply, and
 * prints the round-trip distribution as JSON: p50, p99, p99.9, max, mean (µs) and loss.
 *
 * The request's time is CLOCK_MONOTONIC just before sendto(); the reply's is the kernel's
 * receive timestamp (SO_TIMESTAMPNS, as ping uses), moved onto CLOCK_MONOTONIC, so the
 * probe's own wake-up (a cross-CPU wake costs up to tens of µs on some VMs) is not in the
 * number. A reply not back --wait-ms after the last request counts as lost, and as slower
 * than any reply in the percentiles; so does one the kernel would not take (ENOBUFS, EAGAIN),
 * counted apart as `unsent`. The first --warmup requests go out on the same schedule
 * but are not counted: they meet a responder that has not run its per-frame code yet (a JIT
 * compiling it, pages not yet touched), which is start-up, not latency. --dump=FILE writes
 * every counted request's send time (CLOCK_MONOTONIC, s) and round trip (µs, -1 if lost), one
 * per line, to see when the slow ones came (bench/profile-latency.sh). */
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <linux/icmp.h>
#include <math.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

static double mono_s(void) { return now_s(); }
static double real_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) { /* INFINITY sorts last */
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p of the samples at or below it. */
static double pct(const double *sorted, long n, double p) {
  if (n == 0) return 0;
  long i = (long)(p * n + 0.999999) - 1;
  return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static unsigned short csum(const unsigned char *p, int n) {
  unsigned long s = 0;
  for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1];
  if (n & 1) s += p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

int main(int argc, char **argv) {
  long count = atol(opt(argc, argv, "count", "10000"));
  long warmup = atol(opt(argc, argv, "warmup", "0"));
  double rate = atof(opt(argc, argv, "rate", "10000"));
  int size = atoi(opt(argc, argv, "size", "56"));
  double wait_s = atof(opt(argc, argv, "wait-ms", "200")) / 1e3;
  const char *dump = opt(argc, argv, "dump", ""); /* per request: send time (CLOCK_MONOTONIC, s) and rtt (µs, -1 lost) */
  if (count < 1 || count > 10000000 || warmup < 0 || warmup > 10000000 || rate <= 0 || size < 8 || size > 1472) { fprintf(stderr, "icmp_probe: bad arguments\n"); return 64; }
  struct sockaddr_in to = {.sin_family = AF_INET};
  if (inet_pton(AF_INET, netns_dst(argc, argv, "icmp_probe"), &to.sin_addr) != 1) { fprintf(stderr, "icmp_probe: bad --dst\n"); return 64; }
  int s = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (s < 0) { perror("socket"); return 77; }
  int on = 1, rcvbuf = 8 << 20;
  struct icmp_filter only_replies = {.data = ~(1U << ICMP_ECHOREPLY)};
  setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  setsockopt(s, SOL_RAW, ICMP_FILTER, &only_replies, sizeof only_replies);
  prctl(PR_SET_TIMERSLACK, 1UL); /* wake for the next request on time, not 50 µs late */

  const long total = warmup + count;
  double *sent_at = malloc(total * sizeof *sent_at), *rtt = malloc(total * sizeof *rtt);
  if (!sent_at || !rtt) { perror("malloc"); return 71; }
  /* The first store to a page of either array in a while can stall 35-110 µs (on the PVM VM
   * of sessions 28-31, though written through here; not under mlockall). So nothing is stored
   * between a request's timestamp and its sendto(): every 512th request (a 4 KiB page of
   * doubles) used to carry such a stall in its round trip, half of a busy C responder's slow
   * requests (docs/tuning.md, "The probe's own stalls"). */
  for (long i = 0; i < total; i++) sent_at[i] = 0, rtt[i] = -1;
  unsigned short id = getpid() & 0xffff;
  unsigned char req[1500] = {8, 0}, in[2048];
  req[4] = id >> 8; req[5] = id & 0xff;
  for (int i = 8; i < 8 + size; i++) req[i] = i & 0xff;
  char ctl[256];
  long next = 0, received = 0, dups = 0, late = 0, unsent = 0;
  int drained = 0;
  double period = 1 / rate, start = mono_s(), due = start, end = 0;
  for (;;) {
    double now = mono_s();
    if (next < total && now >= due) {
      if (now - due > period && next >= warmup) late++;
      uint32_t seq = htonl((uint32_t)next);
      memcpy(req + 8, &seq, 4);
      req[6] = (next >> 8) & 0xff; req[7] = next & 0xff;
      req[2] = req[3] = 0;
      unsigned short c = csum(req, 8 + size);
      req[2] = c >> 8; req[3] = c & 0xff;
      double t = mono_s();
      if (sendto(s, req, 8 + size, 0, (struct sockaddr *)&to, sizeof to) < 0) {
        if (errno != ENOBUFS && errno != EAGAIN) { perror("sendto"); return 74; }
        if (next >= warmup) unsent++; /* still a lost request (the kernel would not take it), but said apart */
      }
      sent_at[next] = t; /* stored after the send: see the arrays' allocation */
      if (++next == total) end = sent_at[next - 1] + wait_s;
      due = start + next * period;
      continue;
    }
    /* At the end, one look more without waiting: a probe that was not running when the wait
     * ran out would otherwise leave replies that came back in time unread, and call them lost. */
    int finishing = next == total && (now >= end || received == total);
    if (finishing && (received == total || drained)) break;
    double until = next < total ? due : end;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = until > now && !finishing ? (long)((until - now) * 1e9) : 0};
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec = ts.tv_nsec / 1000000000L; ts.tv_nsec %= 1000000000L; }
    if (finishing) drained = 1;
    struct pollfd p = {.fd = s, .events = POLLIN};
    if (ppoll(&p, 1, &ts, NULL) <= 0) continue;
    for (;;) {
      struct iovec iov = {.iov_base = in, .iov_len = sizeof in};
      struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
      ssize_t n = recvmsg(s, &m, 0);
      if (n < 0) break;
      double got = mono_s();
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
          struct timespec k;
          memcpy(&k, CMSG_DATA(c), sizeof k);
          double offset = real_s() - mono_s();
          got = k.tv_sec + k.tv_nsec / 1e9 - offset;
        }
      }
      int ihl = (in[0] & 0xf) * 4;
      if (n < ihl + 12 || in[ihl] != 0 || ((in[ihl + 4] << 8) | in[ihl + 5]) != id) continue;
      uint32_t seq;
      memcpy(&seq, in + ihl + 8, 4);
      seq = ntohl(seq);
      if (seq >= (uint32_t)next || (drained && got > end)) continue; /* the last look: only replies back in time */
      if (rtt[seq] >= 0) { dups++; continue; }
      rtt[seq] = got - sent_at[seq];
      received++;
    }
  }
  /* Percentiles over every request sent, a lost one slower than any reply: a responder that
   * drops 2% of requests has no p99 ("null"), rather than a good one made of the rest. */
  double sent_span = sent_at[total - 1] - sent_at[warmup];
  double *all = malloc(count * sizeof *all), sum = 0, max = 0;
  long got = 0;
  for (long i = 0; i < count; i++) {
    double r = rtt[warmup + i];
    all[i] = r >= 0 ? r * 1e6 : INFINITY;
    if (r >= 0) { got++; sum += all[i]; if (all[i] > max) max = all[i]; }
  }
  if (*dump) {
    FILE *f = fopen(dump, "w");
    if (!f) { perror(dump); return 73; }
    for (long i = 0; i < count; i++) fprintf(f, "%.6f %.2f\n", sent_at[warmup + i], rtt[warmup + i] >= 0 ? rtt[warmup + i] * 1e6 : -1.0);
    fclose(f);
  }
  qsort(all, count, sizeof *all, cmp);
  char p50[32], p99[32], p999[32];
  const double ps[3] = {0.5, 0.99, 0.999};
  char *outs[3] = {p50, p99, p999};
  for (int i = 0; i < 3; i++) {
    double v = pct(all, count, ps[i]);
    if (isinf(v)) strcpy(outs[i], "null"); else snprintf(outs[i], 32, "%.2f", v);
  }
  printf("{\"sent\":%ld,\"received\":%ld,\"loss_pct\":%.4f,\"unsent\":%ld,\"dups\":%ld,\"late\":%ld,\"rate\":%.0f,"
         "\"p50_us\":%s,\"p99_us\":%s,\"p999_us\":%s,\"max_us\":%.2f,\"mean_us\":%.2f}\n",
         count, got, 100.0 * (count - got) / count, unsent, dups, late, sent_span > 0 ? (count - 1) / sent_span : 0,
         p50, p99, p999, max, got ? sum / got : 0);
  return 0;
}
