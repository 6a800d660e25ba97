// The tender: attaches the TAPs, opens what it will write, lays out the shared memory, starts
// the IO thread (shm modes) and the guest thread, which loads APP; then locks the process
// (host/sandbox.ts) and lets APP run. On the way out it stops the guest, drains the TX rings,
// reports and cleans up. Returns the exit code.
import { randomBytes } from 'node:crypto';
import { closeSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { computeLayout, createRegion, FRAME_OVERHEAD, G, TOKEN_FREE, TOKEN_GUEST, TOKEN_IO, type RegionLayout } from '../guest-api/abi.js';
import { kickPolicyFor } from '../guest-api/notify.js';
import { addon, errnoCode, threadCpuSeconds } from '../native/index.js';
import { Capture, type CaptureFile, type CaptureNic } from './capture.js';
import { openTap } from './tap.js';
import { defaultRingSlots, type NicOption, type TenderOptions } from './cli-options.js';
import { describeEnding, EndingError, finalEnding } from './endings.js';
import type { GuestConfig } from './guest-thread.js';
import { GuestWatch } from './guest-watch.js';
import type { ShmMode } from '../guest-api/notify.js';
import type { IoExit } from './io-thread/pump.js';
import { IoThread } from './io-thread/index.js';
import { LiveView } from './live-view.js';
import { openOutFile, type OutFile } from './out-files.js';
import type { CaptureTap } from './record-ring.js';
import { StatsFile } from './stats-file.js';
import { buildReport, formatSummary } from './report.js';
import { inheritedFds, lockDown, prepareForLock, SANDBOX_OFF_WARNING } from './sandbox.js';
import { MemoryWatch } from './memory-watch.js';
import { threadpoolSize } from './threadpool.js';
import { createStats, COUNTER, nicCounters, section, totals, type StatsBuffers } from './stats.js';
import { URING_REFUSED } from './io-thread/service.js';

interface AttachedNic extends NicOption {
  fd: number;
  mac: Uint8Array;
  /** TUN_F_* bits in force; vnet: frames carry a virtio-net header. */
  offloads: number;
  vnet: boolean;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

function randomMac(): Uint8Array {
  const mac = randomBytes(6);
  mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
  return mac;
}

/** Attaches every TAP or closes what it opened and throws one clear EndingError. */
function attachAll(nics: NicOption[]): AttachedNic[] {
  const out: AttachedNic[] = [];
  try {
    for (const n of nics) {
      try {
        out.push({ ...n, ...openTap(n.iface, n.offload), mac: n.mac ?? randomMac() });
      } catch (err) {
        const code = errnoCode(err);
        const kind = code === 'EPERM' || code === 'EACCES' ? 'permission' : 'device-unavailable';
        throw new EndingError({ kind, detail: (err as Error).message });
      }
    }
    return out;
  } catch (err) {
    for (const n of out) addon.close(n.fd);
    throw err;
  }
}

/** Every file the tender writes, opened now: once the guest runs, no open() works (issue 11). */
function openOutputs(opts: TenderOptions): { pcaps: OutFile[]; stats: OutFile | null } {
  const pcaps: OutFile[] = [];
  try {
    for (const p of opts.pcap) pcaps.push(openOutFile(p.nic ? `--pcap:${p.nic}` : '--pcap', p.path));
    return { pcaps, stats: opts.statsJson ? openOutFile('--stats-json', opts.statsJson) : null };
  } catch (err) {
    for (const f of pcaps) closeSync(f.fd);
    throw err;
  }
}

/** Runs the guest to its end, prints how it ended (host/endings.ts) and returns the exit code. */
export async function runTender(opts: TenderOptions): Promise<number> {
  if (!opts.sandbox) process.stderr.write(SANDBOX_OFF_WARNING);
  await prepareForLock();
  // Before anything of the tender's own is opened: what came from whoever started it.
  const inherited = opts.sandbox ? inheritedFds() : [];
  const outs = openOutputs(opts);
  // Output paths such as /dev/fd/3 are open now on fds of their own: the inherited ones go, or
  // the guest could read and write them (a socket, a file, a terminal).
  for (const fd of inherited) addon.close(fd);
  let nics: AttachedNic[];
  try {
    nics = attachAll(opts.nics);
  } catch (err) {
    for (const f of [...outs.pcaps, outs.stats]) if (f) closeSync(f.fd);
    throw err;
  }
  // A guest with no NIC (solo5 allows it) needs no rings and no IO thread in any mode.
  const shm = opts.mode !== 'baseline' && nics.length > 0;
  const stats = createStats();
  const layout = nics.length > 0 ? computeLayout(nics.map((n) => ({ mtu: opts.mtu, slotCount: opts.ringSlots ?? defaultRingSlots(opts.mtu, n.vnet), vnet: n.vnet, offloads: n.offloads }))) : null;
  const region = shm && layout ? createRegion(layout, nics.map((n) => n.mac)) : null;
  const capture = outs.pcaps.length > 0 ? startCapture(opts, outs.pcaps, nics, stats.tender) : null;
  const wakeFd = addon.eventfdCreate(); // wakes a baseline guest out of epoll_wait so it can be stopped
  const watchFd = addon.watchSocket(); // the TAP watchdog's, made now: no socket can be made after the lock
  const memory = new MemoryWatch(); // --mem beyond the guest's heap: its file is opened now
  const go = new Int32Array(new SharedArrayBuffer(4));
  let io: IoThread | null = null;
  let guest: Worker | null = null;
  let watch: GuestWatch | null = null;
  let locked = false;
  let live: LiveView | null = null;
  let statsFile: StatsFile | null = null;
  let ioStopped = false;
  let guestStuck = false;

  try {
    if (region) {
      io = await IoThread.start({
        mode: opts.mode as ShmMode, region, stats: stats.io, nics: nics.map((n) => ({ iface: n.iface, fd: n.fd })),
        pollBudget: opts.pollBudget, pollIdleUs: opts.pollIdleUs, pollIdleMaxUs: opts.pollIdleMaxUs, backoffMaxUs: opts.ioBackoffMaxUs, capture: capture?.tap, ioToken: opts.ioToken, tokenPollers: opts.tokenPollers, oneCpu: opts.cpus === 1, tapReads: opts.tapReads, tapWrites: opts.tapWrites,
      }).catch((err: Error) => {
        throw new EndingError(URING_REFUSED.test(err.message) ? { kind: 'device-unavailable', detail: err.message } : { kind: 'internal', detail: err.message });
      });
    }
    const startNs = Number(process.hrtime.bigint());
    const report = (exitCode: number | null, durationS: number) => {
      section(stats.tender)[COUNTER.cpu_s] = threadCpuSeconds();
      const t = totals(stats, nics.length);
      const cpu = process.cpuUsage();
      return { totals: t, report: buildReport(opts.mode, opts.cpus, durationS, exitCode, nics.map((n, i) => ({ ...n, ringSlots: region && layout ? layout.nics[i].slotCount : 0 })), t, (cpu.user + cpu.system) / 1e6) };
    };
    guest = startGuest(opts, nics, layout, region, stats, wakeFd, io?.kickFds ?? [], shm ? null : capture?.tap ?? null, go.buffer as SharedArrayBuffer);
    watch = new GuestWatch(guest, go, io?.exited ?? null, opts.timeoutS, nics, watchFd);
    capture?.start();
    if (opts.stats === 'live') live = new LiveView(stats, nics.map((n) => n.name), process.stderr);
    if (outs.stats) {
      statsFile = new StatsFile(outs.stats, opts.statsIntervalS, () => report(null, (Number(process.hrtime.bigint()) - startNs) / 1e9));
      statsFile.start();
    }

    if (await watch.loaded) {
      // ---- The lock (host/sandbox.ts). Whatever opens a file or socket, or starts a thread,
      // ---- goes above this line; below it the guest's code runs and none of that is possible.
      memory.limit(opts.memMb);
      if (opts.sandbox) {
        const files: { fd: number }[] = [...outs.pcaps, ...(outs.stats ? [outs.stats] : []), memory];
        try {
          lockDown(files.map((f) => f.fd)).fds.forEach((fd, i) => (files[i].fd = fd));
        } catch (err) {
          throw new EndingError({ kind: 'internal', detail: `cannot lock the process before running the guest: ${(err as Error).message} (--sandbox=off runs it unconfined)` });
        }
        locked = true;
      }
      watch.start();
      const w = watch;
      memory.start(opts.memMb, () => w.end({ kind: 'guest-oom' }));
    }

    const outcome = await watch.outcome;
    memory.stop();
    const durationS = (Number(process.hrtime.bigint()) - startNs) / 1e9;

    // A guest that did not finish cannot report its CPU time: read it before it goes.
    const guestCpu = section(stats.guest);
    if (outcome.guestTid > 0 && guestCpu[COUNTER.cpu_s] === 0) guestCpu[COUNTER.cpu_s] = addon.threadCpuSecondsOf(outcome.guestTid) ?? 0;
    // Stop the guest first, then the IO thread, which sends what the guest queued.
    guestStuck = !(await stopGuest(guest, watch, wakeFd, region));
    if (guestStuck) process.stderr.write(`tender: the guest's thread did not end within ${GUEST_END_MS / 1000} s of being stopped (blocked in a system call, or waiting for work it started); the tender ends without it\n`);
    const ioExit: IoExit = io ? await io.stop() : { kind: 'stopped' };
    ioStopped = true;
    const ending = finalEnding(outcome.ending, ioExit);
    const { code, line } = describeEnding(ending);
    if (line) process.stderr.write(`tender: ${line}\n`);

    live?.stop();
    live = null;
    // Every frame is in the ring now: the capture ends, and what it lost is counted before the report.
    for (const l of capture ? await capture.finish(() => totals(stats, nics.length).nics) : []) process.stderr.write(`tender: ${l}\n`);
    const final = report(code, durationS);
    if (opts.stats !== 'none') process.stderr.write(formatSummary(final.report, capture !== null));
    const failed = await statsFile?.finish(final.report, final.totals);
    if (failed) process.stderr.write(`tender: ${failed}\n`);
    return code;
  } finally {
    live?.stop();
    capture?.close();
    statsFile?.close();
    watch?.cancel();
    memory.stop();
    if (!locked) memory.close(); // once locked, as for the output files, the process's exit closes it
    if (guest && !guestStuck) guestStuck = !(await withTimeout(guest.terminate().then(() => true, () => true), GUEST_END_MS, false));
    leftBehind = guestStuck;
    if (io && !ioStopped) await io.stop();
    io?.close();
    for (const fd of [...nics.map((n) => n.fd), wakeFd, watchFd]) addon.close(fd);
    // Once locked, the filter lets nothing close the output files: the process's exit does.
    if (!locked) for (const f of [...outs.pcaps, outs.stats]) if (f) closeSync(f.fd);
  }
}

/** --pcap: which NICs each file captures, and the writer (its headers are written when it starts). */
function startCapture(opts: TenderOptions, outs: OutFile[], nics: AttachedNic[], tenderStats: SharedArrayBuffer): Capture {
  const files: CaptureFile[] = opts.pcap.map((p, i) => ({
    out: outs[i], nics: p.nic === null ? nics.map((_, n) => n) : [nics.findIndex((n) => n.name === p.nic)],
  }));
  const info: CaptureNic[] = nics.map((n) => ({ name: n.name, iface: n.iface, mac: n.mac, mtu: opts.mtu, maxFrame: opts.mtu + FRAME_OVERHEAD }));
  return new Capture(files, info, opts.pcapSnaplen, { mode: opts.mode }, tenderStats);
}

/** The guest thread: APP in its own worker, heap capped by --mem, handed its rings or (baseline) its TAP fds. */
function startGuest(opts: TenderOptions, nics: AttachedNic[], layout: RegionLayout | null, region: SharedArrayBuffer | null,
  stats: StatsBuffers, wakeFd: number, kickFds: number[], capture: CaptureTap | null, go: SharedArrayBuffer): Worker {
  const shm = region !== null;
  const ioStats = section(stats.io); // the IO thread has started: what its rings are is set
  const config: GuestConfig = {
    mode: opts.mode,
    kick: kickPolicyFor(opts.mode, opts.suppress),
    spinUs: opts.guestSpinUs,
    spinMaxUs: opts.guestSpinMaxUs,
    spinStallUs: opts.guestSpinStallUs,
    txCoalesce: opts.guestTxCoalesce,
    spinSliceUs: opts.guestSpinSliceUs,
    ioToken: shm && opts.ioToken,
    // A relay's pipeline needs a second CPU to run on (docs/tuning.md, "A TCP relay: the pipeline").
    relayPipeline: shm && opts.ioToken && opts.tokenPollers === 'auto' && opts.cpus >= 2,
    oneCpu: shm && opts.ioToken && opts.cpus === 1,
    pollBudget: opts.pollBudget,
    region,
    stats: stats.guest,
    wakeFd,
    capture,
    nics: nics.map((n, i) => ({
      name: n.name, iface: n.iface, mac: Array.from(n.mac), mtu: opts.mtu, maxFrame: layout!.nics[i].maxFrame,
      mtuFrame: layout!.nics[i].mtuFrame, vnetHdrBytes: layout!.nics[i].vnetHdrBytes, offloads: n.offloads,
      fd: shm && !opts.ioToken ? -1 : n.fd, kickFd: shm ? kickFds[i] : -1,
      uring: { reads: ioStats[nicCounters(i).tap_uring] > 0, writes: ioStats[nicCounters(i).tap_uring_tx] > 0 },
    })),
    app: opts.app,
    args: opts.appArgs,
    loader: { hooks: pathToFileURL(here('./guest-loader.js')).href, guestApiUrl: pathToFileURL(here('../guest-api/index.js')).href, tenderRoot: new URL('..', import.meta.url).href },
    go,
    sandbox: opts.sandbox,
    threadpoolSize: threadpoolSize(),
  };
  const resourceLimits: ResourceLimits = { maxOldGenerationSizeMb: opts.memMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(4, opts.memMb / 8)) };
  // env: {} - the guest sees none of the tender's environment.
  return new Worker(here('./guest-thread.js'), { workerData: config, resourceLimits, name: 'guest', stdout: false, stderr: false, env: {} });
}

/** How long a stopped guest's thread has to end. */
const GUEST_END_MS = 2000;
let leftBehind = false;

/**
 * After runTender: the guest's thread did not end when stopped. process.exit() would join it
 * first, and wait for ever; the caller leaves by exitNow (_exit) instead, everything written.
 */
export function guestLeftBehind(): boolean {
  return leftBehind;
}

/**
 * terminate() cannot interrupt a native call, so a guest blocked in epoll_wait is woken first;
 * one blocked in a call nothing wakes (a read of a blocking fd) is left behind: false.
 */
async function stopGuest(guest: Worker, watch: GuestWatch, wakeFd: number, region: SharedArrayBuffer | null): Promise<boolean> {
  const gone = new Promise<boolean>((r) => guest.once('exit', () => r(true)));
  watch.cancel();
  if (guest.threadId < 0) return true;
  addon.eventfdWrite(wakeFd);
  if (region) await tokenOutOfGuestHands(new Int32Array(region));
  void guest.terminate().catch(() => undefined); // its promise settles only when the thread has ended
  return withTimeout(gone, GUEST_END_MS, false);
}

/**
 * A guest stopped while it holds the IO token may be inside a burst: the frames it wrote then
 * go out, but it never publishes the ring's index, and the IO thread, draining, would send them
 * again (5 of 15 SIGTERMs during `ping -f` gave ping a duplicate reply). So first the guest
 * takes the token no more, and the tender takes it from FREE (for the IO thread, which drains
 * with it) as soon as the guest lets go; a guest that never does is stopped after 200 ms all
 * the same.
 */
async function tokenOutOfGuestHands(i32: Int32Array): Promise<void> {
  Atomics.store(i32, G.guestStop, 1);
  for (let waited = 0; waited < 200; waited++) {
    if (Atomics.compareExchange(i32, G.ioToken, TOKEN_FREE, TOKEN_IO) !== TOKEN_GUEST) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise<T>((resolve) => {
    const t = setTimeout(() => resolve(fallback), ms);
    p.then((v) => {
      clearTimeout(t);
      resolve(v);
    }, () => {
      clearTimeout(t);
      resolve(fallback);
    });
  });
}
