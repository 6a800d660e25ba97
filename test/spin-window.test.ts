// The adaptive spin window (guest-api/spin-window.ts): grows while wake-ups come soon after the
// spin gave up, and falls back to its base as soon as one does not. No root needed.
import { describe, expect, it } from 'vitest';
import { SpinWindow, STALL_SHARE, STALL_STREAK } from '../guest-api/spin-window.js';

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

  describe('spinning through a pause', () => {
    // A peer at 10k/s: the window has grown past its 100 µs gap and every wait ends spinning.
    const busy = (stallNs: number) => {
      const w = new SpinWindow(50_000, 500_000, stallNs);
      for (let k = 0; k < 5; k++) w.slept(100_000, true);
      let now = 1e9;
      for (let k = 0; k < STALL_STREAK; k++, now += 100_000) {
        expect(w.spinFor(now)).toBe(w.ns);
        w.spun(90_000);
      }
      return { w, now };
    };

    it(`after ${STALL_STREAK} waits that ended spinning, a wait may spin up to stallNs, and catching a frame then keeps the window`, () => {
      const { w, now } = busy(5_000_000);
      const grown = w.ns;
      expect(w.spinFor(now)).toBe(5_000_000);
      w.spun(2_000_000); // a 2 ms pause, spun through
      expect(w.ns).toBe(grown);
      expect(w.spinFor(now + 2_000_000)).toBeGreaterThan(grown); // still busy: the budget left
    });

    it(`the budget refills at 1/${STALL_SHARE} of the time: pauses in a row are spun through no more than that`, () => {
      const { w } = busy(5_000_000);
      let now = 2e9;
      let spunNs = 0;
      const start = now;
      // Every 1 ms a 900 µs pause: as long a spin as the budget allows each time.
      for (let k = 0; k < 10_000; k++, now += 1_000_000) {
        const granted = w.spinFor(now);
        const window = w.ns; // what it would have spun without the pause rule
        if (granted >= 900_000) {
          w.spun(900_000);
          spunNs += 900_000 - window;
        } else {
          w.slept(900_000, true);
          spunNs += granted - window;
          for (let j = 0; j < STALL_STREAK; j++) w.spun(10_000); // busy again
        }
      }
      expect(spunNs).toBeLessThanOrEqual((now - start) / STALL_SHARE + 5_000_000);
    });

    it('a sleep ends it: the next long spin needs a new streak, so an idle thread spins through one pause at most', () => {
      const { w, now } = busy(5_000_000);
      expect(w.spinFor(now)).toBe(5_000_000);
      w.slept(1e9, false); // the traffic stopped: spun 5 ms, then slept to the deadline
      expect(w.ns).toBe(50_000);
      for (let k = 1; k <= 10; k++) {
        expect(w.spinFor(now + k * 1e9)).toBe(50_000);
        w.slept(1e9, false);
      }
    });

    it('waits past the cap do not build the streak: a slow peer (250 requests/s) never earns it', () => {
      const w = new SpinWindow(50_000, 500_000, 5_000_000);
      let now = 1e9;
      for (let k = 0; k < 1000; k++, now += 4_000_000) {
        expect(w.spinFor(now)).toBe(50_000);
        w.slept(4_000_000, true);
      }
    });

    it('stallNs 0 (or not above the window) changes nothing', () => {
      const { w, now } = busy(0);
      expect(w.spinFor(now)).toBe(w.ns);
      const v = busy(100_000);
      expect(v.w.spinFor(v.now)).toBe(v.w.ns);
    });
  });
});

