import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  ABI_MAGIC, ABI_VERSION, CACHE_LINE, G, N, OFFLOAD, VNET_HDR_BYTES, computeLayout, createRegion, decodeVnet, emptyVnet, encodeVnet,
  readLayout, slotSizeFor, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4,
} from '../guest-api/abi.js';
import { finishChecksum, headerlessPlan } from '../guest-api/csum.js';
import { Consumer, Holds, Producer, RingFault, RingView, setInitialIndices } from '../guest-api/ring.js';
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

describe('layout with virtio-net offloads (ABI 2)', () => {
  it('gives a NIC with offloads slots for a 64 KiB frame and its 12-byte header, and keeps the MTU limit apart', () => {
    const l = computeLayout([{ mtu: 1500, slotCount: 64, vnet: true, offloads: OFFLOAD.csum | OFFLOAD.tso4 }, { mtu: 1500, slotCount: 64 }]);
    const [a, b] = l.nics;
    expect(a).toMatchObject({ vnetHdrBytes: VNET_HDR_BYTES, maxFrame: 65536 + 18, mtuFrame: 1518, slotSize: 65600, offloads: 3 });
    expect(a.capacity).toBeGreaterThan(a.vnetHdrBytes + a.maxFrame); // an oversize read still shows
    expect(b).toMatchObject({ vnetHdrBytes: 0, maxFrame: 1518, mtuFrame: 1518, slotSize: 1536, offloads: 0 });
    expect(slotSizeFor(1500, true)).toBe(65600);
    expect(ABI_VERSION).toBe(2);
  });

  it('is read back with its header size and offloads; offloads without a header, or a region over 2 GiB, are refused', () => {
    const l = computeLayout([{ mtu: 9000, slotCount: 16, vnet: true, offloads: 0x6f }]);
    const sab = createRegion(l, [new Uint8Array(6)]);
    expect(readLayout(sab).layout).toEqual(l);
    new Int32Array(sab)[l.nics[0].headerWord + N.vnetHdrBytes] = 10;
    expect(() => readLayout(sab)).toThrow(/virtio-net header of 10 bytes/);
    expect(() => computeLayout([{ mtu: 1500, slotCount: 16, offloads: 1 }])).toThrow(/need a virtio-net header/);
    expect(() => computeLayout([{ mtu: 1500, slotCount: 16384, vnet: true }])).toThrow(/over the 2 GiB/);
    const old = createRegion(computeLayout([{ mtu: 1500, slotCount: 16 }]), [new Uint8Array(6)]);
    new Int32Array(old)[G.version] = 1;
    expect(() => readLayout(old)).toThrow(/version 1, expected 2/);
  });

  it('encodes and decodes the header little-endian, and refuses a field that does not fit', () => {
    const u8 = new Uint8Array(32).fill(0xee);
    const h = { flags: 1, gsoType: 0x81, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16 };
    expect(encodeVnet(u8, 4, h)).toBe(true);
    expect(Array.from(u8.subarray(4, 16))).toEqual([1, 0x81, 66, 0, 1448 & 0xff, 1448 >> 8, 34, 0, 16, 0, 0, 0]);
    const back = emptyVnet();
    decodeVnet(u8, 4, back);
    expect(back).toEqual(h);
    expect(encodeVnet(u8, 4, { ...h, gsoSize: 70000 })).toBe(false);
    expect(encodeVnet(u8, 4, { ...h, flags: -1 })).toBe(false);
    expect(u8[4]).toBe(1); // nothing written on refusal
    expect(encodeVnet(u8, 4, undefined)).toBe(true);
    expect(Array.from(u8.subarray(4, 16)).every((v) => v === 0)).toBe(true);
  });

  it('a NIC without a header sends an empty one as is, finishes a NEEDS_CSUM checksum itself, and refuses GSO', () => {
    // A 20-byte UDP datagram 10.0.0.1:1000 -> 10.0.0.2:2000 after a 34-byte Ethernet + IPv4 head.
    const f = new Uint8Array(62);
    f.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
    f.set([0x03, 0xe8, 0x07, 0xd0, 0, 28, 0, 0], 34);
    for (let i = 42; i < 62; i++) f[i] = i * 3;
    const words = (from: number, to: number) => { let x = 0; for (let i = from; i < to; i += 2) x += (f[i] << 8) | f[i + 1]; return x; };
    const fold = (x: number) => { while (x > 0xffff) x = (x & 0xffff) + (x >>> 16); return x; };
    const pseudo = fold(words(26, 34) + 17 + 28);
    f[40] = pseudo >> 8; f[41] = pseudo & 0xff;
    const csum = { ...emptyVnet(), flags: VNET_F_NEEDS_CSUM, csumStart: 34, csumOffset: 6 };
    expect(headerlessPlan(csum, 62)).toBe('csum');
    f[40] = 0; f[41] = 0;
    const field = ~fold(words(26, 34) + 17 + 28 + words(34, 62)) & 0xffff; // computed with the field 0
    f[40] = pseudo >> 8; f[41] = pseudo & 0xff;
    finishChecksum(f, 0, 62, 34, 6);
    expect((f[40] << 8) | f[41]).toBe(field); // what a receiver checks: the sum over it all is 0xffff
    expect(fold(words(26, 34) + 17 + 28 + words(34, 62))).toBe(0xffff);
    expect(headerlessPlan(undefined, 62)).toBe('as-is');
    expect(headerlessPlan(emptyVnet(), 62)).toBe('as-is');
    expect(headerlessPlan({ ...csum, gsoType: VNET_GSO_TCPV4, gsoSize: 1448 }, 62)).toBe('refuse');
    expect(headerlessPlan({ ...csum, csumStart: 60 }, 62)).toBe('refuse'); // the field would lie past the end
  });
});

describe('holding RX frames until a TX ring has sent them (net_forward)', () => {
  it('frees a held frame only once the TX consumer passed it, and frames behind it only with it', () => {
    const { p: tx, c: txConsumer } = ring(8);
    const holds = new Holds(8);
    for (let i = 0; i < 2; i++) tx.setLength(i, 60);
    const first = tx.index;
    tx.publish(1);
    holds.push(tx, first); // forwarded
    holds.push(null, 0); // done at once, but behind the first
    tx.publish(1);
    holds.push(tx, (first + 1) >>> 0);
    expect(holds.reclaim()).toBe(0);
    txConsumer.release(1);
    expect(holds.reclaim()).toBe(2); // the first and the one behind it
    expect(holds.count).toBe(1);
    txConsumer.release(1);
    expect(holds.reclaim()).toBe(1);
    expect(holds.count).toBe(0);
  });

  it('works across the 2^32 wrap of the TX indices', () => {
    const { p: tx, c: txConsumer } = ring(4, 0xfffffffe);
    const holds = new Holds(4);
    for (let k = 0; k < 4; k++) {
      tx.setLength(0, 60);
      const i = tx.index;
      tx.publish(1);
      holds.push(tx, i);
    }
    txConsumer.release(3);
    expect(holds.reclaim()).toBe(3);
    txConsumer.release(1);
    expect(holds.reclaim()).toBe(1);
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
