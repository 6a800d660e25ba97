// examples/firewall.js between two namespaces: client (10.0.0.1) -- br0 -- tap0 [tender] tap1 -- br1 -- server (10.0.0.3).
// The tender's namespace holds both TAPs, each bridged to a veth whose other end is in a host namespace.
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { collect, DEV, skipReal } from '../testbed/netns.js';
import type { RelayTopology } from '../testbed/relay.js';
import { EXAMPLE, modeArgs, readStats, startTender, statsPath, waitForLine } from '../testbed/tender.js';
import { killAfterEach, relayPerSuite } from './harness/suite.js';

describe.skipIf(skipReal())('examples/firewall.js: a guest forwarding between two NICs', () => {
  let topo: RelayTopology;
  relayPerSuite((t) => (topo = t));
  let tender: ChildProcess | null = null;
  killAfterEach(() => tender);

  for (const mode of ['baseline', 'poll', 'event', 'hybrid']) {
    it(`${mode}: passes ping and UDP to an allowed port, drops UDP to another, counts it`, async () => {
      const stats = statsPath();
      const t = (tender = startTender(topo.relay, ['--net:service=tap0', '--net:backend=tap1', ...modeArgs(mode), `--stats-json=${stats}`, EXAMPLE('firewall.js'), '--allow=9000', '--seconds=4']));
      const run = collect(t, 30_000);
      await waitForLine(t, /firewall: service <-> backend/);
      const ping = await collect(topo.client.spawn('ping', ['-w', '30', '-c', '20', '-i', '0.02', '10.0.0.3']));
      expect(ping.stdout).toMatch(/20 received, 0% packet loss/);
      const open = collect(topo.server.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--recv', '--addr=10.0.0.3', '--port=9000', '--count=50', '--timeout-ms=2500']));
      const shut = collect(topo.server.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--recv', '--addr=10.0.0.3', '--port=9001', '--count=50', '--timeout-ms=2500']));
      await new Promise((r) => setTimeout(r, 300));
      for (const port of ['9000', '9001']) {
        await collect(topo.client.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--send', '--dst=10.0.0.3', `--port=${port}`, '--count=50', '--size=200']));
      }
      const last = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
      expect(last((await open).stdout).received).toBe(50);
      expect(last((await shut).stdout).received).toBe(0);
      const r = await run;
      expect(r.code).toBe(0);
      const m = /passed (\d+) from service, (\d+) from backend, dropped (\d+)/.exec(r.stdout)!;
      expect(Number(m[1])).toBeGreaterThanOrEqual(20 + 50); // echo requests and the allowed datagrams
      expect(Number(m[2])).toBeGreaterThanOrEqual(20); // echo replies
      expect(Number(m[3])).toBeGreaterThanOrEqual(50); // the datagrams to 9001
      const s = readStats(stats);
      expect(s.nics.map((n: any) => n.name)).toEqual(['service', 'backend']);
    });
  }

  /** firewall.js with `args`, pinned to `cpus` if given, under pings and 300 allowed datagrams; its stats. */
  async function relayRun(args: string[], cpus?: string) {
    const stats = statsPath();
    const t = (tender = startTender(topo.relay, ['--net:service=tap0', '--net:backend=tap1', '--shm=hybrid', ...args, `--stats-json=${stats}`, EXAMPLE('firewall.js'), '--allow=9000', '--seconds=3'], cpus));
    const run = collect(t, 30_000);
    await waitForLine(t, /firewall: service <-> backend/);
    const sink = collect(topo.server.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--recv', '--addr=10.0.0.3', '--port=9000', '--count=300', '--timeout-ms=2000']));
    const ping = await collect(topo.client.spawn('ping', ['-w', '20', '-c', '10', '-i', '0.02', '10.0.0.3']));
    expect(ping.stdout).toMatch(/10 received, 0% packet loss/);
    await collect(topo.client.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--send', '--dst=10.0.0.3', '--port=9000', '--count=300', '--size=200']));
    expect(JSON.parse((await sink).stdout.trim().split('\n').pop()!).received).toBe(300);
    expect((await run).code).toBe(0);
    return readStats(stats);
  }

  // docs/tuning.md, "A TCP relay: the pipeline": a guest that forwards between NICs without
  // offloads leaves the IO token to the IO thread, which moves every frame while the guest
  // filters; on one CPU, with offloads, or with the token's other settings it keeps the token.
  it.skipIf(availableParallelism() < 2)('hybrid (--io-token=auto) on two CPUs: a relay without offloads leaves every frame to the IO thread', async () => {
    const s = await relayRun([]);
    expect(s.serviced.relay_pipeline).toBe(1);
    const moved = s.serviced.io.rx_frames + s.serviced.guest.rx_frames;
    expect(moved).toBeGreaterThanOrEqual(20 + 300);
    // Only what came before the first forward (the first ping, an ARP exchange) is the guest's.
    expect(s.serviced.guest.rx_frames).toBeLessThanOrEqual(4);
    expect(s.serviced.guest.tx_frames).toBeLessThanOrEqual(4);
  }, 40_000);

  for (const [why, args, cpus] of [['on one CPU', [], '0'], ['with --offload', ['--offload'], undefined], ['with --io-token=on', ['--io-token=on'], undefined]] as const) {
    it(`hybrid ${why}: the relay keeps the token (no pipeline)`, async () => {
      const s = await relayRun([...args], cpus);
      expect(s.serviced.relay_pipeline).toBe(0);
    }, 40_000);
  }
});
