// Redraws results/latest.svg from results/latest.json (no measuring): for changing the chart.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../testbed/netns.js';
import { chart } from './report.js';

const dir = process.argv[2] ?? join(ROOT, 'bench', 'results');
const { workloads } = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8'));
const short: Record<string, string> = { rx: 'RX', 'rx-work': 'RX + 2 µs work', 'tx-b1': 'TX batch 1', 'tx-b32': 'TX batch 32', ping: 'ping -f', 'ping-1400': 'ping -f -s 1400' };
for (const w of workloads) w.short ??= short[w.id] ?? w.id;
writeFileSync(join(dir, 'latest.svg'), await chart(workloads));
