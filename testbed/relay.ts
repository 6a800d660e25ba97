// The relay workload (issue 14), for the bench and the tests: iperf3 TCP from one namespace
// to another through a relay between two TAPs: the C relay (testbed/c/tap_relay.c) or
// `tender ... examples/firewall.js`, with or without virtio-net offloads.
//
//   client A (10.0.0.1) -- veth -- br0 -- tap0 [relay] tap1 -- br1 -- veth -- server B (10.0.0.3)
//
// The relay's namespace T holds both TAPs, each bridged to a veth whose other end is in A or B.
// Traffic goes only to addresses inside these namespaces; every run is bounded in time.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { collect, netnsHandle, onCpus, type Netns } from './netns.js';
import { EXAMPLE, modeArgs, readStats, startTender, statsPath, waitForLine } from './tender.js';

export const CLIENT_IP = '10.0.0.1';
export const SERVER_IP = '10.0.0.3';
export const IPERF_PORT = 5201;

export interface RelayTopology {
  /** The relay's namespace (tap0, tap1, br0, br1), the client's and the server's. */
  relay: Netns;
  client: Netns;
  server: Netns;
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
let made = 0;

/** Makes the three namespaces; `tag` (a few characters) keeps concurrent users apart. */
export function relayTopology(tag = `rl${process.pid}x${made++}`): RelayTopology {
  const [T, A, B] = ['t', 'a', 'b'].map((x) => `${tag}${x}`);
  const destroy = () => {
    for (const n of [T, A, B]) {
      try {
        ip('netns', 'del', n);
      } catch {
        /* not made, or already gone */
      }
    }
  };
  try {
    for (const n of [T, A, B]) (ip('netns', 'add', n), ip('-n', n, 'link', 'set', 'lo', 'up'));
    for (const [tap, br, veth, peerNs, addr] of [['tap0', 'br0', 'va', A, `${CLIENT_IP}/24`], ['tap1', 'br1', 'vb', B, `${SERVER_IP}/24`]]) {
      ip('-n', T, 'tuntap', 'add', 'dev', tap, 'mode', 'tap');
      ip('-n', T, 'link', 'add', br, 'type', 'bridge');
      ip('-n', T, 'link', 'add', `${veth}0`, 'type', 'veth', 'peer', 'name', `${veth}1`, 'netns', peerNs);
      for (const l of [tap, `${veth}0`]) ip('-n', T, 'link', 'set', l, 'master', br);
      for (const l of [tap, br, `${veth}0`]) ip('-n', T, 'link', 'set', l, 'up');
      ip('netns', 'exec', peerNs, 'sysctl', '-qw', `net.ipv6.conf.${veth}1.disable_ipv6=1`);
      ip('-n', peerNs, 'addr', 'add', addr, 'dev', `${veth}1`);
      ip('-n', peerNs, 'link', 'set', `${veth}1`, 'up');
    }
    for (const br of ['br0', 'br1']) ip('netns', 'exec', T, 'sysctl', '-qw', `net.ipv6.conf.${br}.disable_ipv6=1`);
  } catch (err) {
    destroy();
    throw err;
  }
  return { relay: netnsHandle(T, ['tap0', 'tap1']), client: netnsHandle(A), server: netnsHandle(B), destroy };
}

export interface RelayOptions {
  /** 'c': testbed/c/tap_relay; otherwise the tender in this mode running examples/firewall.js. */
  relay: 'c' | 'baseline' | 'poll' | 'event' | 'hybrid';
  offload: boolean;
  /** iperf3 -P */
  streams: number;
  /** iperf3 -t */
  seconds: number;
  /**
   * iperf3 -O: seconds run first and left out of gbps (TCP's slow start, and the relay's start-up:
   * a JIT compiling its hot loops). Default 0.
   */
  omit?: number;
  /** Path of the built tap_relay (testbed/c/build.ts); needed for relay 'c'. */
  tapRelay?: string;
  /** relay 'c': batch its reads and writes through io_uring (tap_relay --loop=uring). */
  uring?: boolean;
  /** More tender options (e.g. --ring-slots=128). */
  tenderArgs?: string[];
  /** Another tender build's host/cli.js, to compare two builds run by run; default this checkout's dist. */
  tender?: string;
  /**
   * CPU lists (taskset -c) for the relay process, all its threads, and for both iperf3s: the
   * relay on a core of its own, the traffic on the other. Unset (either): wherever the scheduler puts them.
   */
  cpus?: { relay?: string; traffic?: string };
}

export interface RelayResult {
  /** What iperf3's receiver got, in Gbit/s (after the omitted start). */
  gbps: number;
  /** Gbit the sender sent over the whole run, the omitted start included: what the relay's CPU moved. */
  gbitAll: number;
  /** Frames the relay took in (both directions: data and ACKs). */
  frames: number;
  avgFrameBytes: number;
  /** Notifications per frame (tender); null for the C relay, which has none to count. */
  notificationsPerFrame: number | null;
  /** CPU seconds of the relay process (all its threads). */
  cpuSeconds: number;
  maxFrame: number;
  retransmits: number;
  /** The relay's own report: the tender's stats JSON or the C relay's line. */
  raw: unknown;
}

/** iperf3 buffers its stdout on a pipe, so readiness is read from the socket table. */
async function listening(ns: Netns, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ns.run('ss', ['-Hltn', `sport = :${port}`]).trim()) {
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} in ${ns.name}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);

async function stop(child: ChildProcess, done: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await done;
}

/** Runs iperf3 through a fresh relay on `topo` and returns what it measured. */
export async function runRelay(topo: RelayTopology, o: RelayOptions): Promise<RelayResult> {
  const stats = statsPath();
  let relay: ChildProcess;
  if (o.relay === 'c') {
    if (!o.tapRelay) throw new Error('runRelay: the C relay needs tapRelay (testbed/c/build.ts)');
    relay = topo.relay.spawn(...onCpus(o.cpus?.relay, o.tapRelay, ['--a=tap0', '--b=tap1', ...(o.offload ? ['--offload'] : []), ...(o.uring ? ['--loop=uring'] : [])]));
  } else {
    relay = startTender(topo.relay, [
      '--net:service=tap0', '--net:backend=tap1', ...modeArgs(o.relay), ...(o.offload ? ['--offload'] : []),
      `--stats-json=${stats}`, ...(o.tenderArgs ?? []), EXAMPLE('firewall.js'), `--allow=${IPERF_PORT}`,
    ], o.cpus?.relay, o.tender);
  }
  const relayDone = collect(relay, (o.seconds + 60) * 1000);
  const server = topo.server.spawn(...onCpus(o.cpus?.traffic, 'iperf3', ['-s', '-1', '-B', SERVER_IP, '-p', String(IPERF_PORT)]));
  const serverDone = collect(server, (o.seconds + 60) * 1000);
  try {
    await Promise.all([
      // A relay that exits first (a TAP still busy, say) is an error, not a wait with no end.
      waitForLine(relay, o.relay === 'c' ? /"ready":true/ : /firewall: service <-> backend/),
      listening(topo.server, IPERF_PORT, 10_000),
    ]);
    const client = await collect(topo.client.spawn(...onCpus(o.cpus?.traffic, 'iperf3', ['-c', SERVER_IP, '-p', String(IPERF_PORT), '-P', String(o.streams), '-t', String(o.seconds), '-O', String(o.omit ?? 0), '-J'])), (o.seconds + 30) * 1000);
    const report = JSON.parse(client.stdout);
    if (report.error) throw new Error(`iperf3: ${report.error}`);
    await stop(relay, relayDone);
    const r = await relayDone;
    const end = report.end;
    const gbps = end.sum_received.bits_per_second / 1e9;
    const gbitAll = (report.intervals as { sum: { bytes: number } }[]).reduce((a, i) => a + i.sum.bytes, 0) * 8e-9;
    const retransmits = end.sum_sent.retransmits ?? 0;
    if (o.relay === 'c') {
      const c = lastJson(r.stdout);
      return { gbps, gbitAll, frames: c.frames, avgFrameBytes: c.frames ? c.bytes / c.frames : 0, notificationsPerFrame: null, cpuSeconds: c.cpu_s, maxFrame: c.max_frame, retransmits, raw: c };
    }
    const s = readStats(stats);
    const frames = s.nics.reduce((a: number, n: any) => a + n.rx_frames, 0);
    const bytes = s.nics.reduce((a: number, n: any) => a + n.rx_bytes, 0);
    return {
      gbps, gbitAll, frames, avgFrameBytes: frames ? bytes / frames : 0, notificationsPerFrame: s.notifications.per_frame,
      cpuSeconds: s.cpu_s.process, maxFrame: Math.max(...s.nics.map((n: any) => n.rx_max)), retransmits, raw: s,
    };
  } finally {
    await stop(relay, relayDone);
    await stop(server, serverDone);
  }
}
