// Turns the bench's samples into cells (median, min–max), a markdown report with the
// targets checked as ratios within the run, the raw JSON, and an SVG chart (vega-lite).
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { RowName, Sample } from './runners.js';

export interface Cell {
  runs: number;
  fps: { median: number; min: number; max: number };
  per_frame?: number;
  traps?: number;
  kicks?: number;
  interrupts?: number;
  cpu: Record<string, number>;
  frames: number;
  extra: Record<string, number>;
}

export interface Workload {
  id: string;
  title: string;
  short: string;
  cells: Partial<Record<RowName, Cell>>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function aggregate(samples: Sample[]): Cell {
  const fps = samples.map((s) => s.fps);
  const pick = (f: (s: Sample) => number | undefined) => {
    const v = samples.map(f).filter((x): x is number => x !== undefined);
    return v.length ? median(v) : undefined;
  };
  const cpu: Record<string, number> = {};
  for (const k of ['tender', 'io', 'guest', 'process'] as const) {
    const v = pick((s) => s.cpu[k]);
    if (v !== undefined) cpu[k] = v;
  }
  const extra: Record<string, number> = {};
  for (const k of Object.keys(samples[0].extra)) extra[k] = pick((s) => s.extra[k])!;
  return {
    runs: samples.length,
    fps: { median: median(fps), min: Math.min(...fps), max: Math.max(...fps) },
    per_frame: pick((s) => s.notes?.per_frame), traps: pick((s) => s.notes?.traps), kicks: pick((s) => s.notes?.kicks),
    interrupts: pick((s) => s.notes?.interrupts), cpu, frames: pick((s) => s.frames)!, extra,
  };
}

const k = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
const f = (n: number | undefined, d = 2) => (n === undefined ? '–' : n.toFixed(d));

function notes(id: string, c: Cell): string {
  const e = c.extra;
  if (id.startsWith('rx')) return `offered ${k(e.offered_pps)}/s, ${f(e.gbps, 2)} Gbit/s${e.kernel_drops !== undefined ? `, kernel drops ${k(e.kernel_drops)}` : ''}`;
  if (id.startsWith('tx')) return `socket got ${(100 * e.socket_ratio).toFixed(1)}%`;
  return `rtt ${f(e.rtt_min, 3)}/${f(e.rtt_avg, 3)}/${f(e.rtt_max, 3)} ms, loss ${e.loss_pct}%`;
}

export function markdown(workloads: Workload[], machine: string, targets: string[][], runs: number): string {
  const out = [`# shmtender bench — every mode side by side, one run\n`, machine, '', `Each cell: median of ${runs} run(s), min–max of frames/s beside it; × limit is the median's ratio to the C limit row of the same workload, measured in this run.\n`];
  for (const w of workloads) {
    out.push(`## ${w.title}\n`);
    out.push('| row | frames/s | min–max | × limit | notif/frame | traps | kicks | interrupts | cpu s tender | io | guest | process | |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    const limit = w.cells.limit?.fps.median;
    for (const [row, c] of Object.entries(w.cells)) {
      if (!c) continue;
      out.push(`| ${row} | ${k(c.fps.median)} | ${k(c.fps.min)}–${k(c.fps.max)} | ${limit ? f(c.fps.median / limit) : '–'} | ${f(c.per_frame, 4)} | ${c.traps ?? '–'} | ${c.kicks ?? '–'} | ${c.interrupts ?? '–'} | ${f(c.cpu.tender)} | ${f(c.cpu.io)} | ${f(c.cpu.guest)} | ${f(c.cpu.process)} | ${notes(w.id, c)} |`);
    }
    out.push('');
  }
  out.push('## Targets (ratios within this run)\n', '| target | measured | |', '|---|---|---|', ...targets.map((t) => `| ${t.join(' | ')} |`), '');
  return out.join('\n');
}

export async function chart(workloads: Workload[]): Promise<string> {
  const values = workloads.flatMap((w) =>
    Object.entries(w.cells).map(([row, c]) => ({ workload: w.short, row, fps: c!.fps.median, per_frame: c!.per_frame ?? null })),
  );
  const order = ['limit', 'baseline', 'poll', 'event', 'hybrid', 'node-readsync'];
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    vconcat: [
      {
        title: 'frames/s (median of the runs)',
        facet: { column: { field: 'workload', type: 'nominal', title: null, sort: workloads.map((w) => w.short), header: { labelAngle: 0, labelFontSize: 10 } } },
        spec: { width: 90, height: 160, mark: 'bar', encoding: {
          x: { field: 'row', type: 'nominal', sort: order, title: null },
          y: { field: 'fps', type: 'quantitative', title: 'frames/s' },
          color: { field: 'row', type: 'nominal', sort: order, legend: null } } },
        resolve: { scale: { y: 'independent' } },
      },
      {
        title: 'notifications per frame (log scale; the tender modes)',
        transform: [{ filter: 'datum.per_frame != null && datum.per_frame > 0' }],
        facet: { column: { field: 'workload', type: 'nominal', title: null, sort: workloads.map((w) => w.short), header: { labelAngle: 0, labelFontSize: 10 } } },
        spec: { width: 90, height: 160, mark: { type: 'point', filled: true, size: 90 }, encoding: {
          x: { field: 'row', type: 'nominal', sort: order, title: null },
          y: { field: 'per_frame', type: 'quantitative', scale: { type: 'log', domain: [0.00003, 3] }, title: 'notifications/frame' },
          color: { field: 'row', type: 'nominal', sort: order, legend: null } } },
      },
    ],
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
