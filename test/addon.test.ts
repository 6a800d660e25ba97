// The addon's burst calls against plain character devices: no root, no TAP. What matters
// here is that no offset or length, however wrong, makes native code touch memory outside
// the region it was pointed at (lens come from guest-written slots).
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
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

  it('readBurst fills count buffers of capacity bytes at first + i*stride, and nothing else', () => {
    u8.fill(0xaa);
    const lens = new Uint32Array(4);
    expect(addon.readBurst(region, zero, 128, 256, 100, 4, lens)).toBe(4);
    expect(Array.from(lens)).toEqual([100, 100, 100, 100]);
    for (let i = 0; i < 4; i++) {
      expect(u8[128 + i * 256]).toBe(0);
      expect(u8[128 + i * 256 + 99]).toBe(0);
      expect(u8[128 + i * 256 + 100]).toBe(0xaa); // capacity respected
    }
    expect(u8[127]).toBe(0xaa);
  });

  it('readBurst refuses a burst whose last buffer would end past the region', () => {
    const lens = new Uint32Array(4);
    expect(() => addon.readBurst(region, zero, 4096 - 256, 128, 128, 3, lens)).toThrow(/outside the shared region/);
    expect(() => addon.readBurst(region, zero, -1, 128, 64, 1, lens)).toThrow(RangeError);
    expect(() => addon.readBurst(region, zero, 0, 64, 128, 1, lens)).toThrow(RangeError); // capacity > stride
    expect(() => addon.readBurst(region, zero, 0, 64, 64, 5, lens)).toThrow(RangeError); // lens shorter than count
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

  it('uringReadBurst reads as readBurst does, into the slots its ring registered, and only there', (ctx) => {
    const ring = openRing(ctx, zeroNonBlocking);
    expect(() => addon.uringRxOpen(region, zero, 1024, 2048)).toThrow(/must be non-blocking/); // a read could wait in the kernel
    try {
      u8.fill(0xaa);
      const lens = new Uint32Array(8);
      // The batch starts at one read and doubles while every read finds data: two read()s (1, 2),
      // then through the ring 4, and the 2 left of 8.
      expect(addon.uringReadBurst(region, ring, 1024, 256, 100, 8, lens)).toBe(8);
      expect(Array.from(lens)).toEqual(Array(8).fill(100));
      for (let i = 0; i < 8; i++) {
        expect(u8[1024 + i * 256]).toBe(0);
        expect(u8[1024 + i * 256 + 100]).toBe(0xaa); // capacity respected
      }
      expect(u8[1023]).toBe(0xaa);
      expect(() => addon.uringReadBurst(region, ring, 0, 256, 100, 1, lens)).toThrow(/outside the registered RX slots/);
      expect(() => addon.uringReadBurst(region, ring, 1024 + 7 * 256, 256, 257, 1, lens)).toThrow(RangeError); // capacity > stride
      expect(() => addon.uringReadBurst(region, ring, 2048 + 1024 - 64, 128, 128, 1, lens)).toThrow(/outside the registered RX slots/);
      expect(() => addon.uringRxOpen(region, zeroNonBlocking, 4096 - 128, 256)).toThrow(/outside the shared region/);
      // More than one batch's worth (64) in one call: as many frames as asked for, in 8-byte slots.
      const many = new Uint32Array(200);
      expect(addon.uringReadBurst(region, ring, 1024, 8, 8, 200, many)).toBe(200);
      expect(many.every((l) => l === 8)).toBe(true);
    } finally {
      addon.uringRxClose(ring);
    }
    expect(() => addon.uringReadBurst(region, ring, 1024, 256, 100, 1, new Uint32Array(1))).toThrow(/no such io_uring/);
  });

  it('uringWriteBurst writes as writeBurst does, through the ring, more than one batch per call, and nothing outside the region', (ctx) => {
    const ring = openRing(ctx, nullNonBlocking);
    try {
      const lens = Uint32Array.from([60, 64, 14]);
      expect(addon.uringWriteBurst(region, ring, Uint32Array.from([0, 3000, 64]), lens, 3)).toBe(3);
      expect(Array.from(lens)).toEqual([60, 64, 14]); // none refused
      expect(addon.uringWriteBurst(region, ring, Uint32Array.from([128]), Uint32Array.from([60]), 1)).toBe(1); // one frame: a write()
      const many = new Uint32Array(200).fill(60);
      expect(addon.uringWriteBurst(region, ring, new Uint32Array(200).map((_, i) => i * 16), many, 200)).toBe(200); // 64 per io_uring_enter
      expect(() => addon.uringWriteBurst(region, ring, Uint32Array.from([4096 - 10]), Uint32Array.from([60]), 1)).toThrow(/outside the shared region/);
      expect(() => addon.uringWriteBurst(region, ring, Uint32Array.from([0]), Uint32Array.from([60]), 2)).toThrow(/count outside/);
    } finally {
      addon.uringRxClose(ring);
    }
    expect(() => addon.uringWriteBurst(region, ring, Uint32Array.from([0]), Uint32Array.from([60]), 1)).toThrow(/no such io_uring/);
  });

  it('writeBurst writes each frame from its own offset (slots, or an RX slot a TX slot names)', () => {
    const lens = Uint32Array.from([60, 64, 14]);
    expect(addon.writeBurst(region, devnull, Uint32Array.from([0, 3000, 64]), lens, 3)).toBe(3);
    expect(Array.from(lens)).toEqual([60, 64, 14]);
  });

  it('writeBurst checks every frame, not just the first: one ending past the region throws before any is written', () => {
    // Every frame starts inside the region, but the last 64-byte one would end at 4106.
    expect(() => addon.writeBurst(region, devnull, Uint32Array.from([0, 64, 4042]), Uint32Array.from([10, 10, 64]), 3)).toThrow(/outside the shared region/);
    expect(() => addon.writeBurst(region, devnull, Uint32Array.from([0]), Uint32Array.from([0xffffffff]), 1)).toThrow(RangeError);
    expect(() => addon.writeBurst(region, devnull, Uint32Array.from([0xffffffff]), Uint32Array.from([1]), 1)).toThrow(RangeError);
    expect(() => addon.writeBurst(region, devnull, Uint32Array.from([0]), Uint32Array.from([10, 10]), 2)).toThrow(/count outside/); // offsets shorter than count
  });

  /**
   * spinNs: while the fd is empty, the first read is tried again for that long (a guest holding
   * the IO token spins there, not in JS). A FIFO stands in for the TAP: empty, a read gets
   * EAGAIN; a worker thread writes to it while this thread is inside the spin.
   */
  it('readBurst and uringReadBurst with spinNs: look again until a frame comes, or give up after spinNs', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'shmt-spin-'));
    const fifo = join(dir, 'f');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wfd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const lens = new Uint32Array(4);
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
      const reads: [string, (spinNs?: number) => number][] = [['readBurst', (spinNs) => addon.readBurst(region, rfd, 1024, 256, 100, 4, lens, spinNs)]];
      if (ring >= 0) reads.push(['uringReadBurst', (spinNs) => addon.uringReadBurst(region, ring, 1024, 256, 100, 4, lens, spinNs)]);
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
      if (ring < 0) ctx.skip('io_uring unavailable here: only readBurst was tested');
    } finally {
      if (ring >= 0) addon.uringRxClose(ring);
      closeSync(rfd);
      closeSync(wfd);
      rmSync(dir, { recursive: true });
    }
  });

  it('a closed region id is refused', () => {
    const r = addon.regionOpen(new Uint8Array(new SharedArrayBuffer(64)));
    addon.regionClose(r);
    expect(() => addon.writeBurst(r, devnull, Uint32Array.from([0]), Uint32Array.from([10]), 1)).toThrow(/no such region/);
  });
});
