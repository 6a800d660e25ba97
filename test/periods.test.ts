// bench/periods.ts on made-up probe dumps (no TAPs needed): a disturbance on a period is found
// with its phase, a tail with no period is not given one, and a stall that holds up many
// requests in a row counts once.
import { describe, expect, it } from 'vitest';
import { describe as sayPeriod, harmonic, log10PoissonTail, periods, slowEpisodes, strongestPeriod } from '../bench/periods.js';

/** 3 s of requests every 100 µs at 9 µs, as icmp_probe dumps them. */
function dump(slow: (i: number, t: number) => boolean): [number, number][] {
  const rows: [number, number][] = [];
  for (let i = 0; i < 30000; i++) {
    const t = 1000 + i * 1e-4;
    rows.push([t, slow(i, t) ? 50 : 9]);
  }
  return rows;
}

/** A fixed sequence of pseudo-random numbers in [0, 1). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('slow requests on a period (bench/periods.ts)', () => {
  it('finds a 10 ms disturbance and its phase among slow requests that keep no time', () => {
    const rand = lcg(7);
    // One request in each 10 ms slow at 3.0 ms into it (100 requests per period: the 31st), and 1% slow at random.
    const rows = dump((i) => i % 100 === 30 || rand() < 0.01);
    const f = strongestPeriod(slowEpisodes(rows, 20), { originS: rows[0][0] })!;
    expect(f.periodMs).toBeCloseTo(10, 5);
    expect(f.phaseMs).toBeGreaterThanOrEqual(2.8);
    expect(f.phaseMs).toBeLessThanOrEqual(3.1);
    expect(f.inWindow).toBeGreaterThanOrEqual(270); // of 300: a few join an episode a random slow request began
    expect(f.log10P).toBeLessThan(-50);
    expect(sayPeriod(f, 20)).toMatch(/on a 10\.0 ms period/);
  });

  it('finds a second disturbance that is not a harmonic of the first (a 4 ms tick beside a 10 ms one)', () => {
    const rand = lcg(3);
    const rows = dump((i) => i % 40 === 10 || i % 100 === 57 || rand() < 0.005); // never within 0.5 ms of each other: no episode holds both
    const [first, second] = periods(slowEpisodes(rows, 20), rows[0][0]);
    expect([first!.periodMs, second!.periodMs].map((p) => Math.round(p * 10) / 10).sort((a, b) => a - b)).toEqual([4, 10]);
    expect(second!.log10P).toBeLessThan(-10);
    expect(harmonic(20, 10)).toBe(true);
    expect(harmonic(5, 10)).toBe(true);
    expect(harmonic(4, 10)).toBe(false);
  });

  it('says no period stands out when the slow requests come at random', () => {
    const rand = lcg(11);
    const f = strongestPeriod(slowEpisodes(dump(() => rand() < 0.02), 20))!;
    expect(f.episodes).toBeGreaterThan(400);
    expect(f.log10P).toBeGreaterThan(-3);
    expect(sayPeriod(f, 20)).toMatch(/no period stands out/);
  });

  it('counts a stall that holds up requests in a row once, and a lost request as slow', () => {
    const rows = dump((i) => i >= 500 && i < 520);
    expect(slowEpisodes(rows, 20)).toEqual([1000 + 500 * 1e-4]);
    rows[900][1] = -1; // lost
    expect(slowEpisodes(rows, 20)).toHaveLength(2);
    expect(strongestPeriod(slowEpisodes(rows, 20))).toBeNull(); // too few to say
  });

  it('takes Poisson tails in log space', () => {
    expect(log10PoissonTail(0, 3)).toBe(0);
    // P(X >= 1) = 1 - e^-3
    expect(10 ** log10PoissonTail(1, 3)).toBeCloseTo(1 - Math.exp(-3), 10);
    // P(X >= 5 | 2) = 1 - (1 + 2 + 2 + 4/3 + 2/3) e^-2
    expect(10 ** log10PoissonTail(5, 2)).toBeCloseTo(1 - 7 * Math.exp(-2), 10);
    expect(log10PoissonTail(200, 10)).toBeLessThan(-150);
  });
});
