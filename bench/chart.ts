// results/latest.svg (vega-lite): RX drain frames/s and p99 latency per row, each beside the
// limit (the dashed line: the best C row of that workload), with min–max whiskers.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Results, WorkloadResult } from './types.js';

// Latency spans µs to ms between rows, so its axis is logarithmic, where bars (from 0) cannot be drawn: points.
const PANELS: { title: string; ids: string[]; y: string; log: boolean }[] = [
  { title: 'RX drain: frames/s (higher is better)', ids: ['drain', 'drain-work'], y: 'frames/s', log: false },
  { title: 'round-trip p99, µs (lower is better; log scale; a lost p99 is left out)', ids: ['lat', 'lat-flood'], y: 'p99 µs', log: true },
];

function values(ws: WorkloadResult[]) {
  return ws.flatMap((w) =>
    w.rows
      .filter((r) => w.cells[r.id] && Number.isFinite(w.cells[r.id].value.median))
      .map((r) => {
        const v = w.cells[r.id].value;
        return { workload: w.short, row: r.id, kind: r.kind === 'tender' ? r.id : r.kind === 'c' ? 'C' : 'node', median: v.median, min: v.min, max: Number.isFinite(v.max) ? v.max : v.median, limit: w.limit?.value.median ?? null };
      }),
  );
}

export async function chart(r: Results): Promise<string> {
  const panels = PANELS.map((p) => ({ ...p, ws: r.workloads.filter((w) => p.ids.includes(w.id)) })).filter((p) => p.ws.length);
  const order = [...new Set(panels.flatMap((p) => p.ws.flatMap((w) => w.rows.map((x) => x.id))))];
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'shmtender bench', subtitle: r.machine.replace(/^Machine: /, '') },
    vconcat: panels.map((p) => ({
      title: p.title,
      data: { values: values(p.ws) },
      facet: { column: { field: 'workload', type: 'nominal', title: null, sort: p.ws.map((w) => w.short), header: { labelFontSize: 11 } } },
      spec: {
        width: 230, height: 170,
        layer: [
          { mark: p.log ? { type: 'point', filled: true, size: 90, opacity: 1 } : 'bar', encoding: {
            x: { field: 'row', type: 'nominal', sort: order, title: null },
            y: { field: 'median', type: 'quantitative', title: p.y, scale: p.log ? { type: 'log' } : {} },
            color: { field: 'kind', type: 'nominal', title: 'row', scale: { domain: ['C', 'node', 'baseline', 'poll', 'event', 'hybrid'], range: ['#888', '#bbb', '#4c78a8', '#f58518', '#54a24b', '#e45756'] } } } },
          { mark: { type: 'rule', color: 'black' }, encoding: {
            x: { field: 'row', type: 'nominal', sort: order }, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
          { mark: { type: 'rule', strokeDash: [4, 3], color: 'black' }, encoding: { y: { field: 'limit', type: 'quantitative', aggregate: 'max' } } },
        ],
      },
      resolve: { scale: { y: 'independent' } },
    })),
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
