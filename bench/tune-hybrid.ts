// `node dist-dev/bench/tune-hybrid.js` (root): hybrid's --poll-idle-us (and the guest's spin, tied
// to it) swept over the workloads that pull against each other: a ping flood (throughput),
// ping at 100/s (latency when idle), a UDP flood (notifications per frame). One run, side by
// side; writes bench/results/hybrid-tuning.md.
import { writeFileSync } from 'node:fs';
import type { StatsReport } from '../host/report.js';
import { join } from 'node:path';
import { command } from '../testbed/args.js';
import { GUEST_MAC, createNetns, ROOT, whyNoTap } from '../testbed/netns.js';
import { buildLimitPrograms } from '../testbed/c/build.js';
import { pingFlood, udpFlood } from '../testbed/workloads.js';

const values = command('node dist-dev/bench/tune-hybrid.js [--values=US,...]')
  .option('values', { type: 'string', default: '0,10,25,50,100,200', describe: '--poll-idle-us values to try' })
  .check((a) => (a.values.split(',').every((v) => /^\d+$/.test(v)) ? true : '--values: comma-separated whole microseconds'))
  .parseSync()
  .values.split(',').map(Number);
if (whyNoTap()) throw new Error(whyNoTap()!);
const bin = buildLimitPrograms();
const ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
const rows: string[] = [];
try {
  for (const us of values) {
    const extra = [`--poll-idle-us=${us}`, `--guest-spin-us=${us}`];
    const flood = await pingFlood(ns, 'hybrid', 20000, { extra });
    const slow = await pingFlood(ns, 'hybrid', 300, { extra, interval: '0.01' });
    const udp = await udpFlood(ns, bin.udp_flood, 'hybrid', { count: 400000, seconds: 3, extra });
    const cpu = (s: StatsReport) => (s.cpu_s.io + s.cpu_s.guest).toFixed(2);
    rows.push(`| ${us} | ${flood.echoesPerS.toFixed(0)} | ${flood.rtt.avg.toFixed(3)} | ${flood.stats.notifications.per_frame.toFixed(4)} | ${slow.rtt.avg.toFixed(3)} | ${cpu(slow.stats)} | ${(udp.sinkFps / 1000).toFixed(0)}k | ${udp.kernelDropped} | ${udp.stats.notifications.per_frame.toFixed(5)} |`);
    process.stderr.write(rows[rows.length - 1] + '\n');
  }
} finally {
  ns.destroy();
}
const md = `# hybrid: --poll-idle-us (= --guest-spin-us) swept, one run

| idle µs | ping -f echoes/s | rtt avg ms | notif/frame | ping -i 0.01 rtt avg ms | io+guest cpu s (300 pings) | UDP flood rx/s | kernel drops | notif/frame |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
writeFileSync(join(ROOT, 'bench', 'results', 'hybrid-tuning.md'), md);
console.log(md);
