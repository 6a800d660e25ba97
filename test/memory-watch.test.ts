// The --mem watch's pace (host/memory-watch.ts), in this process: it looks every 100 ms while
// VmData grows and backs off to WATCH_FLAT_MS while it stays flat, since each look wakes the
// tender's main thread. No root needed; test/robustness.test.ts runs the watch on real guests.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryWatch, WATCH_FLAT_MS } from '../host/memory-watch.js';

describe('MemoryWatch', () => {
  let watch: MemoryWatch | null = null;
  afterEach(() => {
    watch?.close();
    watch = null;
  });

  it('backs off while memory is flat, looks every 100 ms again while it grows', async () => {
    watch = new MemoryWatch();
    let exceeded = 0;
    watch.start(1 << 20, () => exceeded++); // a bound this process never reaches
    await sleep(3000);
    const flat = watch.looks;
    // 100 ms each would be 30; doubling from 100 to 800 ms, 5. Vitest's own allocations may
    // bring a look or two back to 100 ms.
    expect(flat).toBeGreaterThanOrEqual(3);
    expect(flat).toBeLessThanOrEqual(12);

    await sleep(WATCH_FLAT_MS); // the back-off's next look sees the growth that starts now
    const held: Buffer[] = [];
    const before = watch.looks;
    for (let i = 0; i < 20; i++) {
      held.push(Buffer.alloc(8 << 20, 1)); // VmData grows by 8 MB every 50 ms
      await sleep(50);
    }
    const growing = watch.looks - before;
    expect(growing).toBeGreaterThanOrEqual(6); // ~1 s: at most one flat wait, then every 100 ms
    expect(held.length).toBe(20);
    expect(exceeded).toBe(0);
  });
});
