// From the runs of each row to cells (median with min–max), the workload's limit (the best C
// row's median in the same run) and the one rule for ranking: two rows whose min–max ranges
// overlap are *within noise* of each other, and are not ranked.
import type { Cell, Metric, Row, Sample, Stat, Workload, WorkloadResult } from './types.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function stat(xs: number[]): Stat {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** The two ranges share a point: no ranking between them is supported by these runs. */
export function overlaps(a: Stat, b: Stat): boolean {
  return a.min <= b.max && b.min <= a.max;
}

/** A range scaled by k (a target's goal applied to the reference it is measured against). */
export const scaled = (s: Stat, k: number): Stat => ({ median: s.median * k, min: s.min * k, max: s.max * k });

/** a better than b by the metric's direction (medians). */
export const better = (m: Metric, a: number, b: number) => (m.better === 'higher' ? a > b : a < b);

export function aggregate(samples: Sample[]): Cell {
  const of = (f: (s: Sample) => number | undefined) => samples.map(f).filter((x): x is number => x !== undefined && !Number.isNaN(x));
  const extra: Record<string, Stat> = {};
  for (const k of Object.keys(samples[0].extra)) {
    const v = of((s) => s.extra[k]);
    if (v.length) extra[k] = stat(v);
  }
  const cell: Cell = {
    runs: samples.length,
    value: stat(samples.map((s) => s.value)),
    cpu_us_per_frame: stat(samples.map((s) => (s.frames > 0 ? (s.cpuS / s.frames) * 1e6 : NaN))),
    frames: median(samples.map((s) => s.frames)),
    extra,
    flags: [],
  };
  const notes = of((s) => s.stats?.notifications.per_frame);
  if (notes.length) cell.notifications_per_frame = stat(notes);
  // Runs without a split (a thread's end unknown: bench/start.ts, cpuWindow) or without frames
  // are left out; at least half must have one.
  const split = samples.filter((s) => s.threads && s.frames > 0);
  if (split.length > 0 && split.length * 2 >= samples.length) {
    const t = (k: 'tender' | 'io' | 'guest') => median(split.map((s) => s.threads![k]));
    cell.threads = { tender: t('tender'), io: t('io'), guest: t('guest') };
    cell.guest_us_per_frame = stat(split.map((s) => (s.threads!.guest / s.frames) * 1e6));
  }
  const counts = new Map<string, number>();
  for (const s of samples) for (const f of new Set(s.flags ?? [])) counts.set(f, (counts.get(f) ?? 0) + 1);
  cell.flags = [...counts].map(([f, n]) => `${f} (${n}/${samples.length})`);
  return cell;
}

/** The best of `rows` by the metric (medians), or null when none of them has a number. */
export function bestOf(w: Pick<WorkloadResult, 'metric' | 'cells'>, rows: string[]): string | null {
  let best: string | null = null;
  for (const r of rows) {
    const c = w.cells[r];
    if (!c || Number.isNaN(c.value.median)) continue;
    if (best === null || better(w.metric, c.value.median, w.cells[best].value.median)) best = r;
  }
  return best;
}

/** Rows within noise of the best of `rows` (the best first): what a reader may not rank. */
export function tiedWithBest(w: Pick<WorkloadResult, 'metric' | 'cells'>, rows: string[]): string[] {
  const best = bestOf(w, rows);
  if (!best) return [];
  return [best, ...rows.filter((r) => r !== best && w.cells[r] && overlaps(w.cells[r].value, w.cells[best].value))];
}

export function summarize(w: Workload, samples: Map<string, Sample[]>): WorkloadResult {
  const cells: Record<string, Cell> = {};
  for (const row of w.rows) {
    const s = samples.get(row.id);
    if (s?.length) cells[row.id] = aggregate(s);
  }
  const out: WorkloadResult = {
    id: w.id, title: w.title, short: w.short, how: w.how, metric: w.metric, columns: w.columns,
    rows: w.rows.filter((r) => cells[r.id]).map((r: Row) => ({ id: r.id, kind: r.kind, mode: r.mode, loop: r.loop })),
    cells, limit: null,
  };
  if (w.noLimit) return { ...out, noLimit: w.noLimit };
  const limit = bestOf(out, out.rows.filter((r) => r.kind === 'c').map((r) => r.id));
  if (limit) out.limit = { row: limit, value: cells[limit].value };
  return out;
}
