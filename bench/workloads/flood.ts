// RX flood: the C sender floods 1300-byte datagrams (sendmmsg, flat out, bounded in count and
// time) while the receiver reads. On two cores the sender needs a core too, so this is the
// receiver *sharing* the machine with its traffic: frames/s is often the sender's rate
// ("sender-bound"), and what tells the rows apart is what the kernel dropped at the TAP.
import { setTimeout as sleep } from 'node:timers/promises';
import { collect } from '../../testbed/netns.js';
import { kernelTx } from '../../testbed/tap-stats.js';
import { cpuMark, cpuWindow, finish, kill, startRow, type Started } from '../start.js';
import type { Context, Row, Sample, Workload } from '../types.js';
import { lastJson, sinkTotal, SKIP_WARM, WARM_NOTE, warmUp } from './common.js';

/** Received at least this share of what was offered: the sender set the rate, not the receiver. */
export const SENDER_BOUND = 0.95;
export const SENDER_BOUND_FLAG = 'sender-bound';

export function flood(o: { id: string; title: string; short: string; rows: Row[] }): Workload {
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `after a warm-up (${WARM_NOTE}), udp_flood sends 1300-byte datagrams flat out while the receiver reads (TAP queue at its default 1000): frames/s the receiver counted from its first frame to its last; *${SENDER_BOUND_FLAG}* when it got ≥ ${SENDER_BOUND * 100}% of what was offered; TAP drops are the kernel's (the receiver did not keep up) as a share of the frames offered`,
    metric: { label: 'frames/s', better: 'higher' },
    rows: o.rows,
    columns: [
      { head: 'offered/s', key: 'offered_pps', format: 'k' },
      { head: 'TAP drops, % of offered', key: 'drop_pct', format: 'pct', range: true },
    ],
    async run(row: Row, ctx: Context): Promise<Sample> {
      const { floodCount: count, floodSeconds: seconds } = ctx.sizes;
      let r: Started | undefined;
      try {
        r = await startRow(ctx, row, 'rx', {
          // One more than can come: they must still be there when their CPU is read.
          c: [`--count=${count + 1}`, '--idle-ms=5000', SKIP_WARM], node: [`--count=${count + 1}`, SKIP_WARM],
          guest: [`--timeout=${seconds + 30}`, '--idle-ms=300', SKIP_WARM],
        });
        await warmUp(ctx, ctx.sizes.warmFrames);
        const mark0 = cpuMark(r.pid);
        const before = kernelTx(ctx.ns);
        const sent = lastJson((await collect(ctx.ns.spawn(ctx.bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', `--count=${count}`, `--seconds=${seconds}`, '--size=1300']), (seconds + 30) * 1000)).stdout);
        // What is still queued (at most the TAP's 1000) is read well within this.
        await sleep(100);
        const window = cpuWindow(mark0, cpuMark(r.pid));
        // udp_sink ends after 300 ms without a frame; the others are told that was all.
        if (row.kind !== 'tender') await collect(ctx.ns.spawn(ctx.bin.udp_flood, ['--dst=10.0.0.2', '--port=9999', '--count=1', '--size=64']));
        const f = await finish(r);
        const after = kernelTx(ctx.ns);
        const got = f.stats ? sinkTotal(f.stdout) : { frames: f.out!.frames, fps: f.out!.fps };
        const drops = after.dropped - before.dropped;
        return {
          value: got.fps, frames: got.frames, ...window, stats: f.stats,
          flags: got.frames >= SENDER_BOUND * sent.sent ? [SENDER_BOUND_FLAG] : [],
          extra: { offered_pps: sent.pps, offered: sent.sent, drops, drop_pct: (100 * drops) / sent.sent, received_pct: (100 * got.frames) / sent.sent },
        };
      } finally {
        kill(r);
      }
    },
  };
}
