// Runs the real `tender` command inside a test namespace.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatsReport } from '../host/report.js';
import { collect, onCpus, ROOT, TENDER, type Netns, type RunResult } from './netns.js';

export const EXAMPLE = (name: string) => join(ROOT, 'examples', name);
export const FIXTURE = (name: string) => join(ROOT, 'test', 'fixtures', name);

let n = 0;
export function statsPath(): string {
  return join(tmpdir(), `shmtender-stats-${process.pid}-${n++}.json`);
}

/**
 * `cpus`: the CPUs it may run on, every thread (netns.ts onCpus). `tender`: another build's
 * cli.js (two builds compared run by run), else this checkout's.
 */
export function startTender(ns: Netns, args: string[], cpus?: string, tender = TENDER) {
  return ns.spawn(...onCpus(cpus, 'node', [tender, ...args]));
}

export async function runTender(ns: Netns, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return collect(startTender(ns, args), timeoutMs);
}

/** The tender's --stats-json report (and the file is removed). */
export function readStats(path: string): StatsReport {
  const s = JSON.parse(readFileSync(path, 'utf8')) as StatsReport;
  rmSync(path, { force: true });
  return s;
}

export const modeArgs = (mode: string) => (mode === 'baseline' ? [] : [`--shm=${mode}`]);

/** Resolves when the child has printed a line matching `re` on stdout (the guest is up). */
export function waitForLine(child: ReturnType<typeof startTender>, re: RegExp, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    let errors = '';
    const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms (got: ${seen})`)), timeoutMs);
    child.stderr!.on('data', (d) => (errors += d));
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`exited ${code} before printing ${re}: ${errors}`));
    });
    child.stdout!.on('data', (d) => {
      seen += d;
      if (re.test(seen)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}
