// The markdown report (results/latest.md): one table per workload, every cell the median of
// the runs with min–max, each row against the limit (the best C row of the same workload in
// the same run), *within noise* where their ranges overlap; then the targets and the derived
// "which mode when".
import { overlaps } from './aggregate.js';
import { num, withRange } from './format.js';
import { whichMode } from './summary.js';
import type { Results, WorkloadResult } from './types.js';

export function vsLimit(w: WorkloadResult, row: string): string {
  const c = w.cells[row];
  if (!w.limit || !c) return '–';
  if (row === w.limit.row) return '**limit**';
  const r = num(c.value.median / w.limit.value.median, 'x');
  return overlaps(c.value, w.limit.value) ? `${r} (within noise)` : r;
}

function table(w: WorkloadResult): string[] {
  const head = ['row', w.metric.label, 'min–max', '× limit', 'CPU µs/frame', 'notif/frame', ...w.columns.map((c) => c.head), 'notes'];
  const lines = [`| ${head.join(' | ')} |`, `|---|${head.slice(1, -1).map(() => '---:').join('|')}|---|`];
  const metricFormat = w.metric.format ?? (w.metric.label.includes('µs') ? 'us' : w.metric.label === 'Gbit/s' ? 'x' : 'k');
  for (const { id } of w.rows) {
    const c = w.cells[id];
    if (!c) continue;
    const cols = w.columns.map((col) => (col.range ? withRange(c.extra[col.key], col.format) : num(c.extra[col.key]?.median, col.format)));
    const n = c.notifications_per_frame?.median;
    const np = n === undefined ? '–' : n >= 0.1 || n === 0 ? num(n, 'x') : n.toPrecision(2);
    lines.push(`| ${id} | ${num(c.value.median, metricFormat)} | ${num(c.value.min, metricFormat)}–${num(c.value.max, metricFormat)} | ${vsLimit(w, id)} | ${withRange(c.cpu_us_per_frame, 'x')} | ${np} | ${cols.join(' | ')} | ${c.flags.join('; ')} |`);
  }
  return lines;
}

export function markdown(r: Results): string {
  const out = [
    '# shmtender bench: every mode beside the best C, in one run\n',
    r.machine,
    '',
    `Sizes: ${Object.entries(r.sizes).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    `Command: \`${r.command}\`. Each cell is the median of ${r.runs} run(s), rows interleaved round-robin within each repetition; min–max beside it. `
      + '**× limit** is the row\'s median over the limit\'s, the limit being the best C variant (c-block, c-epoll, c-busy; in the RX and TX workloads also c-uring, batching through io_uring) of the same workload in this run; '
      + 'where the two ranges overlap it says *within noise* and the rows are not ranked. '
      + '**CPU µs/frame**: CPU of the row\'s process, all threads summed, over the frames it moved in the measured window. '
      + '**notif/frame**: the tender\'s traps + kicks + interrupts + TAP wake-ups per frame (README, "Counting").\n',
  ];
  for (const w of r.workloads) {
    out.push(`## ${w.title}\n`, `${w.how[0].toUpperCase()}${w.how.slice(1)}.${w.limit ? ` Limit: **${w.limit.row}**.` : w.noLimit ? ` ${w.noLimit}` : ' No C row here: no limit.'}${w.metric.better === 'lower' ? ' Lower is better.' : ''}\n`);
    out.push(...table(w), '');
  }
  out.push('## Targets (ratios within this run)\n', '| target | measured | | why |', '|---|---|---|---|');
  for (const t of r.targets) out.push(`| ${t.target} | ${t.measured} | ${t.verdict} | ${t.why} |`);
  out.push('', '## Which mode when (derived from the tables above)\n', whichMode(r), '');
  return out.join('\n');
}
