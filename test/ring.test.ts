import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ABI_MAGIC, CACHE_LINE, G, N, computeLayout, createRegion, readLayout, slotSizeFor } from '../guest-api/abi.js';
import { Consumer, Producer, RingFault, RingView, setInitialIndices } from '../guest-api/ring.js';
import { DEV } from '../testbed/netns.js';

function ring(slots = 8, initial = 0) {
  const layout = computeLayout([{ mtu: 1500, slotCount: slots }]);
  const region = createRegion(layout, [new Uint8Array(6)]);
  const i32 = new Int32Array(region);
  setInitialIndices(i32, layout.nics[0], initial);
  const view = new RingView(i32, new Uint32Array(region), layout.nics[0], 'tx');
  return { region, i32, view, nic: layout.nics[0], p: new Producer(view), c: new Consumer(view, 14, layout.nics[0].maxFrame) };
}

describe('layout', () => {
  it('puts each side’s live words on its own cache line and aligns every section', () => {
    const l = computeLayout([{ mtu: 1500, slotCount: 256 }, { mtu: 9000, slotCount: 64 }]);
    expect(Math.floor((G.doorbell * 4) / CACHE_LINE)).not.toBe(Math.floor((G.guestWaiting * 4) / CACHE_LINE));
    expect(Math.floor((N.rxHead * 4) / CACHE_LINE)).not.toBe(Math.floor((N.txHead * 4) / CACHE_LINE));
    for (const n of l.nics) {
      expect(n.txSlotsOffset % CACHE_LINE).toBe(0);
      expect(n.rxSlotsOffset % CACHE_LINE).toBe(0);
      expect(n.capacity).toBeGreaterThan(n.maxFrame);
    }
    expect(slotSizeFor(1500)).toBe(1536);
  });

  it('rejects a slot count that is not a power of two, and bad MTUs', () => {
    expect(() => computeLayout([{ mtu: 1500, slotCount: 100 }])).toThrow(/power of two/);
    expect(() => computeLayout([{ mtu: 20, slotCount: 64 }])).toThrow(/MTU/);
  });

  it('is read back by the guest from the region alone, and a bad magic is refused', () => {
    const l = computeLayout([{ mtu: 1500, slotCount: 16 }]);
    const mac = Uint8Array.from([2, 1, 2, 3, 4, 5]);
    const sab = createRegion(l, [mac]);
    const back = readLayout(sab);
    expect(back.layout).toEqual(l);
    expect(Array.from(back.macs[0])).toEqual(Array.from(mac));
    new Int32Array(sab)[G.magic] = ABI_MAGIC + 1;
    expect(() => readLayout(sab)).toThrow(/magic/);
  });
});

describe('ring', () => {
  it('is empty at start and full after count frames', () => {
    const { p, c } = ring(8);
    expect(c.available()).toBe(0);
    expect(p.room()).toBe(8);
    for (let i = 0; i < 8; i++) p.setLength(i, 60);
    p.publish(8);
    expect(p.room()).toBe(0);
    expect(c.available()).toBe(8);
    c.release(3);
    expect(p.room()).toBe(3);
  });

  it('keeps order and wraps its free-running indices over 2^32', () => {
    const start = 0xfffffffd;
    const { p, c, view } = ring(4, start);
    const u8 = new Uint8Array(view.i32.buffer);
    let written = 0;
    let read = 0;
    for (let round = 0; round < 5; round++) {
      const n = p.room();
      for (let k = 0; k < n; k++) {
        u8[view.dataOffset(p.index + k)] = (written + k) & 0xff;
        p.setLength(k, 14 + ((written + k) % 50));
      }
      p.publish(n);
      written += n;
      const m = c.available();
      for (let k = 0; k < m; k++) {
        expect(u8[view.dataOffset(c.index + k)]).toBe((read + k) & 0xff);
        expect(c.length(k)).toBe(14 + ((read + k) % 50));
      }
      c.release(m);
      read += m;
    }
    expect(read).toBe(20);
    expect(c.index).toBe((start + 20) >>> 0);
    expect(c.index).toBeLessThan(start); // it wrapped
    expect(view.contiguous(0xffffffff, 4)).toBe(1); // slot 3 of 4 is the last before the wrap
  });

  it('faults on an index the other side could not have written', () => {
    const { p, c, i32, nic } = ring(8);
    Atomics.store(i32, nic.headerWord + N.txTail, 5); // consumer ahead of producer
    expect(() => p.room()).toThrow(RingFault);
    Atomics.store(i32, nic.headerWord + N.txTail, 0);
    Atomics.store(i32, nic.headerWord + N.txHead, 9); // 9 frames in an 8-slot ring
    expect(() => c.available()).toThrow(RingFault);
  });

  it('faults on a frame length outside what the slot and MTU allow', () => {
    const { p, c } = ring(8);
    p.setLength(0, 100000);
    p.setLength(1, 3);
    p.publish(2);
    expect(() => c.length(0)).toThrow(/frame length 100000/);
    expect(() => c.length(1)).toThrow(RingFault);
  });
});

describe('ring across two worker_threads', () => {
  it('moves 10 million frames with no loss, duplication or reordering, across the 2^32 wrap', async () => {
    const count = 10_000_000;
    const { region } = ring(256, 0xffffffff - 5_000_000);
    const run = (role: string) =>
      new Promise<any>((resolve, reject) => {
        const w = new Worker(`${DEV}test/harness/ring-stress-worker.js`, { workerData: { region, role, count } });
        let msg: unknown;
        w.on('message', (m) => (msg = m));
        w.on('error', reject);
        w.on('exit', () => resolve(msg));
      });
    const [prod, cons] = await Promise.all([run('producer'), run('consumer')]);
    expect(prod.produced).toBe(count);
    expect(cons.error).toBeNull();
    expect(cons.consumed).toBe(count);
    expect(cons.finalIndex).toBe((0xffffffff - 5_000_000 + count) >>> 0);
  });
});
