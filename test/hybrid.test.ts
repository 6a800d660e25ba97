// Hybrid mode and notification suppression: what the modes cost, counted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLimitPrograms } from '../testbed/c/build.js';
import { udpFlood } from '../testbed/workloads.js';
import { GUEST_MAC, collect, createNetns, skipReal, type Netns } from '../testbed/netns.js';
import { EXAMPLE, FIXTURE, readStats, startTender, statsPath, waitForLine } from '../testbed/tender.js';


describe.skipIf(skipReal())('hybrid mode and suppression', () => {
  let ns: Netns;
  let bin: Record<string, string>;
  beforeAll(() => {
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    bin = buildLimitPrograms();
  });
  afterAll(() => ns?.destroy());

  const flood = (mode: string, extra: string[]) => udpFlood(ns, bin.udp_flood, mode, { count: 400000, seconds: 4, extra });

  it('under a sustained flood hybrid needs ≤ 1/10 of the notifications per frame of unsuppressed event mode, ≤ 0.05, and loses nothing', async () => {
    const event = await flood('event', ['--no-suppress']);
    const hybrid = await flood('hybrid', []);
    for (const run of [event, hybrid]) {
      expect(run.sent).toBe(400000);
      expect(run.delivered).toBeGreaterThan(100000); // a sustained flood, not a trickle
      expect(run.sink).toBe(run.delivered); // every frame the kernel handed over reached the guest
      expect(run.stats.nics[0].rx_frames).toBe(run.delivered);
    }
    const e = event.stats.notifications.per_frame;
    const h = hybrid.stats.notifications.per_frame;
    console.log(`flood notifications per frame: event --no-suppress ${e}, hybrid ${h}`);
    expect(h).toBeLessThanOrEqual(e / 10);
    expect(h).toBeLessThanOrEqual(0.05);
  });

  for (const mode of ['event', 'hybrid']) {
    it(`${mode}: two million frames through sleep/wake transitions, none stranded (no frame waits > 100 ms)`, async () => {
      const stats = statsPath();
      const t = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, `--shm=${mode}`, `--stats-json=${stats}`, FIXTURE('pinger.js'), '--count=1000000', '--stall-ms=100', '--seed=7']);
      const r = await collect(t, 300_000);
      const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(result).toMatchObject({ sent: 1000000, received: 1000000, stalls: 0, disorder: 0 });
      expect(result.maxWaitMs).toBeLessThanOrEqual(100);
      expect(r.code).toBe(0);
      const s = readStats(stats);
      expect(s.nics[0].rx_frames + s.nics[0].tx_frames).toBeGreaterThanOrEqual(2000000);
      // Both sides really went to sleep and were woken, many times over (how many depends on
      // how busy the machine is: a thread descheduled past the spell sleeps less).
      expect(s.notifications.io_wakeups).toBeGreaterThan(1000);
      expect(s.notifications.interrupts).toBeGreaterThan(1000);
      expect(s.notifications.kicks).toBeGreaterThan(1000);
    });
  }

  it('--stats=live prints one plain line a second when stderr is not a terminal', async () => {
    const t = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', '--stats=live', EXAMPLE('udp_sink.js'), '--timeout=3.5']);
    const tender = collect(t, 30_000);
    await waitForLine(t, /udp_sink: counting/);
    await collect(ns.spawn(bin.udp_flood, ['--dst=10.0.0.2', '--port=9000', '--count=100000', '--seconds=2', '--pps=50000', '--size=1300']));
    const r = await tender;
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('service '));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(r.stderr).not.toContain('\r');
    for (const l of lines) expect(l).toMatch(/^service rx [\d.]+k?M?\/s tx [\d.]+k?M?\/s [\d.]+ Mbit\/s \| notif\/frame ([\d.]+|-) \| cpu tender \d+% io \d+% guest \d+%$/);
    expect(lines.some((l) => /rx (\d\d[\d.]*k|[1-9][\d.]*M)\/s/.test(l))).toBe(true); // it saw the flood
  });
});
