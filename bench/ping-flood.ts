// Runs ping_serve under the tender in one mode while `ping -f` floods it from the
// namespace, and returns what ping and the tender's stats say. Used by the demo and the bench.
import { collect, type Netns } from '../test/helpers/netns.js';
import { EXAMPLE, modeArgs, readStats, startTender, statsPath, waitForLine } from '../test/helpers/tender.js';

export interface PingResult {
  mode: string;
  transmitted: number;
  received: number;
  lossPct: number;
  timeMs: number;
  echoesPerS: number;
  rtt: { min: number; avg: number; max: number };
  stats: any;
}

export function parsePing(text: string) {
  const sum = /(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss, time (\d+)ms/.exec(text);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(text);
  if (!sum || !rtt) throw new Error(`cannot read ping's summary: ${text}`);
  return {
    transmitted: Number(sum[1]), received: Number(sum[2]), lossPct: Number(sum[3]), timeMs: Number(sum[4]),
    rtt: { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]) },
  };
}

export async function pingFlood(ns: Netns, mode: string, count: number, opts: { size?: number; extra?: string[]; interval?: string } = {}): Promise<PingResult> {
  const stats = statsPath();
  const t = startTender(ns, ['--net=tap0', '--net-mac=02:00:00:00:00:02', ...modeArgs(mode), `--stats-json=${stats}`, ...(opts.extra ?? []), EXAMPLE('ping_serve.js'), `--limit=${count}`]);
  const tender = collect(t, 600_000);
  await waitForLine(t, /ping_serve: answering/);
  const pingArgs = opts.interval ? ['-i', opts.interval] : ['-f'];
  const p = await collect(ns.spawn('ping', [...pingArgs, '-q', '-c', String(count), '-s', String(opts.size ?? 56), '-W', '1', '10.0.0.2']), 600_000);
  const r = await tender;
  if (r.code !== 0) throw new Error(`tender (${mode}) exited ${r.code}: ${r.stderr}`);
  const ping = parsePing(p.stdout);
  return { mode, ...ping, echoesPerS: ping.timeMs > 0 ? (ping.received * 1000) / ping.timeMs : 0, stats: readStats(stats) };
}
