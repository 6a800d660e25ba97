// Hostile guests, guest failures, overload, back-pressure, a soak, signals, device faults and
// bad frames: nothing accepted is lost, nothing crashes, nothing is left behind.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelRx, kernelTx } from '../testbed/tap-stats.js';
import { parsePing } from '../testbed/workloads.js';
import { GUEST_MAC, TENDER, collect, skipReal, sleep, type Netns } from '../testbed/netns.js';
import { procCpuS } from '../testbed/cpu.js';
import { sampleRss } from '../testbed/process.js';
import { LIMIT_SLACK_MB } from '../host/memory-watch.js';
import { EXAMPLE, FIXTURE, modeArgs, readStats, runTender, startTender, statsPath, waitForLine } from '../testbed/tender.js';
import { netnsPerTest } from './harness/suite.js';

const SHM = ['poll', 'event', 'hybrid'] as const;
const ALL = ['baseline', ...SHM] as const;
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);

describe.skipIf(skipReal())('robustness', () => {
  let bin: Record<string, string>;
  let ns: Netns;
  netnsPerTest((n, b) => ((ns = n), (bin = b)));
  const tender = (args: string[]) => ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...args];

  for (const mode of SHM) {
    it(`hostile guest, ${mode}: 200 seeds of corrupted shared memory each end in a guest fault (72) with one line, in bounded time`, async () => {
      const lines = new Set<string>();
      for (let seed = 1; seed <= 200; seed++) {
        const t0 = Date.now();
        const r = await runTender(ns, tender([`--shm=${mode}`, FIXTURE('hostile.js'), `--seed=${seed}`]), 15_000);
        const err = r.stderr.trim().split('\n');
        expect({ seed, code: r.code, signal: r.signal }).toEqual({ seed, code: 72, signal: null });
        expect(err).toHaveLength(1);
        // (hostile.js writes any word, the IO token's too: in hybrid the IO thread may meet that first)
        expect(err[0]).toMatch(/^tender: guest fault: (nic 0 (tx|rx) ring: (producer index|consumer index|frame length|ref) .*|the IO token was written \(-?\d+\) while the IO thread held it) \(seen by the (IO thread|guest API)\)$/);
        expect(Date.now() - t0).toBeLessThan(10_000);
        lines.add(err[0].replace(/\d+/g, 'N'));
      }
      // The seeds really explore: different words were caught being wrong.
      expect(lines.size).toBeGreaterThanOrEqual(3);
    }, 600_000);
  }

  it('a guest that loops forever ends with SIGTERM (143) or --timeout (124); one that exceeds --mem with 73; the TAP works after each', async () => {
    const t = startTender(ns, tender(['--shm=event', FIXTURE('loops.js')]));
    const looping = collect(t, 20_000);
    await sleep(800);
    t.kill('SIGTERM');
    const term = await looping;
    expect(term.code).toBe(143);
    expect(term.stderr).toMatch(/^tender: stopped by SIGTERM$/m);

    const timed = await runTender(ns, tender(['--shm=poll', '--timeout=1', FIXTURE('loops.js')]), 20_000);
    expect(timed.code).toBe(124);
    expect(timed.stderr.trim()).toBe('tender: guest stopped after --timeout=1 s');

    const hog = await runTender(ns, tender(['--shm=hybrid', '--mem=32', FIXTURE('hog.js')]), 60_000);
    expect(hog.code).toBe(73);
    expect(hog.stderr.trim()).toBe('tender: guest out of memory (raise --mem)');

    const p = startTender(ns, tender(['--shm=event', EXAMPLE('ping_serve.js'), '--limit=20']));
    const serving = collect(p, 20_000);
    await waitForLine(p, /answering/);
    const ping = parsePing((await collect(ns.spawn('ping', ['-w', '30', '-c', '20', '-i', '0.01', '10.0.0.2']))).stdout);
    expect(ping.lossPct).toBe(0);
    expect((await serving).code).toBe(0);
  });

  it('a guest blocked in a read() nothing interrupts (a blocking stdin never written): --timeout still ends the run, 124 and a line, within seconds', async () => {
    // worker.terminate() cannot interrupt a system call, and process.exit() joins every worker
    // thread: the tender waited for ever, through --timeout and SIGTERM alike.
    const fifo = join(tmpdir(), `shmtender-stdin-${process.pid}`);
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, 'r+'); // blocking, and never written
    try {
      const t0 = Date.now();
      const t = ns.spawn('node', [TENDER, '--net=tap0', '--timeout=2', FIXTURE('blocks_in_read.js')], { stdio: [fd, 'pipe', 'pipe'] });
      const r = await collect(t, 20_000);
      expect(r.stdout).toBe('blocking\n');
      expect(r.code, r.stderr).toBe(124);
      expect(r.stderr).toMatch(/^tender: the guest's thread did not end within 2 s of being stopped \(blocked in a system call, or waiting for work it started\); the tender ends without it\ntender: guest stopped after --timeout=2 s\n/);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      closeSync(fd);
      rmSync(fifo, { force: true });
    }
  });

  it('a guest that fills every eventfd it can write (the tender\'s stop fd among them) is still stopped at --timeout: 124, the stats written', async () => {
    // A full counter refuses the next write with EAGAIN; the tender's stop writes one (wakeFd),
    // which nobody reads. Before, that write threw: exit 70, "internal error", no stats.
    for (const mode of ['baseline', 'hybrid']) {
      const stats = statsPath();
      const r = await runTender(ns, [...modeArgs(mode), '--net=tap0', '--timeout=1', `--stats-json=${stats}`, FIXTURE('fills_eventfds.js')], 20_000);
      expect(r.stdout).toMatch(/^fills_eventfds: filled [1-9]\d*\n$/);
      expect({ mode, code: r.code }, r.stderr).toEqual({ mode, code: 124 });
      expect(r.stderr).toBe('tender: guest stopped after --timeout=1 s\n');
      expect(readStats(stats).exit_code).toBe(124);
    }
  });

  it('--mem bounds memory outside the heap too: ArrayBuffers past it stop the guest (73), one too large for the limit is refused inside it', async () => {
    for (const mode of ['baseline', 'hybrid']) {
      const r = await runTender(ns, tender([...modeArgs(mode), '--mem=32', FIXTURE('buffers.js'), '--how=chunks']), 60_000);
      expect({ mode, code: r.code }).toEqual({ mode, code: 73 });
      expect(r.stderr.trim()).toBe('tender: guest out of memory (raise --mem)');
      const held = [...r.stdout.matchAll(/holding (\d+) MB/g)].map((m) => Number(m[1]));
      // Without the watch it held 4 GB; with it, never more than the limit lets the process grow.
      expect(held.length).toBeGreaterThan(0);
      expect(Math.max(...held)).toBeLessThanOrEqual(32 + LIMIT_SLACK_MB);
    }
    const huge = await runTender(ns, tender(['--shm=hybrid', '--mem=32', FIXTURE('buffers.js'), '--how=huge']), 60_000);
    expect(huge.code).toBe(3);
    expect(huge.stdout).toMatch(/^buffers: refused: /m);
  });

  it('overload: a 20 s flood of over 10× what a slow guest takes keeps RSS flat, counts the drops, feeds the guest, and full rate returns', async () => {
    const before = kernelTx(ns).dropped;
    const stats = statsPath();
    const t = startTender(ns, tender(['--shm=hybrid', `--stats-json=${stats}`, EXAMPLE('udp_sink.js'), '--work-ns=100000', '--timeout=40', '--idle-ms=3000']));
    const run = collect(t, 90_000);
    await waitForLine(t, /udp_sink: counting/);
    const rss = sampleRss(t.pid!);
    const flood = lastJson((await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', '--count=100000000', '--seconds=20', '--size=1300', '--pps=250000']), 60_000)).stdout);
    await sleep(1500); // the guest works through what its ring still holds
    const mid = kernelTx(ns).dropped;
    // Afterwards, a rate the slow guest can take: every frame must arrive.
    const rx0 = kernelTx(ns).packets;
    await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', '--count=2000', '--seconds=10', '--size=1300', '--pps=2000']));
    const after = kernelTx(ns).dropped;
    const recoveryDelivered = kernelTx(ns).packets - rx0;
    rss.stop(); // before the tender ends: its exit frees the workers' heaps, which is not the load
    const r = await run;
    expect(r.code).toBe(0);
    const s = readStats(stats);
    const rates = [...r.stdout.matchAll(/udp_sink: (\d+) frames\/s/g)].map((m) => Number(m[1]));
    const slowest = Math.max(...rates);
    console.log(`overload: offered ${flood.pps} pps for ${flood.seconds}s, guest took at most ${slowest}/s, kernel dropped ${mid - before}, RSS ${rss.samples.map((x) => x.mb.toFixed(0)).join(' ')} MB`);
    expect(flood.pps).toBeGreaterThan(10 * slowest); // it really was ≥ 10× what the guest takes
    expect(mid - before).toBeGreaterThan(0); // the excess was dropped — by the kernel, and counted there
    expect(rates.filter((x) => x > 0).length).toBeGreaterThanOrEqual(18); // the guest got frames every second
    expect(s.nics[0].rx_frames).toBe(Number(/udp_sink: total (\d+)/.exec(r.stdout)![1])); // the tender lost none it took
    expect(after - mid).toBe(0); // recovered: nothing dropped at a rate the guest can take
    expect(recoveryDelivered).toBe(2000);
    const settled = rss.samples.filter((x) => x.t > 3000).map((x) => x.mb);
    expect(Math.max(...settled) - Math.min(...settled)).toBeLessThan(25); // flat: bounded, not growing with the load
  }, 120_000);

  for (const mode of ALL) {
    it(`back-pressure, ${mode}: a guest sending faster than the TAP drains gets AGAIN, waits, and every accepted frame arrives`, async () => {
      const counter = ns.spawn(bin.udp_count, ['--port=9000', '--count=100000', '--idle-ms=1500']);
      const counted = collect(counter, 60_000);
      await new Promise<void>((r) => counter.stdout!.once('data', () => r()));
      const k0 = kernelRx(ns).packets;
      const stats = statsPath();
      const r = await runTender(ns, tender([...modeArgs(mode), '--ring-slots=8', `--stats-json=${stats}`, EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9000', '--count=100000', '--size=1300', '--batch=32']), 60_000);
      expect(r.code).toBe(0);
      const again = Number(/ring full (\d+) times/.exec(r.stdout)![1]);
      if (mode !== 'baseline') expect(again).toBeGreaterThan(0); // the ring pushed back (a TAP write never waits in the baseline)
      const c = lastJson((await counted).stdout);
      const s = readStats(stats);
      expect(s.nics[0].tx_frames).toBe(100001); // the datagrams and one ARP request
      expect(s.nics[0].tx_drops).toBe(0);
      expect(kernelRx(ns).packets - k0).toBe(s.nics[0].tx_frames);
      expect(c).toMatchObject({ received: 100000, bytes: 100000 * 1300 });
    });
  }

  // 400,000: at the 80k echoes/s hybrid reaches on these VMs the load still lasts 5 s, so RSS is
  // sampled for seconds after the first two (200,000 once ended 2.5 s in, with no sample to judge).
  it('soak: 400,000 ping -f against ping_serve in hybrid: no loss, no duplicates, nothing out of order, RSS flat', async () => {
    const t = startTender(ns, tender(['--shm=hybrid', EXAMPLE('ping_serve.js'), '--limit=400000']));
    const run = collect(t, 120_000);
    await waitForLine(t, /answering/);
    const rss = sampleRss(t.pid!);
    const out = (await collect(ns.spawn('ping', ['-w', '100', '-f', '-q', '-c', '400000', '10.0.0.2']), 120_000)).stdout;
    // The tender ends at its 400,000th echo, as ping does: samples from its last half second may
    // catch the exit freeing the workers' heaps, which is not the load.
    const loadEnd = Date.now() - rss.t0 - 500;
    rss.stop();
    const r = await run;
    const p = parsePing(out);
    expect(p).toMatchObject({ transmitted: 400000, received: 400000, lossPct: 0 });
    expect(out).not.toMatch(/DUP!|wrong data/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ping_serve: 400000 echoes, 0 out of order, done/);
    console.log(`soak: ${p.received} echoes in ${p.timeMs} ms, RSS ${rss.samples.map((x) => `${x.t}:${x.mb.toFixed(0)}`).join(' ')} MB`);
    const settled = rss.samples.filter((x) => x.t > 2000 && x.t < loadEnd).map((x) => x.mb);
    expect(settled.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...settled) - Math.min(...settled)).toBeLessThan(20);
  });

  /** hybrid ping_serve, once it answers; sigterm stops it, expects 143 and returns how long the stop took (ms). */
  const answering = async () => {
    const t = startTender(ns, tender(['--shm=hybrid', EXAMPLE('ping_serve.js')]));
    const run = collect(t, 20_000);
    await waitForLine(t, /answering/);
    return { t, run };
  };
  const sigterm = async ({ t, run }: Awaited<ReturnType<typeof answering>>) => {
    const t0 = Date.now();
    t.kill('SIGTERM');
    expect((await run).code).toBe(143);
    return Date.now() - t0;
  };

  it('hybrid: SIGTERM at rest, the guest asleep on its TAP holding the IO token: it lets go at once, no wait for the 200 ms fallback', async () => {
    // The guest sleeps on its TAP holding the token. Told to stop, it must give the token up
    // between two looks rather than sleep on (the stop's wake-up stays readable): the first
    // version of the stop took 240-245 ms here, against 13-21 before it and after the mend.
    const took: number[] = [];
    for (let i = 0; i < 3; i++) {
      const responder = await answering();
      await sleep(500);
      took.push(await sigterm(responder));
    }
    expect(Math.min(...took), `stops took ${took.join(', ')} ms`).toBeLessThan(150);
  });

  it('hybrid: SIGTERM while the guest answers ping -f with the IO token: no reply goes out twice (8 stops)', async () => {
    // The guest writes its replies itself, holding the token. Stopped inside such a write, it
    // never published the TX ring's index, and the IO thread's drain sent the reply again: ping
    // counted a duplicate after 5 of 15 such stops (by hand), about 1 in 3.
    const dups: number[] = [];
    for (let i = 0; i < 8; i++) {
      const responder = await answering();
      const pinger = ns.spawn('ping', ['-f', '-w', '10', '10.0.0.2']);
      const ping = collect(pinger, 20_000);
      await sleep(500 + 100 * i); // a different moment of the flood each time
      await sigterm(responder);
      await sleep(100); // a duplicate still on its way
      pinger.kill('SIGINT'); // ping prints its summary
      const out = (await ping).stdout;
      expect(out).toMatch(/\d+ packets transmitted, \d+ received/);
      dups.push(Number(/\+(\d+) duplicates/.exec(out)?.[1] ?? 0));
    }
    expect(dups).toEqual(Array(8).fill(0));
  }, 90_000);

  for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
    for (const mode of ['baseline', 'hybrid']) {
      it(`${sig} during a flood, ${mode}: guest stopped, TX drained, stats written, exit ${code}`, async () => {
        const stats = statsPath();
        const k0 = kernelRx(ns).packets;
        const t = startTender(ns, tender([...modeArgs(mode), `--stats-json=${stats}`, EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9000', '--count=100000000', '--size=1300', '--rate=100000']));
        const run = collect(t, 30_000);
        await sleep(1500);
        t.kill(sig);
        const r = await run;
        expect(r.code).toBe(code);
        expect(r.stderr.trim()).toBe(`tender: stopped by ${sig}`);
        const s = readStats(stats);
        expect(s.exit_code).toBe(code);
        expect(s.nics[0].tx_frames).toBeGreaterThan(10000);
        expect(s.nics[0].tx_drops).toBe(0);
        expect(kernelRx(ns).packets - k0).toBe(s.nics[0].tx_frames); // everything taken from the ring reached the kernel
      });
    }
  }

  for (const mode of ALL) {
    for (const fault of ['deleted', 'set down'] as const) {
      it(`TAP ${fault} while running, ${mode}: one clear line, exit 74, no spin`, async () => {
        const t = startTender(ns, tender([...modeArgs(mode), EXAMPLE('ping_serve.js')]));
        const run = collect(t, 20_000);
        await waitForLine(t, /answering/);
        const t0 = Date.now();
        if (fault === 'deleted') ns.run('ip', ['link', 'del', 'tap0']);
        else ns.run('ip', ['link', 'set', 'tap0', 'down']);
        const r = await run;
        expect(r.code).toBe(74);
        expect(r.stderr.trim()).toMatch(new RegExp(`^tender: device fault: tap0: .*(${fault === 'deleted' ? 'deleted|went away' : 'set down|down'})`));
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(Date.now() - t0).toBeLessThan(3000);
      });
    }
  }

  /** Bytes a paused stream holds, once it holds some (10 s at most: the tender's start-up). */
  const buffered = async (s: NodeJS.ReadableStream & { readableLength: number }) => {
    for (let i = 0; i < 100 && s.readableLength === 0; i++) await sleep(100);
    return s.readableLength;
  };

  // console_write writes fd 1 itself; console.log used to go through the tender's main thread.
  for (const writer of ['console_write', 'console.log'] as const) {
    const app = ['--shm=hybrid', FIXTURE('prints_much.js'), '--mb=8', `--with=${writer}`];

    it(`a guest writing 8 MiB with ${writer} to a console its reader stops reading for a while: all of it arrives, in order; SIGTERM still stops it while the reader does not read`, async () => {
      // stdout is a socket Node made non-blocking: console_write used to fail with EAGAIN there
      // (exit 71) once the socket's buffer was full, and console.log's main thread dropped what
      // it still held when the run ended (exit 0); both now wait for room as a blocking write does.
      const t = startTender(ns, tender(app));
      const run = collect(t, 30_000);
      t.stdout!.pause();
      expect(await buffered(t.stdout!)).toBeGreaterThan(0); // it is writing: 8 MiB cannot fit
      await sleep(500); // the pipe fills meanwhile
      t.stdout!.resume();
      const r = await run;
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const expected = 'x'.repeat(8 * 1024 * 1024 - 1) + '\n' + Array.from({ length: 10000 }, (_, i) => `line ${i}\n`).join('') + 'done\n';
      expect(r.stdout.length).toBe(expected.length);
      expect(r.stdout === expected).toBe(true); // (not toEqual: a diff of 8 MiB)

      const stuck = startTender(ns, tender(app));
      const stuckRun = collect(stuck, 30_000);
      stuck.stdout!.pause();
      expect(await buffered(stuck.stdout!)).toBeGreaterThan(0);
      await sleep(500);
      const t0 = Date.now();
      stuck.kill('SIGTERM');
      const exited = new Promise((resolve) => stuck.on('exit', resolve));
      expect(await exited).toBe(143);
      // Measured ~50 ms; under the tender's 2 s fallback for a guest that does not stop.
      expect(Date.now() - t0).toBeLessThan(1000);
      stuck.stdout!.resume();
      expect((await stuckRun).stderr.trim()).toBe('tender: stopped by SIGTERM');
    });

    it(`a guest writing with ${writer} to a console whose reader has gone (\`tender app.js | head -1\`): stopped as SIGPIPE stops a program, exit 141 and one line`, async () => {
      // console_write used to end it as a guest crash (exit 71, "guest crashed: EPIPE");
      // console.log, with a stack trace from the main thread (exit 1).
      const t = startTender(ns, tender(app));
      const run = collect(t, 30_000);
      t.stdout!.pause();
      expect(await buffered(t.stdout!)).toBeGreaterThan(0); // it is writing: 8 MiB cannot fit
      t.stdout!.destroy(); // the reader goes away, as head does after its line
      const r = await run;
      expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 141, stderr: 'tender: console closed (EPIPE): its reader has gone; the guest was stopped, as SIGPIPE stops a program' });
    });
  }

  it('hybrid: a guest that writes the IO thread\'s txTail once and blocks is a guest fault (72) within seconds, not a core spun until --timeout', async () => {
    // With the IO token the IO thread peeks at the published indices to decide whether to
    // sleep; its bursts use its own checked copies. A txTail one short of txHead made every
    // peek see a frame and no burst find one: it spun (yielding) until --timeout, 124.
    const t0 = Date.now();
    const r = await runTender(ns, tender(['--shm=hybrid', '--timeout=15', FIXTURE('scribbles_and_blocks.js')]), 30_000);
    const lines = r.stderr.trim().split('\n');
    expect({ code: r.code, first: lines[0], count: lines.length }).toEqual({ code: 72, first: 'scribbled', count: 2 });
    expect(lines[1]).toMatch(/^tender: guest fault: nic 0 tx ring: consumer index \d+ was written while this side held the role/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a guest that writes the IO token FREE while the IO thread holds it is a guest fault (72), seen at the IO thread\'s next round', async () => {
    // Only the IO thread lets go of its token; a guest that wrote FREE could take it and run the
    // rings' burst code on its own thread beside the IO thread's (both producing on its RX
    // rings, both counting). Before, nothing noticed: the fixture ran its 5 s and exited 0.
    const t0 = Date.now();
    const r = await runTender(ns, tender(['--shm=hybrid', '--timeout=15', FIXTURE('frees_io_token.js')]), 30_000);
    const lines = r.stderr.trim().split('\n');
    expect({ code: r.code, lines }).toEqual({ code: 72, lines: ['freed', 'tender: guest fault: the IO token was written (0) while the IO thread held it (seen by the IO thread)'] });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a guest that writes guestRelays and an ask for the IO token together does not make the idle IO thread spin', async () => {
    // A relaying guest asks for the token no more; the IO thread keeps it (guestRelays). Written
    // together, by a guest that then sleeps outside the API, the IO thread gave the token to the
    // ask and its back-off re-check took it back at once ("free, and the guest relays"), round
    // after round without a pause: 77% of a core while idle, before the ask was ignored.
    const t = startTender(ns, tender(['--shm=hybrid', '--io-token=auto', FIXTURE('asks_while_relaying.js')]));
    const run = collect(t, 30_000);
    await waitForLine(t, /asked/);
    await sleep(500);
    const c0 = procCpuS(t.pid!);
    const t0 = process.hrtime.bigint();
    await sleep(2000);
    const cpu = (procCpuS(t.pid!) - c0) / (Number(process.hrtime.bigint() - t0) / 1e9);
    const r = await run;
    console.log(`asks while relaying: ${(cpu * 100).toFixed(1)}% of a core`);
    expect(r.code).toBe(0);
    expect(cpu).toBeLessThan(0.1);
  });

  it('a console closed while the guest has left a broken TX ring: the guest fault the IO thread meets at the stop wins (exit 72), not the closed console (141)', async () => {
    // Event mode: the IO thread sleeps until kicked, so it reads the broken txHead when the
    // stop has it send what the guest queued, after the guest has ended on its console; or
    // at its sleep's 1 s cap, counted from the ARP reply the fixture reached the region with,
    // up to 100 ms before the break. Then the run ends 72 as well, but as a fault during the
    // run, and this test would not tell: so the console must close well within that second.
    // host/endings.ts's finalEnding has every case (test/endings.test.ts).
    const t = startTender(ns, tender(['--shm=event', FIXTURE('faults_then_prints.js')]));
    const run = collect(t, 30_000);
    t.stdout!.pause();
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`no "broken" on stderr within 10 s: ${err}`)), 10_000);
      t.stderr!.on('data', (d) => {
        err += d;
        if (err.includes('broken\n')) resolve(void clearTimeout(timer));
      });
    });
    const brokenAt = Date.now();
    const filled = await buffered(t.stdout!);
    t.stdout!.destroy();
    const closedAt = Date.now();
    const r = await run;
    const lines = r.stderr.trim().split('\n');
    expect({ code: r.code, first: lines[0], count: lines.length }).toEqual({ code: 72, first: 'broken', count: 2 });
    expect(filled, 'the guest was writing when its console closed').toBeGreaterThan(0);
    expect(closedAt - brokenAt, 'the console closed too late to tell the two endings apart').toBeLessThan(300);
    expect(lines[1]).toMatch(/^tender: guest fault: .*tx.*\(seen by the IO thread\)$/i);
  });

  /**
   * stdout a TCP socket whose peer resets (`tender app.js > /dev/tcp/…` read by a program that
   * dies): the first write after the reset fails with ECONNRESET, not EPIPE. (Node's writeSync
   * sometimes writes once more before it throws, and reports that write's EPIPE: strace shows
   * both; in about one run in five here, so the line may name either.) A script in the
   * namespace (its loopback: no traffic leaves it) connects to itself, hands the tender the
   * connected socket as its stdout and closes its own copy, so that only the tender's write can
   * meet the reset; the listening side resets once it has read 1 MiB.
   */
  it('a guest writing with console_write to a socket whose peer resets (ECONNRESET): stopped the same way, exit 141 and one line', async () => {
    const script = `
      const net = require('node:net');
      const { spawn } = require('node:child_process');
      const server = net.createServer((peer) => {
        let got = 0;
        peer.on('data', (b) => { got += b.length; if (got >= 1 << 20) peer.resetAndDestroy(); });
      });
      server.listen(0, '127.0.0.1', () => {
        const out = net.connect(server.address().port, '127.0.0.1', () => {
          const t = spawn(process.execPath, process.argv.slice(1), { stdio: ['ignore', out, 'pipe'] });
          out.destroy();
          let stderr = '';
          t.stderr.on('data', (d) => (stderr += d));
          t.on('close', (code, signal) => { console.log(JSON.stringify({ code, signal, stderr })); process.exit(0); }); // 'close': stderr read to its end
        });
      });`;
    const r = await collect(ns.spawn('node', ['-e', script, TENDER, ...tender(['--shm=hybrid', FIXTURE('prints_much.js'), '--mb=8'])]), 30_000);
    expect(r.code).toBe(0);
    const { code, signal, stderr } = lastJson(r.stdout);
    expect({ code, signal }).toEqual({ code: 141, signal: null });
    expect(stderr).toMatch(/^tender: console closed \((ECONNRESET|EPIPE)\): its reader has gone; the guest was stopped, as SIGPIPE stops a program\n$/);
  });

  it('a guest writing with console.error to a stderr whose reader has gone: stopped the same way, exit 141', async () => {
    const t = startTender(ns, tender(['--shm=hybrid', FIXTURE('prints_much.js'), '--mb=8', '--with=console.error']));
    const run = collect(t, 30_000);
    t.stderr!.pause();
    expect(await buffered(t.stderr!)).toBeGreaterThan(0); // it is writing: 8 MiB cannot fit
    t.stderr!.destroy(); // the tender's own line goes there too, so only its code is seen
    const r = await run;
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 141, stdout: '' });
  });

  for (const mode of ALL) {
    it(`bad frames from the wire, ${mode}: oversize frames are counted and never delivered cut short; the tender keeps running`, async () => {
      ns.run('ip', ['link', 'set', 'tap0', 'mtu', '9000']); // the TAP lets through more than the tender's MTU 1500
      const stats = statsPath();
      const t = startTender(ns, tender([...modeArgs(mode), `--stats-json=${stats}`, FIXTURE('frame_lengths.js'), '--count=4']));
      const run = collect(t, 20_000);
      await waitForLine(t, /ready/);
      // 14: header only; 1518: the largest a 1500 MTU allows (with a VLAN tag); 1519: one over;
      // 1528: exactly the slot's capacity; 9000: far over; then ordinary frames again.
      await collect(ns.spawn(bin.raw_send, ['--tap=tap0', `--dst-mac=${GUEST_MAC}`, '--lengths=14,1518,1519,1528,9000,60,1000']));
      const r = await run;
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').filter((l) => l.startsWith('len '))).toEqual(['len 14 intact', 'len 1518 intact', 'len 60 intact', 'len 1000 intact']);
      const s = readStats(stats);
      expect(s.nics[0].rx_bad).toBe(3);
    });
  }
});

