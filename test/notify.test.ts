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

describe('notification protocol across two threads', () => {
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
