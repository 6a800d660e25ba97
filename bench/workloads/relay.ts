// Relay: iperf3 TCP from one namespace to another through a relay between two TAPs
// (testbed/relay.ts): the C relay (tap_relay, busy loop) or the tender running
// examples/firewall.js, each with and without virtio-net offloads (--offload: 64 KiB GSO
// frames and checksum offload). Gbit/s is what iperf3's receiver got.
import { relayTopology, runRelay, type RelayTopology } from '../../testbed/relay.js';
import { MODES, tenderRow, HYBRID_FIXED, HYBRID_READ, HYBRID_WRITE, HYBRID_TOKEN, HYBRID_TOKEN_SOLO, HYBRID_TOKEN_OFF } from '../rows.js';
import type { Context, Row, Sample, Workload } from '../types.js';

const OFFLOAD = '+offload';
/**
 * iperf3 -O: the first second runs and is left out of Gbit/s (not with --quick): TCP's slow
 * start, and the relay's start-up (the JIT compiling firewall.js and the IO path), as the RX
 * workloads' warm-up and the latency probe's leave theirs out. In one run of three repetitions
 * it moved hybrid from 0.93x to 1.01x the C relay and the C relay not beyond noise.
 */
const OMIT_S = 1;
const offloaded = (row: Row) => row.id.endsWith(OFFLOAD);

/**
 * The tender's options for a relay row beyond the mode and --offload, which runRelay adds from
 * its own fields: the row's (--io-token=off, --tap-writes=write, ...) and the bench's --tender.
 * Until session 25 only the latter were passed, so every hybrid variant ran as plain hybrid.
 */
export function relayTenderArgs(row: Row, ctx: Context): string[] {
  return [...(row.tenderArgs?.(ctx) ?? []).filter((a) => a !== '--offload'), ...ctx.tenderExtra];
}

const URING = '+uring';
/**
 * The C relay without and with offloads, each with a read()/write() per frame and batched
 * through io_uring (the limit candidates), then every mode without and with.
 */
export const RELAY_ROWS: Row[] = [
  { id: 'c-relay', kind: 'c' },
  { id: `c-relay${OFFLOAD}`, kind: 'c' },
  { id: `c-relay${URING}`, kind: 'c' },
  { id: `c-relay${URING}${OFFLOAD}`, kind: 'c' },
  ...MODES.map((m) => tenderRow(m)),
  ...MODES.map((m) => tenderRow(m, 'offload', () => ['--offload'])),
  HYBRID_FIXED,
  HYBRID_READ,
  HYBRID_WRITE,
  HYBRID_TOKEN,
  tenderRow('hybrid', `token${OFFLOAD}`, () => ['--io-token=on', '--offload']),
  HYBRID_TOKEN_SOLO,
  tenderRow('hybrid', `token-solo${OFFLOAD}`, () => ['--io-token=solo', '--offload']),
  HYBRID_TOKEN_OFF,
  tenderRow('hybrid', `token-off${OFFLOAD}`, () => ['--io-token=off', '--offload']),
];

/** relay-pinned's rows: the C relay and the baseline against hybrid, each with and without offloads. */
export const PINNED_RELAY_ROWS: Row[] = RELAY_ROWS.filter((r) => ['c-relay', 'c-relay+uring', 'baseline', 'hybrid'].includes(r.id.replace(OFFLOAD, '')));

/**
 * `cpus`: the relay on one core and iperf3 on the other (testbed/relay.ts), the same for
 * every row: what each design does with a core of its own, and without the scheduler's luck
 * in placing four busy threads on two cores.
 */
export function relay(o: { id: string; title: string; short: string; streams: number; rows: Row[]; cpus?: { relay: string; traffic: string } }): Workload {
  let topo: RelayTopology | null = null;
  return {
    id: o.id,
    title: o.title,
    short: o.short,
    how: `iperf3 -P ${o.streams} TCP from one namespace to another, each bridged to one of two TAPs, through the C relay (tap_relay, busy loop; \`--offload\`: IFF_VNET_HDR with TSO/checksum offload) or \`tender … examples/firewall.js\` in each mode (\`+offload\`: \`--offload\`)${o.cpus ? `; the relay pinned to CPU ${o.cpus.relay} (taskset, every thread), both iperf3s to CPU ${o.cpus.traffic}` : ''}; Gbit/s as iperf3's receiver counted after the first ${OMIT_S} s (iperf3 -O: slow start and the relay's start-up); CPU s per Gbit over the whole run`,
    metric: { label: 'Gbit/s', better: 'higher' },
    rows: o.rows,
    columns: [
      { head: 'avg frame B', key: 'avg_frame', format: 'int' },
      { head: 'CPU s per Gbit', key: 'cpu_s_per_gbit', format: 'ms' },
      { head: 'retransmits', key: 'retransmits', format: 'int' },
    ],
    async prepare() {
      topo = relayTopology();
      return () => topo?.destroy();
    },
    async run(row: Row, ctx: Context): Promise<Sample> {
      const seconds = ctx.quick ? 1 : 4;
      const r = await runRelay(topo!, {
        relay: row.kind === 'c' ? 'c' : row.mode!, offload: offloaded(row), streams: o.streams, seconds, omit: ctx.quick ? 0 : OMIT_S,
        tapRelay: ctx.bin.tap_relay, uring: row.id.includes(URING), tenderArgs: row.kind === 'tender' ? relayTenderArgs(row, ctx) : [], cpus: o.cpus,
      });
      return {
        value: r.gbps, frames: r.frames, cpuS: r.cpuSeconds,
        extra: { avg_frame: r.avgFrameBytes, cpu_s_per_gbit: r.gbitAll > 0 ? r.cpuSeconds / r.gbitAll : NaN, retransmits: r.retransmits },
        stats: row.kind === 'tender' ? (r.raw as Sample['stats']) : undefined,
      };
    },
  };
}
