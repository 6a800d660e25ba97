// Whether the slow requests of a latency run keep time: something that wakes on a period (a
// backed-off thread's timer, a watch, a tick) and takes a CPU for tens of µs lands on a fixed
// phase of its period, and the requests sent at that phase are the slow ones. Folding the send
// times of the slow requests on each candidate period shows it as a pile-up in one short window
// of the phase; a period nothing keeps spreads them evenly. (Session 37 found this way the guest
// kernel's 4 ms tick and a 10 ms period in the C busy loop's tail as in hybrid's: docs/tuning.md,
// "What the slow requests meet".)
//
// Slow requests are counted as episodes, not one by one: a stall that holds up ten requests in
// a row is one event, and counting it ten times would make any period look kept. The verdict is
// a Poisson test with the bins and periods tried counted in (Bonferroni): the chance that the
// fullest window of the best period holds that many episodes with nothing keeping time.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** log10 of the chance under which a period is taken as kept (not chance). */
export const KEPT_LOG10P = -3;

/** Was a request sent at t (s) in the window of a period found from originS? */
export function onPhase(t: number, originS: number, f: PeriodFinding): boolean {
  const at = (((t - originS) * 1000) % f.periodMs) - f.phaseMs;
  return at >= 0 && at < f.windowMs;
}

/** Slow requests sent within this of the last one belong to its episode. */
export const EPISODE_GAP_S = 0.0005;

export interface PeriodFinding {
  periodMs: number;
  /** Where in the period the window starts, ms from the origin (the run's first request). */
  phaseMs: number;
  windowMs: number;
  /** Episodes in that window, of all of them. */
  inWindow: number;
  episodes: number;
  /** What chance alone puts in one such window. */
  expected: number;
  /** log10 of the corrected chance of a window that full with nothing keeping time. */
  log10P: number;
}

/** The send times (s) of the first slow request of each episode. */
export function slowEpisodes(rows: [number, number][], slowUs: number): number[] {
  const starts: number[] = [];
  let last = -Infinity;
  for (const [t, rtt] of rows) {
    if (!(rtt >= slowUs || rtt < 0)) continue; // a lost request (negative) is slow too
    if (t - last > EPISODE_GAP_S) starts.push(t);
    last = t;
  }
  return starts;
}

/** log10 P(X ≥ k) for X ~ Poisson(lambda), summed in log space. */
export function log10PoissonTail(k: number, lambda: number): number {
  if (k <= 0) return 0;
  let logFactorial = 0;
  for (let i = 2; i <= k; i++) logFactorial += Math.log(i);
  let term = k * Math.log(lambda) - lambda - logFactorial; // log P(X = k)
  let sum = term;
  for (let j = k + 1; j < k + 1000; j++) {
    term += Math.log(lambda / j);
    const next = Math.max(sum, term) + Math.log1p(Math.exp(-Math.abs(sum - term)));
    if (next - sum < 1e-12) break;
    sum = next;
  }
  return Math.min(0, sum / Math.LN10);
}

/**
 * Folds the episode times (from originS, s) on every period from minMs to maxMs (stepMs apart) into windows of
 * windowMs (two half-window bins, so a phase on a bin edge is not split) and returns the period
 * whose fullest window is least likely by chance; null with fewer than 10 episodes.
 */
export function strongestPeriod(episodes: number[], opts: { minMs?: number; maxMs?: number; stepMs?: number; windowMs?: number; originS?: number; skip?: (periodMs: number) => boolean } = {}): PeriodFinding | null {
  const { minMs = 2, maxMs = 50, stepMs = 0.1, windowMs = 0.2 } = opts;
  const n = episodes.length;
  if (n < 10) return null;
  const t0 = opts.originS ?? episodes[0]; // phases are from here: the run's first request
  const tried = Math.round((maxMs - minMs) / stepMs) + 1;
  let best: PeriodFinding | null = null;
  for (let i = 0; i < tried; i++) {
    const periodMs = minMs + i * stepMs;
    if (opts.skip?.(periodMs)) continue;
    const bins = Math.max(2, Math.round((2 * periodMs) / windowMs));
    const binMs = periodMs / bins;
    const counts = new Array<number>(bins).fill(0);
    for (const t of episodes) {
      const phase = (((t - t0) * 1000) % periodMs) / periodMs;
      counts[Math.min(bins - 1, Math.floor(phase * bins))]++;
    }
    let k = 0;
    let at = 0;
    for (let b = 0; b < bins; b++) {
      const c = counts[b] + counts[(b + 1) % bins];
      if (c > k) [k, at] = [c, b];
    }
    const expected = (2 * n) / bins;
    // Corrected for the windows and the periods looked at.
    const log10P = Math.min(0, log10PoissonTail(k, expected) + Math.log10(bins) + Math.log10(tried));
    if (best === null || log10P < best.log10P) best = { periodMs, phaseMs: at * binMs, windowMs: 2 * binMs, inWindow: k, episodes: n, expected, log10P };
  }
  return best;
}

/** A multiple or a divisor of periodMs (within 1%): the same disturbance seen again. */
export function harmonic(periodMs: number, of: number): boolean {
  const r = periodMs > of ? periodMs / of : of / periodMs;
  return Math.abs(r - Math.round(r)) < 0.01 * r;
}

/** The strongest period, and the strongest that is not one of its harmonics (two disturbances may keep time at once). */
export function periods(episodes: number[], originS?: number): [PeriodFinding | null, PeriodFinding | null] {
  const first = strongestPeriod(episodes, { originS });
  if (first === null) return [null, null];
  return [first, strongestPeriod(episodes, { originS, skip: (p) => harmonic(p, first.periodMs) })];
}

/** One line for bench/profile-latency.sh. */
export function describe(f: PeriodFinding | null, slowUs: number, significance = KEPT_LOG10P): string {
  if (f === null) return `slow requests (≥ ${slowUs} µs): too few episodes to look for a period`;
  const head = `slow requests (≥ ${slowUs} µs), ${f.episodes} episodes`;
  if (f.log10P > significance) return `${head}: no period stands out (the best, ${f.periodMs.toFixed(1)} ms, could be chance: p ~ 1e${Math.round(f.log10P)})`;
  return `${head}: ${f.inWindow} on a ${f.periodMs.toFixed(1)} ms period, within ${f.windowMs.toFixed(2)} ms of phase ${f.phaseMs.toFixed(2)} ms (chance alone: ${f.expected.toFixed(1)}; p ~ 1e${Math.round(f.log10P)})`;
}

// node dist-dev/bench/periods.js DUMP [SLOW_US]: DUMP is icmp_probe --dump's file
// ("send_time_s rtt_us" per request, rtt < 0 for a lost one).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dump, slowArg] = process.argv.slice(2);
  if (!dump) {
    console.error('periods: usage: node dist-dev/bench/periods.js DUMP [SLOW_US]');
    process.exit(64);
  }
  const slowUs = slowArg === undefined ? 20 : Number(slowArg);
  const rows = readFileSync(dump, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number) as [number, number]).filter((r) => r.length === 2 && r.every(Number.isFinite));
  const [first, second] = periods(slowEpisodes(rows, slowUs), rows[0]?.[0]);
  console.log(describe(first, slowUs));
  if (first !== null && first.log10P <= KEPT_LOG10P && second !== null && second.log10P <= KEPT_LOG10P) console.log(`  and ${describe(second, slowUs).replace(/^.*episodes: /, '')}`);
}
