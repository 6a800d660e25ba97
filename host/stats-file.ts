// --stats-json=FILE: the counters as JSON at exit. With --stats-interval=S the file is NDJSON
// instead: one line every S seconds (the report's fields with exit_code null, cumulative
// counters, and "interval": what moved since the line before, per second), then the exit
// summary as the last line with "final": true. The file was opened at set-up; only write()
// reaches it later. On a FIFO whose reader is behind, a line it cannot take now is skipped
// (the next line written says how many were) rather than stopping the tender.
import { rates, type Totals } from './stats.js';
import { writeSome, type OutFile } from './out-files.js';
import type { StatsReport } from './report.js';

const FINAL_WAIT_MS = 2000;

/** The counters now, and the report built from them (exit_code null). */
export type Snapshot = () => { totals: Totals; report: StatsReport };

export class StatsFile {
  private timer: NodeJS.Timeout | null = null;
  private prev: Totals | null = null;
  private prevNs = 0;
  private pending: Buffer | null = null;
  private skipped = 0;

  constructor(private readonly out: OutFile, private readonly intervalS: number | undefined, private readonly snapshot: Snapshot) {}

  start(): void {
    if (this.intervalS === undefined) return;
    this.prev = this.snapshot().totals;
    this.prevNs = Number(process.hrtime.bigint());
    this.timer = setInterval(() => {
      const { totals, report } = this.snapshot();
      this.line(report, totals);
    }, this.intervalS * 1000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The exit summary; returns a line to print when it could not be written whole. */
  async finish(final: StatsReport, totals: Totals): Promise<string | null> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deadline = Date.now() + FINAL_WAIT_MS;
    if (this.intervalS === undefined) {
      this.pending = Buffer.from(JSON.stringify(final, null, 2) + '\n');
    } else {
      this.line(final, totals);
    }
    while (!this.flush() && Date.now() < deadline) await sleep(5);
    if (this.out.failed) return `${this.out.option}=${this.out.path}: cannot write: ${this.out.failed}`;
    if (this.pending) return `${this.out.option}=${this.out.path}: the reader did not take the exit summary within ${FINAL_WAIT_MS / 1000} s`;
    return null;
  }

  private line(report: StatsReport, totals: Totals): void {
    const now = Number(process.hrtime.bigint());
    const final = report.exit_code !== null;
    const body: Record<string, unknown> = { ...report, final, interval: rates(this.prev ?? totals, totals, (now - this.prevNs) / 1e9) };
    this.prev = totals;
    this.prevNs = now;
    if (!this.flush() && !final) {
      this.skipped++; // the reader has not taken the last line yet
      return;
    }
    if (this.skipped > 0) body.lines_skipped = this.skipped;
    this.skipped = 0;
    const text = Buffer.from(JSON.stringify(body) + '\n');
    this.pending = this.pending ? Buffer.concat([this.pending, text]) : text; // the summary waits behind a line begun
    this.flush();
  }

  /** Writes what is pending; true when nothing is. */
  private flush(): boolean {
    if (!this.pending) return true;
    const n = writeSome(this.out, this.pending, 0, this.pending.length);
    if (n < 0) this.pending = null;
    else this.pending = n === this.pending.length ? null : this.pending.subarray(n);
    return this.pending === null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
