// The notification protocol (guest-api/notify.ts) across two real threads, on the real
// rings: every sleep on either side is bounded, and one that runs out while the other side
// had work for it is a lost wake-up. An 8-slot ring makes the full-RX-ring stall common.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { computeLayout, createRegion } from '../guest-api/abi.js';
import type { KickPolicy } from '../guest-api/notify.js';
import { DEV } from '../testbed/netns.js';

function run(policy: KickPolicy, frames: number) {
  const region = createRegion(computeLayout([{ mtu: 1500, slotCount: 8 }]), [new Uint8Array(6)]);
  const kick = new SharedArrayBuffer(8);
  const start = (role: string) =>
    new Promise<any>((resolve, reject) => {
      const w = new Worker(`${DEV}test/harness/notify-worker.js`, { workerData: { role, region, kick, frames, policy, sleepCapMs: 3000 } });
      let msg: unknown;
      w.on('message', (m) => (msg = m));
      w.on('error', reject);
      w.on('exit', () => resolve(msg));
    });
  return Promise.all([start('host'), start('guest')]);
}

function doorbellRace(waits: number) {
  const sab = new SharedArrayBuffer(4 * 128);
  const start = (role: string) =>
    new Promise<any>((resolve, reject) => {
      const w = new Worker(`${DEV}test/harness/doorbell-worker.js`, { workerData: { sab, role, waits, capMs: 20 } });
      let msg: unknown;
      w.on('message', (m) => (msg = m));
      w.on('error', reject);
      w.on('exit', () => resolve(msg));
    });
  return Promise.all([start('host'), start('guest')]);
}

describe('notification protocol across two threads', () => {
  it('a guest that uses up the room each interrupt brings and waits again: 500,000 waits, every sleep woken', async () => {
    // Reading the doorbell after announcing let an interrupt for room already used up claim
    // the next wait's epoch without waking it: 1, 4 and 10 of ~360,000 sleeps ran to their cap
    // in three runs (guest-api/notify.ts, header). A race, so one run of the old order could
    // pass (none did in the six tried); the new order loses none in any.
    const [host, guest] = await doorbellRace(500_000);
    console.log(`doorbell race: host ${JSON.stringify(host)}, guest ${JSON.stringify(guest)}`);
    expect(guest.sleeps).toBeGreaterThan(50_000);
    expect(host.interrupts).toBeGreaterThan(50_000);
    expect(guest.lost).toBe(0);
  }, 120_000);

  for (const policy of ['suppress', 'always'] as const) {
    it(`${policy}: 100,000 frames each way through 8-slot rings, every sleep woken, nothing lost or reordered`, async () => {
      const [host, guest] = await run(policy, 100_000);
      expect(host).toMatchObject({ consumed: 100_000, produced: 100_000, lost: 0, bad: 0 });
      expect(guest).toMatchObject({ sent: 100_000, received: 100_000, lost: 0, bad: 0 });
      // The interleavings the proof is about did happen: sleeps on both sides, stalls on a full RX ring.
      expect(host.sleeps).toBeGreaterThan(100);
      expect(host.stalls).toBeGreaterThan(10);
      expect(guest.waits).toBeGreaterThan(10);
      // At most one wake-up per announced sleep: an interrupt per guest wait, with suppression a kick per host sleep.
      expect(host.interrupts).toBeLessThanOrEqual(guest.announces);
      if (policy === 'suppress') expect(guest.kicks).toBeLessThanOrEqual(host.announces);
      else expect(guest.kicks).toBeGreaterThan(host.announces);
    }, 120_000);
  }
});

function runToken(frames: number, strict: boolean) {
  const region = createRegion(computeLayout([{ mtu: 1500, slotCount: 8 }]), [new Uint8Array(6)]);
  const shared = new SharedArrayBuffer(4096 + 64);
  const start = (role: string) =>
    new Promise<any>((resolve, reject) => {
      const w = new Worker(`${DEV}test/harness/token-worker.js`, { workerData: { role, region, shared, frames, capMs: 3000, strict } });
      let msg: unknown;
      w.on('message', (m) => (msg = m));
      w.on('error', reject);
      w.on('exit', () => resolve(msg));
    });
  return Promise.all([start('wire'), start('host'), start('guest')]);
}

describe('the IO token across two threads (and a simulated TAP)', () => {
  it('60,000 frames each way, the token handed back and forth: one holder at a time, every sleep woken, nothing lost or reordered', async () => {
    const [wire, host, guest] = await runToken(60_000, false);
    expect(wire).toMatchObject({ sent: 60_000 });
    expect(guest).toMatchObject({ received: 60_000, sent: 60_000, txSeen: 60_000, bad: 0, txBad: 0, lost: 0, violations: 0 });
    expect(host.lost).toBe(0);
    console.log(`token: host ${JSON.stringify(host)}, guest ${JSON.stringify(guest)}`);
    // The hand-offs the proof is about did happen, many times over: the guest took the token
    // from a running IO thread (asked for it) and handed it back, slept on its TAPs holding
    // it and on the doorbell without it; the IO thread backed off, parked and slept watching.
    expect(host.yields).toBeGreaterThan(3);
    expect(host.handBacks).toBeGreaterThan(3);
    // ...and stepped aside unasked, as auto's choice of one poller makes it (pump.ts).
    expect(host.stepAsides).toBeGreaterThan(10);
    // ...and took the reads over from a guest whose bursts came back full while it worked.
    expect(host.takeovers).toBeGreaterThan(0);
    expect(host.handoffs + guest.handoffs).toBeGreaterThan(100);
    expect(guest.deviceSleeps).toBeGreaterThan(20);
    expect(host.watches).toBeGreaterThan(20);
    expect(host.parks).toBeGreaterThan(5);
    // ...and parked without a timer while the guest slept on its TAPs through a whole park,
    // woken by the guest's kick when that sleep ended (host.lost counts a park that was not).
    expect(host.deepParks).toBeGreaterThan(3);
    expect(host.kickedFromPark).toBeGreaterThan(3);
    // A guest woken from such a sleep that then stays busy in its app has the IO thread take
    // the reads over within a PARK and a BACKOFF (10 + 1 ms; measured up to 13, and 40 allows for a noisy scheduler),
    // not at the park's one-second cap.
    expect(guest.busyAfterLongSleep).toBeGreaterThan(2);
    expect(guest.maxTapWaitBusyMs).toBeLessThan(40);
    expect(host.interrupts).toBeGreaterThan(5);
    // A frame waits for a BACKOFF or a PARK at worst, never for a lost wake-up's cap.
    expect(guest.maxDelayMs).toBeLessThan(1000);
  }, 120_000);

  it('with the IO thread backing off and parking for seconds, no frame waits on a timer: every hand-back and wake-up is sent', async () => {
    const [wire, host, guest] = await runToken(60_000, true);
    if (guest.maxDelayMs > 1000) console.log(JSON.stringify({ host, guest }));
    expect(wire).toMatchObject({ sent: 60_000 });
    expect(guest).toMatchObject({ received: 60_000, txSeen: 60_000, bad: 0, txBad: 0, lost: 0, violations: 0 });
    expect(host.lost).toBe(0);
    expect(host.backoffs).toBeGreaterThan(0);
    expect(guest.deviceSleeps).toBeGreaterThan(20);
    expect(guest.roomWaits).toBeGreaterThan(10); // TX left behind: waits for room, kicks to a backed-off IO thread
    expect(guest.kicks).toBeGreaterThan(10);
    expect(guest.maxDelayMs).toBeLessThan(1000);
  }, 120_000);
});
