// The bench's TCP relay workload (bench/workloads/relay.ts) by hand: one relay, iperf3 with 3
// streams through examples/firewall.js for 4 s after 1 s left out, REPS times, one line each
// (Gbit/s, frames, TCP's retransmits, the frames the kernel dropped at each TAP, each thread's
// CPU, who moved the frames), so two settings or two builds can be compared run by run:
//
//   node dist-dev/bench/profile-relay.js hybrid 3                    # the tender, --shm=hybrid
//   node dist-dev/bench/profile-relay.js hybrid 3 --io-token=off     # with more tender options
//   node dist-dev/bench/profile-relay.js c-uring 3 --offload         # testbed's tap_relay --loop=uring
//
// RELAY: baseline, poll, event, hybrid, c (tap_relay, read()/write()) or c-uring; --offload
// gives both sides offloads (the C relay, or the tender's `--offload`). DIST (environment, as
// the profile-*.sh scripts take it): another tender build's dist directory, e.g. a worktree's
// (`DIST=/tmp/abold/dist`), run instead of this checkout's. CPUS=RELAY:TRAFFIC (environment):
// taskset lists for the relay (every thread) and for both iperf3s, either left empty for
// wherever the scheduler puts them: `CPUS=1:0` and `CPUS=0:1` put the relay on one vCPU and the
// traffic on the other, each way round (docs/tuning.md, "A relay's slow runs"). Needs root, iperf3,
// `npm run build` and `npm run build:dev`; builds the C tools if needed. A bad argument: one
// usage line, exit 64.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildLimitPrograms } from '../testbed/c/build.js';
import { relayTopology, runRelay, type RelayOptions } from '../testbed/relay.js';
import { kernelTx } from '../testbed/tap-stats.js';

const [relayArg, repsArg, ...rest] = process.argv.slice(2);
const RELAYS = ['baseline', 'poll', 'event', 'hybrid', 'c', 'c-uring'];
if (!RELAYS.includes(relayArg ?? '') || !(Number(repsArg) >= 1)) {
  console.error(`usage: profile-relay.js ${RELAYS.join('|')} REPS [--offload] [tender options...]`);
  process.exit(64);
}
const offload = rest.includes('--offload');
const tenderArgs = rest.filter((a) => a !== '--offload');
const c = relayArg.startsWith('c');
if (c && tenderArgs.length > 0) {
  console.error(`profile-relay.js: tender options (${tenderArgs.join(' ')}) given to the C relay`);
  process.exit(64);
}
const tender = process.env.DIST ? resolve(process.env.DIST, 'host/cli.js') : undefined;
if (tender !== undefined && !existsSync(tender)) {
  console.error(`profile-relay.js: DIST=${process.env.DIST} holds no host/cli.js (a built tender's dist directory)`);
  process.exit(64);
}
const cpusArg = process.env.CPUS;
const cpuList = /^[0-9][0-9,-]*$/;
const [relayCpus, trafficCpus] = (cpusArg ?? '').split(':');
if (cpusArg !== undefined && (cpusArg.split(':').length !== 2 || !(relayCpus || trafficCpus) || [relayCpus, trafficCpus].some((l) => l !== '' && !cpuList.test(l)))) {
  console.error(`profile-relay.js: CPUS=${cpusArg} is not RELAY:TRAFFIC (taskset lists, either empty: e.g. 1:0 or :1)`);
  process.exit(64);
}
const cpus = cpusArg === undefined ? undefined : { relay: relayCpus || undefined, traffic: trafficCpus || undefined };
const placed = cpus ? ` (relay on ${cpus.relay ?? 'any'}, traffic on ${cpus.traffic ?? 'any'})` : '';
const bin = c ? buildLimitPrograms() : null;
const topo = relayTopology();
try {
  for (let i = 0; i < Number(repsArg); i++) {
    const o: RelayOptions = {
      relay: c ? 'c' : (relayArg as RelayOptions['relay']), uring: relayArg === 'c-uring', tapRelay: bin?.tap_relay,
      offload, streams: 3, seconds: 4, omit: 1, tenderArgs, tender, cpus,
    };
    const before = topo.relay.taps.map((t) => kernelTx(topo.relay, t).dropped);
    const r = await runRelay(topo, o);
    // Frames the kernel dropped at each TAP because the relay did not read it in time: where a
    // TCP relay's retransmits come from (docs/tuning.md, "A TCP relay: the pipeline wins").
    const dropped = topo.relay.taps.map((t, i) => `${t} ${kernelTx(topo.relay, t).dropped - before[i]}`).join(', ');
    const s = r.raw as { cpu_s?: Record<string, number> | number; serviced?: unknown };
    const cpu = typeof s.cpu_s === 'object' ? Object.entries(s.cpu_s).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') : r.cpuSeconds.toFixed(2);
    console.log(`${relayArg}${offload ? '+offload' : ''} ${tenderArgs.join(' ')}${placed}: ${r.gbps.toFixed(2)} Gbit/s, ${r.frames} frames, ${r.retransmits} retransmits, TAP drops ${dropped}, cpu s ${cpu}${s.serviced ? `, serviced ${JSON.stringify(s.serviced)}` : ''}`);
  }
} finally {
  topo.destroy();
}
