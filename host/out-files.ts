// Files the tender writes while it runs (--pcap, --stats-json). They are opened during set-up,
// before the guest runs: after set-up the process is locked (host/sandbox.ts), no open() works,
// and these fds are protected: the filter refuses write() and close() on them, to the guest and
// to us, and lets through only addon.protectedWrite (an appending pwritev2 that the guest's
// threads cannot make). So every write here goes through it, locked or not. A pipe or socket
// (a FIFO with tcpdump on the other end) is made non-blocking: a reader that falls behind must
// never stop the tender's main thread.
import { constants, fstatSync, openSync } from 'node:fs';
import { addon, errnoCode } from '../native/index.js';
import { EndingError } from './endings.js';

export interface OutFile {
  /** The option that named it, for messages: `--pcap`, `--pcap:backend`, `--stats-json`. */
  option: string;
  path: string;
  fd: number;
  pipe: boolean;
  /** Why writing to it stopped (an errno and its text), or null. */
  failed: string | null;
}

/** Opens (creates, truncates) a file for writing; one clear line and exit 64 when it cannot. */
export function openOutFile(option: string, path: string): OutFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
  } catch (err) {
    throw new EndingError({ kind: 'output-file', detail: `${option}=${path}: cannot open for writing: ${describeErrno(err)}` });
  }
  const st = fstatSync(fd);
  const pipe = st.isFIFO() || st.isSocket();
  if (pipe) addon.setBlocking(fd, false);
  return { option, path, fd, pipe, failed: null };
}

/**
 * Writes what the file takes now: all of it for a regular file; on a pipe whose reader is
 * behind, part or none. Returns the bytes taken, or -1 once the file has failed (f.failed). A
 * write that fails after others took bytes (ENOSPC part-way) returns those bytes and marks the
 * file failed: they are in the file, and the caller must not count them lost.
 */
export function writeSome(f: OutFile, buf: Uint8Array, off: number, len: number): number {
  if (f.failed) return -1;
  let done = 0;
  while (done < len) {
    try {
      done += addon.protectedWrite(f.fd, buf, off + done, len - done);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
      if (code === 'EINTR') continue;
      f.failed = describeErrno(err);
      return done > 0 ? done : -1;
    }
  }
  return done;
}

/** `ENOENT (no such file or directory)` from a Node fs error. */
export function describeErrno(err: unknown): string {
  const code = errnoCode(err) ?? 'error';
  const text = /^[A-Z0-9_]+: ([^,]+)/.exec((err as Error)?.message ?? '')?.[1];
  return text ? `${code} (${text})` : code;
}
