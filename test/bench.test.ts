// The bench harness itself, run small (--quick): every workload and every row of the plan,
// including the drain (frozen receiver) and the latency probe, its three outputs, and the
// README blocks derived from them. Structure only, never speed: speed lives in bench/results.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { PLAN } from '../bench/plan.js';
import { SKIP_WARM, WARM_PORT, warmUp } from '../bench/workloads/common.js';
import type { Context } from '../bench/types.js';
import { kernelTx } from '../testbed/tap-stats.js';
import { buildLimitPrograms } from '../testbed/c/build.js';
import { collect, createNetns, DEV, GUEST_MAC, ROOT, skipReal, type Netns } from '../testbed/netns.js';
import { EXAMPLE, startTender, waitForLine } from '../testbed/tender.js';

describe.skipIf(skipReal())('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'shmt-bench-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures every row of every workload and writes the markdown, the JSON and the chart', async () => {
    const bench = spawn('node', [`${DEV}bench/run.js`, '--quick', `--out=${out}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await collect(bench, 300_000); // ~150 s on the 2-vCPU VMs: room for a slow day, a bound for a hang
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    // Its namespace (named after its pid) is gone.
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`shmt${bench.pid}x`);

    const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    expect(json.workloads.map((w: any) => w.id)).toEqual(PLAN.map((w) => w.id));
    for (const [i, w] of json.workloads.entries()) {
      const plan = PLAN[i];
      expect(Object.keys(w.cells), w.id).toEqual(plan.rows.map((x) => x.id));
      for (const [row, c] of Object.entries<any>(w.cells)) {
        const where = `${w.id} ${row}`;
        if (plan.noLimit !== undefined) {
          // At rest: no frames, so nothing per frame; a share of a core, and a round trip at the end.
          expect(c.value.median, where).toBeGreaterThanOrEqual(0);
          expect(Number.isFinite(c.value.median), where).toBe(true);
          expect(c.extra.sleeps_per_s.median, where).toBeGreaterThanOrEqual(0);
          expect(c.extra.rtt_rest_us.median, where).toBeGreaterThan(0);
          continue;
        }
        expect(typeof c.value.median === 'number' || c.value.median === 'Infinity', where).toBe(true);
        expect(Number(c.value.median), where).toBeGreaterThan(0);
        expect(c.cpu_us_per_frame.median, where).toBeGreaterThan(0);
        expect(Number.isFinite(c.cpu_us_per_frame.median), where).toBe(true);
        if (plan.rows.find((x) => x.id === row)!.kind === 'tender') expect(c.notifications_per_frame.median, where).toBeGreaterThanOrEqual(0);
      }
      // The limit is the best of the C loop variants, by the metric's direction.
      const cRows = plan.rows.filter((x) => x.kind === 'c').map((x) => x.id);
      if (!cRows.length || plan.noLimit !== undefined) {
        expect(w.limit, w.id).toBeNull();
        continue;
      }
      const medians = cRows.map((id) => Number(w.cells[id].value.median));
      const best = plan.metric.better === 'higher' ? Math.max(...medians) : Math.min(...medians);
      expect(cRows, w.id).toContain(w.limit.row);
      expect(Number(w.limit.value.median), w.id).toBe(best);
    }
    const cell = (id: string, row: string) => json.workloads.find((w: any) => w.id === id).cells[row];
    // The drain: every frame queued while the receiver was frozen was kept, and drained.
    for (const row of ['c-busy', 'node-readsync', 'hybrid']) {
      expect(cell('drain', row).extra.fill_drops.max, row).toBe(0);
      expect(cell('drain', row).frames, row).toBe(json.sizes.drainFrames);
    }
    // TX: the TAP's counter less the warm-up is the count (a tender adds its ARP request).
    for (const row of ['c-busy', 'c-uring', 'node-readsync', 'baseline', 'hybrid']) {
      expect(cell('tx-b32', row).frames, row).toBeGreaterThanOrEqual(json.sizes.txCount);
      expect(cell('tx-b32', row).frames, row).toBeLessThanOrEqual(json.sizes.txCount + 2);
    }
    expect(cell('flood', 'baseline').extra.drop_pct.median).toBeGreaterThanOrEqual(0);
    for (const k of ['p50_us', 'p999_us', 'max_us', 'loss_pct']) expect(cell('lat-flood', 'c-busy').extra[k], k).toBeDefined();
    // At rest the window sees a spinner take its core (c-busy's loop, poll's IO thread) and
    // hybrid's parked IO thread take next to none of it.
    expect(cell('rest', 'c-busy').value.median).toBeGreaterThan(50);
    expect(cell('rest', 'poll').extra.io_pct.median).toBeGreaterThan(50);
    expect(cell('rest', 'hybrid').extra.io_pct.median).toBeLessThan(cell('rest', 'poll').extra.io_pct.median / 10);
    expect(cell('rest', 'c-busy').extra.io_pct, 'no IO thread in a C row').toBeUndefined();
    expect(json.targets.length).toBeGreaterThanOrEqual(14);
    for (const t of json.targets) expect(t.measured, t.target).not.toMatch(/not measured/);

    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    for (const w of PLAN) expect(md).toContain(`## ${w.title}`);
    for (const s of ['## Targets', '## Which mode when', '× limit', 'CPU µs/frame', '**limit**']) expect(md).toContain(s);
    expect(md).toMatch(/Machine: .*cores, a system call \d+ ns(, cpuidle \S+( \(guest_halt_poll_ns \d+\))?)?, Linux/);
    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const s of ['frames/s', 'p99', 'RX drain']) expect(svg).toContain(s);

    // The README blocks come from that run, by command; a second pass finds nothing to change.
    const readme = join(out, 'README.md');
    const benchReadme = join(out, 'bench-README.md');
    copyFileSync(join(ROOT, 'README.md'), readme);
    copyFileSync(join(ROOT, 'bench', 'README.md'), benchReadme);
    const args = [`${DEV}bench/headline.js`, `--json=${join(out, 'latest.json')}`, `--readme=${readme}`, `--bench-readme=${benchReadme}`];
    execFileSync('node', args);
    const head = readFileSync(readme, 'utf8');
    const block = head.slice(head.indexOf('<!-- headline:start -->'), head.indexOf('<!-- headline:end -->'));
    expect(block).toContain('| | best C | baseline | poll | event | hybrid |');
    expect(block).toMatch(/cores, a system call \d+ ns(, cpuidle \S+( \(guest_halt_poll_ns \d+\))?)?, Linux/);
    expect(readFileSync(benchReadme, 'utf8')).toMatch(/<!-- which-mode:start -->[^]*\| if you want \| pick \|[^]*<!-- which-mode:end -->/);
    execFileSync('node', [...args, '--check']);
  }, 330_000);
});

// The RX workloads' warm-up goes to the counted address on WARM_PORT, so that it runs the code
// the count is then measured with: each receiver must read those datagrams and leave them out.
describe.skipIf(skipReal())('the receivers skip the warm-up port', () => {
  let ns: Netns;
  let bin: Record<string, string>;
  afterAll(() => ns?.destroy());
  const send = (port: number, count: number, size = 1300) =>
    collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', `--port=${port}`, `--count=${count}`, '--seconds=10', `--size=${size}`, '--pps=100000'])); // paced: none may be dropped
  const ready = (child: ReturnType<typeof spawn>) =>
    new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));

  it('udp_sink, tap_reader (read and io_uring) and node-readsync count the 200 datagrams to port 9000, not the 3000 before them', async () => {
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    bin = buildLimitPrograms();
    const sink = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', EXAMPLE('udp_sink.js'), SKIP_WARM, '--idle-ms=500', '--timeout=20']);
    const sinkDone = collect(sink, 30_000);
    await waitForLine(sink, /udp_sink: counting/);
    await send(WARM_PORT, 3000);
    await send(9000, 200);
    expect((await sinkDone).stdout).toMatch(/udp_sink: total 200 frames /);

    for (const loop of ['epoll', 'uring']) {
      const c = ns.spawn(bin.tap_reader, ['--tap=tap0', `--loop=${loop}`, '--idle-ms=500', SKIP_WARM]);
      await ready(c);
      const cDone = collect(c, 30_000);
      await send(WARM_PORT, 3000);
      await send(9000, 200);
      const out = JSON.parse((await cDone).stdout.trim().split('\n').pop()!);
      expect([out.loop, out.frames]).toEqual([loop, 200]);
    }

    const node = ns.spawn('node', [`${DEV}bench/node-readsync.js`, '--rx', '--count=100000', SKIP_WARM]);
    await ready(node);
    const nodeDone = collect(node, 30_000);
    await send(WARM_PORT, 3000);
    await send(9000, 200);
    await send(9999, 1, 64); // node-readsync's "that was all"
    const n = await nodeDone;
    expect(n.code, n.stderr).toBe(0);
    expect(JSON.parse(n.stdout.trim().split('\n').pop()!).frames).toBe(200);
  }, 120_000);
});

// A drain freezes its receiver right after the warm-up: a receiver slower than the warm-up's
// sender must have read all of it by then, or the rest takes the room of the counted frames and
// is read inside the measured CPU window.
describe.skipIf(skipReal())('the warm-up waits for a slow receiver', () => {
  let ns: Netns;
  afterAll(() => ns?.destroy());

  it('warmUp returns once the TAP has handed over every warm-up frame to a receiver reading ~5,000 a second', async () => {
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    ns.run('ip', ['link', 'set', 'tap0', 'txqueuelen', '200000']); // as the drain has it: the TAP keeps the whole warm-up
    const bin = buildLimitPrograms();
    // 200 µs of work per frame: 4,000 frames take it most of a second, where the sender needs ms.
    const sink = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, EXAMPLE('udp_sink.js'), SKIP_WARM, '--work-ns=200000', '--timeout=30']);
    const sinkDone = collect(sink, 40_000);
    try {
      await waitForLine(sink, /udp_sink: counting/);
      const before = kernelTx(ns);
      await warmUp({ ns, bin } as unknown as Context, 4000);
      const after = kernelTx(ns);
      expect(after.dropped - before.dropped).toBe(0);
      expect(after.packets - before.packets).toBeGreaterThanOrEqual(4000); // read, not only queued: the TAP counts a frame when it is read
    } finally {
      sink.kill('SIGTERM');
      await sinkDone;
    }
  }, 60_000);
});

// The TX workloads' warm-up goes to WARM_PORT, sent by the loop that is then timed: each
// sender must send it there first, then exactly its count to the counted port, and say when
// the warm-up is over (the bench starts the CPU window at that line, and subtracts the warm-up
// from the TAP's counter).
describe.skipIf(skipReal())('the senders warm up on the warm-up port', () => {
  let ns: Netns;
  afterAll(() => ns?.destroy());

  it('udp_blast (batch 1 and 32), tap_writer (write and io_uring) and node-readsync send 3000 datagrams to port 9001, then 200 to port 9000', async () => {
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    const bin = buildLimitPrograms();
    const dstMac = `--dst-mac=${ns.mac(0)}`;
    const senders: [string, () => ReturnType<typeof spawn>][] = [
      ...[1, 32].map((b): [string, () => ReturnType<typeof spawn>] => [`udp_blast --batch=${b}`, () => startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', EXAMPLE('udp_blast.js'), '--dst=10.0.0.1:9000', '--count=200', `--batch=${b}`, '--warm=3000', `--warm-port=${WARM_PORT}`])]),
      ...['block', 'uring'].map((loop): [string, () => ReturnType<typeof spawn>] => [`tap_writer --loop=${loop}`, () => ns.spawn(bin.tap_writer, ['--tap=tap0', `--loop=${loop}`, '--count=200', dstMac, '--warm=3000', `--warm-port=${WARM_PORT}`])]),
      ['node-readsync --tx', () => ns.spawn('node', [`${DEV}bench/node-readsync.js`, '--tx', '--count=200', dstMac, '--warm=3000'])],
    ];
    for (const [name, start] of senders) {
      // Counters that stop only when traffic does: a warm-up sent to 9000 would show as 3200 there.
      const counters = [9000, WARM_PORT].map((port) => ns.spawn(bin.udp_count, [`--port=${port}`, '--count=1000000', '--idle-ms=700']));
      const counted = counters.map((c) => collect(c, 40_000));
      await Promise.all(counters.map((c) => new Promise<void>((r) => c.stdout!.once('data', () => r()))));
      const r = await collect(start(), 40_000);
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout, name).toMatch(/warmed/);
      expect(r.stdout.indexOf('warmed'), name).toBeLessThan(r.stdout.search(/sent 200 frames|"frames":200/));
      const [main, warm] = await Promise.all(counted.map(async (c) => JSON.parse((await c).stdout.trim().split('\n').pop()!).received));
      expect([name, main, warm]).toEqual([name, 200, 3000]);
    }
  }, 120_000);
});

// bench/guests/ping_phases.js and bench/latency-phases.ts (docs/tuning.md, "Under a flood: the
// request behind a slow reply"): the guest's clock on each request agrees with the probe's, and
// the analysis accounts for every counted request.
describe.skipIf(skipReal())('the latency phases', () => {
  let ns: Netns;
  afterAll(() => ns?.destroy());

  it('ping_phases.js records when each request reached the app and its reply was written; latency-phases reads them with the probe\'s dump', async () => {
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    const bin = buildLimitPrograms();
    const [warmup, count] = [500, 2000];
    const guest = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', join(ROOT, 'bench', 'guests', 'ping_phases.js'), `--count=${warmup + count}`]);
    const done = collect(guest, 60_000);
    await waitForLine(guest, /ping_serve: answering/);
    const dir = mkdtempSync(join(tmpdir(), 'shmt-phases-'));
    try {
      const dump = join(dir, 'dump.txt');
      const probe = await collect(ns.spawn(bin.icmp_probe, ['--dst=10.0.0.2', `--count=${count}`, `--warmup=${warmup}`, '--rate=10000', '--size=56', `--dump=${dump}`]));
      expect(JSON.parse(probe.stdout.trim().split('\n').pop()!)).toMatchObject({ sent: count, received: count });
      const g = await done; // the guest ends after the last request
      expect(g.code, g.stderr).toBe(0);
      const phases = g.stdout.split('\n').filter((l) => l.startsWith('PHASE ')).map((l) => l.split(' ').slice(1).map(Number));
      expect(phases.length).toBe(warmup + count);
      const sent = readFileSync(dump, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
      for (const [k, [t, rtt]] of sent.entries()) {
        const [, got, begin, end] = phases[warmup + k];
        // After the probe sent it, before its reply was stamped (the probe's rtt comes from a
        // CLOCK_REALTIME stamp, which a double holds to ~0.4 µs at today's date: 1 µs of slack).
        expect(got).toBeGreaterThan(t);
        expect(got).toBeLessThan(t + (rtt + 1) / 1e6);
        expect(begin).toBeGreaterThanOrEqual(got);
        expect(end).toBeGreaterThanOrEqual(begin);
      }
      const out = join(dir, 'tender.out');
      writeFileSync(out, g.stdout);
      const report = execFileSync('node', [`${DEV}bench/latency-phases.js`, `--dump=${dump}`, `--out=${out}`], { encoding: 'utf8' });
      expect(report).toContain(`${count - 1} requests (the warm-up's ${warmup} and the first counted one left out)`);
      const classes = [...report.matchAll(/^\S+\s+\|\s+(\d+) \|/gm)].map((m) => Number(m[1]));
      expect(classes.reduce((a, b) => a + b, 0)).toBe(count - 1);
    } finally {
      guest.kill('SIGKILL'); // (gone already, unless something above failed)
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

// bench/profile-stamps.sh (docs/tuning.md, "Where a round trip's time goes"): the addon built
// apart with its stamps and tap_echo with its own, each answering ping -f, each reporting the
// means over its round trips; this checkout's build is left as it was.
describe.skipIf(skipReal())('the round trip stamps (bench/profile-stamps.sh)', () => {
  it('builds both apart, runs a round of each, and each prints its means over thousands of round trips', async () => {
    const addon = join(ROOT, 'build', 'Release', 'shmtender.node');
    const before = readFileSync(addon);
    const run = spawn(join(ROOT, 'bench', 'profile-stamps.sh'), [], {
      env: { ...process.env, ROUNDS: '1', REPS: '1', COUNT: '3000', WARM_S: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r = await collect(run, 240_000);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual(['tap_echo --loop=busy', 'tender --shm=hybrid']);
    const [c, tender] = lines.map((l) => JSON.parse(l.slice(l.indexOf('{'))));
    for (const s of [c, tender]) {
      expect(s.round_trips).toBeGreaterThan(3000); // the warm-up's and the counted echoes
      for (const k of ['read_to_write', 'read', 'write']) expect(s[k]).toBeGreaterThan(0);
    }
    // The tender's time between the read and the write, split where JS takes over and hands back.
    expect(tender.read_to_js).toBeGreaterThan(0);
    expect(tender.js_to_write).toBeGreaterThan(0);
    expect(tender.read_to_js + tender.js_to_write).toBeLessThanOrEqual(tender.read_to_write);
    expect(readFileSync(addon).equals(before)).toBe(true); // no stamps in this checkout's addon
  }, 300_000);
});
