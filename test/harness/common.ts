// Shared by the harness processes (which run inside a test's namespace).
import { fileURLToPath } from 'node:url';
import { computeLayout, createRegion } from '../../guest-api/abi.js';
import { setInitialIndices } from '../../guest-api/ring.js';
import type { ShmMode } from '../../guest-api/notify.js';
import type { TapReads, TapWrites } from '../../host/cli-options.js';
import type { IoExit } from '../../host/io-thread/pump.js';
import { IoThread } from '../../host/io-thread/index.js';
import { createStats, totals, type StatsBuffers, type Totals } from '../../host/stats.js';
import { addon } from '../../native/index.js';

export const GUEST_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
export const distPath = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

/** A running IO thread on real TAPs, with the region and kick fds a guest-role worker needs. */
export class IoRig {
  private constructor(
    readonly region: SharedArrayBuffer,
    readonly stats: StatsBuffers,
    private readonly fds: number[],
    private readonly io: IoThread,
  ) {}

  get kickFds(): number[] {
    return this.io.kickFds;
  }

  static async start(mode: ShmMode, ifaces: string[], opts: { slots?: number; initialIndex?: number; pollIdleUs?: number; tapReads?: TapReads; tapWrites?: TapWrites } = {}): Promise<IoRig> {
    const fds = ifaces.map((i) => addon.tapAttach(i));
    const layout = computeLayout(ifaces.map(() => ({ mtu: 1500, slotCount: opts.slots ?? 256 })));
    const region = createRegion(layout, ifaces.map(() => Uint8Array.from(GUEST_MAC)));
    if (opts.initialIndex !== undefined) for (const n of layout.nics) setInitialIndices(new Int32Array(region), n, opts.initialIndex);
    const stats = createStats();
    const io = await IoThread.start({
      mode, region, stats: stats.io, nics: ifaces.map((iface, i) => ({ iface, fd: fds[i] })), pollBudget: 64, pollIdleUs: opts.pollIdleUs ?? 50, tapReads: opts.tapReads, tapWrites: opts.tapWrites,
    });
    return new IoRig(region, stats, fds, io);
  }

  async stop(): Promise<{ exit: IoExit; totals: Totals }> {
    const exit = await this.io.stop();
    this.io.close();
    for (const fd of this.fds) addon.close(fd);
    return { exit, totals: totals(this.stats, this.fds.length) };
  }
}

/** Deterministic payload byte i of datagram seq (seq itself sits in bytes 0-3). */
export const patternByte = (seq: number, i: number) => (seq * 31 + i * 7) & 0xff;
/** Deterministic payload size of datagram seq: 8..1400 bytes, so every length class is seen. */
export const payloadSize = (seq: number) => 8 + ((seq * 389) % 1393);

export function fillPayload(buf: Uint8Array, off: number, seq: number, size: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(off, seq);
  for (let i = 4; i < size; i++) buf[off + i] = patternByte(seq, i);
}

/** null when the payload is what datagram `seq` must carry, else what is wrong. */
export function checkPayload(buf: Uint8Array, off: number, size: number, seq: number): string | null {
  const got = new DataView(buf.buffer, buf.byteOffset).getUint32(off);
  if (got !== seq) return `sequence ${got}, expected ${seq}`;
  if (size !== payloadSize(seq)) return `datagram ${seq}: ${size} bytes, expected ${payloadSize(seq)}`;
  for (let i = 4; i < size; i++) if (buf[off + i] !== patternByte(seq, i)) return `datagram ${seq}: byte ${i} differs`;
  return null;
}
