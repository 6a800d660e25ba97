// virtio-net offloads (issue 14) on real TAPs: TCP through firewall.js byte-exact with 64 KiB
// super-frames, the header's checksum flags against the kernel, the examples with --offload,
// and a TAP a previous program left with offloads on.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRelay, SERVER_IP, type RelayTopology } from '../testbed/relay.js';
import { GUEST_MAC, collect, DEV, netnsHandle, skipReal, type Netns } from '../testbed/netns.js';
import { EXAMPLE, FIXTURE, modeArgs, readStats, runTender, startTender, statsPath, waitForLine } from '../testbed/tender.js';
import { killAfterEach, netnsPerSuite, relayPerSuite } from './harness/suite.js';

const MODES = ['baseline', 'poll', 'event', 'hybrid'] as const;
const MAX_MTU_FRAME = 1514; // what a 1500-byte MTU allows on these links (no VLAN)
const STREAM_PORT = 5001;
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
const ethtoolTso = (ns: Netns, dev: string) => /^tcp-segmentation-offload: (on|off)/m.exec(ns.run('ethtool', ['-k', dev]))![1];

describe.skipIf(skipReal())('offloads: TCP through examples/firewall.js', () => {
  let topo: RelayTopology;
  let tender: ChildProcess | null = null;
  relayPerSuite((t) => (topo = t), `of${process.pid}`);
  killAfterEach(() => tender);

  /** Runs firewall.js, sends `bytes` of random data client -> server over TCP, stops the tender (SIGTERM). */
  async function stream(mode: string, extra: string[], bytes: number) {
    const stats = statsPath();
    const t = (tender = startTender(topo.relay, ['--net:service=tap0', '--net:backend=tap1', ...modeArgs(mode), ...extra, `--stats-json=${stats}`, EXAMPLE('firewall.js'), `--allow=${STREAM_PORT},9000`]));
    const run = collect(t, 120_000);
    await waitForLine(t, /firewall: service <-> backend/);
    const recv = topo.server.spawn('node', [`${DEV}test/harness/tcp-stream.js`, '--recv', `--addr=${SERVER_IP}`, `--port=${STREAM_PORT}`, '--timeout-ms=60000']);
    const received = collect(recv, 70_000);
    await new Promise<void>((r) => recv.stdout!.once('data', () => r()));
    const sent = lastJson((await collect(topo.client.spawn('node', [`${DEV}test/harness/tcp-stream.js`, '--send', `--dst=${SERVER_IP}`, `--port=${STREAM_PORT}`, `--bytes=${bytes}`]), 70_000)).stdout);
    const got = lastJson((await received).stdout);
    t.kill('SIGTERM');
    const r = await run;
    return { sent, got, code: r.code, stderr: r.stderr, stats: readStats(stats) };
  }

  for (const mode of MODES) {
    it(`${mode} --offload: 64 MiB arrive byte-exact (SHA-256), carried in GSO super-frames over the MTU that are counted`, async () => {
      const r = await stream(mode, ['--offload'], 64 << 20);
      expect(r.got.error).toBeUndefined();
      expect(r.got.bytes).toBe(64 << 20);
      expect(r.got.sha256).toBe(r.sent.sha256);
      expect(r.code, r.stderr).toBe(143); // stopped by us, stats written
      const [service, backend] = r.stats.nics;
      for (const n of r.stats.nics) expect(n.offloads).toEqual(expect.arrayContaining(['csum', 'tso4', 'tso6']));
      // 64 KiB slots: rings of 64 by default (cli-options.ts, defaultRingSlots); the baseline has none.
      for (const n of r.stats.nics) expect(n.ring_slots).toBe(mode === 'baseline' ? 0 : 64);
      // Data enters on service as super-frames and leaves on backend as they came.
      expect(service.rx_gso).toBeGreaterThan(0);
      expect(service.rx_max).toBeGreaterThan(MAX_MTU_FRAME);
      expect(service.rx_bytes / service.rx_frames).toBeGreaterThan(MAX_MTU_FRAME);
      expect(backend.tx_gso).toBe(service.rx_gso);
      expect(backend.tx_max).toBe(service.rx_max);
      expect(service.rx_bad + backend.rx_bad + service.tx_drops + backend.tx_drops).toBe(0);
    }, 120_000);
  }

  it('hybrid without --offload: the same stream byte-exact, every frame within the MTU, no header', async () => {
    const r = await stream('hybrid', [], 16 << 20);
    expect(r.got.sha256).toBe(r.sent.sha256);
    expect(r.got.bytes).toBe(16 << 20);
    for (const n of r.stats.nics) {
      expect(n.offloads).toEqual([]);
      expect(n.ring_slots).toBe(512);
      expect(n.rx_gso + n.tx_gso).toBe(0);
      expect(n.rx_max).toBeLessThanOrEqual(MAX_MTU_FRAME);
      expect(n.rx_bad).toBe(0);
    }
  }, 120_000);

  it('offloads on one side only: frames cross both ways (copied, checksums finished by the guest API), super-frames are refused and counted', async () => {
    const stats = statsPath();
    const t = (tender = startTender(topo.relay, ['--net:service=tap0', '--net:backend=tap1', '--shm=hybrid', '--offload:service', `--stats-json=${stats}`, EXAMPLE('firewall.js'), `--allow=${STREAM_PORT}`, '--seconds=4']));
    const run = collect(t, 30_000);
    await waitForLine(t, /firewall: service <-> backend/);
    const ping = await collect(topo.client.spawn('ping', ['-w', '30', '-c', '10', '-i', '0.02', '-s', '1400', SERVER_IP]));
    expect(ping.stdout).toMatch(/10 received, 0% packet loss/);
    const recv = topo.server.spawn('node', [`${DEV}test/harness/tcp-stream.js`, '--recv', `--addr=${SERVER_IP}`, `--port=${STREAM_PORT}`, '--timeout-ms=2000']);
    const received = collect(recv, 10_000);
    await new Promise<void>((r) => recv.stdout!.once('data', () => r()));
    await collect(topo.client.spawn('node', [`${DEV}test/harness/tcp-stream.js`, '--send', `--dst=${SERVER_IP}`, `--port=${STREAM_PORT}`, `--bytes=${4 << 20}`]), 5_000);
    await received;
    const r = await run;
    expect(r.code).toBe(0);
    const refused = Number(/refused (\d+)/.exec(r.stdout)![1]);
    const s = readStats(stats);
    expect(s.nics[0].offloads).toContain('tso4');
    expect(s.nics[1].offloads).toEqual([]);
    expect(s.nics.map((n) => n.ring_slots)).toEqual([64, 512]); // by each NIC's own slot size
    expect(refused).toBeGreaterThan(0); // the super-frames a NIC without offloads cannot take
    expect(refused).toBeLessThanOrEqual(s.nics[0].rx_gso);
    expect(s.nics[1].tx_max).toBeLessThanOrEqual(MAX_MTU_FRAME);
  }, 60_000);

  it('iperf3 -P 3 through hybrid --offload completes, in super-frames (testbed/relay.ts)', async () => {
    const r = await runRelay(topo, { relay: 'hybrid', offload: true, streams: 3, seconds: 2 });
    expect(r.gbps).toBeGreaterThan(0);
    expect(r.maxFrame).toBeGreaterThan(MAX_MTU_FRAME);
    expect(r.avgFrameBytes).toBeGreaterThan(0);
    expect(r.notificationsPerFrame).not.toBeNull();
  }, 60_000);

  it('a TAP left with offloads on by a previous run still works without --offload (ping, UDP, TCP)', async () => {
    // A first run with --offload leaves both TAPs with checksum offload and TSO on.
    const first = await stream('hybrid', ['--offload'], 1 << 20);
    expect(first.got.sha256).toBe(first.sent.sha256);
    expect(ethtoolTso(topo.relay, 'tap0')).toBe('on');
    expect(ethtoolTso(topo.relay, 'tap1')).toBe('on');
    // The second, without, clears them at attach and forwards as before.
    const stats = statsPath();
    const t = (tender = startTender(topo.relay, ['--net:service=tap0', '--net:backend=tap1', '--shm=hybrid', `--stats-json=${stats}`, EXAMPLE('firewall.js'), `--allow=${STREAM_PORT},9000`]));
    const run = collect(t, 60_000);
    await waitForLine(t, /firewall: service <-> backend/);
    expect(ethtoolTso(topo.relay, 'tap0')).toBe('off');
    expect(ethtoolTso(topo.relay, 'tap1')).toBe('off');
    const ping = await collect(topo.client.spawn('ping', ['-w', '30', '-c', '20', '-i', '0.02', SERVER_IP]));
    expect(ping.stdout).toMatch(/20 received, 0% packet loss/);
    const udp = collect(topo.server.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--recv', `--addr=${SERVER_IP}`, '--port=9000', '--count=200', '--timeout-ms=5000']));
    await new Promise((r) => setTimeout(r, 300));
    await collect(topo.client.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--send', `--dst=${SERVER_IP}`, '--port=9000', '--count=200', '--size=1400']));
    expect(lastJson((await udp).stdout).received).toBe(200);
    const recv = topo.server.spawn('node', [`${DEV}test/harness/tcp-stream.js`, '--recv', `--addr=${SERVER_IP}`, `--port=${STREAM_PORT}`, '--timeout-ms=30000']);
    const received = collect(recv, 40_000);
    await new Promise<void>((r) => recv.stdout!.once('data', () => r()));
    const sent = lastJson((await collect(topo.client.spawn('node', [`${DEV}test/harness/tcp-stream.js`, '--send', `--dst=${SERVER_IP}`, `--port=${STREAM_PORT}`, `--bytes=${8 << 20}`]))).stdout);
    expect(lastJson((await received).stdout).sha256).toBe(sent.sha256);
    t.kill('SIGTERM');
    await run;
    const s = readStats(stats);
    for (const n of s.nics) {
      expect(n.offloads).toEqual([]);
      expect(n.rx_bad).toBe(0);
      expect(n.rx_max).toBeLessThanOrEqual(MAX_MTU_FRAME);
    }
    expect(s.nics[0].rx_frames).toBeGreaterThan(20 + 200 + (8 << 20) / 1500);
  }, 120_000);
});

describe.skipIf(skipReal())('offloads: the virtio-net header against the kernel', () => {
  // a (tap0, offloads) -- br0 -- vx1 ==veth== vx0 -- br1 -- b (tap1, none). vx1 does GRO, which
  // checks TCP checksums; GRO needs the sending end without TSO (veth passes TSO frames on whole).
  const name = `ofv${process.pid}`;
  const ns = netnsHandle(name);
  beforeAll(() => {
    const ip = (...a: string[]) => execFileSync('ip', ['-n', name, ...a]);
    execFileSync('ip', ['netns', 'add', name]);
    ip('link', 'set', 'lo', 'up');
    for (const t of ['tap0', 'tap1']) ip('tuntap', 'add', 'dev', t, 'mode', 'tap');
    for (const b of ['br0', 'br1']) ip('link', 'add', b, 'type', 'bridge');
    ip('link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1');
    for (const [l, b] of [['tap0', 'br0'], ['vx1', 'br0'], ['tap1', 'br1'], ['vx0', 'br1']]) ip('link', 'set', l, 'master', b);
    for (const l of ['tap0', 'tap1', 'br0', 'br1', 'vx0', 'vx1']) {
      ns.run('sysctl', ['-qw', `net.ipv6.conf.${l}.disable_ipv6=1`]);
      ip('link', 'set', l, 'up');
    }
    ns.run('ethtool', ['-K', 'vx0', 'tso', 'off']);
    ns.run('ethtool', ['-K', 'vx1', 'gro', 'off']);
    ns.run('ethtool', ['-K', 'vx1', 'gro', 'on']); // turns the veth's NAPI (and so GRO) on
  });
  afterAll(() => ns.destroy());

  for (const mode of MODES) {
    it(`${mode}: DATA_VALID only on a good checksum; NEEDS_CSUM and TSO done by the kernel; a bad checksum left bad`, async () => {
      const r = await runTender(ns, ['--net:a=tap0', '--net:b=tap1', '--offload:a', ...modeArgs(mode), FIXTURE('vnet_checks.js')], 30_000);
      expect(r.code, r.stderr).toBe(0);
      const o = lastJson(r.stdout);
      expect(o.offloads).toMatchObject({ aVnet: true, bVnet: false, b: 0, aMax: 65536 + 18, bMax: 1518 });
      expect(o.offloads.a & 0x07).toBe(0x07); // csum, tso4, tso6
      // (c) the kernel checked the good TCP checksum and says so; the bad one is not marked valid.
      const good = o.rx.filter((x: any) => x.port === 7001);
      // A NIC without a header: the guest API finished the checksum the header asked for (and GRO on the way found it right).
      expect(o.headerlessCsumWrite).toBe(0);
      expect(o.rx.filter((x: any) => x.port === 7006)).toEqual([{ port: 7006, flags: 2, gsoType: 0, l4ok: true }]);
      const bad = o.rx.filter((x: any) => x.port === 7002);
      expect(good.length).toBeGreaterThan(0);
      expect(bad.length).toBeGreaterThan(0);
      for (const x of good) expect(x).toMatchObject({ flags: 2, gsoType: 0, l4ok: true });
      for (const x of bad) expect(x).toMatchObject({ flags: 0, gsoType: 0, l4ok: false });
      // (b) a datagram left to the kernel to checksum arrives on the NIC without offloads checksummed.
      expect(o.partialWrite).toBe(0);
      expect(o.partial).toEqual({ l4ok: true, flags: 0 });
      // A wrong checksum without NEEDS_CSUM is nobody's to fix.
      expect(o.bad).toEqual({ l4ok: false, check: 0x1234 });
      // A TCP super-frame the guest asks the kernel to segment: MSS-sized, checksummed, in order.
      expect(o.gsoWrite).toBe(0);
      expect(o.gso).toEqual({ segments: 6, largest: 14 + 20 + 20 + 1448, allL4ok: true, payloadOk: true });
      expect(o.oversizeEinval).toBe(true);
    }, 60_000);
  }
});

describe.skipIf(skipReal())('offloads: the example guests with --offload', () => {
  let ns: Netns;
  let bin: Record<string, string>;
  netnsPerSuite((n, b) => ((ns = n), (bin = b)));

  for (const mode of ['baseline', 'hybrid'] as const) {
    it(`${mode}: ping_serve answers, udp_blast's datagrams arrive intact, udp_sink counts every datagram of USO super-frames`, async () => {
      const base = ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...modeArgs(mode), '--offload'];
      const t = startTender(ns, [...base, EXAMPLE('ping_serve.js'), '--limit=50']);
      const served = collect(t, 30_000);
      await waitForLine(t, /ping_serve: answering/);
      const ping = await collect(ns.spawn('ping', ['-w', '30', '-c', '50', '-i', '0.01', '-s', '1400', '10.0.0.2']));
      expect(ping.stdout).toMatch(/50 received, 0% packet loss/);
      expect((await served).code).toBe(0);

      const peer = collect(ns.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--recv', '--port=9000', '--count=500', '--timeout-ms=10000']));
      await new Promise((r) => setTimeout(r, 300));
      const blast = await runTender(ns, [...base, EXAMPLE('udp_blast.js'), '--count=500', '--size=1300', '--rate=20000']);
      expect(blast.code, blast.stderr).toBe(0);
      expect(lastJson((await peer).stdout)).toMatchObject({ received: 500, bad: 0 });

      // 100 sends of 13,000 bytes cut into 1,300-byte datagrams (UDP_SEGMENT): 1,000 datagrams.
      const stats = statsPath();
      const s = startTender(ns, [...base, `--stats-json=${stats}`, EXAMPLE('udp_sink.js'), '--count=1000', '--timeout=15']);
      const sink = collect(s, 30_000);
      await waitForLine(s, /udp_sink: counting/);
      const flood = lastJson((await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', '--count=100', '--size=13000', '--gso=1300', '--pps=1000']))).stdout);
      expect(flood.sent).toBe(100);
      const r = await sink;
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/udp_sink: total 1000 frames 1300000 bytes/);
      const nic = readStats(stats).nics[0];
      expect(nic.rx_gso).toBeGreaterThan(0); // they came as super-frames
      expect(nic.rx_max).toBeGreaterThan(MAX_MTU_FRAME);
    }, 60_000);
  }
});
