// `node dist-dev/bench/soak.js [--count=1000000] [--mode=hybrid]` (root): ping -f against
// ping_serve for a long time, watching loss, duplicates, order and the tender's RSS.
// (A 200,000 version runs in CI: test/robustness.test.ts "soak".)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { command } from '../testbed/args.js';
import { cleanUpOnSignals, GUEST_MAC, collect, createNetns, ROOT, whyNoTap } from '../testbed/netns.js';
import { sampleRss } from '../testbed/process.js';
import { EXAMPLE, startTender, waitForLine } from '../testbed/tender.js';
import { parsePing } from '../testbed/workloads.js';

const { count, mode } = command('node dist-dev/bench/soak.js [--count=N] [--mode=MODE]')
  .option('count', { type: 'number', default: 1_000_000, describe: 'ping -f -c N' })
  .option('mode', { type: 'string', choices: ['poll', 'event', 'hybrid'], default: 'hybrid' })
  .parseSync();
if (whyNoTap()) throw new Error(whyNoTap()!);
const ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
cleanUpOnSignals(() => ns.destroy());
try {
  const t = startTender(ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, `--shm=${mode}`, EXAMPLE('ping_serve.js'), `--limit=${count}`]);
  const run = collect(t, 3_600_000);
  await waitForLine(t, /answering/);
  const rss = sampleRss(t.pid!, 1000);
  const out = (await collect(ns.spawn('ping', ['-f', '-q', '-c', String(count), '10.0.0.2']), 3_600_000)).stdout;
  rss.stop(); // before the tender's exit frees its workers' heaps, which is not the load
  const r = await run;
  const p = parsePing(out);
  const order = /(\d+) out of order/.exec(r.stdout)?.[1] ?? '?';
  const mb = rss.samples.map((s) => s.mb);
  const md = `# soak: ping -f -c ${count} against ping_serve.js, --shm=${mode}

| transmitted | received | loss | duplicates | requests out of order | echoes/s | rtt min/avg/max ms | tender RSS MB min–max (1 s samples) | exit |
|---|---|---|---|---|---|---|---|---|
| ${p.transmitted} | ${p.received} | ${p.lossPct}% | ${/DUP!/.test(out) ? 'yes' : 'none'} | ${order} | ${((p.received * 1000) / p.timeMs).toFixed(0)} | ${p.rtt.min}/${p.rtt.avg}/${p.rtt.max} | ${Math.min(...mb).toFixed(0)}–${Math.max(...mb).toFixed(0)} | ${r.code} |
`;
  writeFileSync(join(ROOT, 'bench', 'results', 'soak.md'), md);
  console.log(md);
} finally {
  ns.destroy();
}
