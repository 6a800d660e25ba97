// The bench harness itself, run small (--quick): it must produce every row of every
// workload and its three outputs. Not a speed assertion: speed lives in bench/results.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { collect, DEV, skipReal } from '../testbed/netns.js';

describe.skipIf(skipReal())('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'shmt-bench-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('produces every row of every workload, the markdown table, the JSON and an SVG chart', async () => {
    const bench = spawn('node', [`${DEV}bench/run.js`, '--quick', `--out=${out}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await collect(bench, 120_000);
    expect(r.code, r.stderr).toBe(0);
    // Its namespace (named after its pid) is gone.
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(left).not.toContain(`shmt${bench.pid}x`);
    const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    const expected: Record<string, string[]> = {
      rx: ['limit', 'baseline', 'poll', 'event', 'hybrid', 'node-readsync'],
      'rx-work': ['limit', 'baseline', 'poll', 'event', 'hybrid', 'node-readsync'],
      'tx-b1': ['baseline', 'poll', 'event', 'hybrid'],
      'tx-b32': ['limit', 'baseline', 'poll', 'event', 'hybrid', 'node-readsync'],
      ping: ['limit', 'baseline', 'poll', 'event', 'hybrid', 'node-readsync'],
      'ping-1400': ['limit', 'baseline', 'poll', 'event', 'hybrid', 'node-readsync'],
    };
    expect(json.workloads.map((w: any) => w.id)).toEqual(Object.keys(expected));
    for (const w of json.workloads) {
      expect(Object.keys(w.cells)).toEqual(expected[w.id]);
      for (const [row, c] of Object.entries<any>(w.cells)) {
        expect(c.fps.median, `${w.id} ${row}`).toBeGreaterThan(0);
        expect(c.cpu.process, `${w.id} ${row}`).toBeGreaterThan(0);
        if (row !== 'limit' && row !== 'node-readsync') expect(c.per_frame, `${w.id} ${row}`).toBeGreaterThanOrEqual(0);
      }
    }
    expect(json.targets).toHaveLength(8);
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    for (const title of ['RX as receiver', 'RX with --work-ns=2000', 'TX as sender, batch 1', 'TX as sender, batch 32', 'ping -f (56 bytes)', 'ping -f -s 1400', 'Targets']) expect(md).toContain(title);
    expect(md).toMatch(/Machine: .*cores, Linux/);
    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('frames/s');
  });
});

