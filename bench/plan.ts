// The bench's plan: every workload is one entry, with its rows. A workload from elsewhere
// (e.g. a relay through two TAPs) is one more entry; a row variant (e.g. "hybrid+pcap") is one
// more row in the workloads it belongs to (see rows.ts: tenderRow).
import { ALL_ROWS, STREAM_ROWS, HYBRID_FIXED, HYBRID_READ, HYBRID_WRITE, HYBRID_PCAP, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF, HYBRID_STALL_OFF, HYBRID_COALESCE_OFF, HYBRID_JS_SPIN, HYBRID_BACKOFF_1MS, HYBRID_CPUS2, MODE_ROWS, C_ROWS, cRow, tenderRow } from './rows.js';
import type { Sizes, Workload } from './types.js';
import { onOneCpu } from './workloads/common.js';
import { drain } from './workloads/drain.js';
import { flood } from './workloads/flood.js';
import { latency } from './workloads/latency.js';
import { pingFlood } from './workloads/ping.js';
import { atRest } from './workloads/rest.js';
import { relay, PINNED_RELAY_ROWS, RELAY_ROWS } from './workloads/relay.js';
import { tx } from './workloads/tx.js';

export const FULL: Sizes = {
  warmFrames: 200_000, drainFrames: 150_000, floodCount: 1_000_000, floodSeconds: 4, txCount: 300_000, pingCount: 30_000, pingWarmS: 2,
  latCount: 30_000, latRate: 10_000, latFloodPps: 100_000, restS: 3, restPings: 5,
};
/** --quick: every workload and row, small: checks the harness (CI), not for quoting. */
export const QUICK: Sizes = {
  warmFrames: 10_000, drainFrames: 20_000, floodCount: 40_000, floodSeconds: 0.5, txCount: 20_000, pingCount: 2_000, pingWarmS: 0,
  latCount: 2_000, latRate: 10_000, latFloodPps: 100_000, restS: 0.5, restPings: 2,
};

/** A one-CPU machine's rows: the C loops, baseline, event, hybrid and hybrid with two CPUs' defaults (poll, which spins a core by design, is left out). */
const ONE_CPU_ROWS = [...C_ROWS, tenderRow('baseline'), tenderRow('event'), tenderRow('hybrid'), HYBRID_CPUS2];

const DRAIN = drain({ id: 'drain', title: 'RX drain: the receiver frozen while 1300-byte datagrams queue, then drained', short: 'RX drain', workNs: 0, rows: [...STREAM_ROWS, HYBRID_READ, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF, HYBRID_PCAP] });

const PING = pingFlood({ id: 'ping', title: 'ping -f (56 bytes)', short: 'ping -f', payload: 56, rows: [...ALL_ROWS, HYBRID_READ, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF, HYBRID_FIXED, HYBRID_JS_SPIN, HYBRID_BACKOFF_1MS, HYBRID_PCAP] });

const LAT = latency({ id: 'lat', title: 'Latency: echo requests at a fixed rate (p99)', short: 'p99, light load', flood: false, rows: [...ALL_ROWS, HYBRID_READ, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF, HYBRID_STALL_OFF, HYBRID_COALESCE_OFF, HYBRID_FIXED, HYBRID_JS_SPIN, HYBRID_BACKOFF_1MS] });

export const PLAN: Workload[] = [
  DRAIN,
  drain({ id: 'drain-work', title: 'RX drain with --work-ns=2000 (2 µs of guest work per frame)', short: 'RX drain, 2 µs work', workNs: 2000, rows: [...STREAM_ROWS, HYBRID_READ, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF] }),
  flood({ id: 'flood', title: 'RX flood: 1300-byte UDP flat out, the sender sharing the cores', short: 'RX flood', rows: [...STREAM_ROWS, HYBRID_READ, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF, HYBRID_FIXED, HYBRID_BACKOFF_1MS] }),
  tx({ id: 'tx-b1', title: 'TX as sender, batch 1', short: 'TX batch 1', batch: 1, rows: MODE_ROWS }),
  tx({ id: 'tx-b32', title: 'TX as sender, batch 32', short: 'TX batch 32', batch: 32, rows: [...STREAM_ROWS, HYBRID_WRITE, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF] }),
  PING,
  pingFlood({ id: 'ping-1400', title: 'ping -f -s 1400', short: 'ping -f 1400 B', payload: 1400, rows: [...ALL_ROWS, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF, HYBRID_FIXED] }),
  pingFlood({ id: 'ping-l16', title: 'ping -f -l 16: 16 requests in flight (56 bytes)', short: 'ping -f, 16 in flight', payload: 56, preload: 16, rows: [...ALL_ROWS, HYBRID_COALESCE_OFF, HYBRID_TOKEN_SOLO] }),
  LAT,
  relay({ id: 'relay', title: 'Relay: iperf3 TCP (3 streams) through firewall.js between two TAPs, with and without offloads', short: 'TCP relay', streams: 3, rows: RELAY_ROWS }),
  relay({ id: 'relay-pinned', title: 'Relay on a core of its own: the same, the relay pinned to CPU 0 and iperf3 to CPU 1', short: 'TCP relay, pinned', streams: 3, rows: PINNED_RELAY_ROWS, cpus: { relay: '0', traffic: '1' } }),
  atRest({ id: 'rest', title: 'At rest: CPU and wake-ups once a load has stopped', short: 'at rest', rows: [...ALL_ROWS, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF] }),
  latency({ id: 'lat-flood', title: 'Latency under a flood: the same probe while 1300-byte UDP floods another port', short: 'p99 under a flood', flood: true, rows: [...ALL_ROWS, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF, HYBRID_STALL_OFF, HYBRID_COALESCE_OFF, HYBRID_FIXED, HYBRID_BACKOFF_1MS] }),
  // Small machines: everything on CPU 0 (bench/workloads/common.ts, onOneCpu).
  onOneCpu(DRAIN, 'drain-1cpu', 'RX drain, one CPU', [...ONE_CPU_ROWS.slice(0, 3), cRow('uring'), ...ONE_CPU_ROWS.slice(3)]),
  onOneCpu(PING, 'ping-1cpu', 'ping -f, one CPU', ONE_CPU_ROWS),
  onOneCpu(LAT, 'lat-1cpu', 'p99, one CPU', ONE_CPU_ROWS),
];
