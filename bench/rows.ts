// The rows a workload can have. A tender variant is one more entry, e.g. HYBRID_PCAP below:
//   tenderRow('hybrid', 'pcap', (ctx) => [`--pcap=${ctx.scratch('capture.pcapng')}`])  -> row "hybrid+pcap"
import type { Context, Loop, Mode, Row } from './types.js';

export const LOOPS: Loop[] = ['block', 'epoll', 'busy'];
export const MODES: Mode[] = ['baseline', 'poll', 'event', 'hybrid'];

export const cRow = (loop: Loop): Row => ({ id: `c-${loop}`, kind: 'c', loop });
export const NODE_READSYNC: Row = { id: 'node-readsync', kind: 'node' };

/** A tender row: the mode alone, or a variant "mode+name" with extra tender arguments. */
export function tenderRow(mode: Mode, variant?: string, args?: (ctx: Context) => string[]): Row {
  return { id: variant ? `${mode}+${variant}` : mode, kind: 'tender', mode, tenderArgs: args };
}

export const C_ROWS: Row[] = LOOPS.map(cRow);
export const MODE_ROWS: Row[] = MODES.map((m) => tenderRow(m));
/** Every C variant, node-readsync and every mode: the rows of most workloads. */
export const ALL_ROWS: Row[] = [...C_ROWS, NODE_READSYNC, ...MODE_ROWS];
/**
 * The streaming workloads' rows (RX drain and flood, TX): ALL_ROWS and the C program that
 * batches its TAP reads or writes through io_uring with registered buffers (tap_reader /
 * tap_writer --loop=uring). On the 2-vCPU VMs it beats a system call per frame, by several
 * times where system calls are dear (docs/tuning.md, "Writing the TAP"), so the limit is the
 * best a C program can do, not the simplest.
 */
export const STREAM_ROWS: Row[] = [...C_ROWS, cRow('uring'), NODE_READSYNC, ...MODE_ROWS];
/**
 * hybrid's default is the IO token with one poller or two as measured (--io-token=auto,
 * host/io-thread/poller-choice.ts). These rows fix each arrangement: with the token and two
 * pollers at a round-trip pace (on), one (solo), and without the token (off: two pollers
 * always, the IO thread alone moving frames; hybrid's default until session 12).
 */
export const HYBRID_TOKEN: Row = tenderRow('hybrid', 'token', () => ['--io-token=on']);
export const HYBRID_TOKEN_OFF: Row = tenderRow('hybrid', 'token-off', () => ['--io-token=off']);
/**
 * The token with one poller (--io-token=solo): the backed-off IO thread never polls beside the
 * guest that holds it. Where system calls are dear it serves round trips faster than two
 * pollers (docs/tuning.md, the IO token).
 */
export const HYBRID_TOKEN_SOLO: Row = tenderRow('hybrid', 'token-solo', () => ['--io-token=solo']);
/**
 * hybrid whose guest, kept spinning by its peer, sleeps at a pause past its window as before
 * session 16 instead of spinning on through it (--guest-spin-stall-us, guest-api/spin-window.ts):
 * what spinning through pauses buys (docs/tuning.md, "Spinning through a pause").
 */
export const HYBRID_STALL_OFF: Row = tenderRow('hybrid', 'stall-off', () => ['--guest-spin-stall-us=0']);
/**
 * hybrid whose guest sends each answer as it writes it, even in the middle of a burst of
 * requests, as before session 17 (--guest-tx-coalesce=off), instead of one send after the
 * burst's last frame: what coalescing the answers buys (docs/tuning.md, "Answering a burst").
 */
export const HYBRID_COALESCE_OFF: Row = tenderRow('hybrid', 'coalesce-off', () => ['--guest-tx-coalesce=off']);
/** hybrid with 0.1's fixed windows (50 µs guest spin, 50 µs idle poll): what adapting them buys (guest-api/spin-window.ts). */
export const HYBRID_FIXED: Row = tenderRow('hybrid', 'fixed', () => ['--guest-spin-max-us=50', '--poll-idle-max-us=50']);
/**
 * hybrid whose spinning guest looks at the empty TAP from JS, once per round (a round, a check,
 * a sched_yield), as before session 14, instead of for up to 20 µs at a time inside the addon:
 * what spinning in the addon buys (docs/tuning.md, "Spinning in the addon").
 */
export const HYBRID_JS_SPIN: Row = tenderRow('hybrid', 'js-spin', () => ['--guest-spin-slice-us=0']);
/**
 * hybrid whose backed-off IO thread looks every 1 ms beside a guest that keeps up alone, as
 * before session 14 (round trips) and 15 (a stream), instead of every 1 ms growing to 8 ms: what
 * the growing back-off buys (docs/tuning.md, "A back-off that grows").
 */
export const HYBRID_BACKOFF_1MS: Row = tenderRow('hybrid', 'backoff-1ms', () => ['--io-backoff-max-us=1000']);
/** hybrid reading its TAP with one read() per frame instead of through io_uring (--tap-reads): what the batched reads buy. */
export const HYBRID_READ: Row = tenderRow('hybrid', 'read', () => ['--tap-reads=read']);
/** hybrid writing its TAP with one write() per frame instead of through io_uring (--tap-writes): what the batched writes buy. */
export const HYBRID_WRITE: Row = tenderRow('hybrid', 'write', () => ['--tap-writes=write']);
/**
 * hybrid with the defaults of two CPUs or more (--cpus=2) where it runs on one: auto's trials of
 * two pollers, the IO thread's idle poll, hand-backs to it and its taking the reads over. What
 * the one-CPU defaults buy (host/cli-options.ts, ONE_CPU).
 */
export const HYBRID_CPUS2: Row = tenderRow('hybrid', 'cpus2', () => ['--cpus=2']);
/** What capture costs (docs/capture.md): hybrid writing every frame to a pcapng file. */
export const HYBRID_PCAP: Row = tenderRow('hybrid', 'pcap', (ctx) => [`--pcap=${ctx.scratch('capture.pcapng')}`]);

export function tenderArgs(row: Row, ctx: Context): string[] {
  if (row.kind !== 'tender' || !row.mode) throw new Error(`row ${row.id} is not a tender row`);
  return [...(row.mode === 'baseline' ? [] : [`--shm=${row.mode}`]), ...(row.tenderArgs?.(ctx) ?? []), ...ctx.tenderExtra];
}
