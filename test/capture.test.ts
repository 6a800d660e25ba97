// --pcap and --stats-interval on real TAPs, read back with tcpdump and tshark: every frame the
// counters count is in the capture with its direction and bytes, the frames the tender refused
// are there and marked, both NICs of the firewall by name, a slow FIFO reader costs records
// (counted, and the file's end agrees) but no frames, and the NDJSON stream ends where the
// exit summary does.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelTx } from '../testbed/tap-stats.js';
import { GUEST_MAC, collect, DEV, skipReal, TENDER, type Netns } from '../testbed/netns.js';
import type { RelayTopology } from '../testbed/relay.js';
import { EXAMPLE, FIXTURE, modeArgs, readStats, startTender, statsPath, waitForLine } from '../testbed/tender.js';
import { optU64, readBlocks, tcpdumpCount, tshark } from './helpers/pcapng-read.js';
import { killAfterEach, netnsPerTest, relayPerSuite } from './harness/suite.js';

const ALL = ['baseline', 'poll', 'event', 'hybrid'] as const;
const IN = '0x00000001';
const OUT = '0x00000002';
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);
const dir = mkdtempSync(join(tmpdir(), 'shmt-capture-'));
let nfile = 0;
const capPath = () => join(dir, `cap${nfile++}.pcapng`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('files the tender cannot open', () => {
  it('are a usage error (64) with one line naming the file and the errno, before anything runs', async () => {
    for (const [arg, re] of [
      ['--pcap=/nonexistent-shmt/cap.pcapng', /^tender: --pcap=\/nonexistent-shmt\/cap.pcapng: cannot open for writing: ENOENT \(no such file or directory\)$/],
      [`--stats-json=${dir}`, /^tender: --stats-json=.*: cannot open for writing: EISDIR \(illegal operation on a directory\)$/],
    ] as const) {
      const r = await collect(spawn('node', [TENDER, arg, EXAMPLE('ping_serve.js')], { stdio: ['ignore', 'pipe', 'pipe'] }), 20_000);
      expect(r.code).toBe(64);
      expect(r.stderr.trim()).toMatch(re);
      expect(r.stdout).toBe(''); // the guest never started
    }
  });
});

describe.skipIf(skipReal())('--pcap on real TAPs', () => {
  let bin: Record<string, string>;
  let ns: Netns;
  netnsPerTest((n, b) => ((ns = n), (bin = b)));
  const tender = (args: string[]) => ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...args];

  for (const mode of ALL) {
    it(`${mode}: ping and a UDP burst in: tcpdump and tshark read every frame the stats count, in both directions, with the bytes sent`, async () => {
      const cap = capPath();
      const stats = statsPath();
      const t = startTender(ns, tender([...modeArgs(mode), `--stats-json=${stats}`, `--pcap=${cap}`, EXAMPLE('ping_serve.js'), '--limit=20']));
      const run = collect(t, 30_000);
      await waitForLine(t, /answering/);
      await collect(ns.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--send', '--dst=10.0.0.2', '--port=9000', '--count=100', '--size=200']));
      const ping = await collect(ns.spawn('ping', ['-w', '30', '-c', '20', '-i', '0.01', '-p', '5a17c0de', '10.0.0.2']));
      expect(ping.stdout).toMatch(/20 received/);
      const r = await run;
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const n = readStats(stats).nics[0];
      expect(n.rx_frames).toBeGreaterThanOrEqual(120);
      expect(n.pcap_dropped).toBe(0);

      expect(tcpdumpCount(cap)).toBe(n.rx_frames + n.tx_frames);
      const rows = tshark(cap, ['frame.interface_name', 'frame.packet_flags_direction', 'frame.comment', 'udp.dstport', 'udp.payload', 'icmp.type', 'icmp.seq', 'data.data']);
      expect(rows.length).toBe(n.rx_frames + n.tx_frames);
      expect(new Set(rows.map((x) => x[0]))).toEqual(new Set(['service (tap0)']));
      expect(rows.filter((x) => x[1] === IN).length).toBe(n.rx_frames);
      expect(rows.filter((x) => x[1] === OUT).length).toBe(n.tx_frames);
      expect(rows.filter((x) => x[2] !== '')).toEqual([]); // nothing dropped, nothing marked

      const udp = rows.filter((x) => x[3] === '9000');
      expect(udp.every((x) => x[1] === IN)).toBe(true);
      const payloads = udp.map((x) => Buffer.from(x[4], 'hex'));
      expect(payloads.map((p) => p.readUInt32BE(0)).sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
      for (const p of payloads) expect([p.length, p.subarray(4).every((b) => b === 0xab)]).toEqual([200, true]);

      const requests = rows.filter((x) => x[5] === '8');
      const replies = rows.filter((x) => x[5] === '0');
      expect(requests.map((x) => [x[1], x[6]])).toEqual([...Array(20).keys()].map((i) => [IN, String(i + 1)]));
      expect(replies.map((x) => [x[1], x[6]])).toEqual([...Array(20).keys()].map((i) => [OUT, String(i + 1)]));
      for (const x of [...requests, ...replies]) expect(x[7]).toMatch(/(5a17c0de){8}/);
      expect(replies.map((x) => x[7])).toEqual(requests.map((x) => x[7])); // the echo carries the request's bytes
    });

    it(`${mode}: a UDP burst the guest sends: its ARP exchange and every datagram's bytes, in order`, async () => {
      const cap = capPath();
      const stats = statsPath();
      const peer = ns.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--recv', '--port=9000', '--count=200', '--timeout-ms=15000']);
      const received = collect(peer, 30_000);
      await new Promise<void>((res) => peer.stdout!.once('data', () => res()));
      const r = await collect(startTender(ns, tender([...modeArgs(mode), `--stats-json=${stats}`, `--pcap=${cap}`, EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9000', '--count=200', '--size=300', '--batch=8'])), 30_000);
      expect(r.code).toBe(0);
      expect(lastJson((await received).stdout)).toMatchObject({ received: 200, bad: 0 });
      const n = readStats(stats).nics[0];
      expect(tcpdumpCount(cap)).toBe(n.rx_frames + n.tx_frames);
      const rows = tshark(cap, ['frame.packet_flags_direction', 'arp.opcode', 'udp.dstport', 'udp.payload']);
      expect(rows.length).toBe(n.rx_frames + n.tx_frames);
      expect(rows.filter((x) => x[1] === '1').map((x) => x[0])).toEqual([OUT]); // the guest asks who has 10.0.0.1
      expect(rows.filter((x) => x[1] === '2').map((x) => x[0])).toEqual([IN]); // and hears back
      const udp = rows.filter((x) => x[2] === '9000');
      expect(udp.length).toBe(200);
      udp.forEach((x, seq) => {
        const p = Buffer.from(x[3], 'hex');
        expect(x[0]).toBe(OUT);
        expect(p.length).toBe(300);
        expect(p.readUInt32BE(0)).toBe(seq);
        expect(p.subarray(4).every((b, i) => b === ((i + 4) & 0xff))).toBe(true);
      });
    });

    it(`${mode}: frames longer than the MTU allows are in the capture, flagged too long and commented, as many as rx_bad`, async () => {
      ns.run('ip', ['link', 'set', 'tap0', 'mtu', '9000']); // the TAP passes more than the tender's MTU 1500
      const cap = capPath();
      const stats = statsPath();
      const t = startTender(ns, tender([...modeArgs(mode), `--stats-json=${stats}`, `--pcap=${cap}`, FIXTURE('frame_lengths.js'), '--count=4']));
      const run = collect(t, 20_000);
      await waitForLine(t, /ready/);
      await collect(ns.spawn(bin.raw_send, ['--tap=tap0', `--dst-mac=${GUEST_MAC}`, '--lengths=14,1518,1519,1528,9000,60,1000']));
      expect((await run).code).toBe(0);
      const n = readStats(stats).nics[0];
      expect(n.rx_bad).toBe(3);
      const rows = tshark(cap, ['frame.packet_flags_direction', 'frame.packet_flags_packet_too_error', 'frame.comment', 'frame.len', 'frame.cap_len', 'eth.type', 'data.data']);
      expect(rows.length).toBe(n.rx_frames + n.rx_bad + n.tx_frames);
      const marked = rows.filter((x) => x[5] === '0x88b5');
      expect(marked.map((x) => [x[0], x[1], Number(x[3]) >= 1519 ? 'long' : x[3]])).toEqual([
        [IN, '0', '14'], [IN, '0', '1518'], [IN, '1', 'long'], [IN, '1', 'long'], [IN, '1', 'long'], [IN, '0', '60'], [IN, '0', '1000'],
      ]);
      for (const x of marked.filter((y) => y[1] === '1')) {
        expect(x[2]).toMatch(/^rx_bad: longer than MTU \+ 18 \(1518 bytes/);
        expect(Number(x[4])).toBeGreaterThanOrEqual(1519); // what was read is kept, with its length on the wire
        const data = Buffer.from(x[6], 'hex');
        expect(data.every((b, i) => b === ((i + 14) & 0xff))).toBe(true);
      }
      expect(rows.filter((x) => x[1] === '1').length).toBe(n.rx_bad);
    });
  }

  for (const mode of ['baseline', 'hybrid']) {
    it(`${mode}: a TAP set down while the guest sends: the writes the kernel refused are in the capture, marked, as many as tx_drops`, async () => {
      const cap = capPath();
      const stats = statsPath();
      const t = startTender(ns, tender([...modeArgs(mode), `--stats-json=${stats}`, `--pcap=${cap}`, EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9000', '--count=100000000', '--size=300', '--rate=20000']));
      const run = collect(t, 30_000);
      await new Promise((r) => setTimeout(r, 1500));
      ns.run('ip', ['link', 'set', 'tap0', 'down']);
      const r = await run;
      expect(r.code).toBe(74);
      const n = readStats(stats).nics[0];
      expect(n.tx_drops).toBeGreaterThan(0);
      const rows = tshark(cap, ['frame.packet_flags_direction', 'frame.comment']);
      expect(rows.length).toBe(n.rx_frames + n.tx_frames + n.tx_drops);
      const refused = rows.filter((x) => x[1] !== '');
      expect(refused.length).toBe(n.tx_drops);
      expect(new Set(refused.map((x) => `${x[0]} ${x[1]}`))).toEqual(new Set([`${OUT} tx_drops: the kernel refused the TAP write; not sent`]));
    });
  }

  it('watching live: `mkfifo cap; tcpdump -r cap & tender --pcap=cap` shows each echo while the tender runs', async () => {
    const fifo = join(dir, 'live.fifo');
    execFileSync('mkfifo', [fifo]);
    const dump = spawn('tcpdump', ['-l', '-nr', fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    const dumped = collect(dump, 30_000);
    let seen = '';
    dump.stdout!.on('data', (d) => (seen += d));
    const t = startTender(ns, tender(['--shm=hybrid', `--pcap=${fifo}`, EXAMPLE('ping_serve.js')]));
    const run = collect(t, 30_000);
    await waitForLine(t, /answering/);
    const ping = await collect(ns.spawn('ping', ['-w', '30', '-c', '3', '-i', '0.2', '10.0.0.2']));
    expect(ping.stdout).toMatch(/3 received/);
    const t0 = Date.now();
    while (!/seq 3, length 64[\s\S]*echo reply, id \d+, seq 3/.test(seen) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(t.exitCode).toBe(null); // still running: this is live, not the file read after the fact
    expect(seen.match(/ICMP echo (request|reply)/g)).toHaveLength(6);
    t.kill('SIGTERM');
    expect((await run).code).toBe(143);
    const d = await dumped;
    expect(d.code).toBe(0); // the tender's end of the file reached tcpdump whole
  });

  it('a FIFO reader that goes away stops the capture, not the tender: one line, and every record after it counted, as it happens', async () => {
    const fifo = join(dir, 'quits.fifo');
    execFileSync('mkfifo', [fifo]);
    const quitter = collect(spawn('head', ['-c', '300', fifo], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const stats = statsPath();
    const t = startTender(ns, tender(['--shm=hybrid', `--stats-json=${stats}`, '--stats-interval=1', `--pcap=${fifo}`, EXAMPLE('ping_serve.js'), '--limit=20']));
    const run = collect(t, 30_000);
    await waitForLine(t, /answering/);
    await quitter;
    const ping10 = async () => expect((await collect(ns.spawn('ping', ['-w', '30', '-c', '10', '-i', '0.01', '10.0.0.2']))).stdout).toMatch(/10 received/);
    await ping10();
    // While the tender runs, an interval line already counts a record for every frame of those
    // 10 round trips (the losses of a failed file used to reach pcap_dropped only at exit). A
    // line may come between a frame and its record's pass: the next one agrees.
    const lines = () => (existsSync(stats) ? readFileSync(stats, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
    const agrees = (l: { nics: { pcap_dropped: number; rx_frames: number; tx_frames: number }[] }) => l.nics[0].pcap_dropped >= 20 && l.nics[0].pcap_dropped === l.nics[0].rx_frames + l.nics[0].tx_frames;
    const t0 = Date.now();
    while (!lines().some(agrees) && Date.now() - t0 < 5000) await new Promise((res) => setTimeout(res, 100));
    expect(t.exitCode).toBe(null);
    expect(lines().some(agrees), 'an interval line counts every record of the 10 round trips').toBe(true);
    await ping10();
    const r = await run;
    expect(r.code).toBe(0);
    const all = lines();
    rmSync(stats, { force: true });
    const n = all[all.length - 1].nics[0];
    expect(r.stderr.trim()).toBe(`tender: --pcap=${fifo}: capture stopped: EPIPE (broken pipe); ${n.pcap_dropped} records not written (counted in pcap_dropped)`);
    expect(n.pcap_dropped).toBe(n.rx_frames + n.tx_frames); // once each: not again at exit
  });

  for (const mode of ['baseline', 'hybrid']) {
    it(`${mode}: a FIFO whose reader takes 1 KiB per 100 ms does not hold up a flood: every frame reaches the guest, records are dropped and counted, and the file's end agrees`, async () => {
      const fifo = join(dir, `slow-${mode}.fifo`);
      const got = join(dir, `slow-${mode}.pcapng`);
      execFileSync('mkfifo', [fifo]);
      const reader = spawn('node', ['-e', SLOW_READER, fifo, got], { stdio: ['ignore', 'pipe', 'pipe'] });
      const read = collect(reader, 90_000);
      const stats = statsPath();
      const k0 = kernelTx(ns).dropped;
      const t = startTender(ns, tender([...modeArgs(mode), `--stats-json=${stats}`, `--pcap=${fifo}`, EXAMPLE('udp_sink.js'), '--idle-ms=1500', '--timeout=30']));
      const run = collect(t, 60_000);
      await waitForLine(t, /udp_sink: counting/);
      const flood = lastJson((await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', '--count=30000', '--seconds=10', '--size=1300', '--pps=10000']), 30_000)).stdout);
      const r = await run;
      expect(r.code).toBe(0);
      expect(flood.sent).toBe(30000);
      expect(Number(/udp_sink: total (\d+)/.exec(r.stdout)![1])).toBe(30000); // the guest got every frame
      expect(kernelTx(ns).dropped - k0).toBe(0);
      const s = readStats(stats);
      const n = s.nics[0];
      expect(n.rx_frames).toBe(30000);
      expect(n.pcap_dropped).toBeGreaterThan(0);
      expect(s.pcap_dropped).toBe(n.pcap_dropped);
      expect((await read).code).toBe(0);
      const blocks = readBlocks(readFileSync(got));
      const epbs = blocks.filter((b) => b.type === 6).length;
      const isb = blocks.find((b) => b.type === 5)!;
      console.log(`slow FIFO, ${mode}: ${epbs} records written, ${n.pcap_dropped} dropped; ${r.stderr.trim()}`);
      expect(optU64(isb, 7)).toBe(n.pcap_dropped); // isb_osdrop
      expect(optU64(isb, 8)).toBe(epbs); // isb_usrdeliv
      expect(epbs + n.pcap_dropped).toBe(n.rx_frames + n.tx_frames); // every frame is in the file or in the count
      expect(tcpdumpCount(got)).toBe(epbs);
    }, 120_000);
  }

  it('--stats-interval=1 over a 5 s flood: at least 4 JSON lines, then the exit summary; the last cumulative counters equal it', async () => {
    const stats = statsPath();
    const t = startTender(ns, tender(['--shm=hybrid', '--stats', `--stats-json=${stats}`, '--stats-interval=1', EXAMPLE('udp_sink.js'), '--idle-ms=2500', '--timeout=30']));
    const run = collect(t, 60_000);
    await waitForLine(t, /udp_sink: counting/);
    await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', '--count=50000', '--seconds=10', '--size=1300', '--pps=10000']), 30_000);
    const r = await run;
    expect(r.code).toBe(0);
    const lines = readFileSync(stats, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    rmSync(stats, { force: true });
    const final = lines.pop();
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.every((l) => l.final === false && l.exit_code === null)).toBe(true);
    expect(final).toMatchObject({ final: true, exit_code: 0, mode: 'hybrid' });
    const last = lines[lines.length - 1];
    expect(last.nics).toEqual(final.nics); // cumulative: the flood had ended before the last tick
    expect(final.nics[0].rx_frames).toBe(50000);
    expect(r.stderr).toContain(`rx ${final.nics[0].rx_frames} frames`); // the same numbers as the summary
    for (let i = 1; i < lines.length; i++) expect(lines[i].nics[0].rx_frames).toBeGreaterThanOrEqual(lines[i - 1].nics[0].rx_frames);
    const summed = [...lines, final].reduce((a, l) => a + l.interval.nics[0].rx_fps * l.interval.dt_s, 0);
    expect(Math.abs(summed - final.nics[0].rx_frames)).toBeLessThan(50); // the rates add up to the counters
    expect(lines.some((l) => l.interval.nics[0].rx_fps > 5000)).toBe(true);
  });
});

/** Reads the FIFO (argv[1]) 1 KiB at a time, 100 ms apart, into a file (argv[2]), until EOF. */
const SLOW_READER = `
const fs = require('fs');
const [fifo, out] = process.argv.slice(1);
const fd = fs.openSync(fifo, 'r'), o = fs.openSync(out, 'w'), b = Buffer.alloc(1024);
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let n; (n = fs.readSync(fd, b, 0, 1024, null)) > 0; Atomics.wait(nap, 0, 0, 100)) fs.writeSync(o, b, 0, n);
`;

// examples/firewall.js with both NICs captured, topology as in test/firewall.test.ts:
// client (10.0.0.1) -- br0 -- tap0 [tender] tap1 -- br1 -- server (10.0.0.3).
describe.skipIf(skipReal())('--pcap on the firewall: both NICs, by name', () => {
  let topo: RelayTopology;
  relayPerSuite((t) => (topo = t));
  let tender: ChildProcess | null = null;
  killAfterEach(() => tender);

  for (const mode of ['baseline', 'hybrid']) {
    it(`${mode}: --pcap=FILE holds both NICs by name, --pcap:backend=FILE only the backend; each echo crosses service then backend, unchanged`, async () => {
      const all = capPath();
      const back = capPath();
      const stats = statsPath();
      const t = (tender = startTender(topo.relay, ['--net:service=tap0', '--net:backend=tap1', ...modeArgs(mode), `--stats-json=${stats}`, `--pcap=${all}`, `--pcap:backend=${back}`, EXAMPLE('firewall.js'), '--allow=9000', '--seconds=3']));
      const run = collect(t, 30_000);
      await waitForLine(t, /firewall: service <-> backend/);
      const ping = await collect(topo.client.spawn('ping', ['-w', '30', '-c', '10', '-i', '0.05', '10.0.0.3']));
      expect(ping.stdout).toMatch(/10 received/);
      expect((await run).code).toBe(0);
      const [svc, be] = readStats(stats).nics;
      const rows = tshark(all, ['frame.interface_name', 'frame.packet_flags_direction', 'icmp.type', 'icmp.seq', 'ip.id', 'data.data']);
      const on = (name: string) => rows.filter((x) => x[0] === name);
      expect(on('service (tap0)').length).toBe(svc.rx_frames + svc.tx_frames);
      expect(on('backend (tap1)').length).toBe(be.rx_frames + be.tx_frames);
      expect(rows.length).toBe(svc.rx_frames + svc.tx_frames + be.rx_frames + be.tx_frames);
      const backRows = tshark(back, ['frame.interface_name']);
      expect(backRows.length).toBe(be.rx_frames + be.tx_frames);
      expect(new Set(backRows.map((x) => x[0]))).toEqual(new Set(['backend (tap1)']));
      for (let seq = 1; seq <= 10; seq++) {
        const echo = (type: string) => rows.filter((x) => x[2] === type && x[3] === String(seq)).map((x) => `${x[0]} ${x[1]} ${x[4]} ${x[5]}`);
        const req = rows.find((x) => x[2] === '8' && x[3] === String(seq))!;
        const rep = rows.find((x) => x[2] === '0' && x[3] === String(seq))!;
        expect(echo('8')).toEqual([`service (tap0) ${IN} ${req[4]} ${req[5]}`, `backend (tap1) ${OUT} ${req[4]} ${req[5]}`]);
        expect(echo('0')).toEqual([`backend (tap1) ${IN} ${rep[4]} ${rep[5]}`, `service (tap0) ${OUT} ${rep[4]} ${rep[5]}`]);
      }
    });
  }
});
