/* Shared by the limit programs: TAP attach, time, JSON output. No JS anywhere near. */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/epoll.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Offloads outlive the program that set them on a persistent TAP: a reader without a
 * virtio-net header clears them, or it is handed super-frames and unfinished checksums. */
static inline int tap_attach(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) { perror("/dev/net/tun"); exit(69); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(69); }
  if (ioctl(fd, TUNSETOFFLOAD, 0) < 0) { perror("TUNSETOFFLOAD"); exit(69); }
  return fd;
}

/* "--name=value" or the fallback. */
static inline const char *opt(int argc, char **argv, const char *name, const char *fallback) {
  size_t n = strlen(name);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 && argv[i][2 + n] == '=') return argv[i] + 3 + n;
  return fallback;
}

/* The traffic generators send only inside a network namespace the bench or a test made: run
 * outside one (`ip netns add` names them under /run/netns), with --help, or without --dst,
 * they refuse, so a slip at a shell never sends a flood out of the machine. */
static inline const char *netns_dst(int argc, char **argv, const char *tool) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fprintf(stderr, "%s: run it inside a test namespace: ip netns exec NS %s --dst=ADDR ... (see its source)\n", tool, tool);
      exit(64);
    }
  /* Inside a namespace `ip netns add` made (as `ip netns identify` tells): ours is one of /run/netns/. */
  struct stat self, named;
  int inside = 0;
  DIR *d = opendir("/run/netns");
  if (d != NULL && stat("/proc/self/ns/net", &self) == 0) {
    char path[512];
    for (struct dirent *e; !inside && (e = readdir(d)) != NULL;) {
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "/run/netns/%s", e->d_name);
      inside = stat(path, &named) == 0 && named.st_dev == self.st_dev && named.st_ino == self.st_ino;
    }
  }
  if (d != NULL) closedir(d);
  if (!inside) {
    fprintf(stderr, "%s: refusing to send outside a namespace made with ip netns add (use ip netns exec)\n", tool);
    exit(64);
  }
  const char *dst = opt(argc, argv, "dst", NULL);
  if (dst == NULL) {
    fprintf(stderr, "%s: --dst=ADDR is required\n", tool);
    exit(64);
  }
  return dst;
}

/* How a tool waits for its TAP (--loop): a blocking syscall; epoll, then the syscall until
 * EAGAIN; or busy: the syscall in a loop that never sleeps, with a sched_yield() after an
 * EAGAIN (as the tender's polling IO thread does, so a spinner sharing a core lets the other
 * thread run). Which wins depends on what a wake-up costs on the machine, so the bench runs
 * all three and takes the best as the limit. */
enum loop { LOOP_BLOCK, LOOP_EPOLL, LOOP_BUSY };
static const char *const LOOP_NAMES[] = {"block", "epoll", "busy"};

static inline enum loop loop_opt(int argc, char **argv) {
  const char *v = opt(argc, argv, "loop", "block");
  for (int i = 0; i < 3; i++)
    if (strcmp(v, LOOP_NAMES[i]) == 0) return (enum loop)i;
  fprintf(stderr, "bad --loop=%s (block, epoll or busy)\n", v);
  exit(64);
}

/* The fd as the loop wants it (non-blocking for epoll and busy); for epoll, the epoll fd
 * watching `events`, else -1. */
static inline int loop_setup(int fd, enum loop l, unsigned events) {
  if (l == LOOP_BLOCK) return -1;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) { perror("fcntl"); exit(71); }
  if (l == LOOP_BUSY) return -1;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = events, .data = {.fd = fd}};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { perror("epoll"); exit(71); }
  return ep;
}

/* After EAGAIN: wait for `events` (epoll, up to timeout_ms; 0 when it timed out) or yield
 * (busy). Returns 1 unless an epoll wait timed out. */
static inline int loop_wait(enum loop l, int ep, int timeout_ms) {
  if (l == LOOP_BUSY) { sched_yield(); return 1; }
  struct epoll_event ev;
  return l == LOOP_EPOLL ? epoll_wait(ep, &ev, 1, timeout_ms) != 0 : 1;
}

/* SIGTERM/SIGINT end the loop (a blocked read returns EINTR: no SA_RESTART) so the tool can
 * still print what it measured. */
static volatile sig_atomic_t stopping;
static void on_stop_signal(int sig) { (void)sig; stopping = 1; }
static inline void stop_on_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}
