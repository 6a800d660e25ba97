// Numbers as the report prints them, and latest.json's reading and writing (a lost request's
// latency is Infinity, which JSON cannot say).
import { readFileSync, writeFileSync } from 'node:fs';
import type { Column, Results, Stat } from './types.js';

export function num(v: number | undefined | null, format: Column['format'] | 'x'): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (v === Infinity) return 'lost';
  switch (format) {
    case 'k': return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
    case 'pct': return v === 0 ? '0%' : v < 0.1 ? `${v.toFixed(3)}%` : `${v.toFixed(1)}%`;
    case 'us': return v >= 100 ? v.toFixed(0) : v.toFixed(1);
    case 'ms': return v.toFixed(3);
    case 'int': return Math.round(v).toString();
    case 'x': return v.toFixed(2);
  }
}

/** "median (min–max)", or the median alone when the runs agree (or there was one). */
export function withRange(s: Stat | undefined, format: Column['format'] | 'x'): string {
  if (!s) return '–';
  const m = num(s.median, format);
  const lo = num(s.min, format);
  const hi = num(s.max, format);
  return lo === hi ? m : `${m} (${lo}–${hi})`;
}

export function writeResults(path: string, r: Results): void {
  writeFileSync(path, JSON.stringify(r, (_k, v) => (v === Infinity ? 'Infinity' : v), 2) + '\n');
}

export function readResults(path: string): Results {
  const r = JSON.parse(readFileSync(path, 'utf8'), (_k, v) => (v === 'Infinity' ? Infinity : v));
  if (!Array.isArray(r.workloads) || !r.workloads.every((w: any) => w.metric && w.cells && 'limit' in w)) {
    throw new Error(`${path} is not a results file of this bench (an older format?): run \`npm run bench\` again`);
  }
  return r as Results;
}
