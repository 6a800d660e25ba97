// The addon's burst calls against plain character devices: no root, no TAP. What matters
// here is that no offset or length, however wrong, makes native code touch memory outside
// the region it was pointed at (lens come from guest-written slots).
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { addon, errnoCode } from '../native/index.js';

describe('burst I/O bounds (no root: /dev/zero and /dev/null as the fd)', () => {
  const sab = new SharedArrayBuffer(4096);
  const u8 = new Uint8Array(sab);
  let region = -1;
  let zero = -1;
  let devnull = -1;
  let zeroNonBlocking = -1;
  let nullNonBlocking = -1;
  beforeAll(() => {
    region = addon.regionOpen(u8);
    zero = openSync('/dev/zero', 'r');
    zeroNonBlocking = openSync('/dev/zero', constants.O_RDONLY | constants.O_NONBLOCK);
    devnull = openSync('/dev/null', 'w');
    nullNonBlocking = openSync('/dev/null', constants.O_WRONLY | constants.O_NONBLOCK);
  });
  afterAll(() => {
    addon.regionClose(region);
    closeSync(zero);
    closeSync(zeroNonBlocking);
    closeSync(devnull);
    closeSync(nullNonBlocking);
  });

  /** A Uint32Array of n entries (or these) over a SharedArrayBuffer, as a burst port needs. */
  function shared(n: number | number[]): Uint32Array {
    const values = typeof n === 'number' ? new Array<number>(n).fill(0) : n;
    const a = new Uint32Array(new SharedArrayBuffer(Math.max(values.length, 1) * 4));
    a.set(values);
    return a;
  }

  it('burstRead fills count RX slots of capacity bytes from the one asked for, and nothing else', () => {
    u8.fill(0xaa);
    const lens = shared(8);
    const port = addon.burstPortOpen(region, zero, -1, -1, 128, 256, 100, 8, lens, shared(8));
    try {
      expect(addon.burstRead(port, 2, 4)).toBe(4);
      expect(Array.from(lens.subarray(0, 4))).toEqual([100, 100, 100, 100]);
      for (let i = 0; i < 8; i++) {
        const inBurst = i >= 2 && i < 6;
        expect(u8[128 + i * 256]).toBe(inBurst ? 0 : 0xaa);
        expect(u8[128 + i * 256 + 99]).toBe(inBurst ? 0 : 0xaa);
        expect(u8[128 + i * 256 + 100]).toBe(0xaa); // capacity respected
      }
      expect(u8[127]).toBe(0xaa);
    } finally {
      addon.burstPortClose(port);
    }
    expect(() => addon.burstRead(port, 0, 1)).toThrow(/no such burst port/);
  });

  it('a burst port refuses RX slots past the region, and a burst past its RX slots or its lens', () => {
    const lens = shared(4);
    const offsets = shared(4);
    expect(() => addon.burstPortOpen(region, zero, -1, -1, 4096 - 256, 128, 128, 3, lens, offsets)).toThrow(/outside the shared region/);
    expect(() => addon.burstPortOpen(region, zero, -1, -1, -1, 128, 64, 1, lens, offsets)).toThrow(RangeError);
    expect(() => addon.burstPortOpen(region, zero, -1, -1, 0, 64, 128, 1, lens, offsets)).toThrow(RangeError); // capacity > stride
    // The port keeps pointers into lens and offsets: an ArrayBuffer could be detached under it.
    expect(() => addon.burstPortOpen(region, zero, -1, -1, 0, 64, 64, 4, new Uint32Array(4), offsets)).toThrow(/SharedArrayBuffer/);
    expect(() => addon.burstPortOpen(region, zero, -1, -1, 0, 64, 64, 4, lens, new Uint32Array(4))).toThrow(/SharedArrayBuffer/);
    const port = addon.burstPortOpen(region, zero, -1, -1, 4096 - 256, 128, 128, 2, lens, offsets); // the last slot ends at 4096
    try {
      expect(addon.burstRead(port, 0, 2)).toBe(2);
      expect(() => addon.burstRead(port, 1, 2)).toThrow(/outside the RX slots/);
      expect(() => addon.burstRead(port, -1, 1)).toThrow(/outside the RX slots/);
      const many = addon.burstPortOpen(region, zero, -1, -1, 0, 64, 64, 8, lens, offsets);
      expect(() => addon.burstRead(many, 0, 5)).toThrow(/outside the RX slots/); // lens shorter than count
      addon.burstPortClose(many);
    } finally {
      addon.burstPortClose(port);
    }
  });

  /**
   * A ring on fd with the slots at [1024, 3072). Where io_uring is disabled (sysctl
   * kernel.io_uring_disabled, a container's seccomp profile) the tender falls back to
   * read()/write(), and a test of the ring has nothing to test: it is skipped, saying why.
   */
  function openRing(ctx: TestContext, fd: number): number {
    try {
      return addon.uringRxOpen(region, fd, 1024, 2048);
    } catch (err) {
      if (['ENOSYS', 'EPERM'].includes(errnoCode(err) ?? '')) ctx.skip(`io_uring unavailable here: ${(err as Error).message}`);
      throw err;
    }
  }

  it('burstRead through a ring reads as read() does, into the slots its ring registered, and only there', (ctx) => {
    const ring = openRing(ctx, zeroNonBlocking);
    expect(() => addon.uringRxOpen(region, zero, 1024, 2048)).toThrow(/must be non-blocking/); // a read could wait in the kernel
    const lens = shared(8);
    const offsets = shared(8);
    const ports: number[] = [];
    const port = (rxFirst: number, stride: number, capacity: number, slots: number, l = lens) => {
      ports.push(addon.burstPortOpen(region, zeroNonBlocking, ring, -1, rxFirst, stride, capacity, slots, l, offsets));
      return ports[ports.length - 1];
    };
    let inSlots = -1;
    try {
      u8.fill(0xaa);
      inSlots = port(1024, 256, 100, 8);
      // The batch starts at one read and doubles while every read finds data: two read()s (1, 2),
      // then through the ring 4, and the 2 left of 8.
      expect(addon.burstRead(inSlots, 0, 8)).toBe(8);
      expect(Array.from(lens)).toEqual(Array(8).fill(100));
      for (let i = 0; i < 8; i++) {
        expect(u8[1024 + i * 256]).toBe(0);
        expect(u8[1024 + i * 256 + 100]).toBe(0xaa); // capacity respected
      }
      expect(u8[1023]).toBe(0xaa);
      expect(() => addon.burstRead(port(0, 256, 100, 1), 0, 1)).toThrow(/outside the registered RX slots/);
      expect(() => addon.burstRead(port(2048 + 1024 - 64, 128, 128, 1), 0, 1)).toThrow(/outside the registered RX slots/);
      expect(() => addon.uringRxOpen(region, zeroNonBlocking, 4096 - 128, 256)).toThrow(/outside the shared region/);
      // More than one batch's worth (64) in one call: as many frames as asked for, in 8-byte slots.
      const many = shared(200);
      expect(addon.burstRead(port(1024, 8, 8, 200, many), 0, 200)).toBe(200);
      expect(many.every((l) => l === 8)).toBe(true);
    } finally {
      addon.uringRxClose(ring);
    }
    expect(() => addon.burstRead(inSlots, 0, 1)).toThrow(/no such io_uring/);
    for (const p of ports) addon.burstPortClose(p);
  });

  it('burstWrite through a ring writes as write() does, more than one batch per call, and nothing outside the region', (ctx) => {
    const ring = openRing(ctx, nullNonBlocking);
    const lens = shared(200);
    const offsets = shared(200);
    const port = addon.burstPortOpen(region, nullNonBlocking, -1, ring, 1024, 256, 100, 8, lens, offsets);
    try {
      offsets.set([0, 3000, 64]);
      lens.set([60, 64, 14]);
      expect(addon.burstWrite(port, 3)).toBe(3);
      expect(Array.from(lens.subarray(0, 3))).toEqual([60, 64, 14]); // none refused
      offsets[0] = 128;
      expect(addon.burstWrite(port, 1)).toBe(1); // one frame: a write()
      lens.fill(60);
      offsets.set(offsets.map((_, i) => i * 16));
      expect(addon.burstWrite(port, 200)).toBe(200); // 64 per io_uring_enter
      offsets[0] = 4096 - 10;
      expect(() => addon.burstWrite(port, 1)).toThrow(/outside the shared region/);
      expect(() => addon.burstWrite(port, 201)).toThrow(/count outside/);
    } finally {
      addon.uringRxClose(ring);
    }
    offsets[0] = 0;
    expect(() => addon.burstWrite(port, 1)).toThrow(/no such io_uring/);
    addon.burstPortClose(port);
  });

  it('burstWrite writes each frame from its own offset (slots, or an RX slot a TX slot names)', () => {
    const lens = shared([60, 64, 14]);
    const port = addon.burstPortOpen(region, devnull, -1, -1, 1024, 256, 100, 8, lens, shared([0, 3000, 64]));
    expect(addon.burstWrite(port, 3)).toBe(3);
    expect(Array.from(lens)).toEqual([60, 64, 14]);
    addon.burstPortClose(port);
  });

  it('burstWrite checks every frame, not just the first: one ending past the region throws before any is written', () => {
    const lens = shared(3);
    const offsets = shared(3);
    const port = addon.burstPortOpen(region, devnull, -1, -1, 1024, 256, 100, 8, lens, offsets);
    const write = (offs: number[], ls: number[]) => {
      offsets.set(offs);
      lens.set(ls);
      return addon.burstWrite(port, offs.length);
    };
    // Every frame starts inside the region, but the last 64-byte one would end at 4106.
    expect(() => write([0, 64, 4042], [10, 10, 64])).toThrow(/outside the shared region/);
    expect(() => write([0], [0xffffffff])).toThrow(RangeError);
    expect(() => write([0xffffffff], [1])).toThrow(RangeError);
    const short = addon.burstPortOpen(region, devnull, -1, -1, 1024, 256, 100, 8, shared(4), shared(2));
    expect(() => addon.burstWrite(short, 3)).toThrow(/count outside/); // offsets shorter than count
    addon.burstPortClose(short);
    addon.burstPortClose(port);
  });

  /**
   * The offsets are shared memory: another thread (a hostile guest) can move a frame out of the
   * region after burstWrite checked it and before it is written. That frame is refused where it
   * is written, and the frames written before it are counted (the call returns how many), not
   * thrown away with an exception. A Unix stream socket stands in for the TAP, one byte a
   * frame, so what reached the other end can be counted (a FIFO or a file refuses io_uring's
   * non-blocking writes); a worker moves frame 100 in and out of the region all along.
   */
  it('a frame moved out of the region mid-burst: the burst stops before it, and returns every frame it wrote', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'shmt-moved-'));
    let reached = 0;
    const server = createServer((peer) => peer.on('data', (bytes) => (reached += bytes.length)));
    await new Promise<void>((resolve) => server.listen(join(dir, 'sock'), resolve));
    const client = connect(join(dir, 'sock'));
    await new Promise<void>((resolve) => client.on('connect', resolve));
    // libuv's descriptor for the socket: non-blocking, as a TAP is.
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const count = 130; // frame 100 lies in the second io_uring batch: the first went out before it is checked again
    const lens = shared(new Array<number>(count).fill(1));
    const offsets = shared(Array.from({ length: count }, (_, i) => i * 16));
    const flags = new Int32Array(new SharedArrayBuffer(8)); // [0]: stop; [1]: the mover runs
    let mover: Worker | undefined;
    let ring = -1;
    const ports: [string, number][] = [];
    try {
      try {
        ring = addon.uringRxOpen(region, fd, 1024, 2048);
      } catch (err) {
        if (!['ENOSYS', 'EPERM'].includes(errnoCode(err) ?? '')) throw err;
      }
      ports.push(['write()', addon.burstPortOpen(region, fd, -1, -1, 1024, 256, 100, 8, lens, offsets)]);
      if (ring >= 0) ports.push(['io_uring', addon.burstPortOpen(region, fd, -1, ring, 1024, 256, 100, 8, lens, offsets)]);
      mover = new Worker(
        `const { workerData: { offsets, flags } } = require('node:worker_threads');
         Atomics.store(flags, 1, 1);
         while (Atomics.load(flags, 0) === 0) { Atomics.store(offsets, 100, 0xfffff000); Atomics.store(offsets, 100, 1600); }`,
        { eval: true, workerData: { offsets, flags } },
      );
      for (let t = 0; t < 1000 && Atomics.load(flags, 1) === 0; t++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(Atomics.load(flags, 1)).toBe(1);
      for (const [name, port] of ports) {
        const before = reached;
        let counted = 0;
        let cutShort = 0;
        const until = Date.now() + 20_000;
        while (cutShort < 20 && Date.now() < until) {
          try {
            const n = addon.burstWrite(port, count);
            counted += n;
            if (n === 100) cutShort++;
            else expect(n, name).toBe(count);
          } catch (err) {
            expect((err as Error).message, name).toMatch(/^burst lies outside the shared region/); // found at the first check: nothing written
          }
          await new Promise((resolve) => setImmediate(resolve)); // the server reads
        }
        for (let t = 0; t < 200 && reached - before < counted; t++) await new Promise((resolve) => setTimeout(resolve, 5));
        expect(reached - before, name).toBe(counted);
        expect(cutShort, `${name}: the frame moved between the check and its write at least once`).toBeGreaterThan(0);
      }
    } finally {
      Atomics.store(flags, 0, 1);
      await mover?.terminate();
      for (const [, port] of ports) addon.burstPortClose(port);
      if (ring >= 0) addon.uringRxClose(ring);
      client.destroy();
      server.close();
      rmSync(dir, { recursive: true });
    }
    if (ring < 0) ctx.skip('io_uring unavailable here: only write() was tested');
  });

  /**
   * spinNs: while the fd is empty, the first read is tried again for that long (a guest holding
   * the IO token spins there, not in JS). A FIFO stands in for the TAP: empty, a read gets
   * EAGAIN; a worker thread writes to it while this thread is inside the spin.
   */
  it('burstRead with spinNs, by read() and through a ring: look again until a frame comes, or give up after spinNs', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'shmt-spin-'));
    const fifo = join(dir, 'f');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wfd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const lens = shared(4);
    const offsets = shared(4);
    const late = (ms: number) =>
      new Worker(`const { writeSync } = require('node:fs'); const { workerData } = require('node:worker_threads'); setTimeout(() => writeSync(workerData, 'hello'), ${ms});`, { eval: true, workerData: wfd });
    const ring = (() => {
      try {
        return addon.uringRxOpen(region, rfd, 1024, 2048);
      } catch (err) {
        if (['ENOSYS', 'EPERM'].includes(errnoCode(err) ?? '')) return -1;
        throw err;
      }
    })();
    try {
      const ports = [addon.burstPortOpen(region, rfd, -1, -1, 1024, 256, 100, 4, lens, offsets)];
      if (ring >= 0) ports.push(addon.burstPortOpen(region, rfd, ring, -1, 1024, 256, 100, 4, lens, offsets));
      const reads = ports.map((port, i): [string, (spinNs?: number) => number] => [i === 0 ? 'read()' : 'io_uring', (spinNs) => addon.burstRead(port, 0, 4, spinNs)]);
      for (const [name, read] of reads) {
        expect(read(), name).toBe(0); // no spin: one look
        let t = process.hrtime.bigint();
        expect(read(3_000_000), name).toBe(0);
        expect(Number(process.hrtime.bigint() - t), name).toBeGreaterThanOrEqual(3_000_000);
        // The worker writes 50 ms after it starts, long after this thread is spinning: the spin
        // returns the frame, well before its 1 s.
        const w = late(50);
        t = process.hrtime.bigint();
        expect(read(1_000_000_000), name).toBe(1);
        expect(lens[0], name).toBe(5);
        expect(Number(process.hrtime.bigint() - t), name).toBeLessThan(900_000_000);
        await w.terminate();
        expect(() => read(-1), name).toThrow(/spinNs outside/);
        expect(() => read(2e9), name).toThrow(/spinNs outside/);
      }
      for (const port of ports) addon.burstPortClose(port);
      if (ring < 0) ctx.skip('io_uring unavailable here: only read() was tested');
    } finally {
      if (ring >= 0) addon.uringRxClose(ring);
      closeSync(rfd);
      closeSync(wfd);
      rmSync(dir, { recursive: true });
    }
  });

  it('a region must be over a SharedArrayBuffer: the addon keeps a pointer into it', () => {
    expect(() => addon.regionOpen(new Uint8Array(64))).toThrow(/SharedArrayBuffer/);
  });

  it('a closed region id is refused, and a port whose region was closed under it', () => {
    const r = addon.regionOpen(new Uint8Array(new SharedArrayBuffer(64)));
    const port = addon.burstPortOpen(r, devnull, -1, -1, 0, 64, 64, 1, shared([10]), shared([0]));
    expect(addon.burstWrite(port, 1)).toBe(1);
    addon.regionClose(r);
    expect(() => addon.burstWrite(port, 1)).toThrow(/no such region/);
    expect(() => addon.burstPortOpen(r, devnull, -1, -1, 0, 64, 64, 1, shared(1), shared(1))).toThrow(/no such region/);
    // The id goes to the next region, here a smaller one: the port's slots were checked against
    // the old one, so it stays refused rather than reading past the new one's end.
    const again = addon.regionOpen(new Uint8Array(new SharedArrayBuffer(16)));
    expect(again).toBe(r);
    expect(() => addon.burstRead(port, 0, 1)).toThrow(/no such region/);
    addon.burstPortClose(port);
    addon.regionClose(again);
  });

  it('a port binds only an open ring on its own TAP, and refuses bursts through it once it is closed, even when the id names another ring', (ctx) => {
    const ring = openRing(ctx, nullNonBlocking);
    const lens = shared([10]);
    const offsets = shared([0]);
    expect(() => addon.burstPortOpen(region, zeroNonBlocking, ring, -1, 1024, 256, 100, 8, lens, offsets)).toThrow(/on another TAP/);
    expect(() => addon.burstPortOpen(region, nullNonBlocking, -1, ring + 1, 1024, 256, 100, 8, lens, offsets)).toThrow(/no such io_uring/); // not open (yet)
    expect(() => addon.burstPortOpen(region, nullNonBlocking, -2, -1, 1024, 256, 100, 8, lens, offsets)).toThrow(/no such io_uring/);
    const writes = addon.burstPortOpen(region, nullNonBlocking, -1, ring, 1024, 256, 100, 8, lens, offsets);
    const reads = addon.burstPortOpen(region, nullNonBlocking, ring, -1, 1024, 256, 100, 8, lens, offsets);
    expect(addon.burstWrite(writes, 1)).toBe(1);
    addon.uringRxClose(ring);
    const other = openRing(ctx, zeroNonBlocking);
    try {
      expect(other).toBe(ring);
      expect(() => addon.burstWrite(writes, 1)).toThrow(/no such io_uring/);
      expect(() => addon.burstRead(reads, 0, 1)).toThrow(/no such io_uring/);
    } finally {
      addon.uringRxClose(other);
      addon.burstPortClose(writes);
      addon.burstPortClose(reads);
    }
  });
});
