// RX drain: the receiver's capacity with the sender out of the way. The receiver is frozen
// (SIGSTOP: every thread of it), the C sender queues sizes.drainFrames 1300-byte datagrams on
// the TAP, then the receiver is thawed and drains them; frames/s is what it counted over the
// span from its first frame to its last.
import { setTimeout as sleep } from 'node:timers/promises';
import { collect, type Netns } from '../../testbed/netns.js';
import { freeze, thaw } from '../../testbed/cpu.js';
import { kernelTx } from '../../testbed/tap-stats.js';
import { cpuAtLine, cpuMark, cpuWindow, finish, kill, startRow, type Started } from '../start.js';
import type { Context, Row, Sample, Workload } from '../types.js';
import { lastJson, sinkTotal, SKIP_WARM, WARM_NOTE, warmUp } from './common.js';

/**
 * The TAP's queue while the receiver is frozen: the kernel keeps up to txqueuelen frames for
 * a reader that is not reading and drops the rest. 200,000 holds the whole burst (150,000 in
 * the full run) with room to spare, so what the receiver drains is every frame sent; 1000 (the
 * default, restored after) would keep under 1% of it.
 */
export const DEEP_QUEUE = 200_000;
/** The warm-up's pace with --work-ns: below the slowest receiver's rate with 2 µs of work (~350k/s). */
const WORK_WARM_PPS = 250_000;
const setQueue = (ns: Netns, len: number) => ns.run('ip', ['link', 'set', 'tap0', 'txqueuelen', String(len)]);

/**
 * The kernel dropped some of the burst, so the C and node readers will not reach their count:
 * once the TAP has handed over what it kept (its TX counter), the bench's "that was all"
 * ends them. (udp_sink ends by itself, 300 ms after its last frame.)
 */
async function endShort(ctx: Context, packets: number): Promise<void> {
  const until = Date.now() + 60_000;
  while (kernelTx(ctx.ns).packets < packets && Date.now() < until) await sleep(20);
  await collect(ctx.ns.spawn(ctx.bin.udp_flood, ['--dst=10.0.0.2', '--port=9999', '--count=1', '--size=64']));
}

export function drain(o: { id: string; title: string; short: string; workNs: number; rows: Row[] }): Workload {
  const work = [...(o.workNs ? [`--work-ns=${o.workNs}`] : []), SKIP_WARM];
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `after a warm-up (${WARM_NOTE}), the receiver (the tender's udp_sink.js, tap_reader, node-readsync${o.workNs ? `; each spending ~${o.workNs} ns of checksum per frame` : ''}) is frozen with SIGSTOP while udp_flood queues N × 1300-byte datagrams on the TAP (txqueuelen ${DEEP_QUEUE}), then thawed: frames / (last − first frame time) as the receiver saw them`,
    metric: { label: 'frames/s', better: 'higher' },
    rows: o.rows,
    columns: [{ head: 'TAP drops while frozen', key: 'fill_drops', format: 'int' }],
    async run(row: Row, ctx: Context): Promise<Sample> {
      const n = ctx.sizes.drainFrames;
      setQueue(ctx.ns, DEEP_QUEUE);
      let r: Started | undefined;
      try {
        r = await startRow(ctx, row, 'rx', {
          c: [`--count=${n}`, ...work],
          node: [`--count=${n}`, ...work],
          // --count: it ends on the last frame; --idle-ms only if the kernel lost some.
          guest: [`--count=${n}`, '--idle-ms=300', '--timeout=120', ...work],
        });
        // With per-frame work the receivers take ~350-500k frames/s: a flat-out warm-up would still
        // be queued, and then fill the TAP, when the drain starts.
        await warmUp(ctx, ctx.sizes.warmFrames, o.workNs ? WORK_WARM_PPS : 0);
        await freeze(r.pid);
        const mark0 = cpuMark(r.pid);
        const before = kernelTx(ctx.ns);
        const sent = lastJson((await collect(ctx.ns.spawn(ctx.bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', `--count=${n}`, '--seconds=60', '--size=1300']), 90_000)).stdout);
        const filled = kernelTx(ctx.ns);
        const drops = filled.dropped - before.dropped;
        const cpuEnd = row.kind === 'tender' ? cpuAtLine(r, /udp_sink: total/) : undefined;
        thaw(r.pid);
        if (drops > 0 && row.kind !== 'tender') await endShort(ctx, before.packets + sent.sent - drops);
        const mark1 = await cpuEnd;
        const f = await finish(r);
        const got = f.stats ? sinkTotal(f.stdout) : { frames: f.out!.frames, fps: f.out!.fps };
        const flags = drops > 0 ? [`the TAP dropped frames while the receiver was frozen`] : [];
        if (sent.sent < n) flags.push(`the sender sent only ${sent.sent} of ${n}`);
        return {
          value: got.fps, frames: got.frames, ...cpuWindow(mark0, mark1, f), stats: f.stats, flags,
          extra: { fill_drops: drops, sent: sent.sent },
        };
      } finally {
        kill(r);
        setQueue(ctx.ns, 1000);
      }
    },
  };
}
