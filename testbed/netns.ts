// Each real-TAP test makes its own network namespace with TAPs inside it and deletes it
// afterwards. Traffic only goes to addresses inside these namespaces.
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SIGNAL_CODE, STOP_SIGNALS } from '../host/endings.js';

/** The package root, from a source file (testbed/) or its compiled copy (dist-dev/testbed/). */
function packageRoot(): string {
  let dir = new URL('.', import.meta.url);
  while (!existsSync(fileURLToPath(new URL('package.json', dir)))) dir = new URL('..', dir);
  return fileURLToPath(dir);
}
export const ROOT = packageRoot();
/** The development build (`tsc -p tsconfig.dev.json`): bench, testbed and test harness, compiled. */
export const DEV = `${ROOT}dist-dev/`;
/** The tender as users run it: the runtime build (`dist/`, what the package publishes). */
export const TENDER = `${ROOT}dist/host/cli.js`;

/** Why real-TAP tests cannot run here, or null when they can. */
export function whyNoTap(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (creates network namespaces and TAP devices)';
  if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  return null;
}

/** describe.skipIf(...) for real-TAP tests: says why it skips, and refuses to skip in CI. */
export function skipReal(): boolean {
  const why = whyNoTap();
  if (why && process.env.CI) throw new Error(`real-TAP tests cannot run in CI: ${why}`);
  if (why) console.warn(`skipping real-TAP tests: ${why}`);
  return why !== null;
}

/**
 * A command as spawn() takes it, run on the CPUs `cpus` lists (taskset -c) when given. taskset
 * execs the command, so the pid is the command's own (what is stopped and waited for).
 */
export function onCpus(cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
}

/** The same namespace, every program it starts run on `cpus` (taskset -c): a machine of those CPUs, as those programs see it. */
export function onCpusNs(ns: Netns, cpus: string): Netns {
  return { ...ns, spawn: (cmd, args, o) => ns.spawn(...onCpus(cpus, cmd, args), o) };
}

/** The guest's MAC in every namespace the bench and tests make (a static neighbour entry points at it). */
export const GUEST_MAC = '02:00:00:00:00:02';

let counter = 0;

export interface Netns {
  name: string;
  taps: string[];
  /** MAC of tap i (the host side). */
  mac(i?: number): string;
  run(cmd: string, args: string[]): string;
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ReturnType<typeof spawn>;
  destroy(): void;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * A namespace with `taps` TAP devices tap0..tapN-1; tap i has 10.0.i.1/24 and a static
 * neighbour entry for the guest at 10.0.i.2 (guestMac), so nothing waits on ARP.
 */
export function createNetns(opts: { taps?: number; up?: boolean; guestMac?: string; mtu?: number } = {}): Netns {
  const name = `shmt${process.pid}x${counter++}`;
  const n = opts.taps ?? 1;
  sh('ip', ['netns', 'add', name]);
  const taps: string[] = [];
  try {
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    for (let i = 0; i < n; i++) {
      const tap = `tap${i}`;
      taps.push(tap);
      sh('ip', ['-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      // No IPv6 chatter (router solicitations, MLD) in the frames the tests count.
      sh('ip', ['netns', 'exec', name, 'sysctl', '-qw', `net.ipv6.conf.${tap}.disable_ipv6=1`]);
      if (opts.mtu) sh('ip', ['-n', name, 'link', 'set', tap, 'mtu', String(opts.mtu)]);
      sh('ip', ['-n', name, 'addr', 'add', `10.0.${i}.1/24`, 'dev', tap]);
      if (opts.guestMac) sh('ip', ['-n', name, 'neigh', 'add', `10.0.${i}.2`, 'lladdr', opts.guestMac, 'dev', tap, 'nud', 'permanent']);
      if (opts.up !== false) sh('ip', ['-n', name, 'link', 'set', tap, 'up']);
    }
  } catch (err) {
    sh('ip', ['netns', 'del', name]);
    throw err;
  }
  return netnsHandle(name, taps);
}

/** A handle on a namespace that exists (made here or by a test's own topology). */
export function netnsHandle(name: string, taps: string[] = []): Netns {
  return {
    name,
    taps,
    mac: (i = 0) => sh('ip', ['netns', 'exec', name, 'cat', `/sys/class/net/tap${i}/address`]).trim(),
    run: (cmd, args) => sh('ip', ['netns', 'exec', name, cmd, ...args]),
    spawn: (cmd, args, o = {}) => spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...o }),
    destroy: () => {
      try {
        sh('ip', ['netns', 'del', name]);
      } catch {
        /* already gone */
      }
    },
  };
}

/**
 * For a program that owns a namespace (the bench, the demo, the soak): on the signals that stop
 * a tender (SIGHUP, SIGINT, SIGTERM) run cleanup (delete the namespace and what it holds), then
 * exit with the tender's code for that signal (host/endings.ts). SIGHUP too: a closed terminal must not leave namespaces and TAPs behind (Node resets
 * even nohup's ignored SIGHUP to the default, which kills without cleaning up).
 */
export function cleanUpOnSignals(cleanup: () => void): void {
  for (const sig of STOP_SIGNALS) process.on(sig, () => (cleanup(), process.exit(SIGNAL_CODE[sig])));
}

export function netnsExists(name: string): boolean {
  return sh('ip', ['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === name);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a child to completion (killed after timeoutMs) and collects its output. */
export function collect(child: ReturnType<typeof spawn>, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
