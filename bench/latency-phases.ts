// Where each request of a latency run spent its time, from bench/profile-latency.sh run with
// GUEST=bench/guests/ping_phases.js: the probe's dump (send time, round trip) and the guest's
// PHASE and EV lines (when each request reached the app, when its reply's net_write began and
// returned; every frame and wait). Per class of round trip, medians of:
//   in          send -> the app has the request (the kernel's path, the TAP read, the rings)
//   write       the reply's net_write, begin to return (the kernel delivers the reply inside it)
//   prev write  the previous request's net_write
// and the share of requests sent under 10 µs after the previous one (the probe, behind its
// schedule, catches up), the share sent before the previous request's net_write had returned
// (so this one queued behind it), and the share sent while the app waited in yield_until;
// of those, how long that wait had lasted at the send and how long after it the wait ended
// (a wait that outlasts the spin window sleeps; an unscheduled thread answers late too).
// The first counted request has no previous one and is left out; lost ones are counted apart.
// Exit 64: a bad argument; 65: the files do not go together (not ping_phases.js's output, or
// not the same run); 66: a file cannot be read. docs/tuning.md, "Under a flood: the request
// behind a slow reply".
// Usage: node dist-dev/bench/latency-phases.js --dump=/tmp/lat-tender.txt --out=/tmp/lat-tender.out
import { readFileSync } from 'node:fs';
import { command } from '../testbed/args.js';

const argv = command('node dist-dev/bench/latency-phases.js --dump=FILE --out=FILE')
  .option('dump', { type: 'string', demandOption: true, describe: "icmp_probe --dump's file" })
  .option('out', { type: 'string', demandOption: true, describe: "the tender's output, with ping_phases.js's PHASE and EV lines" })
  .parseSync();

const EV_WAIT = 3;
function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    console.error(`latency-phases: ${(err as Error).message}`);
    process.exit(66);
  }
}
const dump = read(argv.dump).trim().split('\n').map((l) => l.split(' ').map(Number));
const phases: number[][] = [];
const events: [number, number][] = [];
for (const line of read(argv.out).split('\n')) {
  const f = line.split(' ');
  if (f[0] === 'PHASE') phases[Number(f[1])] = f.slice(2).map(Number);
  else if (f[0] === 'EV') events.push([Number(f[1]), Number(f[2])]);
}
if (phases.length < dump.length || events.length === 0) {
  console.error(`latency-phases: ${argv.out} has ${phases.length} PHASE and ${events.length} EV lines for ${dump.length} requests: was the guest bench/guests/ping_phases.js, and did it get the last request?`);
  process.exit(65);
}
// The dump holds the counted requests; the guest numbered the warm-up's too. A dump from
// another run shows as requests that reached the app before they were sent, or after the reply.
const warmup = phases.length - dump.length;
const misfit = dump.slice(0, 100).filter(([t, rtt], k) => rtt >= 0 && phases[k + warmup]?.[0] > 0 && !(phases[k + warmup][0] > t && phases[k + warmup][0] < t + (rtt + 1) / 1e6));
if (misfit.length > 0) {
  console.error(`latency-phases: ${misfit.length} of the first 100 requests in ${argv.dump} reached the app outside their round trip in ${argv.out}: not the same run?`);
  process.exit(65);
}

/** If the app was in yield_until at t (the last event before t began a wait): since when, and when it ended. */
function waitAt(t: number): { since: number; until: number } | null {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (events[m][0] <= t) lo = m + 1;
    else hi = m;
  }
  if (lo === 0 || events[lo - 1][1] !== EV_WAIT) return null;
  return { since: events[lo - 1][0], until: lo < events.length ? events[lo][0] : NaN };
}

interface Row { rtt: number; in: number; write: number; prevWrite: number; gap: number; prevBusy: boolean; waited: number | null; ended: number }
const rows: Row[] = [];
let lost = 0;
for (let k = 1; k < dump.length; k++) {
  const [t, rtt] = dump[k];
  const [tPrev] = dump[k - 1];
  const p = phases[k + warmup];
  const q = phases[k - 1 + warmup];
  if (rtt < 0 || !p || !q || p[0] === 0 || q[0] === 0) { // lost, or (the previous) never reached the app
    lost++;
    continue;
  }
  const w = waitAt(t);
  rows.push({ rtt, in: (p[0] - t) * 1e6, write: (p[2] - p[1]) * 1e6, prevWrite: (q[2] - q[1]) * 1e6, gap: (t - tPrev) * 1e6, prevBusy: q[2] > t, waited: w && (t - w.since) * 1e6, ended: w ? (w.until - t) * 1e6 : NaN });
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
const share = (rs: Row[], f: (r: Row) => boolean) => `${Math.round((100 * rs.filter(f).length) / rs.length)}%`;
console.log(`${rows.length} requests (the warm-up's ${warmup} and the first counted one left out${lost ? `; ${lost} lost or after a lost one` : ''}); µs are medians`);
console.log('rtt µs   | requests | in   | write | prev write | sent <10 µs after the previous | previous net_write not yet returned | app waiting | its wait so far, µs | ended after, µs');
for (const [lo, hi] of [[0, 6], [6, 12], [12, 40], [40, Infinity]]) {
  const rs = rows.filter((r) => r.rtt >= lo && r.rtt < hi);
  if (rs.length === 0) continue;
  const label = `${lo}-${hi === Infinity ? '' : hi}`.padEnd(8);
  const waiting = rs.filter((r) => r.waited !== null);
  console.log(
    `${label} | ${String(rs.length).padStart(8)} | ${median(rs.map((r) => r.in)).toFixed(1).padStart(4)} | ${median(rs.map((r) => r.write)).toFixed(1).padStart(5)} | ` +
      `${median(rs.map((r) => r.prevWrite)).toFixed(1).padStart(10)} | ${share(rs, (r) => r.gap < 10).padStart(30)} | ${share(rs, (r) => r.prevBusy).padStart(35)} | ${share(rs, (r) => r.waited !== null).padStart(11)} | ` +
      `${median(waiting.map((r) => r.waited!)).toFixed(1).padStart(19)} | ${median(waiting.map((r) => r.ended)).toFixed(1).padStart(15)}`,
  );
}
