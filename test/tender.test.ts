// The tender end to end: real `tender`, real examples, real ping and sockets, in a namespace.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { GUEST_MAC, collect, createNetns, DEV, netnsExists, skipReal, type Netns, TENDER } from '../testbed/netns.js';
import { EXAMPLE, FIXTURE, modeArgs, readStats, runTender, startTender, statsPath, waitForLine } from '../testbed/tender.js';
import { THREAD_NAME } from '../host/thread-names.js';
import { kernelTx } from '../testbed/tap-stats.js';
import { buildLimitPrograms } from '../testbed/c/build.js';

const MODES = ['baseline', 'poll', 'event', 'hybrid'] as const;

describe.skipIf(skipReal())('tender with the example guests', () => {
  let ns: Netns;
  beforeAll(() => {
    // A fixed guest MAC with a static neighbour entry: a sender must not lose its first
    // frames in the kernel's ARP queue (unres_qlen) before any of them reach the TAP.
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
  });
  afterAll(() => {
    ns?.destroy();
    expect(netnsExists(ns.name)).toBe(false);
  });

  for (const mode of MODES) {
    it(`${mode}: ping_serve answers 2,000 pings at 1 ms and 500 of 1472 bytes with 0% loss and intact payloads`, async () => {
      const stats = statsPath();
      const t = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...modeArgs(mode), `--stats-json=${stats}`, EXAMPLE('ping_serve.js'), '--limit=2500']);
      const tender = collect(t, 60_000);
      await waitForLine(t, /ping_serve: answering/);
      // Named threads, so top -H, ps -L and perf tell them apart (ip netns exec execs: t.pid is the tender).
      const names = readdirSync(`/proc/${t.pid}/task`).map((tid) => readFileSync(`/proc/${t.pid}/task/${tid}/comm`, 'utf8').trim());
      const small = await collect(ns.spawn('ping', ['-w', '30', '-c', '2000', '-i', '0.001', '10.0.0.2']));
      const big = await collect(ns.spawn('ping', ['-w', '30', '-c', '500', '-i', '0.001', '-s', '1472', '10.0.0.2']));
      const r = await tender;
      for (const p of [small, big]) {
        expect(p.stdout).toMatch(/ 0% packet loss/);
        expect(p.stdout).not.toMatch(/wrong data|DUP!/);
      }
      expect(small.stdout).toMatch(/2000 received/);
      expect(big.stdout).toMatch(/500 received/);
      expect(r.code).toBe(0);
      const s = readStats(stats);
      const nic = s.nics[0];
      expect(s.mode).toBe(mode);
      expect(nic.rx_frames).toBeGreaterThanOrEqual(2500);
      expect(nic.tx_frames).toBeGreaterThanOrEqual(2500);
      const frames = nic.rx_frames + nic.tx_frames;
      const n = s.notifications;
      expect(n.total).toBe(n.traps + n.kicks + n.interrupts + n.tap_wakeups);
      expect(n.per_frame).toBeCloseTo(n.total / frames, 5);
      if (mode === 'baseline') {
        expect(n.traps).toBeGreaterThanOrEqual(frames);
        expect(n.kicks).toBe(0);
        expect(n.io_wakeups).toBe(0);
      } else if (mode === 'poll') {
        expect(n.kicks).toBe(0);
        expect(n.io_wakeups).toBe(0);
        expect(n.traps).toBeLessThan(10);
      } else if (mode === 'event') {
        expect(n.kicks).toBeGreaterThan(0);
        expect(n.io_wakeups).toBeGreaterThan(0);
      } else {
        // A ping every ms outlasts the guest's longest spin (500 µs): it sleeps between them, and
        // each of those sleeps ends in a counted wake-up, from the IO thread (an interrupt) or,
        // holding the IO token, from the kernel on its TAP (hybrid's default, --io-token=auto).
        expect(n.interrupts + n.tap_wakeups).toBeGreaterThan(1000);
        expect(n.io_wakeups).toBeGreaterThan(0);
      }
      if (mode !== 'hybrid') expect(n.tap_wakeups).toBe(0); // only the IO token sleeps on a TAP
      expect(s.cpu_s.guest).toBeGreaterThan(0);
      if (mode !== 'baseline') expect(s.cpu_s.io).toBeGreaterThan(0);
      expect(names.filter((n) => n === THREAD_NAME.guest)).toHaveLength(1);
      expect(names.filter((n) => n === THREAD_NAME.io)).toHaveLength(mode === 'baseline' ? 0 : 1);
    });
  }

  for (const mode of MODES) {
    it(`${mode}: udp_blast's 10,000 datagrams reach a namespace socket, all and byte-exact`, async () => {
      const recv = ns.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--recv', '--port=9100', '--count=10000', '--timeout-ms=30000']);
      const received = collect(recv, 40_000);
      await new Promise<void>((r) => recv.stdout!.once('data', () => r())); // listening
      const stats = statsPath();
      const r = await runTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...modeArgs(mode), `--stats-json=${stats}`, EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9100', '--count=10000', '--size=1300', '--batch=32', '--rate=50000']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const peer = JSON.parse((await received).stdout.trim().split('\n').pop()!);
      expect(peer).toMatchObject({ received: 10000, bad: 0, outOfOrder: 0, bytes: 10000 * 1300 });
      const s = readStats(stats);
      expect(s.nics[0].tx_frames).toBeGreaterThanOrEqual(10000);
      expect(s.nics[0].tx_drops).toBe(0);
    });

    it(`${mode}: udp_sink counts all 5,000 datagrams a namespace socket sends`, async () => {
      // Room on the TAP for all of them, so that this counts what the tender does with what the
      // kernel hands it. In session 29's CI the baseline's sink once waited to its --timeout for
      // datagrams it never got; the likeliest loss is the kernel's, at the default queue, while
      // a guest that traps once a frame was held up (V8 compiling, a busy vCPU). Not shown: the
      // run kept no counts, which the message below now gives.
      const qlen = JSON.parse(ns.run('ip', ['-j', 'link', 'show', 'tap0']))[0].txqlen as number;
      ns.run('ip', ['link', 'set', 'tap0', 'txqueuelen', '6000']);
      try {
        const dropped0 = kernelTx(ns).dropped;
        const child = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...modeArgs(mode), '--timeout=30', EXAMPLE('udp_sink.js'), '--count=5000']);
        const t = collect(child, 40_000);
        await waitForLine(child, /udp_sink: counting/);
        const sent = await collect(ns.spawn('node', [`${DEV}test/harness/udp-peer.js`, '--send', '--dst=10.0.0.2', '--port=9200', '--count=5000', '--size=1300']));
        expect(sent.code).toBe(0);
        const r = await t;
        const why = `${r.stdout}${r.stderr}kernel drops at tap0: ${kernelTx(ns).dropped - dropped0}`;
        expect(r.code, why).toBe(0);
        expect(r.stdout, why).toMatch(/udp_sink: total 5000 frames 6500000 bytes/);
      } finally {
        ns.run('ip', ['link', 'set', 'tap0', 'txqueuelen', String(qlen)]);
      }
    });
  }

  it('an io_uring_enter that fails mid-run retires that ring with one line: every frame is still read, written and counted, by read() and write()', async () => {
    // strace injects EIO into each thread's 20th io_uring_enter, one of a burst's batches: the
    // frames its earlier batches moved must be returned and counted (native/uring_rx.cc,
    // SubmitAndReap). Before, the burst threw them away with the error and the device faulted.
    const bin = buildLimitPrograms();
    const inject = ['strace', '-f', '-qq', '-o', '/dev/null', '--seccomp-bpf', '-e', 'trace=io_uring_enter', '-e', 'inject=io_uring_enter:error=EIO:when=20'];
    const env = { ...process.env, UV_USE_IO_URING: '0' }; // only the tender's own rings meet it
    const retired = /^tender: io_uring on TAP fd \d+: io_uring_enter: Input\/output error; its frames go by read\(\) and write\(\) from now on$/;
    const RX = 20_000;
    const qlen = JSON.parse(ns.run('ip', ['-j', 'link', 'show', 'tap0']))[0].txqlen as number;
    ns.run('ip', ['link', 'set', 'tap0', 'txqueuelen', String(RX + 1000)]); // strace slows the guest: the TAP must keep what waits
    try {
      const stats = statsPath();
      const sink = ns.spawn(inject[0], [...inject.slice(1), 'node', TENDER, '--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', '--tap-reads=uring', `--stats-json=${stats}`, EXAMPLE('udp_sink.js'), `--count=${RX}`, '--timeout=60'], { env });
      const run = collect(sink, 90_000);
      await waitForLine(sink, /udp_sink: counting/);
      const flood = await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', `--count=${RX}`, '--seconds=30', '--size=1300', '--pps=200000']));
      expect(flood.code, flood.stderr).toBe(0);
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`total ${RX} frames`));
      expect(r.stderr.split('\n').filter((l) => l.startsWith('tender: io_uring')).every((l) => retired.test(l))).toBe(true);
      expect(r.stderr).toMatch(/tender: io_uring on TAP fd \d+: io_uring_enter: Input\/output error/m);
      const nic = readStats(stats).nics[0];
      expect(nic.rx_frames).toBe(RX);
      expect(nic.rx_drops).toBe(0);
    } finally {
      ns.run('ip', ['link', 'set', 'tap0', 'txqueuelen', String(qlen)]);
    }
    // TX: bursts of 32 writes per io_uring_enter.
    const TX = 3000;
    const counter = ns.spawn(bin.udp_count, ['--port=9000', '--count=1000000', '--idle-ms=1000']);
    const counted = collect(counter, 90_000);
    await new Promise<void>((r) => counter.stdout!.once('data', () => r()));
    const stats = statsPath();
    const r = await collect(ns.spawn(inject[0], [...inject.slice(1), 'node', TENDER, '--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', '--tap-writes=uring', `--stats-json=${stats}`, EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9000', `--count=${TX}`, '--batch=32', '--rate=20000'], { env }), 90_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/tender: io_uring on TAP fd \d+: io_uring_enter: Input\/output error/m);
    const nic = readStats(stats).nics[0];
    expect(JSON.parse((await counted).stdout.trim().split('\n').pop()!).received).toBe(TX);
    expect(nic.tx_drops).toBe(0);
    // Besides the datagrams, udp_blast's ARP request (and any ARP answers): a frame written and not counted would show here.
    expect(nic.tx_frames - TX).toBeGreaterThanOrEqual(1);
    expect(nic.tx_frames - TX).toBeLessThanOrEqual(3);
  }, 200_000);
});

describe.skipIf(skipReal())('several NICs', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns({ taps: 2 });
  });
  afterAll(() => ns?.destroy());

  for (const mode of MODES) {
    it(`${mode}: one guest answers ping on two NICs (--net:NAME=IFACE), waiting on both with one ready set`, async () => {
      const stats = statsPath();
      const t = startTender(ns, ['--net:left=tap0', '--net:right=tap1', '--net-mac:right=02:00:00:00:01:02', ...modeArgs(mode), `--stats-json=${stats}`, FIXTURE('ping_all.js'), '--limit=401']);
      const run = collect(t, 30_000);
      await waitForLine(t, /ping_all: answering on left, right/);
      const [a, b] = await Promise.all([
        collect(ns.spawn('ping', ['-w', '30', '-c', '200', '-i', '0.002', '10.0.0.2'])),
        collect(ns.spawn('ping', ['-w', '30', '-c', '200', '-i', '0.002', '10.0.1.2'])),
      ]);
      expect(a.stdout).toMatch(/200 received, 0% packet loss/);
      expect(b.stdout).toMatch(/200 received, 0% packet loss/);
      // While the guest still serves (the kernel flushes a TAP's neighbours when it closes):
      expect(ns.run('ip', ['neigh', 'show', '10.0.1.2'])).toMatch(/lladdr 02:00:00:00:01:02/);
      await collect(ns.spawn('ping', ['-w', '30', '-c', '1', '10.0.1.2']));
      const r = await run;
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/ping_all: 200 201/);
      const s = readStats(stats);
      expect(s.nics.map((n: any) => [n.name, n.iface])).toEqual([['left', 'tap0'], ['right', 'tap1']]);
      for (const n of s.nics) expect(n.tx_frames).toBeGreaterThanOrEqual(200);
    });
  }
});

describe.skipIf(skipReal())('what the guest is told', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns({ taps: 2, mtu: 9000 });
  });
  afterAll(() => ns?.destroy());

  it('a random, unicast, locally administered MAC unless --net-mac sets one; the --mtu; NICs in the order given', async () => {
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const r = await runTender(ns, ['--net:a=tap0', '--net:b=tap1', '--net-mac:b=02:12:34:56:78:9a', '--mtu=9000', '--shm=event', FIXTURE('print_info.js')]);
      expect(r.code).toBe(0);
      runs.push(JSON.parse(r.stdout));
    }
    for (const [a, b] of runs) {
      expect(a).toMatchObject({ handle: 0, name: 'a', mtu: 9000 });
      expect(b).toMatchObject({ handle: 1, name: 'b', mtu: 9000, mac: [0x02, 0x12, 0x34, 0x56, 0x78, 0x9a] });
      expect(a.mac[0] & 0x01).toBe(0); // unicast
      expect(a.mac[0] & 0x02).toBe(2); // locally administered
    }
    expect(new Set(runs.map(([a]) => a.mac.join(':'))).size).toBe(3); // random each time
  });

  it('--stats=live rewrites one line in place on a terminal', async () => {
    // script(1) gives the tender a real pseudo-terminal.
    const cmd = `node ${TENDER} --net=tap0 --shm=hybrid --stats=live --timeout=2.5 ${FIXTURE('loops.js')}`;
    const r = await collect(ns.spawn('script', ['-qec', cmd, '/dev/null']), 20_000);
    expect(r.stdout).toMatch(/\r\x1b\[Kservice rx [\d.]+k?M?\/s tx/);
    expect((r.stdout.match(/\r\x1b\[K/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(r.stdout).toMatch(/guest stopped after --timeout=2.5 s/);
  });
});

describe.skipIf(skipReal())('tender exit codes', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns({ taps: 1 });
    ns.run('ip', ['tuntap', 'add', 'dev', 'tapdown', 'mode', 'tap']);
  });
  afterAll(() => ns?.destroy());

  const cases: [string, string[], number, RegExp][] = [
    ['unknown mode', ['--net=tap0', '--shm=spin', 'x.js'], 64, /Invalid values:.*shm|spin/],
    ['malformed --net:NAME', ['--net:bad-name=tap0', FIXTURE('returns7.js')], 64, /malformed --net:NAME/],
    ['missing APP', ['--net=tap0'], 64, /missing APP/],
    ['APP not found', ['--net=tap0', '/nonexistent/app.js'], 64, /APP not found/],
    ['unknown option', ['--net=tap0', '--bogus', FIXTURE('returns7.js')], 64, /Unknown argument/],
    ['bad --ring-slots', ['--net=tap0', '--shm=poll', '--ring-slots=100', FIXTURE('returns7.js')], 64, /power of two/],
    ['--mtu not a number', ['--net=tap0', '--mtu=abc', FIXTURE('returns7.js')], 64, /--mtu must be an integer from 68 to 65535/],
    ['--mem too small', ['--net=tap0', '--mem=0', FIXTURE('returns7.js')], 64, /--mem must be an integer from 16/],
    ['malformed --net-mac', ['--net=tap0', '--net-mac=02:zz:00:00:00:01', FIXTURE('returns7.js')], 64, /malformed MAC address/],
    ['multicast --net-mac', ['--net=tap0', '--net-mac=01:00:00:00:00:01', FIXTURE('returns7.js')], 64, /multicast/],
    ['--net-mac for a NIC with no --net', ['--net=tap0', '--net-mac:other=02:00:00:00:00:09', FIXTURE('returns7.js')], 64, /NIC 'other', which has no --net/],
    ['the same --net:NAME twice', ['--net:a=tap0', '--net:a=tap0', FIXTURE('returns7.js')], 64, /--net:a given twice/],
    ['--timeout not positive', ['--net=tap0', '--timeout=0', FIXTURE('returns7.js')], 64, /--timeout must be a positive number/],
    ['--stats with a bad value', ['--net=tap0', '--stats=loud', FIXTURE('returns7.js')], 64, /--stats takes no value or 'live'/],
    ['no such TAP', ['--net=nosuch0', FIXTURE('returns7.js')], 69, /no such interface 'nosuch0'/],
    ['not a TAP', ['--net=lo', FIXTURE('returns7.js')], 69, /interface 'lo' is not a TAP device/],
    ['TAP down', ['--net=tapdown', '--shm=event', FIXTURE('returns7.js')], 69, /interface 'tapdown' is down/],
  ];
  for (const [what, args, code, line] of cases) {
    it(`${what}: exit ${code} with one clear line`, async () => {
      const r = await runTender(ns, args);
      expect(r.code).toBe(code);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^tender: /);
      expect(lines[0]).toMatch(line);
    });
  }

  it('TAP busy (another tender has it): exit 69 with one clear line', async () => {
    const first = startTender(ns, ['--net=tap0', '--shm=event', EXAMPLE('ping_serve.js')]);
    const running = collect(first, 20_000);
    await waitForLine(first, /answering/);
    const second = await runTender(ns, ['--net=tap0', FIXTURE('returns7.js')]);
    first.kill('SIGTERM');
    expect((await running).code).toBe(143);
    expect(second.code).toBe(69);
    expect(second.stderr.trim()).toBe("tender: interface 'tap0' is busy: another process is attached to it");
  });

  it('/dev/net/tun missing: exit 69 with one clear line', async () => {
    // A private mount namespace where /dev/net is empty: the host's device is untouched.
    const r = await collect(ns.spawn('unshare', ['--mount', 'sh', '-c', `mount -t tmpfs none /dev/net && exec node ${TENDER} --net=tap0 ${FIXTURE('returns7.js')}`]));
    expect(r.code).toBe(69);
    expect(r.stderr.trim()).toBe('tender: /dev/net/tun is missing (load the tun module: modprobe tun)');
  });

  it('a guest cannot import Node built-ins that reach outside: it crashes (71) saying so, and writes nothing', async () => {
    const r = await runTender(ns, ['--net=tap0', '--shm=event', FIXTURE('reaches_out.js')]);
    expect(r.code).toBe(71);
    expect(r.stderr).toMatch(/^tender: guest crashed: Error: the guest has no access to 'node:fs'/);
    expect(existsSync('/tmp/shmtender-guest-escaped')).toBe(false);
  });

  it('no permission: exit 77 with one clear line', async () => {
    const r = await collect(ns.spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', `${TENDER}`, '--net=tap0', FIXTURE('returns7.js')]));
    expect(r.code).toBe(77);
    expect(r.stderr.trim()).toMatch(/^tender: permission denied.*needs root or CAP_NET_ADMIN$/);
  });

  it('a bare --stats before APP does not take APP as its value', async () => {
    const r = await runTender(ns, ['--net=tap0', '--stats', FIXTURE('returns7.js'), '--count=3']);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^tender: mode baseline/m);
  });

  it('--help lists the options with an example and exits 0', async () => {
    const r = await runTender(ns, ['--help']);
    expect(r.code).toBe(0);
    for (const o of ['--net', '--shm', '--mtu', '--mem', '--stats', '--stats-json', 'Examples:']) expect(r.stdout).toContain(o);
  });

  for (const mode of MODES) {
    it(`${mode}: a guest returning 7 exits 7, a guest that throws exits 71, and the TAP is free again after`, async () => {
      const seven = await runTender(ns, ['--net=tap0', ...modeArgs(mode), FIXTURE('returns7.js')]);
      expect(seven.code).toBe(7);
      expect(seven.stdout).toBe('returning 7\n');
      const threw = await runTender(ns, ['--net=tap0', ...modeArgs(mode), FIXTURE('throws.js')]);
      expect(threw.code).toBe(71);
      expect(threw.stderr).toMatch(/^tender: guest crashed: Error: the guest gave up/);
      // Nothing held on to the TAP: a third run attaches to it at once.
      const again = await runTender(ns, ['--net=tap0', ...modeArgs(mode), FIXTURE('returns7.js')]);
      expect(again.code).toBe(7);
    });
  }

  it('NIC calls with a fractional size or a buffer that is not bytes get EINVAL in every mode, not a device fault', async () => {
    for (const mode of MODES) {
      const r = await runTender(ns, ['--net=tap0', ...modeArgs(mode), FIXTURE('bad_args.js')]);
      // Before: in the baseline the size reached the TAP's write and failed there, exit 74.
      expect({ mode, code: r.code, out: r.stdout, err: r.stderr }).toEqual({ mode, code: 0, out: 'all EINVAL\n', err: '' });
    }
  });

  it('with the TAP read through io_uring, the TAP is free the moment the tender exits: a C reader attaches at once', async () => {
    // A closed ring is torn down by a kernel worker later; the IO thread unregisters the TAP first
    // (native/uring_rx.cc). A second tender takes longer to start than that teardown, a C program not.
    const bin = buildLimitPrograms();
    for (let i = 0; i < 3; i++) {
      const stats = statsPath();
      const r = await runTender(ns, ['--net=tap0', '--shm=hybrid', '--tap-reads=uring', `--stats-json=${stats}`, FIXTURE('returns7.js')]);
      expect(r.code, r.stderr).toBe(7);
      const c = await collect(ns.spawn('timeout', ['0.3', bin.tap_reader, '--tap=tap0', '--loop=epoll']), 10_000);
      expect(c.stderr).toBe('');
      expect(c.code).toBe(124); // attached, read until stopped
      const nic = readStats(stats).nics[0];
      expect(nic.tap_reads).toBe('io_uring');
      expect(nic.tap_writes).toBe('io_uring');
    }
  });

  it('where io_uring is refused, as a container\'s default seccomp profile does: --tap-reads=uring or --tap-writes=uring exits 69 with one line, auto reads with read(), writes with write() and answers', async () => {
    // testbed/c/no_uring.c: io_uring_setup, _enter and _register fail with EPERM, nothing else.
    const bin = buildLimitPrograms();
    const refused = await collect(ns.spawn(bin.no_uring, ['node', TENDER, '--net=tap0', '--shm=hybrid', '--tap-reads=uring', FIXTURE('returns7.js')]));
    expect(refused.code).toBe(69);
    expect(refused.stderr.trim()).toBe('tender: --tap-reads=uring: tap0: io_uring_setup: Operation not permitted; --tap-reads=auto falls back to read()');
    const refusedTx = await collect(ns.spawn(bin.no_uring, ['node', TENDER, '--net=tap0', '--shm=hybrid', '--tap-writes=uring', FIXTURE('returns7.js')]));
    expect(refusedTx.code).toBe(69);
    expect(refusedTx.stderr.trim()).toBe('tender: --tap-writes=uring: tap0: io_uring_setup: Operation not permitted; --tap-writes=auto falls back to write()');
    const stats = statsPath();
    const t = ns.spawn(bin.no_uring, ['node', TENDER, '--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', `--stats-json=${stats}`, EXAMPLE('ping_serve.js'), '--limit=20']);
    const run = collect(t, 30_000);
    await waitForLine(t, /answering/);
    const ping = await collect(ns.spawn('ping', ['-w', '30', '-c', '20', '-i', '0.01', '10.0.0.2']));
    expect(ping.stdout).toMatch(/20 received/);
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const nic = readStats(stats).nics[0];
    expect(nic.tap_reads).toBe('read');
    expect(nic.tap_writes).toBe('write');
    expect(nic.rx_frames).toBeGreaterThanOrEqual(20);
    expect(nic.tx_frames).toBeGreaterThanOrEqual(20);
  });
});

describe.skipIf(skipReal())('npm run demo', () => {
  it('prints one table row per mode and removes its namespace', async () => {
    const demo = spawn('node', [`${DEV}bench/demo.js`, '--count=500'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await collect(demo, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| (baseline|poll|event|hybrid) \|/.test(l));
    expect(rows.map((l) => l.split('|')[1].trim())).toEqual(['baseline', 'poll', 'event', 'hybrid']);
    for (const row of rows) expect(row).toMatch(/\| 0% \|/);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`shmt${demo.pid}x`);
  });

  it('removes its namespace when the terminal goes (SIGHUP), and exits 129', async () => {
    // A process group of its own, hung up as a terminal does it: every process in the group.
    const demo = spawn('node', [`${DEV}bench/demo.js`, '--count=100000'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const r = collect(demo, 60_000);
    await new Promise<void>((resolve) => demo.stderr!.on('data', (d: Buffer) => d.toString().includes('demo: baseline') && resolve()));
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(`shmt${demo.pid}x`);
    process.kill(-demo.pid!, 'SIGHUP');
    expect((await r).code).toBe(129);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`shmt${demo.pid}x`);
  });
});

describe('a run with no NIC (no --net), as solo5 allows', () => {
  for (const mode of MODES) {
    it(`${mode}: the guest runs, net_info() is undefined, and ping_serve says "no NIC" in one line (no stack trace)`, async () => {
      const plain = (args: string[]) => collect(spawn('node', [TENDER, ...modeArgs(mode), ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
      const ok = await plain([FIXTURE('returns7.js')]);
      expect(ok.code).toBe(7);
      const r = await plain(['--stats-json=/dev/null', EXAMPLE('ping_serve.js')]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('ping_serve: no NIC (run the tender with --net=IFACE)\n');
      expect(r.stderr).toBe('');
    });
  }
});
