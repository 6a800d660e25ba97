// What the slow requests of a latency run met, from bench/profile-latency.sh's two files: the
// probe's dump (send time, round trip) and `perf script` of a perf sched record on
// CLOCK_MONOTONIC. For each request slower than --slow-us, what ran on each CPU between its send
// and its reply, and one verdict:
//   stacked      the tender's IO thread and guest shared one CPU while another CPU sat idle
//                (one of them often ran a few µs only: runnable, it waited behind the other)
//   woken late   a CPU sat idle for over half the request: the thread that had to answer was
//                asleep, and its wake-up took that long (on these VMs, waking an idle vCPU)
//   other task   a task that is neither the tender nor the probe ran for over 30% of it
//   tender's own another thread of the tender (V8's compiler or GC helpers, the main thread)
//   busy         the tender's IO thread or guest ran the whole time
// (For a C responder, its one thread counts as the tender's own.) Where the slow requests keep a
// period (bench/periods.ts: a timer tick), each verdict says how many were sent on its phase.
// Then the slow requests by episode, and last the responder's waits to run over the whole recording, and who preempted it.
// Usage: node dist-dev/bench/sched-tail.js --dump=FILE --sched=FILE --pid=TENDER [--slow-us=50] [--skip-s=0.5]
import { readFileSync } from 'node:fs';
import { command } from '../testbed/args.js';
import { THREAD_NAME } from '../host/thread-names.js';
import { KEPT_LOG10P, onPhase, slowEpisodes, strongestPeriod } from './periods.js';

const argv = command('node dist-dev/bench/sched-tail.js --dump=FILE --sched=FILE --pid=N [--slow-us=50] [--skip-s=0.5]')
  .option('dump', { type: 'string', demandOption: true, describe: "icmp_probe --dump's file" })
  .option('sched', { type: 'string', demandOption: true, describe: 'perf script -F comm,pid,tid,cpu,time,event,trace of a perf sched record -k mono' })
  .option('pid', { type: 'number', demandOption: true, describe: "the tender's pid" })
  .option('slow-us', { type: 'number', default: 50 })
  .option('skip-s', { type: 'number', default: 0.5, describe: 'requests in the first seconds are start-up' })
  .strict()
  .parseSync();

interface Switch { t: number; cpu: number; tid: number; comm: string }

const SWITCH = /^\s*(.+?)\s+(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_switch:.* next_comm=(.+?) next_pid=(\d+)/;
const PREV = /sched:sched_switch: prev_comm=.+? prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+)/;
const WAKE = /^\s*.+?\s+\d+\/\d+\s+\[\d+\]\s+([\d.]+):\s+sched:sched_wakeup: comm=.+? pid=(\d+) /;
const switches = new Map<number, Switch[]>();
const tgid = new Map<number, number>();
/** Per thread: when it was switched out runnable (and by whom), woken, or switched in. */
const runnable: { t: number; tid: number; ev: 'preempted' | 'slept' | 'woken' | 'in'; by?: string }[] = [];
for (const line of readFileSync(argv.sched, 'utf8').split('\n')) {
  const w = WAKE.exec(line);
  if (w) runnable.push({ t: Number(w[1]), tid: Number(w[2]), ev: 'woken' });
  const m = SWITCH.exec(line);
  if (!m) continue;
  tgid.set(Number(m[3]), Number(m[2]));
  const cpu = Number(m[4]);
  const t = Number(m[5]);
  if (!switches.has(cpu)) switches.set(cpu, []);
  switches.get(cpu)!.push({ t, cpu, tid: Number(m[7]), comm: m[6] });
  const prev = PREV.exec(line);
  if (prev) runnable.push({ t, tid: Number(prev[1]), ev: prev[2].startsWith('R') ? 'preempted' : 'slept', by: m[6] });
  runnable.push({ t, tid: Number(m[7]), ev: 'in' });
}
const cpus = [...switches.keys()].sort((a, b) => a - b);

type Kind = 'io' | 'guest' | 'tender' | 'probe' | 'idle' | 'other';
const kindOf = (s: Switch): Kind => {
  if (s.tid === 0) return 'idle';
  if (s.comm === THREAD_NAME.io) return 'io';
  if (s.comm === THREAD_NAME.guest) return 'guest';
  if (s.comm === 'icmp_probe') return 'probe';
  return tgid.get(s.tid) === argv.pid ? 'tender' : 'other';
};

/** µs each kind ran on `cpu` within [a, b). */
function ran(cpu: number, a: number, b: number): Record<Kind, number> {
  const out: Record<Kind, number> = { io: 0, guest: 0, tender: 0, probe: 0, idle: 0, other: 0 };
  const list = switches.get(cpu)!;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].t <= a) lo = mid + 1;
    else hi = mid;
  }
  for (let i = Math.max(0, lo - 1); i < list.length && list[i].t < b; i++) {
    const from = Math.max(list[i].t, a);
    const to = Math.min(i + 1 < list.length ? list[i + 1].t : b, b);
    if (to > from) out[kindOf(list[i])] += (to - from) * 1e6;
  }
  return out;
}

const rows = readFileSync(argv.dump, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
const t0 = rows[0][0];
const first = Math.min(...cpus.map((c) => switches.get(c)![0]?.t ?? Infinity));
const last = Math.max(...cpus.map((c) => switches.get(c)!.at(-1)?.t ?? 0));
// The period the slow requests keep, if any (bench/periods.ts: a tick, a timer): each verdict
// then says how many of its requests were sent on that period's phase.
const kept = strongestPeriod(slowEpisodes(rows as [number, number][], argv['slow-us']), { originS: t0 });
const period = kept !== null && kept.log10P <= KEPT_LOG10P ? kept : null;
const onPeriod = (sent: number) => period !== null && onPhase(sent, t0, period);
const verdicts = new Map<string, number>();
const verdictsOnPeriod = new Map<string, number>();
const worst: { t: number; rtt: number; verdict: string; text: string }[] = [];
let slow = 0;
for (const [sent, rtt] of rows) {
  if (sent - t0 < argv['skip-s'] || sent < first || sent > last || (rtt >= 0 && rtt < argv['slow-us'])) continue;
  const span = rtt >= 0 ? rtt : 1000;
  const per = cpus.map((c) => ran(c, sent, sent + span / 1e6));
  const maxIdle = Math.max(...per.map((r) => r.idle));
  // Both on one CPU at some point (one may have waited there, runnable, the whole time) while another idled.
  const stacked = per.some((r) => r.io > 0 && r.guest > 0) && maxIdle > 0.3 * span;
  const verdict = stacked ? 'stacked'
    : maxIdle > 0.5 * span ? 'woken late'
    : per.some((r) => r.other > 0.3 * span) ? 'other task'
    : per.some((r) => r.tender > 0.3 * span) ? "tender's own"
    : 'busy';
  verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
  if (onPeriod(sent)) verdictsOnPeriod.set(verdict, (verdictsOnPeriod.get(verdict) ?? 0) + 1);
  slow++;
  const text = per.map((r, i) => `cpu${cpus[i]} ${Object.entries(r).filter(([, us]) => us >= 1).map(([k, us]) => `${k} ${Math.round(us)}`).join(', ')}`).join(' | ');
  worst.push({ t: sent - t0, rtt: span, verdict, text });
}
const counted = rows.filter(([sent]) => sent - t0 >= argv['skip-s'] && sent >= first && sent <= last).length;
console.log(`${counted} requests in the recording after ${argv['skip-s']} s; ${slow} took ${argv['slow-us']} µs or more (a lost one counts as 1000):`);
worst.sort((a, b) => b.rtt - a.rtt);
for (const [v, n] of [...verdicts].sort((a, b) => b[1] - a[1])) {
  const kept = period === null ? '' : ` (${verdictsOnPeriod.get(v) ?? 0} sent on the ${period.periodMs.toFixed(1)} ms period's phase)`;
  console.log(`  ${v.padEnd(13)} ${n}${kept}; the slowest (s into the run, µs, then µs each ran on each CPU meanwhile):`);
  for (const w of worst.filter((x) => x.verdict === v).slice(0, 3)) console.log(`    ${w.t.toFixed(4)} ${Math.round(w.rtt)}  ${w.text}`);
}

// The responder's waits to run over the whole recording: from a preemption (switched out still
// runnable) or a wake-up to its next switch-in. The guest thread, or the C responder (one thread:
// its tid is the pid). A C busy loop that keeps a vCPU to itself waits for ms; a guest whose vCPU
// the probe and the sender share waits for a good part of a second (docs/tuning.md, "Under a flood").
const guestTids = new Set([...switches.values()].flat().filter((x) => x.comm === THREAD_NAME.guest && tgid.get(x.tid) === argv.pid).map((x) => x.tid));
const responder = guestTids.size > 0 ? guestTids : new Set([argv.pid]);
let waitS = 0;
let since = -1; // runnable, not running, since
let running = false;
const preemptedBy = new Map<string, number>();
for (const e of runnable) {
  if (!responder.has(e.tid)) continue;
  if (e.ev === 'in') {
    if (since >= 0) waitS += e.t - since;
    since = -1;
    running = true;
  } else if (e.ev === 'slept') {
    running = false;
    since = -1;
  } else if (e.ev === 'preempted') {
    running = false;
    since = e.t;
    preemptedBy.set(e.by!, (preemptedBy.get(e.by!) ?? 0) + 1);
  } else if (!running && since < 0) since = e.t; // woken: a wake-up of a running thread changes nothing
}
// Slow requests come in episodes (each within 300 µs of the one before). One that begins with
// the probe behind its schedule (icmp_probe sends request i at start + i intervals: late by over
// one, it was held up and catches up in a burst) while the responder sleeps costs a wake-up and
// then the whole burst: the shape a thread that sleeps through a pause has and a busy C loop
// does not (docs/tuning.md, "Spinning through a pause").
const asleep: [number, number][] = [];
let sleptAt = -1;
for (const e of runnable) {
  if (!responder.has(e.tid)) continue;
  if (e.ev === 'slept') sleptAt = e.t;
  else if ((e.ev === 'woken' || e.ev === 'in') && sleptAt >= 0) (asleep.push([sleptAt, e.t]), (sleptAt = -1));
}
const isAsleep = (t: number) => asleep.some(([a, b]) => a <= t && t <= b);
const gaps = rows.slice(1).map((r, i) => r[0] - rows[i][0]).sort((a, b) => a - b);
const interval = gaps[gaps.length >> 1] ?? 0;
const episodes = new Map<string, [number, number]>();
let prevSlow = -Infinity;
let current = '';
rows.forEach(([sent, rtt], i) => {
  if (sent - t0 < argv['skip-s'] || sent < first || sent > last || (rtt >= 0 && rtt < argv['slow-us'])) return;
  if (sent - prevSlow > 300e-6) {
    const late = sent - (t0 + i * interval) > interval;
    current = `the probe ${late ? 'behind' : 'on'} schedule, the responder ${isAsleep(sent) ? 'asleep' : 'awake'}`;
    const e = episodes.get(current) ?? [0, 0];
    e[0]++;
    episodes.set(current, e);
  }
  episodes.get(current)![1]++;
  prevSlow = sent;
});
console.log('episodes (slow requests each within 300 µs of the last), by how they began:');
for (const [k, [n, reqs]] of [...episodes].sort((a, b) => b[1][1] - a[1][1])) console.log(`  ${k}: ${n} episodes, ${reqs} slow requests`);

const by = [...preemptedBy].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c, n]) => `${c} ${n}`).join(', ');
console.log(`the responder (${guestTids.size > 0 ? THREAD_NAME.guest : `pid ${argv.pid}`}) waited to run ${waitS.toFixed(3)} s of the ${(last - first).toFixed(1)} s recorded; preempted by: ${by || 'nobody'}`);
