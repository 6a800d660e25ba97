// Redraws latest.md and latest.svg from latest.json, the targets recomputed (no measuring):
// for changing the report, the chart or a target's rule without a new run.
//   node dist-dev/bench/replot.js [DIR]   (default bench/results)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../testbed/netns.js';
import { chart } from './chart.js';
import { readResults, writeResults } from './format.js';
import { markdown } from './report.js';
import { targets } from './targets.js';

const dir = process.argv[2] ?? join(ROOT, 'bench', 'results');
const r = readResults(join(dir, 'latest.json'));
r.targets = targets(r.workloads);
writeResults(join(dir, 'latest.json'), r);
let md = markdown(r);
if (r.errors?.length) md += `\n## Runs that failed (twice each)\n\n${r.errors.map((e) => `- ${e}`).join('\n')}\n`;
writeFileSync(join(dir, 'latest.md'), md);
writeFileSync(join(dir, 'latest.svg'), await chart(r));
