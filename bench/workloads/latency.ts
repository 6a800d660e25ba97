// Latency as a distribution: icmp_probe sends echo requests at a fixed rate (open loop) and
// timestamps every request and reply; p99 is the metric, p50, p99.9, max and loss beside it.
// With floodPps, udp_flood sends 1300-byte datagrams to another port at that rate while the
// probe runs: the responder reads and drops them, and the echoes queue behind them.
import { setTimeout as sleep } from 'node:timers/promises';
import { collect } from '../../testbed/netns.js';
import { cpuMark, cpuWindow, kill, startRow, stop, type Started } from '../start.js';
import type { Context, Row, Sample, Workload } from '../types.js';
import { lastJson } from './common.js';
import { tapFrames } from './ping.js';

/**
 * Requests before the counted ones (the probe's --warmup): the responder's start-up. At 10k/s
 * the tender's IO thread runs its backed-off paths a thousand times a second, and V8 compiles
 * them on its helper threads for most of the first second; after 0.2 s the next 0.5 s had a p99
 * of 1.5-5 ms in three runs of three, 84-211 µs after it. And --io-token=auto tries one poller
 * against two within about a second of a load's start (160 ms; host/io-thread/poller-choice.ts):
 * 1.5 s covers both (bench/README.md, Warm-up).
 */
export const WARMUP_S = 1.5;
/** --quick checks the harness, not the numbers: a short warm-up keeps it inside its test's time. */
const QUICK_WARMUP_S = 0.2;

/** The probe says null for a percentile that falls on lost requests: slower than any reply. */
const inf = (v: number | null) => v ?? Infinity;

export function latency(o: { id: string; title: string; short: string; flood: boolean; rows: Row[] }): Workload {
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `icmp_probe sends N echo requests (56 B) at a fixed rate, open loop, after ${WARMUP_S} s of the same as a warm-up, to the responder (ping_serve.js, tap_echo, node-readsync --echo)${o.flood ? ' while udp_flood sends it 1300-byte datagrams to another port at a fixed rate' : ''}: round-trip percentiles from the request's CLOCK_MONOTONIC send time to the reply's kernel receive time`,
    metric: { label: 'p99 µs', better: 'lower' },
    rows: o.rows,
    columns: [
      { head: 'p50 µs', key: 'p50_us', format: 'us' },
      { head: 'p99.9 µs', key: 'p999_us', format: 'us' },
      { head: 'max µs', key: 'max_us', format: 'us' },
      { head: 'loss', key: 'loss_pct', format: 'pct' },
    ],
    async run(row: Row, ctx: Context): Promise<Sample> {
      const { latCount: count, latRate: rate, latFloodPps: pps } = ctx.sizes;
      const warmup = Math.round(rate * (ctx.quick ? QUICK_WARMUP_S : WARMUP_S));
      let r: Started | undefined;
      let flooder: ReturnType<typeof ctx.ns.spawn> | undefined;
      try {
        r = await startRow(ctx, row, 'echo', { c: ['--count=0'], node: ['--count=0'] });
        const mark0 = cpuMark(r.pid);
        const frames0 = tapFrames(ctx);
        let flooded: Promise<unknown> = Promise.resolve();
        if (o.flood) {
          const seconds = (warmup + count) / rate + 2;
          flooder = ctx.ns.spawn(ctx.bin.udp_flood, ['--dst=10.0.0.2', '--port=9001', `--count=${Math.ceil(pps * seconds)}`, `--seconds=${seconds}`, `--pps=${pps}`, '--size=1300']);
          flooded = collect(flooder, (seconds + 10) * 1000);
          await sleep(50); // the flood is on before the first request
        }
        const probe = lastJson((await collect(ctx.ns.spawn(ctx.bin.icmp_probe, ['--dst=10.0.0.2', `--count=${count}`, `--warmup=${warmup}`, `--rate=${rate}`, '--size=56']), 120_000)).stdout);
        flooder?.kill('SIGTERM');
        await flooded;
        const window = cpuWindow(mark0, cpuMark(r.pid));
        const frames = tapFrames(ctx) - frames0;
        const f = await stop(r);
        const flags = probe.late > 0.01 * count ? ['the probe sent over 1% of its requests more than one interval late'] : [];
        return {
          value: inf(probe.p99_us), frames, ...window, stats: f.stats, flags,
          extra: { p50_us: inf(probe.p50_us), p99_us: inf(probe.p99_us), p999_us: inf(probe.p999_us), max_us: probe.max_us, mean_us: probe.mean_us, loss_pct: probe.loss_pct, probe_rate: probe.rate, late: probe.late },
        };
      } finally {
        kill(r);
        flooder?.kill('SIGKILL');
      }
    },
  };
}
