// Entry point of the guest ("vCPU") thread: installs the guest API's backend, loads APP
// without running any of it, says "loaded" and waits until the tender has locked the process
// (host/sandbox.ts), then runs APP: its top-level code, then main(start). Reports how it ended.
import inspector from 'node:inspector';
import { register } from 'node:module';
import vm from 'node:vm';
import { MessageChannel, parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { __installRuntime, type NetInfo } from '../guest-api/index.js';
import { writeAll, type ConsoleGone } from '../guest-api/console.js';
import { RingFault } from '../guest-api/ring.js';
import { ShmBackend } from '../guest-api/shm-backend.js';
import type { NetBackend } from '../guest-api/results.js';
import { addon, threadCpuSeconds } from '../native/index.js';
import { BaselineDevice } from './baseline-device.js';
import { DeviceFault } from './device-fault.js';
import type { LoaderData } from './guest-loader.js';
import { monotonicNs } from '../guest-api/clock.js';
import type { KickPolicy, Mode } from '../guest-api/notify.js';
import type { CaptureTap } from './record-ring.js';
import { COUNTER, section } from './stats.js';
import { GuestRingService } from './io-thread/service.js';
import { THREAD_NAME } from './thread-names.js';

export interface GuestNicConfig {
  name: string;
  iface: string;
  mac: number[];
  mtu: number;
  maxFrame: number;
  mtuFrame: number;
  vnetHdrBytes: number;
  offloads: number;
  fd: number; // baseline, and hybrid with the IO token: the TAP; otherwise -1
  kickFd: number; // shm modes: the kick eventfd; baseline: -1
  /** With the IO token: whether the IO thread reads / writes this TAP through io_uring (the guest then does too). */
  uring: { reads: boolean; writes: boolean };
}

export interface GuestConfig {
  mode: Mode;
  kick: KickPolicy;
  spinUs: number;
  spinMaxUs: number;
  spinStallUs: number;
  txCoalesce: boolean;
  spinSliceUs: number;
  /** hybrid: the guest services its own rings while it waits, holding the IO token (notify.ts). */
  ioToken: boolean;
  /** With the token: a guest that forwards between NICs without offloads leaves it to the IO thread (ShmBackendConfig). */
  relayPipeline: boolean;
  /** With the token: the tender may run on one CPU only (ShmBackendConfig). */
  oneCpu: boolean;
  pollBudget: number;
  region: SharedArrayBuffer | null;
  stats: SharedArrayBuffer;
  nics: GuestNicConfig[];
  wakeFd: number; // baseline and the IO token: written by the tender to get the guest out of epoll_wait when stopping it
  capture: CaptureTap | null; // baseline with --pcap: the device code records frames here
  app: string;
  args: string[];
  loader: { hooks: string; guestApiUrl: string; tenderRoot: string };
  /** Int32Array(1): the tender stores 1 once the process is locked (-1: do not run), and notifies. */
  go: SharedArrayBuffer;
  /** Whether the process is locked: then this thread, the hooks thread and the threadpool stack the guest filter. */
  sandbox: boolean;
  /** libuv's threadpool size (host/sandbox.ts). */
  threadpoolSize: number;
}

/** Messages from the guest thread to the tender. */
export type GuestMessage = { type: 'started'; tid: number } | { type: 'loaded' } | { type: 'locked' } | { type: 'lock-failed'; message: string } | { type: 'exit'; status: number } | { type: 'console-closed'; why: ConsoleGone } | { type: 'fault'; message: string } | { type: 'device-fault'; message: string } | { type: 'crash'; message: string } | { type: 'bad-app'; message: string };

const cfg = workerData as GuestConfig;
const stats = section(cfg.stats);
const post = (m: GuestMessage) => parentPort!.postMessage(m);

// No region: the baseline, or a guest with no NIC in any mode (nothing to put in rings).
// With the IO token the guest's backend is handed the IO thread's burst code over its own TAP
// fds and io_uring rings (made here, before the lock), in a closure the app cannot reach (as
// kickFn); the frames it moves count in its stats.
const backend: NetBackend = makeBackend();

function makeBackend(): NetBackend {
  let service: GuestRingService | null = null;
  if (cfg.ioToken && cfg.region !== null) {
    try {
      service = new GuestRingService(cfg.region, cfg.nics, stats, cfg.pollBudget, cfg.wakeFd);
      service.holdSingles = cfg.oneCpu;
    } catch (err) {
      post({ type: 'device-fault', message: (err as Error).message });
      process.exit(1);
    }
  }
  return cfg.region === null
    ? new BaselineDevice(cfg.nics.map((n) => ({ iface: n.iface, fd: n.fd, maxFrame: n.maxFrame, mtuFrame: n.mtuFrame, vnetHdrBytes: n.vnetHdrBytes })), stats, cfg.wakeFd, cfg.capture)
    : new ShmBackend({
        region: cfg.region,
        kickFds: cfg.nics.map((n) => n.kickFd),
        kick: cfg.kick,
        spinNs: cfg.spinUs * 1000,
        spinMaxNs: cfg.spinMaxUs * 1000,
        spinStallNs: cfg.spinStallUs * 1000,
        txCoalesce: cfg.txCoalesce,
        relayPipeline: cfg.relayPipeline,
        oneCpu: cfg.oneCpu,
        spinSliceNs: cfg.spinSliceUs * 1000,
        kickFn: (fd) => addon.eventfdWrite(fd),
        relax: () => addon.yieldCpu(),
        nowNs: monotonicNs,
        service,
        countHandoffs: (n) => (stats[COUNTER.token_handoffs] += n),
        countTapWakeup: () => stats[COUNTER.tap_wakeups]++,
      });
}

const nics: NetInfo[] = cfg.nics.map((n, handle) => ({
  handle, name: n.name, mac: Uint8Array.from(n.mac), mtu: n.mtu, maxFrame: n.maxFrame, offloads: n.offloads, vnet: n.vnetHdrBytes > 0,
}));

function finish(status: number, why: GuestMessage = { type: 'exit', status }): never {
  backend.close();
  stats[COUNTER.cpu_s] = threadCpuSeconds();
  post(why);
  process.exit(status);
}

post({ type: 'started', tid: addon.threadId() });

__installRuntime({
  backend,
  nics,
  countTrap: () => stats[COUNTER.traps]++,
  onExit: (status) => finish(normaliseStatus(status)),
  onConsoleClosed: (why) => finish(1, { type: 'console-closed', why }),
});

function normaliseStatus(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v & 0xff;
  return 1;
}

/**
 * The guest's console.log and process.stdout (stderr likewise) write from its own thread, as
 * console_write does: in order with it, all of it, waiting while the reader is behind. A
 * worker's stdout would go through the tender's main thread, which queues it without bound and
 * drops what is still queued when the run ends (a reader slower than 8 MiB of console.log got
 * 64 KiB, and the run ended 0). A reader gone ends the run as console_write's does. Console
 * swallows what a write throws, so a console that cannot be written (closed: EBADF) or a flush
 * that faults on the way out ends the guest here, as main's throw would.
 */
function writeStdioHere(): void {
  type Done = (err?: Error | null) => void;
  for (const [stream, fd] of [[process.stdout, 1], [process.stderr, 2]] as const) {
    const write = (chunk: unknown, encoding?: BufferEncoding | Done, cb?: Done): boolean => {
      if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) throw new TypeError('The "chunk" argument must be of type string or an instance of Buffer or Uint8Array');
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk;
      try {
        const gone = writeAll(fd, bytes);
        if (gone) finish(1, { type: 'console-closed', why: gone });
      } catch (err) {
        crashed(err);
      }
      const done = typeof encoding === 'function' ? encoding : cb;
      if (done) queueMicrotask(() => done(null));
      return true;
    };
    stream.write = write as typeof stream.write;
    // end(chunk) writes through Writable's internals, not write(): the same way here. The fd stays open.
    stream.end = ((chunk?: unknown, encoding?: BufferEncoding | Done, cb?: Done) => {
      const done = [chunk, encoding, cb].find((a) => typeof a === 'function') as Done | undefined;
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') write(chunk, typeof encoding === 'string' ? encoding : undefined);
      if (done) queueMicrotask(() => done(null));
      return stream;
    }) as typeof stream.end;
  }
}
writeStdioHere();

const hooksLock = new MessageChannel();
const loaderData: LoaderData = { guestApiUrl: cfg.loader.guestApiUrl, tenderRoot: cfg.loader.tenderRoot, lockPort: hooksLock.port2 };
register(cfg.loader.hooks, { data: loaderData, transferList: [hooksLock.port2] });
// After register(): a thread started from this one (the module hooks') would inherit the name.
addon.setThreadName(THREAD_NAME.guest);
closeInProcessWaysOut();

const appUrl = pathToFileURL(cfg.app).href;
await loadWithoutRunning(appUrl);
post({ type: 'loaded' });
const go = new Int32Array(cfg.go);
Atomics.wait(go, 0, 0);
if (Atomics.load(go, 0) !== 1) process.exit(1);
if (cfg.sandbox) await filterGuestThreads();
post({ type: 'locked' });

let app: { main?: unknown };
try {
  app = await import(appUrl); // runs APP's top-level code: only now, behind the lock
} catch (err) {
  stats[COUNTER.cpu_s] = threadCpuSeconds();
  post({ type: 'crash', message: `loading ${cfg.app}: ${(err as Error)?.stack ?? err}` });
  process.exit(1);
}
if (typeof app.main !== 'function') {
  post({ type: 'bad-app', message: `${cfg.app} does not export a function main(start)` });
  process.exit(1);
}
try {
  const status = await (app.main as (start: { args: string[]; cmdline: string }) => unknown)({ args: cfg.args, cmdline: cfg.args.join(' ') });
  finish(normaliseStatus(status));
} catch (err) {
  crashed(err);
}

/** Ends the guest on what main (or the console) threw: a fault of its rings, of a device, or a crash. */
function crashed(err: unknown): never {
  stats[COUNTER.cpu_s] = threadCpuSeconds();
  if (err instanceof RingFault) {
    stats[COUNTER.faults]++; // it broke its own half of the rings
    post({ type: 'fault', message: `${err.message} (seen by the guest API)` });
  } else if (err instanceof DeviceFault) post({ type: 'device-fault', message: err.message });
  else {
    try {
      backend.close();
    } catch {
      /* what was queued cannot be flushed: the crash is what the user needs to see */
    }
    post({ type: 'crash', message: (err as Error)?.stack ?? String(err) });
  }
  process.exit(1);
}

/**
 * Fetches, parses and links APP and every module it imports, and evaluates none of them: a
 * module that imports a throwing module first and APP second stops at the throw, before APP
 * or its imports run (modules evaluate in import order, after the whole graph is linked).
 * Reading the files needs the file system, which the lock then takes away.
 */
async function loadWithoutRunning(url: string): Promise<void> {
  const stop = Symbol.for('shmtender: loaded, not run');
  const stopper = `data:text/javascript,throw Symbol.for(${encodeURIComponent(JSON.stringify(stop.description))})`;
  const wrapper = `data:text/javascript,${encodeURIComponent(`import ${JSON.stringify(stopper)}; import ${JSON.stringify(url)};`)}`;
  try {
    await import(wrapper);
  } catch (err) {
    if (err === stop) return;
    stats[COUNTER.cpu_s] = threadCpuSeconds();
    post({ type: 'crash', message: `loading ${cfg.app}: ${(err as Error)?.stack ?? err}` });
    process.exit(1);
  }
  post({ type: 'crash', message: `loading ${cfg.app}: it ran before the lock` }); // cannot happen: see above
  process.exit(1);
}

/**
 * Stacks the guest filter on every thread the guest can make issue system calls: this one,
 * the module hooks thread, and libuv's threadpool (its async fs, crypto, zlib). Until this is
 * done no line of APP has run, so a failure is the tender's, and the guest never runs.
 */
async function filterGuestThreads(): Promise<void> {
  try {
    addon.guestFilter();
    const answer = new Promise<unknown>((resolve) => hooksLock.port1.once('message', resolve));
    hooksLock.port1.postMessage('lock');
    const hooks = await answer;
    hooksLock.port1.close();
    if (hooks !== 'locked') throw new Error(String(hooks));
    await addon.guestFilterThreadpool(cfg.threadpoolSize);
  } catch (err) {
    post({ type: 'lock-failed', message: (err as Error).message });
    process.exit(1);
  }
}

/**
 * In-process ways out that no system call filter sees, closed before APP is loaded: the
 * inspector (a session into the tender's own main thread, or a listening socket and thread),
 * vm timeouts (Node aborts the process when it cannot start their watchdog thread), and, as a
 * second layer behind the filter, raw bindings, native code and signals.
 */
function closeInProcessWaysOut(): void {
  const refuse = (what: string) => () => {
    throw new Error(`the guest has no access to ${what}`);
  };
  const seal = (obj: object, key: string, value: unknown) =>
    Object.defineProperty(obj, key, { value, writable: false, configurable: false });
  for (const what of ['dlopen', 'kill', 'binding', '_linkedBinding', 'chdir', 'setuid', 'setgid', 'abort']) {
    seal(process, what, refuse(`process.${what}`));
  }
  seal(inspector, 'open', refuse('the inspector'));
  seal(inspector.Session.prototype, 'connect', refuse('the inspector'));
  seal(inspector.Session.prototype, 'connectToMainThread', refuse('the inspector'));
  const contextify = Object.getPrototypeOf(vm.Script.prototype) as { runInContext: (...a: unknown[]) => unknown };
  const run = contextify.runInContext;
  seal(contextify, 'runInContext', function (this: unknown, ...args: unknown[]) {
    if (args[1] !== -1) throw new Error('vm timeouts are not available to the guest (they need a thread of their own)');
    return run.apply(this, args);
  });
}
