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
import { readdirSync, readlinkSync } from 'node:fs';
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

/**
 * The fds above stderr that the process inherited from whoever started it, to be closed before
 * the guest runs (the filters leave an fd they do not know open to read() and write()). Called
 * after prepareForLock and before the tender opens anything of its own: every socket, file,
 * directory and device, but /dev/null, the terminal Node writes stdout and stderr to, Node's
 * IPC channel and V8's logs. Pipes are left (the guest's filter refuses every pipe; Node's own
 * are pipes), and so are anon inodes (Node's epolls and eventfds). Close-on-exec cannot tell
 * them apart: Node sets it on inherited low fds at start-up.
 */
export function inheritedFds(): number[] {
  // V8's own logs, which it keeps writing (--perf-basic-prof, --perf-prof, --prof).
  const v8Log = new RegExp(`/(perf-${process.pid}\\.map|jit-${process.pid}\\.dump|isolate-[^/]*\\.log|v8\\.log)$`);
  // Node's IPC channel to a parent that forked it (child_process.fork, --watch; Node takes
  // NODE_CHANNEL_FD out of the environment once it has opened it).
  const ipc = (process as unknown as { channel?: { fd?: number } }).channel?.fd ?? -1;
  // libuv reopens a terminal by path for process.stdout and stderr (prepareForLock makes them).
  const stdio = new Set([process.stdout, process.stderr].map((s) => (s as unknown as { _handle?: { fd?: number } })._handle?.fd));
  const out: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (!(fd > 2) || stdio.has(fd) || fd === ipc) continue;
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue; // readdir's own fd, closed by now
    }
    if (target.startsWith('socket:') || (target.startsWith('/') && target !== '/dev/null' && !v8Log.test(target))) out.push(fd);
  }
  return out;
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
