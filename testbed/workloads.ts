// The workloads the demo, the bench and the tests share: ping_serve under a ping flood, and
// udp_sink under a UDP flood, each returning what the peer, the kernel and the tender saw.
import type { StatsReport } from '../host/report.js';
import { GUEST_MAC, collect, type Netns } from './netns.js';
import { kernelTx } from './tap-stats.js';
import { EXAMPLE, modeArgs, readStats, startTender, statsPath, waitForLine } from './tender.js';

export interface PingResult {
  mode: string;
  transmitted: number;
  received: number;
  lossPct: number;
  timeMs: number;
  echoesPerS: number;
  rtt: { min: number; avg: number; max: number };
  stats: StatsReport;
}

/**
 * How long ping waits for the last replies. Not `-W 1`: once anything has come back, ping waits
 * only two round trips after its last request (iputils' ping(8), -W), so an echo that a busy
 * machine held up a millisecond longer than the slowest before it was counted lost although the
 * tender had answered it (seen under a parallel flood: 1 of 500 "lost", in hybrid in a CI run and
 * in event mode by hand, the TAP's counters showing all 500 replies handed to the kernel). With -w ping waits until
 * every request is answered, or the deadline: a reply that never comes is still a loss.
 */
export const PING_UNTIL_ANSWERED = ['-w', '120'];

export function parsePing(text: string) {
  const sum = /(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss, time (\d+)ms/.exec(text);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(text);
  if (!sum || !rtt) throw new Error(`cannot read ping's summary: ${text}`);
  return {
    transmitted: Number(sum[1]), received: Number(sum[2]), lossPct: Number(sum[3]), timeMs: Number(sum[4]),
    rtt: { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) },
  };
}

/**
 * ping's command line against the guest (10.0.0.2), one place for the tests and the bench: a
 * flood (-f) unless `interval`; `preload` requests kept in flight (-l), so that the responder
 * meets bursts; `count` echoes (waiting up to PING_UNTIL_ANSWERED for the last), or for `seconds`.
 */
export function pingCommand(o: { count?: number; seconds?: number; size?: number; preload?: number; interval?: string }): string[] {
  if ((o.count === undefined) === (o.seconds === undefined)) throw new Error('pingCommand: give exactly one of count and seconds');
  return [
    ...(o.interval ? ['-i', o.interval] : ['-f']),
    ...(o.preload ? ['-l', String(o.preload)] : []),
    '-q',
    ...(o.count !== undefined ? ['-c', String(o.count), ...PING_UNTIL_ANSWERED] : ['-w', String(o.seconds)]),
    '-s', String(o.size ?? 56),
    '10.0.0.2',
  ];
}

/** The tender's ping_serve.js answering `count` echoes of pingCommand(opts). */
export async function pingFlood(ns: Netns, mode: string, count: number, opts: { size?: number; extra?: string[]; interval?: string; preload?: number } = {}): Promise<PingResult> {
  const stats = statsPath();
  const t = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...modeArgs(mode), `--stats-json=${stats}`, ...(opts.extra ?? []), EXAMPLE('ping_serve.js'), `--limit=${count}`]);
  const tender = collect(t, 600_000);
  await waitForLine(t, /ping_serve: answering/);
  const p = await collect(ns.spawn('ping', pingCommand({ count, size: opts.size, preload: opts.preload, interval: opts.interval })), 600_000);
  const r = await tender;
  if (r.code !== 0) throw new Error(`tender (${mode}) exited ${r.code}: ${r.stderr}`);
  const ping = parsePing(p.stdout);
  return { mode, ...ping, echoesPerS: ping.timeMs > 0 ? (ping.received * 1000) / ping.timeMs : 0, stats: readStats(stats) };
}

export interface FloodResult {
  sent: number;
  offeredPps: number;
  sink: number;
  delivered: number;
  kernelDropped: number;
  sinkSeconds: number;
  /** Frames per second the guest counted while traffic flowed. */
  sinkFps: number;
  stats: StatsReport;
}

/**
 * udp_sink under the tender while the C sender floods it from the namespace. `sink` is what the
 * guest counted, `delivered` what the kernel handed to the TAP, `kernelDropped` what it dropped
 * because the tender did not keep up.
 */
export async function udpFlood(ns: Netns, floodBin: string, mode: string, opts: { count: number; seconds: number; size?: number; pps?: number; extra?: string[]; sinkArgs?: string[] }): Promise<FloodResult> {
  const stats = statsPath();
  const before = kernelTx(ns);
  const t = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...modeArgs(mode), `--stats-json=${stats}`, ...(opts.extra ?? []), EXAMPLE('udp_sink.js'), `--timeout=${opts.seconds + 5}`, '--idle-ms=300', ...(opts.sinkArgs ?? [])]);
  const tender = collect(t, (opts.seconds + 30) * 1000);
  await waitForLine(t, /udp_sink: counting/);
  const flood = await collect(ns.spawn(floodBin, ['--dst=10.0.0.2', '--port=9000', `--count=${opts.count}`, `--seconds=${opts.seconds}`, `--size=${opts.size ?? 1300}`, `--pps=${opts.pps ?? 0}`]));
  const r = await tender;
  if (r.code !== 0) throw new Error(`tender (${mode}) exited ${r.code}: ${r.stderr}`);
  const after = kernelTx(ns);
  const total = /udp_sink: total (\d+) frames \d+ bytes in ([\d.]+) s \(active [\d.]+ s, (\d+) frames\/s/.exec(r.stdout);
  if (!total) throw new Error(`udp_sink printed no total: ${r.stdout}`);
  const f = JSON.parse(flood.stdout);
  return {
    sent: f.sent, offeredPps: f.pps, sink: Number(total[1]), sinkSeconds: Number(total[2]), sinkFps: Number(total[3]),
    delivered: after.packets - before.packets, kernelDropped: after.dropped - before.dropped, stats: readStats(stats),
  };
}
