// One measurement of one row (limit, baseline, poll, event, hybrid, node-readsync) on one
// workload. Everything runs in the bench's namespace; the tender rows use the example guests.
import type { ChildProcess } from 'node:child_process';
import { collect, DEV, sleep, type Netns } from '../testbed/netns.js';
import { EXAMPLE, modeArgs, readStats, startTender, statsPath, waitForLine } from '../testbed/tender.js';
import { kernelRx } from '../testbed/tap-stats.js';
import { pingFlood, parsePing, udpFlood } from '../testbed/workloads.js';

export const ROWS = ['limit', 'baseline', 'poll', 'event', 'hybrid', 'node-readsync'] as const;
export type RowName = (typeof ROWS)[number];

export interface Sample {
  fps: number; // frames/s: received (RX), sent as the kernel counted (TX), echoes (ping)
  notes?: { traps: number; kicks: number; interrupts: number; per_frame: number };
  cpu: { tender?: number; io?: number; guest?: number; process: number };
  frames: number;
  extra: Record<string, number>;
}

export interface Sizes {
  /** Extra tender options for every tender row (`--tender=--pcap=FILE` measures what capture costs). */
  tenderArgs?: string[];
  rxCount: number;
  rxSeconds: number;
  txCount: number;
  pingCount: number;
}

const GUEST_MAC = '02:00:00:00:00:02';
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
const waitReady = (c: ChildProcess) => new Promise<void>((r) => c.stdout!.once('data', () => r()));

function tenderSample(fps: number, stats: any, frames: number, extra: Record<string, number>): Sample {
  const n = stats.notifications;
  return {
    fps, frames, extra,
    notes: { traps: n.traps, kicks: n.kicks, interrupts: n.interrupts, per_frame: n.per_frame },
    cpu: { tender: stats.cpu_s.tender, io: stats.cpu_s.io, guest: stats.cpu_s.guest, process: stats.cpu_s.process },
  };
}

/** RX as receiver: the C sender floods 1300-byte datagrams at the guest. */
export async function rx(ns: Netns, bin: Record<string, string>, row: RowName, size: Sizes, workNs: number): Promise<Sample> {
  const flood = ['--dst=10.0.0.2', '--port=9000', `--count=${size.rxCount}`, `--seconds=${size.rxSeconds}`, '--size=1300'];
  if (row === 'limit' || row === 'node-readsync') {
    const reader = row === 'limit'
      ? ns.spawn(bin.tap_reader, ['--tap=tap0', `--count=${size.rxCount}`, '--idle-ms=500'])
      : ns.spawn('node', [`${DEV}bench/node-readsync.js`, '--rx', `--count=${size.rxCount}`, `--work-ns=${workNs}`]);
    const done = collect(reader, 120_000);
    await waitReady(reader);
    const sent = lastJson((await collect(ns.spawn(bin.udp_flood, flood))).stdout);
    await sleep(200); // let the reader drain what the kernel queued, then tell it that was all
    await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9999', '--count=1', '--size=64']));
    const r = lastJson((await done).stdout);
    return { fps: r.fps, frames: r.frames, cpu: { process: r.cpu_s }, extra: { offered_pps: sent.pps, gbps: (r.fps * 1300 * 8) / 1e9 } };
  }
  const f = await udpFlood(ns, bin.udp_flood, row, { count: size.rxCount, seconds: size.rxSeconds, extra: size.tenderArgs, sinkArgs: workNs ? [`--work-ns=${workNs}`] : [] });
  return tenderSample(f.sinkFps, f.stats, f.sink, { offered_pps: f.offeredPps, gbps: (f.sinkFps * 1300 * 8) / 1e9, kernel_drops: f.kernelDropped });
}

/** TX as sender: 1300-byte datagrams to a socket in the namespace; the kernel's TAP counters give the rate. */
export async function tx(ns: Netns, bin: Record<string, string>, row: RowName, size: Sizes, batch: number): Promise<Sample> {
  const counter = ns.spawn(bin.udp_count, ['--port=9000', `--count=${size.txCount}`, '--idle-ms=700']);
  const counted = collect(counter, 120_000);
  await waitReady(counter);
  const before = kernelRx(ns);
  let seconds: number;
  let sample: Omit<Sample, 'fps' | 'extra'>;
  if (row === 'limit' || row === 'node-readsync') {
    const args = row === 'limit'
      ? [bin.tap_writer, ['--tap=tap0', `--count=${size.txCount}`, '--size=1300', `--dst-mac=${ns.mac(0)}`, `--src-mac=${GUEST_MAC}`]]
      : ['node', [`${DEV}bench/node-readsync.js`, '--tx', `--count=${size.txCount}`, '--size=1300', `--dst-mac=${ns.mac(0)}`]];
    const r = lastJson((await collect(ns.spawn(args[0] as string, args[1] as string[]), 120_000)).stdout);
    seconds = r.seconds;
    sample = { frames: r.frames, cpu: { process: r.cpu_s } };
  } else {
    const stats = statsPath();
    const r = await collect(startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...modeArgs(row), `--stats-json=${stats}`, ...(size.tenderArgs ?? []), EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9000', `--count=${size.txCount}`, '--size=1300', `--batch=${batch}`]), 120_000);
    if (r.code !== 0) throw new Error(`tender ${row} exited ${r.code}: ${r.stderr}`);
    seconds = Number(/sent \d+ frames in ([\d.]+) s/.exec(r.stdout)![1]);
    const s = readStats(stats);
    sample = tenderSample(0, s, s.nics[0].tx_frames, {});
  }
  const kernel = kernelRx(ns).packets - before.packets;
  const sock = lastJson((await counted).stdout);
  return { ...sample, fps: kernel / seconds, extra: { kernel_frames: kernel, socket_received: sock.received, socket_ratio: sock.received / size.txCount } };
}

/** Ping flood: ping -f against ping_serve (or the C / node-readsync responders). */
export async function ping(ns: Netns, bin: Record<string, string>, row: RowName, size: Sizes, payload: number): Promise<Sample> {
  if (row === 'limit' || row === 'node-readsync') {
    const responder = row === 'limit'
      ? ns.spawn(bin.tap_echo, ['--tap=tap0', `--count=${size.pingCount}`])
      : ns.spawn('node', [`${DEV}bench/node-readsync.js`, '--echo', `--count=${size.pingCount}`]);
    const done = collect(responder, 300_000);
    await waitReady(responder);
    const p = parsePing((await collect(ns.spawn('ping', ['-f', '-q', '-c', String(size.pingCount), '-s', String(payload), '-W', '1', '10.0.0.2']), 300_000)).stdout);
    const r = lastJson((await done).stdout);
    const eps = (p.received * 1000) / p.timeMs;
    return { fps: eps, frames: 2 * p.received, cpu: { process: r.cpu_s }, extra: { rtt_min: p.rtt.min, rtt_avg: p.rtt.avg, rtt_max: p.rtt.max, loss_pct: p.lossPct } };
  }
  const r = await pingFlood(ns, row, size.pingCount, { size: payload, extra: size.tenderArgs });
  return tenderSample(r.echoesPerS, r.stats, r.stats.nics[0].rx_frames + r.stats.nics[0].tx_frames, { rtt_min: r.rtt.min, rtt_avg: r.rtt.avg, rtt_max: r.rtt.max, loss_pct: r.lossPct });
}

