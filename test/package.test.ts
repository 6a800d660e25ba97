// What a user gets from the registry: `npm pack`, installed into an empty folder, runs.
// The tarball holds the runtime only (no bench, test, testbed or fixtures), builds its addon
// on install, and its `tender` answers pings with an example guest. Needs the npm registry
// for the three runtime dependencies, as any install does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUEST_MAC, collect, createNetns, ROOT, skipReal, type Netns } from '../testbed/netns.js';
import { waitForLine } from '../testbed/tender.js';

const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the published package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shmtender-pack-'));
  let tarball = '';
  let files: string[] = [];
  beforeAll(() => {
    run('npm', ['pack', '--silent', '--pack-destination', dir], ROOT);
    tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
    files = run('tar', ['-tzf', tarball], dir).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds the runtime and nothing of the bench, tests or testbed', () => {
    for (const f of ['dist/host/cli.js', 'dist/host/io-thread/pump.js', 'dist/guest-api/index.js', 'dist/native/index.js', 'native/burst.cc', 'binding.gyp', 'examples/ping_serve.js', 'package.json', 'README.md'])
      expect(files).toContain(f);
    const stray = files.filter((f) => /^(bench|test|testbed|dist-dev|dist\/bench|dist\/test|dist\/testbed)\//.test(f) || /fixtures/.test(f));
    expect(stray).toEqual([]);
  });

  describe.skipIf(skipReal())('installed into an empty folder', () => {
    const app = join(dir, 'app');
    let ns: Netns;
    beforeAll(() => {
      rmSync(app, { recursive: true, force: true });
      execFileSync('mkdir', ['-p', app]);
      run('npm', ['init', '-y'], app);
      run('npm', ['install', '--no-audit', '--no-fund', tarball], app);
      ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    }, 300_000);
    afterAll(() => ns?.destroy());

    it('tender --help prints the usage and exits 0', () => {
      expect(run(join(app, 'node_modules', '.bin', 'tender'), ['--help'], app)).toMatch(/Usage: tender/);
    });

    it('its tender runs its ping_serve example and answers 20 pings', async () => {
      const pkg = join(app, 'node_modules', 'shmtender');
      const t = ns.spawn(join(app, 'node_modules', '.bin', 'tender'), ['--net=tap0', `--net-mac=${GUEST_MAC}`, '--shm=hybrid', join(pkg, 'examples', 'ping_serve.js'), '--limit=20'], { cwd: app });
      const done = collect(t, 30_000);
      await waitForLine(t, /ping_serve: answering/);
      const p = await collect(ns.spawn('ping', ['-w', '30', '-c', '20', '-i', '0.01', '10.0.0.2']));
      expect(p.stdout).toMatch(/20 received, 0% packet loss/);
      expect((await done).code).toBe(0);
    });
  });
});
