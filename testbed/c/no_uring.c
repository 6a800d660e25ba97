/* Runs a command where io_uring is refused, as Docker's default seccomp profile (since 25.0)
 * and many hardened sandboxes refuse it: io_uring_setup, io_uring_enter and io_uring_register
 * fail with EPERM, every other call is untouched. For the tests of --tap-reads: `auto` must
 * fall back to read(), `uring` must end with one clear line.
 *
 *   no_uring COMMAND [ARGS...]
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: no_uring COMMAND [ARGS...]\n"); return 64; }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  int rc = ctx ? 0 : -ENOMEM;
  const char *calls[] = {"io_uring_setup", "io_uring_enter", "io_uring_register"};
  for (int i = 0; i < 3 && rc == 0; i++) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), seccomp_syscall_resolve_name(calls[i]), 0);
  if (rc == 0) rc = seccomp_load(ctx);
  if (rc < 0) { fprintf(stderr, "no_uring: seccomp: %s\n", strerror(-rc)); return 71; }
  seccomp_release(ctx);
  execvp(argv[1], argv + 1);
  fprintf(stderr, "no_uring: %s: %s\n", argv[1], strerror(errno));
  return 127;
}
