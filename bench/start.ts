// Starts a row's program in one of three roles, the same work in every kind of row:
//   rx    count UDP datagrams to 10.0.0.2   tap_reader     node-readsync --rx    udp_sink.js
//   echo  answer ARP and ICMP echo          tap_echo       node-readsync --echo  ping_serve.js
//   tx    send UDP to 10.0.0.1:9000         tap_writer     node-readsync --tx    udp_blast.js
// and resolves once it is ready (its first line), with its pid: the process itself, since
// `ip netns exec` execs it. Then finish() (it ends by itself) or stop() (SIGTERM).
import type { ChildProcess } from 'node:child_process';
import type { StatsReport } from '../host/report.js';
import { procCpuS, threadCpuS } from '../testbed/cpu.js';
import { THREAD_NAME } from '../host/thread-names.js';
import { GUEST_MAC, collect, DEV, type RunResult } from '../testbed/netns.js';
import { EXAMPLE, readStats, startTender, statsPath, waitForLine } from '../testbed/tender.js';
import { tenderArgs } from './rows.js';
import type { Context, Row, Sample } from './types.js';

export type Role = 'rx' | 'echo' | 'tx';

const C_TOOL: Record<Role, string> = { rx: 'tap_reader', echo: 'tap_echo', tx: 'tap_writer' };
const GUEST: Record<Role, [string, RegExp]> = {
  rx: ['udp_sink.js', /udp_sink: counting/],
  echo: ['ping_serve.js', /ping_serve: answering/],
  tx: ['udp_blast.js', /udp_blast: sending/],
};

export interface Started {
  row: Row;
  pid: number;
  child: ChildProcess;
  done: Promise<RunResult>;
  statsFile?: string;
}

export interface Finished {
  code: number | null;
  stdout: string;
  /** The C tool's or node-readsync's last JSON line (numbers, and the loop's name). */
  out?: Record<string, number>;
  /** The tender's report. */
  stats?: StatsReport;
  /** CPU seconds of the whole process when it ended, as it measured them itself. */
  cpuTotalS: number;
}

/** Role arguments per kind of row: `c` for the C tool, `node` for node-readsync, `guest` for the example. */
export interface RoleArgs {
  c?: string[];
  node?: string[];
  guest?: string[];
}

/** A warm-up's end comes after the program's start and the whole warm-up: a slow row's 200,000 frames took ~1.5 s. */
const READY_AFTER_WARM_MS = 60_000;

/**
 * Starts the row's program in `role` and waits for its first line (the tender's guest: its start
 * line), or for `readyLine` instead (a TX sender's end of warm-up: every kind prints "warmed").
 */
export async function startRow(ctx: Context, row: Row, role: Role, args: RoleArgs, timeoutMs = 300_000, readyLine?: RegExp): Promise<Started> {
  let child: ChildProcess;
  let statsFile: string | undefined;
  let ready: Promise<void>;
  if (row.kind === 'tender') {
    statsFile = statsPath();
    child = startTender(ctx.ns, ['--net=tap0', `--net-mac=${GUEST_MAC}`, ...tenderArgs(row, ctx), `--stats-json=${statsFile}`, EXAMPLE(GUEST[role][0]), ...(args.guest ?? [])]);
    ready = waitForLine(child, readyLine ?? GUEST[role][1], readyLine ? READY_AFTER_WARM_MS : undefined);
  } else {
    child = row.kind === 'c'
      ? ctx.ns.spawn(ctx.bin[C_TOOL[role]], ['--tap=tap0', `--loop=${row.loop}`, ...(args.c ?? [])])
      : ctx.ns.spawn('node', [`${DEV}bench/node-readsync.js`, `--${role}`, ...(args.node ?? [])]);
    ready = waitForLine(child, readyLine ?? /"ready":true/, readyLine ? READY_AFTER_WARM_MS : undefined);
  }
  const done = collect(child, timeoutMs);
  running.add(child);
  void done.then(() => running.delete(child));
  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    const r = await done;
    throw new Error(`${row.id}: ${(err as Error).message} ${r.stderr}`);
  }
  return { row, pid: child.pid!, child, done, statsFile };
}

/** Waits for the program to end by itself and reads what it reported. */
export async function finish(s: Started, okCodes = [0]): Promise<Finished> {
  const r = await s.done;
  if (!okCodes.includes(r.code ?? -1)) throw new Error(`${s.row.id} exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(-2000)}`);
  if (s.statsFile) {
    const stats = readStats(s.statsFile);
    return { code: r.code, stdout: r.stdout, stats, cpuTotalS: stats.cpu_s.process };
  }
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { code: r.code, stdout: r.stdout, out, cpuTotalS: out.cpu_s };
}

/**
 * Ends a program that would run on (a responder): SIGTERM. The tender and the C tools report
 * and exit; node-readsync, blocked in readSync, is simply ended (nothing of it is needed).
 */
export async function stop(s: Started): Promise<Finished> {
  s.child.kill('SIGTERM');
  if (s.row.kind === 'node') {
    const r = await s.done;
    return { code: r.code, stdout: r.stdout, cpuTotalS: NaN };
  }
  return finish(s, [0, 143]);
}

/** A process's CPU so far: all its threads (procCpuS), and each thread by name. */
export interface CpuMark {
  cpuS: number;
  byThread: Map<string, number>;
}

export function cpuMark(pid: number): CpuMark {
  return { byThread: threadCpuS(pid), cpuS: procCpuS(pid) };
}

/**
 * A Sample's CPU over the window from mark `a` to mark `b`: the process's, and (a tender) its
 * IO thread's and guest thread's, the rest (main thread, V8's, libuv's, io_uring's workers) as
 * `tender`. A thread gone by `b` (drain and TX end the window at the guest's last line, and its
 * thread exits right after) counts its total from the tender's stats (`exit`: getrusage
 * RUSAGE_THREAD at its end, the run time schedstat counts); without `b` (the process gone) the
 * window ends at the process's exit. The baseline has no IO thread: 0. No split when a
 * thread's end is unknown.
 */
export function cpuWindow(a: CpuMark, b: CpuMark | undefined, exit?: Pick<Finished, 'cpuTotalS' | 'stats'>): Pick<Sample, 'cpuS' | 'threads'> {
  const cpuS = (b ? b.cpuS : exit?.cpuTotalS ?? NaN) - a.cpuS;
  if (!a.byThread.has(THREAD_NAME.guest)) return { cpuS }; // not a tender
  const used = (name: string, k: 'io' | 'guest'): number | undefined => {
    const start = a.byThread.get(name);
    if (start === undefined) return k === 'io' ? 0 : undefined; // the baseline's (absent) IO thread
    const end = b?.byThread.get(name) ?? exit?.stats?.cpu_s[k];
    return end === undefined || end < start ? undefined : end - start;
  };
  const io = used(THREAD_NAME.io, 'io');
  const guest = used(THREAD_NAME.guest, 'guest');
  if (io === undefined || guest === undefined) return { cpuS };
  return { cpuS, threads: { io, guest, tender: Math.max(0, cpuS - io - guest) } };
}

/**
 * The process's CPU when it prints a line matching `re` (a guest's last line: the tender's own
 * shutdown after it is not the work being measured), or undefined when it ends first. Call it
 * before the line can come.
 */
export function cpuAtLine(s: Started, re: RegExp, timeoutMs = 300_000): Promise<CpuMark | undefined> {
  return waitForLine(s.child, re, timeoutMs).then(() => {
    try {
      return cpuMark(s.pid);
    } catch {
      return undefined; // gone already
    }
  }, () => undefined);
}

const running = new Set<ChildProcess>();

/** When the bench is stopped: SIGKILL every row program still there (a frozen one ignores the rest). */
export function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
}

/** For a runner's finally: whatever happened, the program does not outlive its run. */
export function kill(s: Started | undefined): void {
  if (s && s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
}
