// The shapes of the bench: a workload is one entry (id, title, its rows, a runner); a row is a C
// loop variant, node-readsync, or a tender mode with optional extra arguments (a variant such as
// "hybrid+pcap"); a run of a row gives a Sample; the runs of a row give a Cell.
import type { StatsReport } from '../host/report.js';
import type { Netns } from '../testbed/netns.js';

/** How a C row waits for its TAP (testbed/c/common.h); 'uring' only tap_reader has (the RX rows). */
export type Loop = 'block' | 'epoll' | 'busy' | 'uring';
export type Mode = 'baseline' | 'poll' | 'event' | 'hybrid';

export interface Row {
  /** Unique within a workload: 'c-busy', 'node-readsync', 'hybrid', 'hybrid+pcap'. */
  id: string;
  /** 'c' rows are the limit candidates: the workload's limit is the best of them in the run. */
  kind: 'c' | 'node' | 'tender';
  loop?: Loop;
  mode?: Mode;
  /** Extra tender arguments, made afresh for every run (a file goes under ctx.scratch). */
  tenderArgs?: (ctx: Context) => string[];
}

export interface Sizes {
  /** Frames every RX receiver (drain, flood) reads, and every TX sender sends, uncounted, before the measured part (workloads/common.ts, warmUp; workloads/tx.ts). */
  warmFrames: number;
  /** Frames queued while the receiver is frozen, then drained. */
  drainFrames: number;
  floodCount: number;
  floodSeconds: number;
  txCount: number;
  pingCount: number;
  /** Seconds of ping -f before the counted one (whole seconds: ping's -w), 0 for none. */
  pingWarmS: number;
  /** Echo requests the latency probe sends, at latRate per second. */
  latCount: number;
  latRate: number;
  /** The flood beside the probe in the "under a flood" latency workload. */
  latFloodPps: number;
  /** Seconds a responder is measured at rest (workloads/rest.ts), and the requests sent to it at rest after them. */
  restS: number;
  restPings: number;
}

export interface Context {
  /** The bench's namespace: tap0 at 10.0.0.1, the guest 10.0.0.2 (static neighbour entry). */
  ns: Netns;
  /** The C tools (testbed/c), built: name -> path. */
  bin: Record<string, string>;
  sizes: Sizes;
  quick: boolean;
  /** Options for every tender row (`--tender=OPTION`), after the row's own. */
  tenderExtra: string[];
  /** A path for a file of this run; the files of a run are removed when it is done. */
  scratch(name: string): string;
}

/** One run of one row. */
export interface Sample {
  /** The workload's metric (frames/s, echoes/s, p99 µs, ...). */
  value: number;
  /** Frames the row's process moved in the window its CPU is charged for (read + written). */
  frames: number;
  /** CPU seconds of the row's process, all threads, in that window. */
  cpuS: number;
  extra: Record<string, number>;
  /** Conditions a reader must know about this run (e.g. the kernel dropped frames while frozen). */
  flags?: string[];
  /** Tender rows: what the tender reported at exit. */
  stats?: StatsReport;
  /** Tender rows of drain, TX, flood, ping and latency: each thread's CPU seconds in the measured window (bench/start.ts, cpuWindow). */
  threads?: ThreadCpu;
}

/** CPU seconds of the tender's IO thread, its guest thread, and the rest of its threads. */
export interface ThreadCpu {
  tender: number;
  io: number;
  guest: number;
}

export interface Metric {
  label: string;
  better: 'higher' | 'lower';
  /** How the report prints it; by default from the label (µs, Gbit/s, else thousands). */
  format?: Column['format'];
}

/** A column of the report beside the metric: a number from Sample.extra, median (and min–max). */
export interface Column {
  head: string;
  key: string;
  format: 'k' | 'pct' | 'us' | 'ms' | 'int' | 'x';
  range?: boolean;
}

export interface Workload {
  id: string;
  title: string;
  /** A few words for the chart and the headline. */
  short: string;
  /** What runs and what the number is: one sentence for the report and bench/README.md. */
  how: string;
  metric: Metric;
  rows: Row[];
  columns: Column[];
  /** A workload whose goal is absolute, not a ratio to the best C row: why, for the report (it then has no limit). */
  noLimit?: string;
  /** Once before the first run (e.g. a topology of its own); returns how to undo it. */
  prepare?(ctx: Context): Promise<(() => void) | void>;
  run(row: Row, ctx: Context): Promise<Sample>;
}

export interface Stat {
  median: number;
  min: number;
  max: number;
}

/** The runs of one row: medians with min–max. */
export interface Cell {
  runs: number;
  value: Stat;
  cpu_us_per_frame: Stat;
  frames: number;
  extra: Record<string, Stat>;
  notifications_per_frame?: Stat;
  /** Sample.threads, medians over the runs that have them (at least half): each thread's CPU in the measured window. */
  threads?: ThreadCpu;
  /** Over the same runs, each run's guest-thread CPU over its frames, in µs. */
  guest_us_per_frame?: Stat;
  /** Each flag with the number of runs it was raised in, e.g. "sender-bound (5/5)". */
  flags: string[];
}

/** A workload's results as written to latest.json: everything the report and chart need. */
export interface WorkloadResult {
  id: string;
  title: string;
  short: string;
  how: string;
  metric: Metric;
  columns: Column[];
  rows: { id: string; kind: Row['kind']; mode?: Mode; loop?: Loop }[];
  cells: Record<string, Cell>;
  /** The best C row's median, or null when the workload has no C rows (or noLimit). */
  limit: { row: string; value: Stat } | null;
  noLimit?: string;
}

export interface Results {
  machine: string;
  runs: number;
  quick: boolean;
  sizes: Sizes;
  command: string;
  workloads: WorkloadResult[];
  targets: Target[];
  /** Runs that failed twice (their rows have fewer samples, or none). */
  errors?: string[];
}

export interface Target {
  target: string;
  why: string;
  measured: string;
  verdict: string;
}
