// `npm run bench` (root): every mode side by side with the C limit and node-readsync, in one
// run, in a namespace of its own. `--quick`: small counts, one run each (the harness is tested
// in CI this way). `--runs=N`, `--out=DIR` (default bench/results), `--tender=OPTION` (repeatable:
// passed to every tender row, e.g. `--tender=--pcap=/tmp/bench.pcapng` to measure capture).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createNetns, ROOT, whyNoTap } from '../testbed/netns.js';
import { buildLimitPrograms } from '../testbed/c/build.js';
import { aggregate, chart, markdown, type Workload } from './report.js';
import { ping, ROWS, rx, tx, type RowName, type Sample, type Sizes } from './runners.js';

const why = whyNoTap();
if (why) {
  console.error(`bench: ${why}`);
  process.exit(77);
}
const quick = process.argv.includes('--quick');
const opt = (n: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
const runs = Number(opt('runs') ?? (quick ? 1 : 3));
const outDir = opt('out') ?? join(ROOT, 'bench', 'results');
const only = opt('only')?.split(',');
const tenderArgs = process.argv.filter((a) => a.startsWith('--tender=')).map((a) => a.slice(9));
const size: Sizes = quick
  ? { rxCount: 40_000, rxSeconds: 0.5, txCount: 20_000, pingCount: 2_000, tenderArgs }
  : { rxCount: 1_000_000, rxSeconds: 4, txCount: 300_000, pingCount: 30_000, tenderArgs };

const bin = buildLimitPrograms();
const ns = createNetns({ taps: 1, guestMac: '02:00:00:00:00:02' });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (ns.destroy(), process.exit(130)));

type Runner = (row: RowName) => Promise<Sample>;
const plan: [string, string, string, Runner][] = [
  ['rx', 'RX as receiver (1300-byte UDP)', 'RX', (row) => rx(ns, bin, row, size, 0)],
  ['rx-work', 'RX with --work-ns=2000', 'RX + 2 µs work', (row) => rx(ns, bin, row, size, 2000)],
  ['tx-b1', 'TX as sender, batch 1', 'TX batch 1', (row) => tx(ns, bin, row, size, 1)],
  ['tx-b32', 'TX as sender, batch 32', 'TX batch 32', (row) => tx(ns, bin, row, size, 32)],
  ['ping', 'ping -f (56 bytes)', 'ping -f', (row) => ping(ns, bin, row, size, 56)],
  ['ping-1400', 'ping -f -s 1400', 'ping -f -s 1400', (row) => ping(ns, bin, row, size, 1400)],
];

const workloads: Workload[] = [];
try {
  for (const [id, title, short, run] of plan) {
    if (only && !only.includes(id)) continue;
    const w: Workload = { id, title, short, cells: {} };
    const samples: Partial<Record<RowName, Sample[]>> = {};
    // Rows interleaved run by run, so drift on a shared machine lands on every row alike.
    for (let r = 0; r < runs; r++) {
      for (const row of ROWS) {
        if (id === 'tx-b1' && (row === 'limit' || row === 'node-readsync')) continue; // no batching there: one row in tx-b32
        const t0 = Date.now();
        const sample = await run(row);
        (samples[row] ??= []).push(sample);
        process.stderr.write(`bench: ${id} ${row} run ${r + 1}/${runs}: ${Math.round(sample.fps)} frames/s (${Date.now() - t0} ms)\n`);
      }
    }
    for (const row of ROWS) if (samples[row]) w.cells[row] = aggregate(samples[row]!);
    workloads.push(w);
  }
} finally {
  ns.destroy();
}

function targets(): string[][] {
  const cell = (id: string, row: RowName) => workloads.find((w) => w.id === id)?.cells[row];
  const fps = (id: string, row: RowName) => cell(id, row)?.fps.median ?? NaN;
  const shm = ['poll', 'event', 'hybrid'] as const;
  const best = (id: string) => shm.reduce((b, m) => (fps(id, m) > fps(id, b) ? m : b), shm[0] as RowName);
  const line = (what: string, value: number, goal: number, higher: boolean, how: string): string[] => {
    if (!Number.isFinite(value)) return [what, 'not measured', ''];
    const ok = higher ? value >= goal : value <= goal;
    return [what, `${how} = ${value.toFixed(3)}`, ok ? 'met' : `missed by ${(Math.abs(value - goal) / goal * 100).toFixed(0)}%`];
  };
  const rxBest = best('rx');
  const txBest = best('tx-b32');
  const gpf = (row: RowName) => (cell('rx', row)?.cpu.guest ?? NaN) / (cell('rx', row)?.frames ?? NaN);
  return [
    line('best shm RX ≥ 0.9× the C reader', fps('rx', rxBest) / fps('rx', 'limit'), 0.9, true, `${rxBest}/limit`),
    line('best shm RX ≥ node-readsync', fps('rx', rxBest) / fps('rx', 'node-readsync'), 1, true, `${rxBest}/node-readsync`),
    line('best shm TX ≥ 0.9× the C writer', fps('tx-b32', txBest) / fps('tx-b32', 'limit'), 0.9, true, `${txBest} batch 32/limit`),
    line('hybrid ping -f ≥ 1.0× the C responder', fps('ping', 'hybrid') / fps('ping', 'limit'), 1, true, 'hybrid/limit echoes/s'),
    line('hybrid ping -f rtt avg ≤ 1.2× the C responder', (cell('ping', 'hybrid')?.extra.rtt_avg ?? NaN) / (cell('ping', 'limit')?.extra.rtt_avg ?? NaN), 1.2, false, 'hybrid/limit rtt'),
    line('hybrid ≤ 0.01 notifications/frame at RX saturation', cell('rx', 'hybrid')?.per_frame ?? NaN, 0.01, false, 'hybrid notif/frame'),
    line('--work-ns=2000: hybrid ≥ 1.3× baseline', fps('rx-work', 'hybrid') / fps('rx-work', 'baseline'), 1.3, true, 'hybrid/baseline'),
    line('guest CPU per frame, hybrid ≤ 0.5× baseline (RX)', gpf('hybrid') / gpf('baseline'), 0.5, false, 'hybrid/baseline'),
  ];
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const machine = `Machine: ${cpu}, ${cpus().length} cores, Linux ${kernel}, Node ${process.version}, shmtender ${pkg.version}, ${new Date().toISOString().slice(0, 16)}Z${quick ? ' (--quick: small counts; not for quoting)' : ''}${tenderArgs.length ? `; every tender row ran with ${tenderArgs.join(' ')}` : ''}.`;
const t = targets();
const md = markdown(workloads, machine, t, runs);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.md'), md);
writeFileSync(join(outDir, 'latest.json'), JSON.stringify({ machine, runs, quick, size, workloads, targets: t }, null, 2) + '\n');
writeFileSync(join(outDir, 'latest.svg'), await chart(workloads));
console.log(md);
