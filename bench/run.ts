// `npm run bench` (root): every workload of plan.ts, every row, in one namespace of its own,
// rows interleaved round-robin within each repetition (the order rotated from one repetition
// to the next), so drift on the machine lands on every row alike. Writes latest.{md,json,svg}.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { command, EXIT_USAGE } from '../testbed/args.js';
import { buildLimitPrograms } from '../testbed/c/build.js';
import { cleanUpOnSignals, GUEST_MAC, createNetns, ROOT, whyNoTap } from '../testbed/netns.js';
import { summarize } from './aggregate.js';
import { chart } from './chart.js';
import { writeResults } from './format.js';
import { FULL, PLAN, QUICK } from './plan.js';
import { markdown } from './report.js';
import { killAll } from './start.js';
import { targets } from './targets.js';
import type { Context, Results, Sample } from './types.js';

const SIZE_OPTIONS = ['warm-frames', 'drain-frames', 'flood-count', 'flood-seconds', 'tx-count', 'ping-count', 'lat-count', 'lat-rate', 'lat-flood-pps'] as const;
const argv = command('npm run bench -- [--quick] [--runs=N] [--only=ID,...] [--rows=ID,...] [--out=DIR] [size overrides]\n\nRuns as root; makes and removes its own network namespace. Exit: 0; 1 a run failed twice; 64 usage; 77 not root.', 'bench')
  .option('quick', { type: 'boolean', default: false, describe: 'small counts, one run: checks the harness, not for quoting' })
  .option('runs', { type: 'number', describe: 'repetitions (default 5; 1 with --quick)' })
  .option('only', { type: 'string', describe: `workloads to run: ${PLAN.map((w) => w.id).join(', ')}` })
  .option('rows', { type: 'string', describe: 'rows to run (e.g. c-busy,hybrid); default all of each workload' })
  .option('tender', { type: 'string', array: true, default: [] as string[], describe: 'an option passed to every tender row (repeatable), e.g. --tender=--poll-idle-us=20' })
  .option('out', { type: 'string', default: join(ROOT, 'bench', 'results'), describe: 'where latest.{md,json,svg} go' })
  .option('warm-frames', { type: 'number', describe: 'frames each drain and flood receiver reads, and each TX sender sends, uncounted, before the measured part (0: none)' })
  .option('drain-frames', { type: 'number', describe: 'frames queued per drain' })
  .option('flood-count', { type: 'number', describe: 'datagrams per flood' })
  .option('flood-seconds', { type: 'number', describe: 'longest a flood runs' })
  .option('tx-count', { type: 'number', describe: 'frames per TX run' })
  .option('ping-count', { type: 'number', describe: 'ping -f -c' })
  .option('lat-count', { type: 'number', describe: 'probe requests per latency run' })
  .option('lat-rate', { type: 'number', describe: 'probe requests per second' })
  .option('lat-flood-pps', { type: 'number', describe: 'the flood beside the probe, datagrams/s' })
  .check((a) => (a.runs === undefined || (Number.isInteger(a.runs) && a.runs >= 1) ? true : '--runs must be a positive integer'))
  .check((a) => {
    // --warm-frames=0 is allowed: it measures the receivers' start-up (bench/README.md, "Warm-up").
    const bad = SIZE_OPTIONS.find((k) => a[k] !== undefined && !((a[k] as number) > 0 || (k === 'warm-frames' && a[k] === 0)));
    return bad ? `--${bad} must be a positive number${bad === 'warm-frames' ? ' or 0' : ''}` : true;
  })
  .parseSync();

const why = whyNoTap();
if (why) {
  console.error(`bench: ${why}`);
  process.exit(77);
}
const list = (s?: string) => s?.split(',').map((x) => x.trim()).filter(Boolean);
const only = list(argv.only);
const rowFilter = list(argv.rows);
for (const id of only ?? []) if (!PLAN.some((w) => w.id === id)) (console.error(`bench: no workload '${id}'`), process.exit(EXIT_USAGE));
const runs = argv.runs ?? (argv.quick ? 1 : 5);
const base = argv.quick ? QUICK : FULL;
const sizes = {
  warmFrames: argv['warm-frames'] ?? base.warmFrames, drainFrames: argv['drain-frames'] ?? base.drainFrames, floodCount: argv['flood-count'] ?? base.floodCount,
  floodSeconds: argv['flood-seconds'] ?? base.floodSeconds, txCount: argv['tx-count'] ?? base.txCount,
  pingCount: argv['ping-count'] ?? base.pingCount, pingWarmS: base.pingWarmS, latCount: argv['lat-count'] ?? base.latCount,
  latRate: argv['lat-rate'] ?? base.latRate, latFloodPps: argv['lat-flood-pps'] ?? base.latFloodPps, restS: base.restS, restPings: base.restPings,
};
const plan = PLAN.filter((w) => !only || only.includes(w.id))
  .map((w) => ({ ...w, rows: w.rows.filter((r) => !rowFilter || rowFilter.includes(r.id)) }))
  .filter((w) => w.rows.length);
if (!plan.length) (console.error('bench: --only and --rows leave nothing to run'), process.exit(EXIT_USAGE));

const bin = buildLimitPrograms();
// Measured before any row, on a quiet machine: what a read() or write() per frame pays (docs/tuning.md, "Writing the TAP").
const syscallNs: number = JSON.parse(execFileSync(bin.syscall_cost, { encoding: 'utf8' })).syscall_ns;
// What an idle vCPU does: where it halts at once (cpuidle haltpoll, guest_halt_poll_ns 0), waking a
// thread that blocked costs the hypervisor's wake-up, and every blocking row (the C loops, the
// baseline) loses several times over to a spinning one (docs/tuning.md, "When an idle vCPU halts").
const readSys = (path: string) => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};
const idleDriver = readSys('/sys/devices/system/cpu/cpuidle/current_driver');
const haltPollNs = readSys('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
const idle = idleDriver === undefined ? '' : `, cpuidle ${idleDriver}${haltPollNs === undefined ? '' : ` (guest_halt_poll_ns ${haltPollNs})`}`;
const ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
const scratchDir = mkdtempSync(join(tmpdir(), 'shmt-bench-'));
let scratchN = 0;
/** A run's files (a capture of 150,000 frames is 200 MB) go when the run is done. */
const clearScratch = () => {
  rmSync(scratchDir, { recursive: true, force: true });
  mkdirSync(scratchDir);
};
const undo: (() => void)[] = [];
const cleanup = () => {
  killAll();
  for (const u of undo.reverse()) u();
  ns.destroy();
  rmSync(scratchDir, { recursive: true, force: true });
};
cleanUpOnSignals(cleanup);
const ctx: Context = { ns, bin, sizes, quick: argv.quick, tenderExtra: argv.tender, scratch: (name) => join(scratchDir, `${scratchN++}-${name}`) };

const samples = new Map(plan.map((w) => [w.id, new Map<string, Sample[]>()]));
const errors: string[] = [];
const t0 = Date.now();
try {
  for (const w of plan) {
    const u = await w.prepare?.(ctx);
    if (u) undo.push(u);
  }
  for (let rep = 0; rep < runs; rep++) {
    for (const w of plan) {
      // Rotated each repetition, so no row is always the first after a workload change.
      const rows = w.rows.map((_, i) => w.rows[(i + rep) % w.rows.length]);
      for (const row of rows) {
        const t = Date.now();
        let s: Sample | undefined;
        for (let attempt = 1; attempt <= 2 && !s; attempt++) {
          try {
            s = await w.run(row, ctx);
          } catch (err) {
            const msg = `${w.id} ${row.id} run ${rep + 1}, attempt ${attempt}: ${(err as Error).message.split('\n')[0]}`;
            process.stderr.write(`bench: ${msg}\n`);
            if (attempt === 2) errors.push(msg);
          }
          clearScratch();
        }
        if (!s) continue;
        const got = samples.get(w.id)!;
        got.set(row.id, [...(got.get(row.id) ?? []), s]);
        process.stderr.write(`bench: ${w.id} ${row.id} run ${rep + 1}/${runs}: ${s.value.toFixed(1)} ${w.metric.label}, ${s.frames > 0 ? `${((s.cpuS / s.frames) * 1e6).toFixed(2)} µs CPU/frame` : `${s.cpuS.toFixed(3)} s CPU, no frames`}${s.flags?.length ? ` [${s.flags.join('; ')}]` : ''} (${Date.now() - t} ms)\n`);
      }
    }
  }
} finally {
  cleanup();
}

const workloads = plan.map((w) => summarize(w, samples.get(w.id)!));
const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const machine = `Machine: ${cpu}, ${cpus().length} cores, a system call ${syscallNs} ns${idle}, Linux ${kernel}, Node ${process.version}, shmtender ${pkg.version}, ${new Date().toISOString().slice(0, 16)}Z, ${Math.round((Date.now() - t0) / 1000)} s${argv.quick ? ' (--quick: small counts; not for quoting)' : ''}${argv.tender.length ? `; every tender row ran with ${argv.tender.join(' ')}` : ''}.`;
const results: Results = {
  machine, runs, quick: argv.quick, sizes, command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  workloads, targets: targets(workloads),
};
let md = markdown(results);
if (errors.length) md += `\n## Runs that failed (twice each)\n\n${errors.map((e) => `- ${e}`).join('\n')}\n`;
mkdirSync(argv.out, { recursive: true });
writeFileSync(join(argv.out, 'latest.md'), md);
writeResults(join(argv.out, 'latest.json'), { ...results, ...(errors.length ? { errors } : {}) });
writeFileSync(join(argv.out, 'latest.svg'), await chart(results));
console.log(md);
if (errors.length) {
  console.error(`bench: ${errors.length} run(s) failed twice; see the end of latest.md`);
  process.exit(1);
}
