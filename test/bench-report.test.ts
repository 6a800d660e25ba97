// The bench's rules on numbers, on made-up runs (no TAPs needed): the limit is the best C row
// in the metric's direction, rows whose ranges overlap are "within noise" rather than ranked,
// targets say met / missed by how much, and the derived tables list ties instead of a winner.
import { describe, expect, it } from 'vitest';
import { summarize } from '../bench/aggregate.js';
import { vsLimit } from '../bench/report.js';
import { cpuWindow } from '../bench/start.js';
import { ALL_ROWS, HYBRID_TOKEN, HYBRID_TOKEN_SOLO } from '../bench/rows.js';
import { RELAY_ROWS, relayTenderArgs } from '../bench/workloads/relay.js';
import { headline, whichMode } from '../bench/summary.js';
import { targets } from '../bench/targets.js';
import type { Results, Sample, Workload } from '../bench/types.js';
import type { StatsReport } from '../host/report.js';
import { THREAD_NAME } from '../host/thread-names.js';

const workload = (id: string, better: 'higher' | 'lower', rows = ALL_ROWS): Workload => ({
  id, title: id, short: id, how: id, metric: { label: better === 'higher' ? 'frames/s' : 'p99 µs', better }, rows, columns: [],
  run: () => Promise.reject(new Error('not run here')),
});
const runs = (...values: number[]): Sample[] => values.map((value) => ({ value, frames: 1000, cpuS: 0.002, extra: { drop_pct: value / 1e6 } }));

describe('bench numbers', () => {
  const drain = summarize(workload('drain', 'higher'), new Map([
    ['c-block', runs(700, 710, 720)], ['c-epoll', runs(780, 800, 1040)], ['c-busy', runs(790, 795, 1050)],
    ['node-readsync', runs(600, 610, 620)], ['baseline', runs(480, 490, 500)], ['poll', runs(600, 650, 700)],
    ['event', runs(500, 520, 540)], ['hybrid', runs(640, 664, 800)],
  ]));
  const lat = summarize(workload('lat', 'lower'), new Map([
    ['c-block', runs(30, 31, 32)], ['c-epoll', runs(20, 21, 40)], ['c-busy', runs(25, 26, 27)],
    ['node-readsync', runs(50, 50, 50)], ['baseline', runs(60, 61, 62)], ['poll', runs(22, 23, 24)],
    ['event', runs(90, 95, 99)], ['hybrid', runs(24, 24.5, 30)],
  ]));

  it('takes the best C row as the limit, higher or lower being better', () => {
    expect(drain.limit?.row).toBe('c-epoll'); // 800 beats c-busy's 795 on medians
    expect(lat.limit?.row).toBe('c-epoll'); // 21 µs is the lowest p99
    expect(drain.cells['c-block'].cpu_us_per_frame.median).toBeCloseTo(2);
  });

  it('says within noise where ranges overlap, and gives the ratio where they do not', () => {
    expect(vsLimit(drain, 'c-epoll')).toBe('**limit**');
    expect(vsLimit(drain, 'c-busy')).toBe('0.99 (within noise)');
    expect(vsLimit(drain, 'baseline')).toBe('0.61');
    expect(vsLimit(lat, 'hybrid')).toBe('1.17 (within noise)');
  });

  it('checks targets on medians, with the miss and the noise', () => {
    const t = targets([drain, lat]);
    const hybridDrain = t.find((x) => x.target.startsWith('RX drain: hybrid'))!;
    expect(hybridDrain.measured).toBe('hybrid 664 / c-epoll 800 = 0.83');
    // 664 < 0.9 × 800 = 720, missed by 8%, but hybrid's 640–800 overlaps 702–936.
    expect(hybridDrain.verdict).toBe('missed by 8% (within noise)');
    const p99 = t.find((x) => x.target.startsWith('latency, 10k/s'))!;
    expect(p99.verdict).toBe('met (within noise)'); // 24.5 ≤ 1.2 × 21
    expect(t.find((x) => x.target.startsWith('ping -f 56 B: hybrid ≥'))!.measured).toMatch(/not measured/);
  });

  it('gives a workload with an absolute goal (at rest) no limit, and checks its target against the number itself', () => {
    const rest = summarize({ ...workload('rest', 'lower'), noLimit: 'absolute' }, new Map([
      ['c-block', runs(0, 0, 0)], ['c-busy', runs(99, 100, 100)], ['poll', runs(100, 101, 102)], ['hybrid', runs(0.2, 0.3, 2.5)],
    ]));
    expect(rest.limit).toBeNull();
    expect(rest.noLimit).toBe('absolute');
    expect(vsLimit(rest, 'hybrid')).toBe('–');
    const t = targets([rest]).find((x) => x.target.startsWith('at rest'))!;
    expect([t.measured, t.verdict]).toEqual(['hybrid 0.300', 'met (within noise)']); // 0.3 ≤ 2, and 0.2–2.5 holds 2
    const slow = summarize({ ...workload('rest', 'lower'), noLimit: 'absolute' }, new Map([['hybrid', runs(3, 4, 5)]]));
    expect(targets([slow]).find((x) => x.target.startsWith('at rest'))!.verdict).toBe('missed by 100%');
  });

  it("reads the guest's CPU per frame from each thread's CPU in the window, split by thread name", () => {
    const mark = (cpuS: number, io: number | null, guest: number | null) => ({
      cpuS, byThread: new Map([['node', 1], ...(io === null ? [] : [[THREAD_NAME.io, io]]), ...(guest === null ? [] : [[THREAD_NAME.guest, guest]])] as [string, number][]),
    });
    // The tender's life before the window (start-up, warm-up) is in both marks and drops out.
    const hybrid = cpuWindow(mark(5, 2, 2.5), mark(5.5, 2.3, 2.6));
    expect(hybrid.cpuS).toBeCloseTo(0.5);
    expect(hybrid.threads!.io).toBeCloseTo(0.3);
    expect(hybrid.threads!.guest).toBeCloseTo(0.1);
    expect(hybrid.threads!.tender).toBeCloseTo(0.1);
    // The guest's thread gone by the end mark (its last line, then its exit): its total from the stats.
    const stats = { cpu_s: { tender: 0.2, io: 2.35, guest: 2.62, process: 5.6 } } as StatsReport;
    const gone = cpuWindow(mark(5, 2, 2.5), mark(5.5, 2.3, null), { cpuTotalS: 5.6, stats });
    expect([gone.cpuS, gone.threads!.io, gone.threads!.guest]).toEqual([0.5, expect.closeTo(0.3), expect.closeTo(0.12)]);
    // The whole process gone: the window ends at its exit, both threads from the stats.
    const exited = cpuWindow(mark(5, 2, 2.5), undefined, { cpuTotalS: 5.6, stats });
    expect([exited.cpuS, exited.threads!.io, exited.threads!.guest]).toEqual([expect.closeTo(0.6), expect.closeTo(0.35), expect.closeTo(0.12)]);
    // The baseline: no IO thread at either mark, 0.
    expect(cpuWindow(mark(5, null, 2.5), mark(5.5, null, 2.9)).threads).toEqual({ io: 0, guest: expect.closeTo(0.4), tender: expect.closeTo(0.1) });
    // A thread whose end is unknown (gone, and no stats; or a total below its start): no split.
    expect(cpuWindow(mark(5, 2, 2.5), mark(5.5, 2.3, null)).threads).toBeUndefined();
    expect(cpuWindow(mark(5, 2, 2.5), mark(5.5, 2.3, null), { cpuTotalS: 5.6, stats: { cpu_s: { tender: 0, io: 0, guest: 0, process: 0 } } as StatsReport }).threads).toBeUndefined();
    // A C program has no such threads: its window has no split.
    expect(cpuWindow({ cpuS: 1, byThread: new Map([['tap_reader', 1]]) }, { cpuS: 2, byThread: new Map([['tap_reader', 2]]) })).toEqual({ cpuS: 1 });

    const withThreads = (...guest: (number | null)[]): Sample[] =>
      guest.map((g) => ({ value: 1000, frames: 1000, cpuS: 0.002, extra: {}, ...(g === null ? {} : { threads: { tender: 0, io: 0, guest: g } }) }));
    const d = summarize(workload('drain', 'higher'), new Map([['c-uring', runs(1000, 1000, 1000)], ['baseline', withThreads(0.0009, 0.0008, null)], ['hybrid', withThreads(0.0004, 0.0003, 0.0005)]]));
    const t = targets([d]).find((x) => x.target.includes("guest thread's CPU per frame"))!;
    // Each run's own ratio of CPU to frames; the baseline's from its two runs with a split.
    expect(t.measured).toBe('hybrid 0.400 / baseline 0.850 = 0.47');
    expect(t.verdict).toBe('met (within noise)'); // hybrid's 0.3–0.5 overlaps 0.5 × 0.8–0.9
    // Fewer than half the runs with a split: no number rather than one run's.
    const few = summarize(workload('drain', 'higher'), new Map([['baseline', withThreads(0.0009, null, null)]]));
    expect(few.cells.baseline.guest_us_per_frame).toBeUndefined();
  });

  it('derives which mode to pick, naming the modes within noise of the pick', () => {
    const r: Results = { machine: 'Machine: test box, 2 cores, Linux x.', runs: 3, quick: false, sizes: {} as Results['sizes'], command: 'npm run bench', workloads: [drain, lat], targets: [] };
    const table = whichMode(r);
    expect(table).toContain('| RX capacity (drain) | **hybrid** | poll |');
    expect(table).toMatch(/\| tail latency, light load \(p99 at 10k echo\/s\) \| \*\*poll\*\* \| hybrid \|/);
    const head = headline(r);
    expect(head).toContain('| RX capacity (drain), frames/s | 800 (c-epoll) | 490 | **650** | 520 | **664** |');
  });

  it('picks a setting of hybrid (--io-token) where it wins, while the headline keeps to the four modes', () => {
    const ping = summarize(workload('ping', 'higher', [...ALL_ROWS, HYBRID_TOKEN, HYBRID_TOKEN_SOLO]), new Map([
      ['c-busy', runs(54, 55, 56)], ['baseline', runs(29, 30, 31)], ['hybrid', runs(26, 27, 28)],
      ['hybrid+token', runs(25, 26, 27)], ['hybrid+token-solo', runs(33, 34, 35)],
    ]));
    const r: Results = { machine: 'Machine: test box, 2 cores, Linux x.', runs: 3, quick: false, sizes: {} as Results['sizes'], command: 'npm run bench', workloads: [ping], targets: [] };
    expect(whichMode(r)).toContain('| round trips (ping -f 56 B) | **hybrid+token-solo** | – |');
    expect(headline(r)).toContain('| round trips (ping -f 56 B), echoes/s | 55 (c-busy) | **30** | – | – | 27 |');
  });

  it("the relay's tender rows run with their own options, the offload given once (by runRelay) and the bench's --tender after", () => {
    const ctx = { tenderExtra: ['--stats-interval=1'], scratch: (n: string) => `/tmp/${n}` } as unknown as Parameters<typeof relayTenderArgs>[1];
    const args = (id: string) => relayTenderArgs(RELAY_ROWS.find((r) => r.id === id)!, ctx);
    // Before session 25 each of these was ['--stats-interval=1']: every variant ran as plain hybrid.
    expect(args('hybrid+token-off')).toEqual(['--io-token=off', '--stats-interval=1']);
    expect(args('hybrid+token-off+offload')).toEqual(['--io-token=off', '--stats-interval=1']);
    expect(args('hybrid+write')).toEqual(['--tap-writes=write', '--stats-interval=1']);
    expect(args('event+offload')).toEqual(['--stats-interval=1']);
    expect(args('hybrid')).toEqual(['--stats-interval=1']);
  });
});
