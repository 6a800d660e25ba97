// The guest's console: its stdout (console_write, console.log, process.stdout) and its stderr
// (console.error, process.stderr), written from the guest's own thread, whole and in order.
import { writeSync } from 'node:fs';

/** How a console's reader went: the error its writer met. */
export type ConsoleGone = 'EPIPE' | 'ECONNRESET';

/** What a write sleeps on (a futex, as Atomics.wait is) while the console is full. */
const consoleFull = new Int32Array(new SharedArrayBuffer(4));
const CONSOLE_FULL_WAIT_MS = 1;

/**
 * Writes all of bytes to fd. Where fd is a pipe or socket whose reader is behind
 * (`tender app.js | less`) it waits for room, looking again every millisecond, as a blocking
 * write would, instead of failing with EAGAIN. (The fds are non-blocking there because the
 * main thread opened process.stdout before the lock, host/sandbox.ts prepareForLock, and Node
 * sets pipes and sockets so; SIGTERM and --timeout still stop a guest waiting here.) Returns
 * undefined once all is written; where the reader has gone, how it went (EPIPE from a pipe,
 * ECONNRESET from a socket whose peer reset), and the caller ends the run.
 */
export function writeAll(fd: number, bytes: Uint8Array): ConsoleGone | undefined {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'ECONNRESET') return code;
      if (code !== 'EAGAIN') throw err;
      Atomics.wait(consoleFull, 0, 0, CONSOLE_FULL_WAIT_MS);
    }
  }
  return undefined;
}
