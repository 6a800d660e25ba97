// The targets: each a ratio within one run, checked on medians. Where the row's min–max range
// and the goal's (the reference's range times the goal) overlap, the verdict says so: met or
// missed *within noise* is not a result to quote.
import { bestOf, overlaps, scaled, stat } from './aggregate.js';
import type { Cell, Stat, Target, WorkloadResult } from './types.js';

const SHM = ['poll', 'event', 'hybrid'];
const MODES_OFFLOAD = ['baseline+offload', 'poll+offload', 'event+offload', 'hybrid+offload'];

type Pick = (c: Cell) => Stat | undefined;
const value: Pick = (c) => c.value;
const extra = (k: string): Pick => (c) => c.extra[k];

interface Ratio {
  target: string;
  why: string;
  workload: string;
  /** A row id, or a function choosing one from the workload's results. */
  row: string | ((w: WorkloadResult) => string | null);
  ref: string | ((w: WorkloadResult) => string | null);
  goal: number;
  atLeast: boolean;
  pick?: Pick;
}

const fmt = (v: number) => (Math.abs(v) >= 1e5 ? `${(v / 1e6).toFixed(2)}M` : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

function verdict(ok: boolean, miss: number, noisy: boolean): string {
  return `${ok ? 'met' : `missed by ${(miss * 100).toFixed(0)}%`}${noisy ? ' (within noise)' : ''}`;
}

function ratio(ws: WorkloadResult[], t: Ratio): Target {
  const none = (why: string): Target => ({ target: t.target, why: t.why, measured: `not measured (${why})`, verdict: '' });
  const w = ws.find((x) => x.id === t.workload);
  if (!w) return none(`no ${t.workload} workload in this run`);
  const row = typeof t.row === 'string' ? t.row : t.row(w);
  const ref = typeof t.ref === 'string' ? t.ref : t.ref(w);
  const pick = t.pick ?? value;
  const a = row && w.cells[row] ? pick(w.cells[row]) : undefined;
  const b = ref && w.cells[ref] ? pick(w.cells[ref]) : undefined;
  if (!a || !b) return none(`no ${!a ? row ?? 'row' : ref ?? 'reference'} in ${t.workload}`);
  const goal = scaled(b, t.goal);
  const ok = t.atLeast ? a.median >= goal.median : a.median <= goal.median;
  const r = a.median / b.median;
  const measured = b.median === 0 && a.median === 0 ? `${row} 0 and ${ref} 0` : `${row} ${fmt(a.median)} / ${ref} ${fmt(b.median)} = ${r.toFixed(2)}`;
  const noisy = overlaps(a, goal);
  if (!ok && goal.median === 0) return { target: t.target, why: t.why, measured, verdict: `missed (${ref} is 0)${noisy ? ' (within noise)' : ''}` };
  return { target: t.target, why: t.why, measured, verdict: verdict(ok, Math.abs(a.median - goal.median) / goal.median, noisy) };
}

function atMost(ws: WorkloadResult[], target: string, why: string, workload: string, row: string, pick: Pick, goal: number): Target {
  const w = ws.find((x) => x.id === workload);
  const a = w?.cells[row] ? pick(w.cells[row]) : undefined;
  if (!a) return { target, why, measured: `not measured (no ${row} in ${workload})`, verdict: '' };
  return { target, why, measured: `${row} ${fmt(a.median)}`, verdict: verdict(a.median <= goal, (a.median - goal) / goal, a.min <= goal && goal <= a.max) };
}

const limit = (w: WorkloadResult) => w.limit?.row ?? null;
const bestShm = (w: WorkloadResult) => bestOf(w, SHM);
/**
 * The guest thread's CPU per frame in the measured window, µs: each run's, median and range. A
 * results file from before the per-run figure (replot) has the medians only: their ratio.
 */
const guestPerFrame: Pick = (c) => c.guest_us_per_frame ?? (c.threads ? stat([(c.threads.guest / c.frames) * 1e6]) : undefined);

export function targets(ws: WorkloadResult[]): Target[] {
  return [
    ratio(ws, { target: 'RX drain: hybrid ≥ 0.9× the best C reader', why: 'the headline RX number: the rings must not cost what they save', workload: 'drain', row: 'hybrid', ref: limit, goal: 0.9, atLeast: true }),
    ratio(ws, { target: 'RX drain: the best shm mode ≥ 0.9× the best C reader', why: 'some mode must reach the limit', workload: 'drain', row: bestShm, ref: limit, goal: 0.9, atLeast: true }),
    ratio(ws, { target: 'RX drain: the best shm mode ≥ node-readsync', why: 'better than what a Node user writes without us', workload: 'drain', row: bestShm, ref: 'node-readsync', goal: 1, atLeast: true }),
    ratio(ws, { target: 'RX drain, --work-ns=2000: hybrid ≥ 1.3× baseline', why: 'moving syscalls off a busy guest must pay when the sender is not competing', workload: 'drain-work', row: 'hybrid', ref: 'baseline', goal: 1.3, atLeast: true }),
    ratio(ws, { target: 'RX drain: the guest thread\'s CPU per frame, hybrid ≤ 0.5× baseline', why: 'the same, counted in CPU', workload: 'drain', row: 'hybrid', ref: 'baseline', goal: 0.5, atLeast: false, pick: guestPerFrame }),
    atMost(ws, 'RX drain (saturation): hybrid ≤ 0.01 notifications per frame', 'the point of hybrid', 'drain', 'hybrid', (c) => c.notifications_per_frame, 0.01),
    ratio(ws, { target: 'RX flood: TAP drops of the best shm mode ≤ the baseline\'s', why: 'a second thread must not lose what one thread keeps', workload: 'flood', row: bestShm, ref: 'baseline', goal: 1, atLeast: false, pick: extra('drop_pct') }),
    ratio(ws, { target: 'RX flood: hybrid\'s TAP drops ≤ the baseline\'s', why: 'the same for the mode we recommend', workload: 'flood', row: 'hybrid', ref: 'baseline', goal: 1, atLeast: false, pick: extra('drop_pct') }),
    ratio(ws, { target: 'TX batch 32: the best shm mode ≥ 0.9× the best C writer', why: '', workload: 'tx-b32', row: bestShm, ref: limit, goal: 0.9, atLeast: true }),
    ratio(ws, { target: 'ping -f 56 B: hybrid ≥ 1.0× the best C responder', why: 'the NAPI idea must beat one thread doing blocking reads on round trips', workload: 'ping', row: 'hybrid', ref: limit, goal: 1, atLeast: true }),
    ratio(ws, { target: 'ping -f 1400 B: hybrid ≥ 1.0× the best C responder', why: 'the same with bigger frames', workload: 'ping-1400', row: 'hybrid', ref: limit, goal: 1, atLeast: true }),
    ratio(ws, { target: 'ping -f 56 B: hybrid\'s rtt avg ≤ 1.2× the best C responder\'s', why: '', workload: 'ping', row: 'hybrid', ref: limit, goal: 1.2, atLeast: false, pick: extra('rtt_avg') }),
    ratio(ws, { target: 'latency, 10k/s: hybrid\'s p99 ≤ 1.2× the best C responder\'s', why: 'the tail, not the average', workload: 'lat', row: 'hybrid', ref: limit, goal: 1.2, atLeast: false }),
    ratio(ws, { target: 'latency under a flood: hybrid\'s p99 ≤ 1.2× the best C responder\'s', why: 'the tail while the IO path is busy', workload: 'lat-flood', row: 'hybrid', ref: limit, goal: 1.2, atLeast: false }),
    ratio(ws, { target: 'TCP relay with offloads: the best mode ≥ 0.8× the best C relay with offloads', why: 'a JS firewall in the vhost-net class, not the solo5 class', workload: 'relay', row: (w) => bestOf(w, MODES_OFFLOAD), ref: (w) => bestOf(w, ['c-relay+offload', 'c-relay+uring+offload']), goal: 0.8, atLeast: true }),
    ratio(ws, { target: 'TCP relay: the best mode with offloads ≥ 5× the same mode without', why: 'what the offloads buy', workload: 'relay', row: (w) => bestOf(w, MODES_OFFLOAD), ref: (w) => bestOf(w, MODES_OFFLOAD)?.replace('+offload', '') ?? null, goal: 5, atLeast: true }),
    ratio(ws, { target: 'TCP relay: hybrid with offloads ≥ 5× hybrid without', why: 'the same for the mode we recommend', workload: 'relay', row: 'hybrid+offload', ref: 'hybrid', goal: 5, atLeast: true }),
    // On small machines alike: every program on one CPU (bench/workloads/common.ts, onOneCpu).
    ratio(ws, { target: 'RX drain, one CPU: hybrid ≥ 0.9× the best C reader', why: 'on small machines alike', workload: 'drain-1cpu', row: 'hybrid', ref: limit, goal: 0.9, atLeast: true }),
    ratio(ws, { target: 'ping -f, one CPU: hybrid ≥ 1.0× the best C responder', why: 'on small machines alike', workload: 'ping-1cpu', row: 'hybrid', ref: limit, goal: 1, atLeast: true }),
    ratio(ws, { target: 'latency, 10k/s, one CPU: hybrid\'s p99 ≤ 1.2× the best C responder\'s', why: 'on small machines alike', workload: 'lat-1cpu', row: 'hybrid', ref: limit, goal: 1.2, atLeast: false }),
    atMost(ws, 'at rest: hybrid ≤ 2% of a core', 'a NIC with nothing on it costs next to nothing (issue 12: idle CPU of the tender under 2%)', 'rest', 'hybrid', value, 2),
    ratio(ws, { target: 'TCP relay without offloads: hybrid ≥ 1.0× the best C relay without', why: 'the engine against the best C on the same frames', workload: 'relay', row: 'hybrid', ref: (w) => bestOf(w, ['c-relay', 'c-relay+uring']), goal: 1, atLeast: true }),
  ];
}
