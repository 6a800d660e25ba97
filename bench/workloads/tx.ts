// TX: the row sends 1300-byte UDP datagrams from the guest's address to a socket in the
// namespace (udp_count, recvmmsg); frames/s is what the kernel took from the TAP (its RX
// counters) per second of sending, and the socket's share is beside it. Every sender first
// sends sizes.warmFrames to WARM_PORT (closed in the namespace), untimed, by the loop it is
// then timed with, as the RX receivers read theirs: the same start for a JIT and for C.
import { collect } from '../../testbed/netns.js';
import { kernelRx } from '../../testbed/tap-stats.js';
import { cpuAtLine, cpuMark, cpuWindow, finish, kill, startRow, type Started } from '../start.js';
import type { Context, Row, Sample, Workload } from '../types.js';
import { lastJson, WARM_PORT } from './common.js';

export function tx(o: { id: string; title: string; short: string; batch: number; rows: Row[] }): Workload {
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `after a warm-up (the run's warmFrames datagrams to port ${WARM_PORT}, closed, sent by the same loop and not timed), the row sends N × 1300-byte datagrams to udp_count in the namespace (the tender's udp_blast.js with ${o.batch === 1 ? 'net_write per frame' : `net_queue + net_flush per ${o.batch}`}; tap_writer; node-readsync --tx): frames the kernel received on the TAP per second of sending`,
    metric: { label: 'frames/s', better: 'higher' },
    rows: o.rows,
    columns: [{ head: 'socket got', key: 'socket_pct', format: 'pct' }],
    async run(row: Row, ctx: Context): Promise<Sample> {
      const n = ctx.sizes.txCount;
      const counter = ctx.ns.spawn(ctx.bin.udp_count, ['--port=9000', `--count=${n}`, '--idle-ms=700']);
      const counted = collect(counter, 120_000);
      let r: Started | undefined;
      try {
        await new Promise<void>((res) => counter.stdout!.once('data', () => res()));
        const before = kernelRx(ctx.ns);
        const warm = ctx.sizes.warmFrames;
        const warmArgs = warm > 0 ? [`--warm=${warm}`, `--warm-port=${WARM_PORT}`] : [];
        r = await startRow(ctx, row, 'tx', {
          c: [`--count=${n}`, '--size=1300', `--dst-mac=${ctx.ns.mac(0)}`, ...warmArgs],
          node: [`--count=${n}`, '--size=1300', `--dst-mac=${ctx.ns.mac(0)}`, ...warmArgs],
          guest: ['--dst=10.0.0.1:9000', `--count=${n}`, '--size=1300', `--batch=${o.batch}`, ...warmArgs],
        }, undefined, warm > 0 ? /warmed/ : undefined);
        const mark0 = cpuMark(r.pid); // it is sending already: a millisecond of it is not charged
        const cpuEnd = row.kind === 'tender' ? cpuAtLine(r, /udp_blast: sent/) : undefined;
        const mark1 = await cpuEnd;
        const f = await finish(r);
        const seconds = f.stats ? Number(/sent \d+ frames in ([\d.]+) s/.exec(f.stdout)![1]) : f.out!.seconds;
        // The warm-up's frames went through the TAP too; the kernel counts each frame written.
        const kernel = kernelRx(ctx.ns).packets - before.packets - warm;
        const sock = lastJson((await counted).stdout);
        return {
          value: kernel / seconds, frames: kernel, ...cpuWindow(mark0, mark1, f), stats: f.stats,
          extra: { kernel_frames: kernel, socket_received: sock.received, socket_pct: (100 * sock.received) / n },
        };
      } finally {
        kill(r);
        counter.kill();
      }
    },
  };
}
