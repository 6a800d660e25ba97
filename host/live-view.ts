// --stats=live: one line per second with per-NIC rates, notifications per frame and each
// thread's CPU share. Rewritten in place on a terminal, plain lines otherwise.
import { threadCpuSeconds } from '../native/index.js';
import { COUNTER, rates, section, totals, type StatsBuffers, type Totals } from './stats.js';

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
  const r = rates(a, b, dt);
  const parts = names.map((name, i) => {
    const n = r.nics[i];
    return `${name} rx ${fmt(n.rx_fps)}/s tx ${fmt(n.tx_fps)}/s ${(n.rx_mbit + n.tx_mbit).toFixed(1)} Mbit/s`;
  });
  const cpu = (t: keyof Totals['cpu_s']) => `${t} ${(((b.cpu_s[t] - a.cpu_s[t]) / dt) * 100).toFixed(0)}%`;
  const moved = r.nics.some((n) => n.rx_fps + n.tx_fps > 0);
  return `${parts.join(' | ')} | notif/frame ${moved ? r.per_frame.toFixed(3) : '-'} | cpu ${cpu('tender')} ${cpu('io')} ${cpu('guest')}`;
}

function fmt(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0);
}
