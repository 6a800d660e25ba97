// At rest: what a responder costs once its load has stopped and nothing comes. Spin windows and
// back-offs are where a load leaves them (a ping -f of pingCount echoes), then the bench waits
// SETTLE_S and measures restS seconds of no traffic: the process's CPU, every thread, as a share
// of one core, and how often its threads went to sleep (each sleep is a wake-up the machine pays
// for: a timer, a halted vCPU woken). Then restPings requests 200 ms apart: the round trip of a
// request that finds the responder at rest, its wake-up included.
import { setTimeout as sleep } from 'node:timers/promises';
import { procSleeps } from '../../testbed/cpu.js';
import { collect } from '../../testbed/netns.js';
import { parsePing, pingCommand } from '../../testbed/workloads.js';
import { cpuMark, cpuWindow, kill, startRow, stop, type Started } from '../start.js';
import type { Context, Row, Sample, Workload } from '../types.js';

/** After the load: long enough for every mode to reach the state it rests in (hybrid's IO thread parks after 10 ms). */
const SETTLE_S = 0.5;
/** Between the requests at rest: far past every spin window, so each finds the responder asleep. */
const REST_INTERVAL = '0.2';

export function atRest(o: { id: string; title: string; short: string; rows: Row[] }): Workload {
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `after \`ping -f -c pingCount\` against the responder (the tender's ping_serve.js, tap_echo, node-readsync --echo) and ${SETTLE_S} s, restS seconds with no traffic: the process's CPU, every thread, as a share of one core, and its threads' sleeps per second (voluntary context switches, each a wake-up to come); then restPings requests ${REST_INTERVAL} s apart (\`ping -i ${REST_INTERVAL}\`): the round trip of a request that finds the responder at rest`,
    metric: { label: '% of a core', better: 'lower', format: 'x' },
    noLimit: 'At rest the goal is absolute (hybrid under 2% of a core), not a ratio to a C row: the C rows are there to compare with.',
    rows: o.rows,
    columns: [
      { head: 'IO thread %', key: 'io_pct', format: 'x' },
      { head: 'guest %', key: 'guest_pct', format: 'x' },
      { head: 'sleeps/s', key: 'sleeps_per_s', format: 'int' },
      { head: 'rtt at rest µs', key: 'rtt_rest_us', format: 'us', range: true },
      { head: 'loss', key: 'loss_pct', format: 'pct' },
    ],
    async run(row: Row, ctx: Context): Promise<Sample> {
      let r: Started | undefined;
      try {
        r = await startRow(ctx, row, 'echo', { c: ['--count=0'], node: ['--count=0'] });
        await collect(ctx.ns.spawn('ping', pingCommand({ count: ctx.sizes.pingCount })), 300_000);
        await sleep(SETTLE_S * 1000);
        const mark0 = cpuMark(r.pid);
        const sleeps0 = procSleeps(r.pid);
        const t0 = performance.now();
        await sleep(ctx.sizes.restS * 1000);
        const mark1 = cpuMark(r.pid);
        const sleeps1 = procSleeps(r.pid);
        const seconds = (performance.now() - t0) / 1000;
        const window = cpuWindow(mark0, mark1);
        const p = parsePing((await collect(ctx.ns.spawn('ping', pingCommand({ count: ctx.sizes.restPings, interval: REST_INTERVAL })), 60_000)).stdout);
        await stop(r);
        const pct = (s: number | undefined) => (s === undefined ? NaN : (s / seconds) * 100);
        return {
          value: pct(window.cpuS), frames: 0, ...window,
          extra: { io_pct: pct(window.threads?.io), guest_pct: pct(window.threads?.guest), sleeps_per_s: (sleeps1 - sleeps0) / seconds, rtt_rest_us: p.rtt.avg * 1000, loss_pct: p.lossPct },
        };
      } finally {
        kill(r);
      }
    },
  };
}
