// --io-token=auto's choice between one poller and two (host/io-thread/poller-choice.ts), fed a
// made-up clock and frame count: it keeps two only where two moved clearly more frames, tries
// again less often while the answer stays the same, and never tries at rest. No root needed.
// test/token.test.ts runs it on a real TAP.
import { describe, expect, it } from 'vitest';
import { HOLD_MAX_NS, HOLD_NS, MIN_FPS, PollerChoice, RATE_CHANGE, TRIAL_NS } from '../host/io-thread/poller-choice.js';

/** Drives a choice for `ns` in 1 ms ticks, frames arriving at `fps(two)` frames/s; returns the times trials started. */
function drive(c: PollerChoice, clock: { now: number; frames: number }, ns: number, fps: (two: boolean) => number, mayTry = true): number[] {
  const starts: number[] = [];
  const end = clock.now + ns;
  while (clock.now < end) {
    const before = c.trials;
    const two = c.tick(clock.now, clock.frames, mayTry);
    if (c.trials > before) starts.push(clock.now);
    clock.now += 1e6;
    clock.frames += fps(two) / 1000;
  }
  return starts;
}

describe('PollerChoice', () => {
  it('starts with one poller and tries one, two, two, one after a hold', () => {
    const c = new PollerChoice();
    const clock = { now: 0, frames: 0 };
    const seen: boolean[] = [];
    drive(c, clock, HOLD_NS - 2e6, () => 30_000);
    expect(c.two).toBe(false);
    expect(c.trials).toBe(0);
    const end = clock.now + 4 * TRIAL_NS + 10e6;
    while (clock.now < end) {
      const two = c.tick(clock.now, clock.frames);
      if (seen[seen.length - 1] !== two) seen.push(two);
      clock.now += 1e6;
      clock.frames += 30;
    }
    expect(c.trials).toBe(1);
    expect(seen).toEqual([false, true, false]); // ABBA: the two middle slots with two pollers
    expect(c.two).toBe(false); // equal frames: one poller, the cheaper
  });

  it('keeps two pollers where they move 1.3× the frames, and one where they move 1.1× (asked twice: the first answer of one is not kept)', () => {
    for (const [gain, two, trials] of [[1.3, true, 1], [1.1, false, 2]] as const) {
      const c = new PollerChoice();
      const clock = { now: 0, frames: 0 };
      drive(c, clock, HOLD_NS + 8 * TRIAL_NS + 20e6, (t) => (t ? gain * 30_000 : 30_000));
      expect(c.trials).toBe(trials);
      expect(c.two).toBe(two);
      expect(c.picks).toBe(two ? 1 : 0);
      // The last trial's rates, as the stats give them.
      expect(c.lastOneFps).toBeCloseTo(30_000, -3);
      expect(c.lastTwoFps).toBeCloseTo(gain * 30_000, -3);
    }
  });

  it('tries again at once when the first trial says one poller: two pollers are slow at first (cold code)', () => {
    const c = new PollerChoice();
    const clock = { now: 0, frames: 0 };
    let twoNs = 0; // time spent with two pollers so far
    const fps = (two: boolean) => {
      if (!two) return 40_000;
      twoNs += 1e6;
      return twoNs <= 2 * TRIAL_NS ? 20_000 : 80_000; // the first trial's two slots: half speed
    };
    // The cold trial's rates are what the stats show until the retry ends.
    drive(c, clock, HOLD_NS + 4 * TRIAL_NS + 10e6, fps);
    expect(c.trials).toBe(2); // the retry started at once, not after a hold
    expect(c.lastOneFps).toBeCloseTo(40_000, -3);
    expect(c.lastTwoFps).toBeCloseTo(20_000, -3);
    expect(drive(c, clock, 4 * TRIAL_NS + 10e6, fps)).toHaveLength(0); // the retry ends
    expect(c.two).toBe(true);
    expect(c.picks).toBe(1);
    expect(c.lastTwoFps).toBeCloseTo(80_000, -3);
    // Later answers of one are kept as they come: the next trial comes a hold later, not at once.
    const later = drive(c, clock, 3 * HOLD_NS, (t) => (t ? 30_000 : 40_000));
    expect(later.length).toBeGreaterThanOrEqual(1);
    later.slice(1).forEach((s, i) => expect(s - later[i]).toBeGreaterThanOrEqual(4 * TRIAL_NS + HOLD_NS));
    expect(c.two).toBe(false);
  });

  it('a trial that confirms the choice doubles the hold up to HOLD_MAX_NS; a change starts it again', () => {
    const c = new PollerChoice();
    const clock = { now: 0, frames: 0 };
    let better = true; // two pollers win
    const starts = drive(c, clock, 40e9, (t) => (t === better ? 40_000 : 30_000));
    const gaps = starts.slice(1).map((s, i) => s - starts[i] - 4 * TRIAL_NS);
    // First pick is a change (one -> two): hold 1 s; then confirmations: 2, 4, 8, 8, ... s (± a tick each).
    expect(gaps.map((g) => Math.round(g / 1e9))).toEqual(gaps.map((_, i) => Math.min(2 ** i, HOLD_MAX_NS / 1e9)));
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    expect(c.two).toBe(true);
    better = false; // the machine changed under it: one poller wins now
    const later = drive(c, clock, 2 * HOLD_MAX_NS, (t) => (t === better ? 40_000 : 30_000));
    expect(c.two).toBe(false);
    expect(later.length).toBeGreaterThanOrEqual(2);
  });

  it('a load both move alike (an offered rate) is held HOLD_MAX_NS at once; frames coming RATE_CHANGE× faster are tried after HOLD_NS', () => {
    const c = new PollerChoice();
    const clock = { now: 0, frames: 0 };
    let fps = 20_000; // 10k echo/s, open loop: the pollers do not set the pace
    const starts = drive(c, clock, HOLD_NS + 4 * TRIAL_NS + HOLD_MAX_NS - 50e6, () => fps);
    expect(starts).toHaveLength(1); // none in the 8 s after the first, where it used to try after 1, 2, 4 s
    expect(c.two).toBe(false);
    drive(c, clock, 4 * TRIAL_NS + 3 * HOLD_NS, () => fps); // the second trial, and 3 s into its hold
    expect(c.trials).toBe(2);
    fps = RATE_CHANGE * 1.2 * 20_000; // now a flood ping: a new load
    const at = clock.now;
    const again = drive(c, clock, 3 * HOLD_NS, () => fps);
    expect(again).toHaveLength(1);
    expect(again[0] - at).toBeLessThanOrEqual(2 * HOLD_NS + 2e6); // within two measured spells, not the 8 s hold
    drive(c, clock, 4 * TRIAL_NS + 10e6, () => fps); // that trial
    const trials = c.trials;
    fps = fps / 1.3; // slower, but under RATE_CHANGE: the same load
    expect(drive(c, clock, 3 * HOLD_NS, () => fps)).toHaveLength(0);
    fps = fps / RATE_CHANGE; // slower by more: a new load
    expect(drive(c, clock, 3 * HOLD_NS, () => fps)).toHaveLength(1);
    expect(c.trials).toBe(trials + 1);
  });

  it('does not try at rest (under MIN_FPS) nor while the frames do not come at a round-trip pace', () => {
    const c = new PollerChoice();
    const clock = { now: 0, frames: 0 };
    drive(c, clock, 5 * HOLD_NS, () => MIN_FPS / 2);
    expect(c.trials).toBe(0);
    drive(c, clock, 5 * HOLD_NS, () => 500_000, false);
    expect(c.trials).toBe(0);
    expect(c.two).toBe(false);
    // A load after rest is tried at the end of its first measured spell (that is under way, or the
    // next), not a hold after that.
    drive(c, clock, 5 * HOLD_NS, () => 0);
    const starts = drive(c, clock, 3 * HOLD_NS, () => 20_000);
    expect(starts).toHaveLength(1);
    expect(starts[0] - (clock.now - 3 * HOLD_NS)).toBeLessThanOrEqual(2 * HOLD_NS + 2e6); // the spell under way, or the next
  });
});
