// TX: the row sends 1300-byte UDP datagrams from the guest's address to a socket in the
// namespace (udp_count, recvmmsg); frames/s is what the kernel took from the TAP (its RX
// counters) per second of sending, and the socket's share is beside it.
import { collect } from '../../testbed/netns.js';
import { kernelRx } from '../../testbed/tap-stats.js';
import { cpuAtLine, cpuMark, cpuWindow, finish, kill, startRow, type Started } from '../start.js';
import type { Context, Row, Sample, Workload } from '../types.js';
import { lastJson } from './common.js';

export function tx(o: { id: string; title: string; short: string; batch: number; rows: Row[] }): Workload {
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `the row sends N × 1300-byte datagrams to udp_count in the namespace (the tender's udp_blast.js with ${o.batch === 1 ? 'net_write per frame' : `net_queue + net_flush per ${o.batch}`}; tap_writer; node-readsync --tx): frames the kernel received on the TAP per second of sending`,
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
        r = await startRow(ctx, row, 'tx', {
          c: [`--count=${n}`, '--size=1300', `--dst-mac=${ctx.ns.mac(0)}`],
          node: [`--count=${n}`, '--size=1300', `--dst-mac=${ctx.ns.mac(0)}`],
          guest: ['--dst=10.0.0.1:9000', `--count=${n}`, '--size=1300', `--batch=${o.batch}`],
        });
        const mark0 = cpuMark(r.pid); // it is sending already: a millisecond of it is not charged
        const cpuEnd = row.kind === 'tender' ? cpuAtLine(r, /udp_blast: sent/) : undefined;
        const mark1 = await cpuEnd;
        const f = await finish(r);
        const seconds = f.stats ? Number(/sent \d+ frames in ([\d.]+) s/.exec(f.stdout)![1]) : f.out!.seconds;
        const kernel = kernelRx(ctx.ns).packets - before.packets;
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
