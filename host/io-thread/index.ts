// Starting and stopping the IO thread: its kick and control eventfds, the worker, how it
// ended. Used by the tender and by the tests' rigs, so both drive the same thing.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { addon } from '../../native/index.js';
import { BACKOFF_MAX_NS, type ShmMode } from '../../guest-api/notify.js';
import type { CaptureTap } from '../record-ring.js';
import { CTL, CTL_BYTES, type IoConfig, type IoExit } from './pump.js';
import type { TapReads, TapWrites, TokenPollers } from '../cli-options.js';

export interface IoThreadOptions {
  mode: ShmMode;
  region: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  nics: { iface: string; fd: number }[];
  pollBudget: number;
  pollIdleUs: number;
  /** hybrid: the most the idle poll grows to (default: fixed at pollIdleUs). */
  pollIdleMaxUs?: number;
  /** hybrid with the token: the most the backed-off sleep grows to (default BACKOFF_MAX_NS). */
  backoffMaxUs?: number;
  capture?: CaptureTap | null;
  /** hybrid: share the ring work with the guest through the IO token (guest-api/notify.ts). */
  ioToken?: boolean;
  /** With the token, at a round-trip pace: offer to poll beside the guest (default), never (solo), or as measured (auto). */
  tokenPollers?: TokenPollers;
  /** With the token: the tender may run on one CPU only (IoConfig.oneCpu; default false). */
  oneCpu?: boolean;
  /** How the IO thread reads its TAPs (default auto). */
  tapReads?: TapReads;
  /** How the IO thread writes its TAPs (default auto). */
  tapWrites?: TapWrites;
}

const STOP_TIMEOUT_MS = 5000;

export class IoThread {
  readonly kickFds: number[];
  readonly exited: Promise<IoExit>;
  private readonly controlFd: number;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CTL_BYTES));
  private readonly worker: Worker;

  private constructor(opts: IoThreadOptions) {
    this.kickFds = opts.nics.map(() => addon.eventfdCreate());
    this.controlFd = addon.eventfdCreate();
    const cfg: IoConfig = {
      mode: opts.mode, region: opts.region, stats: opts.stats, control: this.ctl.buffer as SharedArrayBuffer,
      controlFd: this.controlFd, nics: opts.nics.map((n, i) => ({ ...n, kickFd: this.kickFds[i] })),
      pollBudget: opts.pollBudget, pollIdleUs: opts.pollIdleUs, pollIdleMaxUs: opts.pollIdleMaxUs ?? opts.pollIdleUs, backoffMaxNs: (opts.backoffMaxUs ?? BACKOFF_MAX_NS / 1000) * 1000, ioToken: opts.mode === 'hybrid' && (opts.ioToken ?? false), tokenPollers: opts.tokenPollers ?? 'offer', oneCpu: opts.oneCpu ?? false, drainTimeoutMs: 2000, capture: opts.capture ?? null, tapReads: opts.tapReads ?? 'auto', tapWrites: opts.tapWrites ?? 'auto',
    };
    this.worker = new Worker(fileURLToPath(new URL('./main.js', import.meta.url)), { workerData: cfg, name: 'io' });
    this.exited = new Promise<IoExit>((resolve, reject) => {
      let result: IoExit | null = null;
      this.worker.on('message', (m: { type: string; exit?: IoExit }) => m.type === 'exit' && (result = m.exit!));
      this.worker.on('error', reject);
      this.worker.on('exit', () => resolve(result ?? { kind: 'internal', detail: 'the IO thread ended unexpectedly' }));
    });
  }

  /** Starts the IO thread and waits until it runs (rejects if it dies first). */
  static async start(opts: IoThreadOptions): Promise<IoThread> {
    const io = new IoThread(opts);
    await new Promise<void>((resolve, reject) => {
      io.worker.once('message', () => resolve());
      io.exited.then(() => reject(new Error('the IO thread failed to start')), reject);
    });
    return io;
  }

  /** Asks it to stop (it drains the TX rings first) and waits, at most 5 s, for how it ended. */
  async stop(): Promise<IoExit> {
    Atomics.store(this.ctl, CTL.stop, 1);
    addon.eventfdWrite(this.controlFd);
    const exit = await Promise.race([
      this.exited.catch((err: Error): IoExit => ({ kind: 'internal', detail: `the IO thread failed: ${err.stack}` })),
      new Promise<IoExit>((r) => setTimeout(() => r({ kind: 'internal', detail: 'the IO thread did not stop' }), STOP_TIMEOUT_MS).unref()),
    ]);
    await this.worker.terminate().catch(() => undefined);
    return exit;
  }

  /** Closes its eventfds; call after stop(). */
  close(): void {
    for (const fd of [...this.kickFds, this.controlFd]) addon.close(fd);
  }
}
