// What the tender reports at exit: the stats JSON (the format the issue and README give)
// and a human summary.
import { offloadNames, type OffloadName } from '../guest-api/abi.js';
import type { Mode } from '../guest-api/notify.js';
import { notificationsOf, type NicTotals, type Totals } from './stats.js';

export interface StatsReport {
  mode: Mode;
  /** The CPUs the tender counted on (--cpus, else its affinity): on one, hybrid's defaults are ONE_CPU's (host/cli-options.ts). */
  cpus: number;
  duration_s: number;
  /** null in the interval lines of --stats-interval (the run is not over). */
  exit_code: number | null;
  /** offloads: what the kernel accepted for the NIC's TAP ([] without --offload). */
  /** tap_reads / tap_writes: how the IO thread read / wrote the TAP (--tap-reads, --tap-writes): through io_uring, or a system call per frame. */
  /** ring_slots: slots in each of the NIC's rings (--ring-slots, or by slot size); 0 in the baseline, which has none. */
  nics: ({ name: string; iface: string; offloads: OffloadName[]; ring_slots: number; tap_reads: 'io_uring' | 'read'; tap_writes: 'io_uring' | 'write' } & Omit<NicTotals, 'tap_uring' | 'tap_uring_tx'>)[];
  notifications: { traps: number; kicks: number; interrupts: number; tap_wakeups: number; io_wakeups: number; total: number; per_frame: number };
  /** Where the frames were moved: by the IO thread, or by the guest's own thread (baseline traps, or the IO token). */
  /** tx_bursts: the sends each thread made of its tx_frames (one io_uring_enter per up to 64 frames; with write(), a system call per frame all the same). */
  /** relay_pipeline: 1 once a guest forwarding between NICs without offloads left the IO token to the IO thread (--io-token=auto). */
  serviced: { io: { rx_frames: number; tx_frames: number; tx_bursts: number }; guest: { rx_frames: number; tx_frames: number; tx_bursts: number }; token_handoffs: number; poller_trials: number; two_pollers: number; poller_one_fps: number; poller_two_fps: number; relay_pipeline: number };
  cpu_s: { tender: number; io: number; guest: number; process: number };
  guest_faults: number;
  /** Capture records lost (all NICs): the record ring was full, or a FIFO's reader too slow at exit. */
  pcap_dropped: number;
}

export function buildReport(mode: Mode, cpus: number, durationS: number, exitCode: number | null, nics: { name: string; iface: string; offloads: number; ringSlots: number }[], t: Totals, processCpuS: number): StatsReport {
  const frames = t.nics.reduce((a, n) => a + n.rx_frames + n.tx_frames, 0);
  const total = notificationsOf(t);
  return {
    mode,
    cpus,
    duration_s: round(durationS, 6),
    exit_code: exitCode,
    nics: nics.map((n, i) => {
      const { tap_uring, tap_uring_tx, ...counts } = t.nics[i];
      return { name: n.name, iface: n.iface, offloads: offloadNames(n.offloads), ring_slots: n.ringSlots, tap_reads: tap_uring > 0 ? 'io_uring' : 'read', tap_writes: tap_uring_tx > 0 ? 'io_uring' : 'write', ...counts };
    }),
    notifications: {
      traps: t.traps, kicks: t.kicks, interrupts: t.interrupts, tap_wakeups: t.tap_wakeups, io_wakeups: t.io_wakeups, total,
      per_frame: frames > 0 ? round(total / frames, 6) : 0,
    },
    serviced: { io: t.serviced.io, guest: t.serviced.guest, token_handoffs: t.token_handoffs, poller_trials: t.poller_trials, two_pollers: t.two_pollers, poller_one_fps: Math.round(t.poller_one_fps), poller_two_fps: Math.round(t.poller_two_fps), relay_pipeline: t.relay_pipeline },
    cpu_s: { tender: round(t.cpu_s.tender, 6), io: round(t.cpu_s.io, 6), guest: round(t.cpu_s.guest, 6), process: round(processCpuS, 6) },
    guest_faults: t.faults,
    pcap_dropped: t.nics.reduce((a, n) => a + n.pcap_dropped, 0),
  };
}

export function formatSummary(r: StatsReport, capturing = false): string {
  const lines = [`tender: mode ${r.mode}${r.cpus === 1 ? ', one CPU' : ''}, ${r.duration_s.toFixed(3)} s, exit ${r.exit_code}`];
  for (const n of r.nics) {
    lines.push(`  ${n.name} (${n.iface}): rx ${n.rx_frames} frames ${n.rx_bytes} B, tx ${n.tx_frames} frames ${n.tx_bytes} B, drops rx ${n.rx_drops} tx ${n.tx_drops}, bad rx ${n.rx_bad}; TAP read with ${n.tap_reads === 'io_uring' ? 'io_uring' : 'read()'}, written with ${n.tap_writes === 'io_uring' ? 'io_uring' : 'write()'}${n.ring_slots > 0 ? `; rings of ${n.ring_slots} slots` : ''}`);
    if (n.offloads.length > 0) lines.push(`    offloads ${n.offloads.join(',')}: gso rx ${n.rx_gso} tx ${n.tx_gso}, largest frame rx ${n.rx_max} tx ${n.tx_max} B`);
  }
  const x = r.notifications;
  lines.push(`  notifications: ${x.total} (traps ${x.traps}, kicks ${x.kicks}, interrupts ${x.interrupts}${x.tap_wakeups > 0 ? `, tap wake-ups ${x.tap_wakeups}` : ''}), ${x.per_frame} per frame; io wake-ups ${x.io_wakeups}`);
  const v = r.serviced;
  lines.push(`  serviced by: io thread rx ${v.io.rx_frames} tx ${v.io.tx_frames} (${v.io.tx_bursts} sends), guest thread rx ${v.guest.rx_frames} tx ${v.guest.tx_frames} (${v.guest.tx_bursts} sends); token hand-offs ${v.token_handoffs}${v.poller_trials > 0 ? `; pollers tried ${v.poller_trials}×, two picked ${v.two_pollers}× (the last: one ${v.poller_one_fps} frames/s, two ${v.poller_two_fps})` : ''}${v.relay_pipeline > 0 ? '; the guest relays: the IO thread moves every frame' : ''}`);
  if (capturing) lines.push(`  capture: ${r.pcap_dropped} records dropped (${r.nics.map((n) => `${n.name} ${n.pcap_dropped}`).join(', ')})`);
  lines.push(`  cpu s: tender ${r.cpu_s.tender.toFixed(3)}, io ${r.cpu_s.io.toFixed(3)}, guest ${r.cpu_s.guest.toFixed(3)}, process ${r.cpu_s.process.toFixed(3)}`);
  return lines.join('\n') + '\n';
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
