// Watching the guest thread from the tender: its messages, its end, the IO thread's end,
// signals, the TAP watchdog and --timeout, all registered at setup (before the lock) and
// resolved into one Outcome.
//
// Everything the guest's worker posts is untrusted once APP runs: APP can reach parentPort
// through worker_threads and post what it likes. So each message is checked against the few
// shapes the tender accepts, in the phase it may come in, and the most any message can do
// is choose how the guest ended (its status, or a crash/fault line, cleaned of control
// characters and cut short). Anything else stops the guest as a guest fault.
import type { Worker } from 'node:worker_threads';
import { addon } from '../native/index.js';
import { STOP_SIGNALS, tapGone, type Ending, type StopSignal } from './endings.js';
import type { IoExit } from './io-thread/pump.js';

export type Outcome = { ending: Ending; guestTid: number };

const MAX_MESSAGES = 16; // the guest thread posts four: started, loaded, locked, and how it ended
const MAX_LINE = 4000;

/** Guest-supplied text, safe to print on one terminal line or several: no control characters. */
export function cleanText(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  const cut = s.length > MAX_LINE ? `${s.slice(0, MAX_LINE)}… (cut)` : s;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
}

export class GuestWatch {
  readonly loaded: Promise<boolean>;
  readonly outcome: Promise<Outcome>;
  // loading -> loaded (APP loaded, not run) -> locking (the process is locked; the guest
  // thread filters its threads) -> running (APP runs: from here every message is untrusted).
  private phase: 'loading' | 'loaded' | 'locking' | 'running' | 'ended' = 'loading';
  private guestTid = 0;
  private messages = 0;
  private ending: Ending | null = null; // what the last valid end message said
  private errored: Ending | null = null;
  private resolveLoaded!: (ok: boolean) => void;
  private resolveOutcome!: (o: Outcome) => void;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly guest: Worker,
    private readonly go: Int32Array,
    ioExit: Promise<IoExit> | null,
    timeoutS: number | undefined,
    private readonly nics: { iface: string }[],
    private readonly watchFd: number,
  ) {
    this.loaded = new Promise((r) => (this.resolveLoaded = r));
    this.outcome = new Promise((r) => (this.resolveOutcome = r));
    guest.on('message', (m: unknown) => this.onMessage(m));
    guest.on('error', (err: Error & { code?: unknown }) => {
      this.errored = err?.code === 'ERR_WORKER_OUT_OF_MEMORY' ? { kind: 'guest-oom' } : { kind: 'guest-crash', detail: cleanText(err?.stack ?? err?.message ?? err) };
    });
    guest.on('exit', (exitCode) => this.done(this.errored ?? this.ending ?? { kind: 'guest-status', status: exitCode & 0xff }));
    ioExit?.then((e) => {
      if (e.kind !== 'stopped') this.done(e);
    }, (err) => this.done({ kind: 'internal', detail: `the IO thread failed: ${(err as Error).stack}` }));
    const onSignal = (signal: StopSignal) => this.done({ kind: 'signal', signal });
    for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
    this.cleanups.push(() => {
      for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    });
    // A TAP deleted or set down under us: a blocked epoll_wait may never say so, so look.
    const watchdog = setInterval(() => {
      for (const n of nics) {
        const st = addon.interfaceState(this.watchFd, n.iface);
        if (!st.exists) return this.done({ kind: 'device-fault', detail: tapGone(n.iface, 'deleted') });
        if (!st.up) return this.done({ kind: 'device-fault', detail: tapGone(n.iface, 'down') });
      }
    }, 1000);
    this.cleanups.push(() => clearInterval(watchdog));
    if (timeoutS !== undefined) {
      const t = setTimeout(() => this.done({ kind: 'timeout', seconds: timeoutS }), timeoutS * 1000);
      this.cleanups.push(() => clearTimeout(t));
    }
  }

  /** Lets the loaded guest run APP; call once the process is locked. */
  start(): void {
    if (this.phase !== 'loaded') return;
    this.phase = 'locking';
    Atomics.store(this.go, 0, 1);
    Atomics.notify(this.go, 0);
  }

  /** Ends the run from the tender's side (the memory watch): the first ending wins, as always. */
  end(ending: Ending): void {
    this.done(ending);
  }

  /** A guest still waiting to run will not: it exits as soon as it wakes. */
  cancel(): void {
    if (Atomics.compareExchange(this.go, 0, 0, -1) === 0) Atomics.notify(this.go, 0);
  }

  private onMessage(m: unknown): void {
    if (this.phase === 'ended') return;
    const why = this.accept(m);
    if (why) this.done({ kind: 'guest-fault', detail: why });
  }

  /** Takes one message in; returns why it is refused, or null. */
  private accept(m: unknown): string | null {
    if (++this.messages > MAX_MESSAGES) return `more than ${MAX_MESSAGES} messages from the guest thread`;
    const msg = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
    const type = msg.type;
    const text = () => cleanText(msg.message);
    switch (type) {
      case 'started': // from the tender's own code in the worker, before APP is loaded
        if (this.phase !== 'loading' || this.guestTid !== 0 || !Number.isInteger(msg.tid) || (msg.tid as number) <= 0) break;
        this.guestTid = msg.tid as number;
        return null;
      case 'loaded':
        if (this.phase !== 'loading') break;
        this.phase = 'loaded';
        this.resolveLoaded(true);
        return null;
      case 'locked':
        if (this.phase !== 'locking') break;
        this.phase = 'running';
        return null;
      case 'lock-failed': // only the tender's own code can say this: APP has not run yet
        if (this.phase !== 'locking') break;
        this.ending = { kind: 'internal', detail: `cannot lock the guest's threads: ${text()}` };
        return null;
      case 'exit':
        if (!Number.isInteger(msg.status) || (msg.status as number) < 0 || (msg.status as number) > 255) break;
        this.ending = { kind: 'guest-status', status: msg.status as number };
        return null;
      case 'console-closed':
        // Said by the guest's thread: only the two names it can be are believed.
        this.ending = { kind: 'console-closed', why: msg.why === 'ECONNRESET' ? 'ECONNRESET' : 'EPIPE' };
        return null;
      case 'crash':
        this.ending = { kind: 'guest-crash', detail: text() };
        return null;
      case 'bad-app':
        this.ending = { kind: 'guest-bad-app', detail: text() };
        return null;
      case 'fault':
        this.ending = { kind: 'guest-fault', detail: text() };
        return null;
      case 'device-fault':
        // Said by the guest's thread, where the baseline's device code runs: before APP runs,
        // only the tender's code can say it (its io_uring set-up failing); after, believed when
        // a TAP is gone or down, as the watchdog would find it, else it is the guest's own claim.
        this.ending = this.phase === 'running' && this.tapsWell() ? { kind: 'guest-fault', detail: `a device fault no TAP shows (${text()})` } : { kind: 'device-fault', detail: text() };
        return null;
    }
    return `a message the tender does not take (${cleanText(typeof type === 'string' ? type : typeof m).slice(0, 40)})`;
  }

  private tapsWell(): boolean {
    return this.nics.every((n) => {
      const st = addon.interfaceState(this.watchFd, n.iface);
      return st.exists && st.up;
    });
  }

  private done(ending: Ending): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.cleanups.forEach((c) => c());
    this.resolveLoaded(false);
    this.resolveOutcome({ ending, guestTid: this.guestTid });
  }
}
