// Small readers of what the programs print, and the warm-up, shared by the workloads.
import { setTimeout as sleep } from 'node:timers/promises';
import { collect, onCpusNs } from '../../testbed/netns.js';
import { kernelTx } from '../../testbed/tap-stats.js';
import type { Context, Workload } from '../types.js';

export const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);

/** udp_sink's last line: frames counted and frames/s over its active span (first to last frame). */
export function sinkTotal(stdout: string): { frames: number; fps: number; active: number } {
  const m = /udp_sink: total (\d+) frames \d+ bytes in [\d.]+ s \(active ([\d.]+) s, (\d+) frames\/s/.exec(stdout);
  if (!m) throw new Error(`udp_sink printed no total: ${stdout.slice(-500)}`);
  return { frames: Number(m[1]), active: Number(m[2]), fps: Number(m[3]) };
}

/**
 * Frames a receiver reads before the measured part begins (sizes.warmFrames): 1300-byte
 * datagrams to 10.0.0.2 port 9001, which every receiver reads and works on as it will the
 * measured ones, but does not count (--skip-port), so the TAP, the rings and each reader's
 * per-frame code run as they will, and a JIT has compiled the very code it is measured with. A
 * one-second flood on a process just started measures its compiler as much as its I/O: on these
 * VMs V8's background compiles took 90 ms of CPU in the first flood second, and hybrid's and the
 * baseline's drops there fell from 6-12% and 4-8% to 1-5% and 0.3-6% on the second
 * (bench/README.md, "Warm-up"). Warm-up frames that took another branch (an address the
 * receivers skip, as they first did) left the counting code cold: the guest's JIT threw its
 * compiled loop away on the first counted frames, inside the measured span (same section).
 * pps: the pace, for receivers slower than the sender (0: flat out). It returns once the TAP has
 * handed over (or dropped) every warm-up frame: what the receiver had not read would still be
 * queued when a drain freezes it, taking the room of the frames the drain counts, and read in
 * its CPU window (session 28: the baseline on a PVM VM, 6.9 µs of CPU per counted frame).
 */
export async function warmUp(ctx: Context, frames: number, pps = 0): Promise<void> {
  if (frames <= 0) return;
  const before = kernelTx(ctx.ns);
  const sent: number = lastJson((await collect(ctx.ns.spawn(ctx.bin.udp_flood, ['--dst=10.0.0.2', `--port=${WARM_PORT}`, `--count=${frames}`, '--seconds=10', '--size=1300', `--pps=${pps}`]), 30_000)).stdout).sent;
  // A receiver slower than the sender is still reading the warm-up: what it has not read is in
  // the drain's way (and in its CPU window). The TAP counts a frame once it is read (or dropped).
  const until = Date.now() + WARM_READ_MS;
  for (;;) {
    const now = kernelTx(ctx.ns);
    if (now.packets - before.packets + (now.dropped - before.dropped) >= sent || Date.now() > until) break;
    await sleep(20);
  }
  await sleep(200); // the compiles finish
}

/** How long a receiver may take to read the warm-up after the sender is done: the slowest seen needed ~1 s. */
const WARM_READ_MS = 10_000;

export const WARM_PORT = 9001;
/** What each receiver is told so that it does not count the warm-up. */
export const SKIP_WARM = `--skip-port=${WARM_PORT}`;
export const WARM_NOTE = `N frames to 10.0.0.2 port ${WARM_PORT}, which the receivers read and work on but do not count`;

/**
 * A workload on a one-CPU machine, as far as its programs can tell: every program it starts
 * (the responder, its peer, a flood) runs on CPU 0 (taskset), so the tender's affinity, and
 * what it counts on, is one CPU (docs/tuning.md, "On one CPU"). rows: its rows there.
 */
export function onOneCpu(w: Workload, id: string, short: string, rows: Workload['rows']): Workload {
  return {
    ...w, id, short, rows, title: `${w.title}, every program on one CPU`, how: `${w.how}; every program on CPU 0 (taskset -c 0)`,
    run: (row, ctx) => w.run(row, { ...ctx, ns: onCpusNs(ctx.ns, '0') }),
  };
}
