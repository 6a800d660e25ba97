// ping -f: round trips as fast as they come back (ping sends the next request when the reply
// arrives, or every 10 ms): echoes/s from ping's own summary; rtt and loss beside it.
import { collect } from '../../testbed/netns.js';
import { kernelRx, kernelTx } from '../../testbed/tap-stats.js';
import { parsePing, pingCommand } from '../../testbed/workloads.js';
import { cpuMark, cpuWindow, kill, startRow, stop, type Started } from '../start.js';
import type { Context, Row, Sample, Workload } from '../types.js';

/** Frames through the TAP both ways, for charging a responder's CPU per frame. */
export function tapFrames(ctx: Context) {
  const t = kernelTx(ctx.ns);
  const r = kernelRx(ctx.ns);
  return t.packets + r.packets;
}

/**
 * preload: requests ping keeps in flight (-l), so the responder meets bursts and what it pays
 * per echo within one shows; counted echoes are then scaled by it, as they come that much faster.
 */
export function pingFlood(o: { id: string; title: string; short: string; payload: number; preload?: number; rows: Row[] }): Workload {
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `\`ping -f -c N -s ${o.payload}${o.preload === undefined ? '' : ` -l ${o.preload}`}\` from the namespace against the responder (the tender's ping_serve.js, tap_echo, node-readsync --echo), after 2 s of the same as a warm-up that is not counted: echoes/s from ping's summary`,
    metric: { label: 'echoes/s', better: 'higher' },
    rows: o.rows,
    columns: [
      { head: 'rtt avg ms', key: 'rtt_avg', format: 'ms' },
      { head: 'rtt max ms', key: 'rtt_max', format: 'ms' },
      { head: 'loss', key: 'loss_pct', format: 'pct' },
    ],
    async run(row: Row, ctx: Context): Promise<Sample> {
      let r: Started | undefined;
      try {
        r = await startRow(ctx, row, 'echo', { c: ['--count=0'], node: ['--count=0'] });
        // Not counted: the responder's start-up (bench/README.md, Warm-up). 30,000 echoes last under
        // a second, and the tender's first second is V8 compiling its IO thread's paths and
        // --io-token=auto's first trial.
        if (ctx.sizes.pingWarmS > 0) await collect(ctx.ns.spawn('ping', pingCommand({ seconds: ctx.sizes.pingWarmS, size: o.payload, preload: o.preload })), 60_000);
        const mark0 = cpuMark(r.pid);
        const frames0 = tapFrames(ctx);
        const p = parsePing((await collect(ctx.ns.spawn('ping', pingCommand({ count: ctx.sizes.pingCount * (o.preload ?? 1), size: o.payload, preload: o.preload })), 300_000)).stdout);
        const window = cpuWindow(mark0, cpuMark(r.pid));
        const frames = tapFrames(ctx) - frames0;
        const f = await stop(r);
        return {
          value: p.timeMs > 0 ? (p.received * 1000) / p.timeMs : 0, frames, ...window, stats: f.stats,
          extra: { rtt_min: p.rtt.min, rtt_avg: p.rtt.avg, rtt_max: p.rtt.max, loss_pct: p.lossPct },
        };
      } finally {
        kill(r);
      }
    },
  };
}
