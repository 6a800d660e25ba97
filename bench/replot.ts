// Redraws latest.svg from latest.json (no measuring): for changing the chart.
//   node dist-dev/bench/replot.js [DIR]   (default bench/results)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../testbed/netns.js';
import { chart } from './chart.js';
import { readResults } from './format.js';

const dir = process.argv[2] ?? join(ROOT, 'bench', 'results');
writeFileSync(join(dir, 'latest.svg'), await chart(readResults(join(dir, 'latest.json'))));
