// What the tender reports at exit: the stats JSON (the format the issue and README give)
// and a human summary.
import type { Mode } from '../guest-api/notify.js';
import type { Totals } from './stats.js';

export interface StatsReport {
  mode: Mode;
  duration_s: number;
  exit_code: number;
  nics: { name: string; iface: string; rx_frames: number; tx_frames: number; rx_bytes: number; tx_bytes: number; rx_drops: number; tx_drops: number; rx_bad: number }[];
  notifications: { traps: number; kicks: number; interrupts: number; io_wakeups: number; total: number; per_frame: number };
  cpu_s: { tender: number; io: number; guest: number; process: number };
  guest_faults: number;
}

export function buildReport(mode: Mode, durationS: number, exitCode: number, nics: { name: string; iface: string }[], t: Totals, processCpuS: number): StatsReport {
  const frames = t.nics.reduce((a, n) => a + n.rx_frames + n.tx_frames, 0);
  const total = t.traps + t.kicks + t.interrupts;
  return {
    mode,
    duration_s: round(durationS, 6),
    exit_code: exitCode,
    nics: nics.map((n, i) => ({ name: n.name, iface: n.iface, ...t.nics[i] })),
    notifications: {
      traps: t.traps, kicks: t.kicks, interrupts: t.interrupts, io_wakeups: t.io_wakeups, total,
      per_frame: frames > 0 ? round(total / frames, 6) : 0,
    },
    cpu_s: { tender: round(t.cpu_s.tender, 6), io: round(t.cpu_s.io, 6), guest: round(t.cpu_s.guest, 6), process: round(processCpuS, 6) },
    guest_faults: t.faults,
  };
}

export function formatSummary(r: StatsReport): string {
  const lines = [`tender: mode ${r.mode}, ${r.duration_s.toFixed(3)} s, exit ${r.exit_code}`];
  for (const n of r.nics) {
    lines.push(`  ${n.name} (${n.iface}): rx ${n.rx_frames} frames ${n.rx_bytes} B, tx ${n.tx_frames} frames ${n.tx_bytes} B, drops rx ${n.rx_drops} tx ${n.tx_drops}, bad rx ${n.rx_bad}`);
  }
  const x = r.notifications;
  lines.push(`  notifications: ${x.total} (traps ${x.traps}, kicks ${x.kicks}, interrupts ${x.interrupts}), ${x.per_frame} per frame; io wake-ups ${x.io_wakeups}`);
  lines.push(`  cpu s: tender ${r.cpu_s.tender.toFixed(3)}, io ${r.cpu_s.io.toFixed(3)}, guest ${r.cpu_s.guest.toFixed(3)}, process ${r.cpu_s.process.toFixed(3)}`);
  return lines.join('\n') + '\n';
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
