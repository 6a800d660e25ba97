// Looking at a running tender from outside: its memory, and what is left in a namespace.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Netns } from './netns.js';

/** Resident set size of a process in MB, or null once it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples RSS every `everyMs` until stopped; returns the samples. */
export function sampleRss(pid: number, everyMs = 250) {
  const samples: { t: number; mb: number }[] = [];
  const t0 = Date.now();
  const timer = setInterval(() => {
    const mb = rssMb(pid);
    if (mb !== null) samples.push({ t: Date.now() - t0, mb });
  }, everyMs);
  return { samples, t0, stop: () => clearInterval(timer) };
}

/** Processes still running inside the namespace (a tender left behind would show here). */
export function pidsIn(ns: Netns): number[] {
  return execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
}
