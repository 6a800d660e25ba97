// What is derived from a run for readers who will not read the tables: the README's headline
// and bench/README's "which mode when". Both are computed from latest.json, never typed.
import { bestOf, overlaps, tiedWithBest } from './aggregate.js';
import { num } from './format.js';
import type { Cell, Column, Results, Stat, WorkloadResult } from './types.js';

const MODES = ['baseline', 'poll', 'event', 'hybrid'];
/** What a user can pick: the modes (hybrid's default --io-token=auto), and hybrid's fixed IO token settings (--io-token=on|solo|off), which win some needs on some machines. */
const CHOICES = [...MODES, 'hybrid+token', 'hybrid+token-solo', 'hybrid+token-off'];

interface Criterion {
  want: string;
  workload: string;
  /** Which number of a cell: the metric, CPU per frame, or an extra column. */
  key: 'value' | 'cpu' | string;
  lowerIsBetter?: boolean;
  format: Column['format'] | 'x';
  unit: string;
  /** Rows of a variant (e.g. '+offload'): each mode's row is mode + suffix, and the C rows compared end with it too. */
  suffix?: string;
}

const modeRows = (k: Criterion, of = MODES) => of.map((m) => m + (k.suffix ?? ''));

const CRITERIA: Criterion[] = [
  { want: 'RX capacity (drain)', workload: 'drain', key: 'value', format: 'k', unit: 'frames/s' },
  { want: 'RX while the guest computes (drain, 2 µs/frame)', workload: 'drain-work', key: 'value', format: 'k', unit: 'frames/s' },
  { want: 'least CPU per received frame (drain)', workload: 'drain', key: 'cpu', lowerIsBetter: true, format: 'x', unit: 'µs/frame' },
  { want: 'fewest frames lost sharing the cores with the sender (flood)', workload: 'flood', key: 'drop_pct', lowerIsBetter: true, format: 'pct', unit: 'TAP drops' },
  { want: 'TX (batch 32)', workload: 'tx-b32', key: 'value', format: 'k', unit: 'frames/s' },
  { want: 'round trips (ping -f 56 B)', workload: 'ping', key: 'value', format: 'k', unit: 'echoes/s' },
  { want: 'tail latency, light load (p99 at 10k echo/s)', workload: 'lat', key: 'value', lowerIsBetter: true, format: 'us', unit: 'µs' },
  { want: 'tail latency under a flood (p99)', workload: 'lat-flood', key: 'value', lowerIsBetter: true, format: 'us', unit: 'µs' },
  { want: 'least CPU at rest (after a load)', workload: 'rest', key: 'value', lowerIsBetter: true, format: 'x', unit: '% of a core' },
  { want: 'TCP through a JS relay (firewall.js), no offloads', workload: 'relay', key: 'value', format: 'x', unit: 'Gbit/s', suffix: '' },
  { want: 'TCP through a JS relay (firewall.js), --offload', workload: 'relay', key: 'value', format: 'x', unit: 'Gbit/s', suffix: '+offload' },
];

const pick = (c: Cell | undefined, key: string): Stat | undefined => (!c ? undefined : key === 'value' ? c.value : key === 'cpu' ? c.cpu_us_per_frame : c.extra[key]);

/** The workload with the criterion's number in place of its metric, so one ranking rule serves all. */
function view(w: WorkloadResult, k: Criterion): WorkloadResult {
  const cells: Record<string, Cell> = {};
  for (const [id, c] of Object.entries(w.cells)) {
    const v = pick(c, k.key);
    if (v) cells[id] = { ...c, value: v };
  }
  return { ...w, cells, metric: { label: k.unit, better: k.lowerIsBetter ? 'lower' : 'higher' } };
}

/**
 * The best C row, among those of the criterion's variant (no '+' for suffix '', ending in it
 * otherwise); '+uring' is how a C row runs (c-relay+uring), not a variant.
 */
const bestC = (w: WorkloadResult, k: Criterion) => {
  const ofVariant = (raw: string) => {
    const id = raw.replace('+uring', '');
    return k.suffix === undefined || (k.suffix === '' ? !id.includes('+') : id.endsWith(k.suffix));
  };
  return bestOf(w, w.rows.filter((r) => r.kind === 'c' && ofVariant(r.id)).map((r) => r.id));
};

/** bench/README's table: per need, the mode to pick (and those within noise of it), against the best C. */
export function whichMode(r: Results): string {
  const lines = ['| if you want | pick | within noise of it | the pick vs the best C |', '|---|---|---|---|'];
  for (const k of CRITERIA) {
    const w0 = r.workloads.find((w) => w.id === k.workload);
    if (!w0) continue;
    const w = view(w0, k);
    const [best, ...tied] = tiedWithBest(w, modeRows(k, CHOICES));
    if (!best) continue;
    const c = bestC(w, k);
    const show = (row: string) => `${row} ${num(w.cells[row].value.median, k.format)}`;
    const vsC = !c ? '–' : `${show(best)} vs ${show(c)} ${k.unit}${overlaps(w.cells[best].value, w.cells[c].value) ? ' (within noise)' : ''}`;
    lines.push(`| ${k.want} | **${best}** | ${tied.join(', ') || '–'} | ${vsC} |`);
  }
  return lines.join('\n');
}

/** The README's headline: the criteria as lines, the best C and every mode as columns. */
export function headline(r: Results): string {
  const lines = ['| | best C | baseline | poll | event | hybrid |', '| --- | --- | --- | --- | --- | --- |'];
  for (const k of CRITERIA) {
    const w0 = r.workloads.find((w) => w.id === k.workload);
    if (!w0) continue;
    const w = view(w0, k);
    const c = bestC(w, k);
    const rows = modeRows(k);
    const tied = new Set(tiedWithBest(w, rows));
    const cell = (row: string) => {
      const v = w.cells[row]?.value;
      if (!v) return '–';
      const s = num(v.median, k.format);
      return tied.has(row) ? `**${s}**` : s;
    };
    lines.push(`| ${k.want}, ${k.unit} | ${c ? `${num(w.cells[c].value.median, k.format)} (${c})` : '–'} | ${rows.map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}
