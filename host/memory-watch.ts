// --mem bounds all the memory the guest can make the process take, not only its V8 heap.
// The worker's resourceLimits cap that heap, but ArrayBuffers (and what Node's modules
// allocate for the guest) live outside it: without more, a guest under --mem=32 held 4 GB.
// So, measured as the process's private writable memory (VmData, what RLIMIT_DATA counts)
// against what it held just before the guest's code ran:
//   - the watch: past --mem + WATCH_SLACK_MB of growth, the guest is stopped (exit 73, as
//     when its heap runs out), looked at from the main thread every WATCH_INTERVAL_MS while
//     memory grows, backing off to WATCH_FLAT_MS while it stays flat (each look wakes the
//     main thread, and at rest those wake-ups were most of an idle tender's CPU);
//   - the limit: RLIMIT_DATA at --mem + LIMIT_SLACK_MB of growth, so that no allocation,
//     however large or fast, gets the process more than that: it fails in the guest
//     (RangeError) before the watch has had a chance to look.
// Both opened and set before the lock: the file is read with pread on its fd, which the lock
// protects as it does the output files, and nothing can raise the limit afterwards.
import { closeSync, openSync, readSync } from 'node:fs';
import { lockAddon } from '../native/index.js';

/** The guest's young generation and code, and the tender's own growth while it runs. */
export const WATCH_SLACK_MB = 128;
/** Room above the watch for the tender's own threads while the watch stops a guest at the limit. */
export const LIMIT_SLACK_MB = 512;
export const WATCH_INTERVAL_MS = 100; // 20 ms cost 1% of a core at rest (the main thread's wake-ups), over the 2% idle budget
/** The longest wait between looks, reached by doubling while VmData has not grown (docs/reliability.md, "Memory"). */
export const WATCH_FLAT_MS = 800;
const MB = 1024 * 1024;

export class MemoryWatch {
  /** Protected by the lock like the output files (no write, no close: it moves, so this is updated). */
  fd = openSync('/proc/self/status', 'r');
  private readonly buf = Buffer.alloc(8192);
  private timer: NodeJS.Timeout | null = null;
  private base = 0;
  /** How many looks there have been: what the tests count to see the back-off. */
  looks = 0;

  /** The process's private writable memory (VmData), in bytes. */
  dataBytes(): number {
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    const m = /^VmData:\s+(\d+) kB$/m.exec(this.buf.toString('latin1', 0, n));
    if (!m) throw new Error('no VmData in /proc/self/status');
    return Number(m[1]) * 1024;
  }

  /** Sets the limit; call just before the lock (setrlimit is refused after it). */
  limit(memMb: number): void {
    this.base = this.dataBytes();
    lockAddon().limitData(this.base + (memMb + LIMIT_SLACK_MB) * MB);
  }

  /** Starts looking, once the guest runs; `exceeded` is called once. */
  start(memMb: number, exceeded: () => void): void {
    const most = (memMb + WATCH_SLACK_MB) * MB;
    let last = this.dataBytes();
    const look = (waited: number) => {
      this.looks++;
      const now = this.dataBytes();
      if (now - this.base > most) {
        this.timer = null;
        exceeded();
        return;
      }
      const next = now > last ? WATCH_INTERVAL_MS : Math.min(waited * 2, WATCH_FLAT_MS);
      last = now;
      this.timer = setTimeout(() => look(next), next);
    };
    this.timer = setTimeout(() => look(WATCH_INTERVAL_MS), WATCH_INTERVAL_MS);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Before the lock only: after it the fd is protected, and the process's exit closes it. */
  close(): void {
    this.stop();
    closeSync(this.fd);
  }
}
