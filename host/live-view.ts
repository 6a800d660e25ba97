// --stats=live: one line per second with per-NIC rates, notifications per frame and each
// thread's CPU share. Rewritten in place on a terminal, plain lines otherwise.
import { threadCpuSeconds } from '../native/index.js';
import { COUNTER, section, totals, type StatsBuffers, type Totals } from './stats.js';

export class LiveView {
  private readonly timer: NodeJS.Timeout;
  private prev: Totals;
  private prevNs = Number(process.hrtime.bigint());
  private readonly tty: boolean;

  constructor(
    private readonly stats: StatsBuffers,
    private readonly names: string[],
    private readonly out: NodeJS.WriteStream,
  ) {
    this.tty = Boolean(out.isTTY);
    this.prev = totals(stats, names.length);
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  private tick(): void {
    section(this.stats.tender)[COUNTER.cpu_s] = threadCpuSeconds();
    const now = Number(process.hrtime.bigint());
    const dt = (now - this.prevNs) / 1e9;
    const cur = totals(this.stats, this.names.length);
    this.out.write((this.tty ? '\r\x1b[K' : '') + formatLive(this.prev, cur, dt, this.names) + (this.tty ? '' : '\n'));
    this.prev = cur;
    this.prevNs = now;
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.tty) this.out.write('\n');
  }
}

export function formatLive(a: Totals, b: Totals, dt: number, names: string[]): string {
  const parts = names.map((name, i) => {
    const rx = (b.nics[i].rx_frames - a.nics[i].rx_frames) / dt;
    const tx = (b.nics[i].tx_frames - a.nics[i].tx_frames) / dt;
    const mbit = ((b.nics[i].rx_bytes - a.nics[i].rx_bytes + b.nics[i].tx_bytes - a.nics[i].tx_bytes) * 8) / dt / 1e6;
    return `${name} rx ${fmt(rx)}/s tx ${fmt(tx)}/s ${mbit.toFixed(1)} Mbit/s`;
  });
  const frames = b.nics.reduce((s, n, i) => s + n.rx_frames + n.tx_frames - a.nics[i].rx_frames - a.nics[i].tx_frames, 0);
  const notes = b.traps + b.kicks + b.interrupts - (a.traps + a.kicks + a.interrupts);
  const cpu = (t: keyof Totals['cpu_s']) => `${t} ${(((b.cpu_s[t] - a.cpu_s[t]) / dt) * 100).toFixed(0)}%`;
  return `${parts.join(' | ')} | notif/frame ${frames > 0 ? (notes / frames).toFixed(3) : '-'} | cpu ${cpu('tender')} ${cpu('io')} ${cpu('guest')}`;
}

function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
}
