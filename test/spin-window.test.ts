// The adaptive spin window (guest-api/spin-window.ts): grows while wake-ups come soon after the
// spin gave up, and falls back to its base as soon as one does not. No root needed.
import { describe, expect, it } from 'vitest';
import { SpinWindow } from '../guest-api/spin-window.js';

describe('SpinWindow', () => {
  it('starts at its base and refuses a cap below it', () => {
    expect(new SpinWindow(50_000, 500_000).ns).toBe(50_000);
    expect(() => new SpinWindow(50_000, 10_000)).toThrow(RangeError);
    expect(() => new SpinWindow(-1, 10)).toThrow(RangeError);
  });

  it('a steady 100 µs gap grows the window past the gap within a few waits, and it stays under the cap', () => {
    const w = new SpinWindow(50_000, 500_000);
    let waits = 0;
    while (w.ns < 100_000) {
      expect(waits).toBeLessThan(4);
      w.slept(100_000, true);
      waits++;
    }
    expect(w.ns).toBeGreaterThanOrEqual(100_000);
    for (let k = 0; k < 20; k++) w.slept(120_000, true);
    expect(w.ns).toBe(500_000);
  });

  it('one wait past the cap sends it back to base: an idle tender spins only its base window', () => {
    const w = new SpinWindow(50_000, 500_000);
    for (let k = 0; k < 5; k++) w.slept(80_000, true);
    expect(w.ns).toBe(500_000);
    w.slept(1_000_000_000, false); // an idle guest's yield_until(now + 1 s)
    expect(w.ns).toBe(50_000);
    w.slept(600_000, true); // woken, but later than spinning up to the cap would have caught
    expect(w.ns).toBe(50_000);
  });

  it('a deadline within the cap with nothing to wake for neither grows nor shrinks it', () => {
    const w = new SpinWindow(50_000, 500_000);
    w.slept(80_000, true);
    const grown = w.ns;
    w.slept(200_000, false);
    expect(w.ns).toBe(grown);
  });

  it('a base of 0 (event-like) still grows from a floor, so a short gap is reachable', () => {
    const w = new SpinWindow(0, 200_000);
    w.slept(30_000, true);
    expect(w.ns).toBeGreaterThan(0);
    for (let k = 0; k < 3; k++) w.slept(30_000, true);
    expect(w.ns).toBeGreaterThanOrEqual(30_000);
  });

  it('with the cap at the base it is the fixed window of 0.1', () => {
    const w = new SpinWindow(50_000, 50_000);
    for (let k = 0; k < 10; k++) w.slept(20_000, true);
    expect(w.ns).toBe(50_000);
    w.slept(5e9, false);
    expect(w.ns).toBe(50_000);
  });
});
