// Counters, in memory shared by the tender's threads but never mapped into the guest's
// region. Each thread has its own section and is its only writer (plain stores, exact);
// the tender sums the sections at exit and reads them for the live view.
import { MAX_NICS } from '../guest-api/abi.js';

export const THREADS = ['tender', 'io', 'guest'] as const;
export type ThreadName = (typeof THREADS)[number];

export const GLOBAL_COUNTERS = ['traps', 'kicks', 'interrupts', 'tap_wakeups', 'io_wakeups', 'cpu_s', 'faults', 'token_handoffs', 'poller_trials', 'two_pollers', 'poller_one_fps', 'poller_two_fps', 'relay_pipeline'] as const;
// tap_wakeups: the kernel waking the guest's thread from its sleep on its TAPs, holding the IO
// token: the token's interrupts, and notifications as they are (README, "Counting").
// poller_trials / two_pollers: --io-token=auto's trials of one poller against two, and how many picked two (host/io-thread/poller-choice.ts);
// poller_one_fps / poller_two_fps: the RX frames per second each arrangement moved in the last trial (not counts: rates, the IO thread's only).
// relay_pipeline: 1 once the IO thread took the token for good from a relaying guest (the IO thread's only: guest-api/notify.ts, relaying).
// pcap_dropped: capture records refused because the record ring was full (host/capture.ts).
// tap_uring / tap_uring_tx: 1 when the IO thread reads / writes this NIC's TAP through io_uring
// (--tap-reads, --tap-writes); the report says "tap_reads" and "tap_writes".
// tx_bursts: the sends that handed this NIC's TX frames to the kernel, one burst each (frames per burst: how well sends were batched).
export const NIC_COUNTERS = ['rx_frames', 'rx_bytes', 'tx_frames', 'tx_bytes', 'rx_drops', 'tx_drops', 'rx_bad', 'pcap_dropped', 'rx_gso', 'tx_gso', 'rx_max', 'tx_max', 'tap_uring', 'tap_uring_tx', 'tx_bursts'] as const;
/** Counters that hold the largest value seen, not a count: combined across threads by max. */
const MAXIMA: readonly NicCounter[] = ['rx_max', 'tx_max'];
export type GlobalCounter = (typeof GLOBAL_COUNTERS)[number];
export type NicCounter = (typeof NIC_COUNTERS)[number];

const SECTION = GLOBAL_COUNTERS.length + MAX_NICS * NIC_COUNTERS.length;

const nIndex = (nic: number, name: NicCounter) => GLOBAL_COUNTERS.length + nic * NIC_COUNTERS.length + NIC_COUNTERS.indexOf(name);

/** Where each global counter sits in a thread's section (constant: no lookup on a hot path). */
export const COUNTER = Object.freeze(Object.fromEntries(GLOBAL_COUNTERS.map((n, i) => [n, i]))) as Readonly<Record<GlobalCounter, number>>;

/** Where NIC `nic`'s counters sit in a thread's section; a caller computes this once per NIC. */
export function nicCounters(nic: number): Readonly<Record<NicCounter, number>> {
  return Object.freeze(Object.fromEntries(NIC_COUNTERS.map((n) => [n, nIndex(nic, n)]))) as Record<NicCounter, number>;
}

/** One SharedArrayBuffer per thread, so a thread is handed only its own counters. */
export type StatsBuffers = Record<ThreadName, SharedArrayBuffer>;

export function createStats(): StatsBuffers {
  const make = () => new SharedArrayBuffer(SECTION * 8);
  return { tender: make(), io: make(), guest: make() };
}

export function section(sab: SharedArrayBuffer): Float64Array {
  return new Float64Array(sab);
}

export interface NicTotals {
  rx_frames: number; rx_bytes: number; tx_frames: number; tx_bytes: number;
  rx_drops: number; tx_drops: number; rx_bad: number; pcap_dropped: number;
  /** Frames that were GSO super-frames (virtio-net gsoType not NONE), per direction. */
  rx_gso: number; tx_gso: number;
  /** The largest frame, in bytes, per direction. */
  rx_max: number; tx_max: number;
  tap_uring: number;
  tap_uring_tx: number;
  tx_bursts: number;
}
export interface Totals {
  traps: number; kicks: number; interrupts: number; tap_wakeups: number; io_wakeups: number; faults: number; token_handoffs: number; poller_trials: number; two_pollers: number; poller_one_fps: number; poller_two_fps: number; relay_pipeline: number;
  cpu_s: Record<ThreadName, number>;
  /** Frames each thread moved between a TAP and the guest (all NICs): where the work ran. */
  serviced: Record<ThreadName, { rx_frames: number; tx_frames: number; tx_bursts: number }>;
  nics: NicTotals[];
}

/**
 * A section as the sums may use it. The guest's thread keeps its own counters (the baseline's
 * device code, and its own bursts with the IO token, run there), so the guest can write them:
 * a count that is not a whole number from 0 to 2^53 reads as 0 (and cpu_s, a measure, as 0
 * unless finite and not negative), so that no sum, report or pcapng field breaks on it.
 */
function readable(s: Float64Array): Float64Array {
  const out = new Float64Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const v = s[i];
    out[i] = i === COUNTER.cpu_s || i === COUNTER.poller_one_fps || i === COUNTER.poller_two_fps ? (Number.isFinite(v) && v >= 0 ? v : 0) : Number.isSafeInteger(v) && v >= 0 ? v : 0;
  }
  return out;
}

export function totals(stats: StatsBuffers, nicCount: number): Totals {
  const secs = THREADS.map((t) => readable(section(stats[t])));
  const sum = (i: number) => secs.reduce((a, s) => a + s[i], 0);
  const max = (i: number) => secs.reduce((a, s) => Math.max(a, s[i]), 0);
  const nics: NicTotals[] = [];
  for (let n = 0; n < nicCount; n++) {
    const row = {} as NicTotals;
    for (const c of NIC_COUNTERS) row[c] = MAXIMA.includes(c) ? max(nIndex(n, c)) : sum(nIndex(n, c));
    nics.push(row);
  }
  const cpu = {} as Record<ThreadName, number>;
  const serviced = {} as Totals['serviced'];
  THREADS.forEach((t, i) => {
    cpu[t] = secs[i][COUNTER.cpu_s];
    serviced[t] = { rx_frames: 0, tx_frames: 0, tx_bursts: 0 };
    for (let n = 0; n < nicCount; n++) {
      serviced[t].rx_frames += secs[i][nIndex(n, 'rx_frames')];
      serviced[t].tx_frames += secs[i][nIndex(n, 'tx_frames')];
      serviced[t].tx_bursts += secs[i][nIndex(n, 'tx_bursts')];
    }
  });
  return {
    traps: sum(COUNTER.traps), kicks: sum(COUNTER.kicks), interrupts: sum(COUNTER.interrupts), tap_wakeups: sum(COUNTER.tap_wakeups),
    io_wakeups: sum(COUNTER.io_wakeups), faults: sum(COUNTER.faults), token_handoffs: sum(COUNTER.token_handoffs), poller_trials: sum(COUNTER.poller_trials), two_pollers: sum(COUNTER.two_pollers), poller_one_fps: sum(COUNTER.poller_one_fps), poller_two_fps: sum(COUNTER.poller_two_fps), relay_pipeline: sum(COUNTER.relay_pipeline), cpu_s: cpu, serviced, nics,
  };
}

export interface Rates {
  dt_s: number;
  nics: { rx_fps: number; tx_fps: number; rx_mbit: number; tx_mbit: number }[];
  notifications_per_s: number;
  /** Notifications per frame over the interval (0 when no frame moved). */
  per_frame: number;
}

/** The notifications: every wake-up or call across the guest's boundary (README, "Counting"). */
export function notificationsOf(t: Pick<Totals, 'traps' | 'kicks' | 'interrupts' | 'tap_wakeups'>): number {
  return t.traps + t.kicks + t.interrupts + t.tap_wakeups;
}

/** What moved between two readings of the counters, per second. */
export function rates(a: Totals, b: Totals, dt: number): Rates {
  const per = (x: number) => (dt > 0 ? x / dt : 0);
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  let frames = 0;
  const nics = b.nics.map((n, i) => {
    const p = a.nics[i];
    frames += n.rx_frames - p.rx_frames + n.tx_frames - p.tx_frames;
    return {
      rx_fps: r3(per(n.rx_frames - p.rx_frames)), tx_fps: r3(per(n.tx_frames - p.tx_frames)),
      rx_mbit: r3(per(((n.rx_bytes - p.rx_bytes) * 8) / 1e6)), tx_mbit: r3(per(((n.tx_bytes - p.tx_bytes) * 8) / 1e6)),
    };
  });
  const notes = notificationsOf(b) - notificationsOf(a);
  return { dt_s: r3(dt), nics, notifications_per_s: r3(per(notes)), per_frame: frames > 0 ? Math.round((notes / frames) * 1e6) / 1e6 : 0 };
}
