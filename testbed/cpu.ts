// CPU time of another process, all its threads summed, and freezing it: what the bench needs
// to charge a row for the CPU it used within a window, and to hold a receiver while a queue fills.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const TICK_S = 0.01; // USER_HZ is 100 on Linux

/**
 * CPU seconds `pid` has used so far, every thread (also threads that have exited), like
 * getrusage(RUSAGE_SELF) inside it. /proc/PID/stat counts in 10 ms ticks; the threads'
 * schedstat counts in ns but forgets threads that exited, so this takes the larger: the
 * nanosecond sum unless a thread has gone, when the tick count is the better of the two.
 */
export function procCpuS(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (Number(f[11]) + Number(f[12])) * TICK_S; // utime, stime (fields 14, 15)
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread ended while we looked: the tick count has it */
    }
  }
  return Math.max(ns / 1e9, ticks);
}

/**
 * CPU seconds so far of each thread of `pid`, summed by name (comm: what PR_SET_NAME gave it,
 * e.g. shmt-io), in ns from schedstat. Threads that have exited are not in it.
 */
export function threadCpuS(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      byName.set(name, (byName.get(name) ?? 0) + ns / 1e9);
    } catch {
      /* the thread ended while we looked */
    }
  }
  return byName;
}

/**
 * Times the threads of `pid` have gone to sleep so far (voluntary context switches, summed over
 * the threads alive now): each is a wake-up to come, the cost a process at rest makes the
 * machine pay (a halted vCPU woken, a timer fired). Preemptions (involuntary) are not counted.
 */
export function procSleeps(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      if (m) n += Number(m[1]);
    } catch {
      /* the thread ended while we looked */
    }
  }
  return n;
}

/** The process's state letter (R, S, T, ...) for each of its threads. */
function threadStates(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  });
}

/** SIGSTOP, and wait until every thread has stopped (a group stop is not instant). */
export async function freeze(pid: number, timeoutMs = 5000): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const until = Date.now() + timeoutMs;
  while (!threadStates(pid).every((s) => s === 'T' || s === 't')) {
    if (Date.now() > until) throw new Error(`process ${pid} did not stop within ${timeoutMs} ms`);
    await sleep(1);
  }
}

export function thaw(pid: number): void {
  process.kill(pid, 'SIGCONT');
}
