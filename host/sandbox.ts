// The lock point (issue 11). The tender sets everything up first: TAPs attached, every file it
// will write opened, eventfds and sockets made, the IO thread and the guest's worker started,
// the guest's code loaded (not run). Then lockDown() runs once, and only then may the guest's
// code run. After it the process cannot open a path, make a socket, fd, thread or process,
// or signal anyone else; docs/reliability.md ("Containment") says what holds and what not.
//
// A feature that needs a file or socket at run time opens it before lockDown(): a file the
// tender writes is an OutFile (host/out-files.ts), whose fd goes in `protect` (it comes back
// renumbered) and which is written with writeSome (addon.protectedWrite), because the filter
// refuses every other write to it, so the guest cannot write there either.
// docs/reliability.md "Containment" says more.
import { stat } from 'node:fs/promises';
import { lockAddon } from '../native/index.js';

export interface Locked {
  /** The protected fds' numbers after the lock (they move to the top of the fd table). */
  fds: number[];
  uid: number;
  gid: number;
  from: 'root' | 'capabilities' | 'unprivileged';
}

/**
 * What must exist before the lock because Node makes it lazily and cannot once locked:
 * libuv's threadpool (the guest's async crypto or zlib would start it, and libuv aborts when
 * it cannot) and the main thread's stdio streams (a TTY is reopened by path on first use).
 */
export async function prepareForLock(): Promise<void> {
  await stat('/'); // one threadpool request starts every threadpool thread
  void process.stdout;
  void process.stderr;
}

/** Drops privileges, then installs the seccomp filter on every thread. Throws if either fails. */
export function lockDown(protect: number[]): Locked {
  const lock = lockAddon();
  const who = lock.dropPrivileges();
  const fds = lock.seccompLock(protect);
  return { fds, uid: who.uid, gid: who.gid, from: who.from };
}

export const SANDBOX_OFF_WARNING =
  'tender: WARNING: --sandbox=off: the guest runs unconfined, with all of the tender\'s privileges (files, processes, network). For debugging only.\n';
