// The backed-off IO thread's sleep (host/io-thread/backoff.ts), fed made-up looks: it grows
// while the guest keeps up alone, round trips or a stream, never so far that a guest stopping
// now would leave more than BACKOFF_FRAMES on its TAP before the next look, and starts again at
// BACKOFF_NS otherwise. No root needed. test/token.test.ts counts the wake-ups on a real TAP.
import { describe, expect, it } from 'vitest';
import { nextBackoffNs, type Look } from '../host/io-thread/backoff.js';
import { BACKOFF_FRAMES, BACKOFF_MAX_NS, BACKOFF_NS } from '../guest-api/notify.js';

/** The sleeps of `n` looks in a row at `fps` frames/s, the guest keeping up alone unless `over` says otherwise. */
function sleeps(fps: number, n: number, over: Partial<Look> = {}, maxNs = BACKOFF_MAX_NS): number[] {
  const out: number[] = [];
  let sleptNs = BACKOFF_NS;
  for (let i = 0; i < n; i++) {
    sleptNs = nextBackoffNs({ sleptNs, elapsedNs: sleptNs, framesRead: Math.round((fps * sleptNs) / 1e9), backlogged: false, onePoller: true, onDevice: false, ...over }, maxNs);
    out.push(sleptNs);
  }
  return out;
}

describe('nextBackoffNs', () => {
  it('round trips at 10k/s: doubles from 1 ms to the cap and stays there', () => {
    expect(sleeps(10_000, 6)).toEqual([2e6, 4e6, 8e6, 8e6, 8e6, 8e6]);
    expect(sleeps(10_000, 3, {}, 3e6)).toEqual([2e6, 3e6, 3e6]);
  });

  it('a stream grows it only as far as BACKOFF_FRAMES more frames take at its pace', () => {
    const at100k = sleeps(100_000, 8);
    expect(Math.max(...at100k)).toBe((BACKOFF_FRAMES / 100_000) * 1e9); // 5 ms
    for (const fps of [100_000, 200_000, 400_000]) {
      for (const ns of sleeps(fps, 8)) expect((ns * fps) / 1e9).toBeLessThanOrEqual(BACKOFF_FRAMES + 1);
    }
    // From BACKOFF_FRAMES per BACKOFF_NS on, it does not grow at all.
    expect(sleeps((BACKOFF_FRAMES * 1e9) / BACKOFF_NS, 4)).toEqual([BACKOFF_NS, BACKOFF_NS, BACKOFF_NS, BACKOFF_NS]);
    expect(sleeps(1_000_000, 4)).toEqual([BACKOFF_NS, BACKOFF_NS, BACKOFF_NS, BACKOFF_NS]);
  });

  it('a guest falling behind, a second poller, or a guest asleep on its TAPs: back to BACKOFF_NS', () => {
    for (const over of [{ backlogged: true }, { onePoller: false }, { onDevice: true }]) {
      expect(nextBackoffNs({ sleptNs: 8e6, elapsedNs: 8e6, framesRead: 80, backlogged: false, onePoller: true, onDevice: false, ...over }, BACKOFF_MAX_NS)).toBe(BACKOFF_NS);
    }
  });

  it('no frames at all (a guest computing, taking the token without reading) grows to the cap; a cap below BACKOFF_NS is BACKOFF_NS', () => {
    expect(sleeps(0, 5)).toEqual([2e6, 4e6, 8e6, 8e6, 8e6]);
    expect(sleeps(0, 2, {}, 1000)).toEqual([BACKOFF_NS, BACKOFF_NS]);
  });
});
