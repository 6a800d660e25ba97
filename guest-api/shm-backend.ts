// The guest's half of the shm modes: frames go through the rings, the IO thread is kicked
// only as guest-api/notify.ts says, and waiting is spin-then-Atomics.wait.
import { MIN_FRAME, VNET_GSO_NONE, decodeVnet, emptyVnet, encodeVnet, readLayout, vnetIsEmpty, type VnetHeader } from './abi.js';
import { GuestNotify, WAIT_RX, WAIT_TX, type KickPolicy } from './notify.js';
import { AGAIN, EINVAL, OK, type NetBackend, type ReadOut, type Result } from './results.js';
import { Consumer, Producer, RingView } from './ring.js';

export interface ShmBackendConfig {
  region: SharedArrayBuffer;
  kickFds: number[];
  /** From kickPolicyFor (notify.ts). */
  kick: KickPolicy;
  spinNs: number;
  kickFn: (fd: number) => void;
  /** Called on each empty spin round (sched_yield), so a spinning guest gives way to runnable threads. */
  relax: () => void;
  nowNs: () => number;
}

const EMPTY = Object.freeze(emptyVnet());

export class ShmBackend implements NetBackend {
  private readonly u8: Uint8Array;
  private readonly i32: Int32Array;
  private readonly notify: GuestNotify;
  private readonly rx: Consumer[];
  private readonly tx: Producer[];
  private readonly rxViews: RingView[];
  private readonly txViews: RingView[];
  private readonly maxFrame: number[];
  private readonly mtuFrame: number[];
  private readonly hdr: number[];
  private readonly pending: boolean[];
  private readonly slotViews: Uint8Array[][];
  private readonly lastViews: (Uint8Array | null)[][];

  constructor(private readonly cfg: ShmBackendConfig) {
    const { layout } = readLayout(cfg.region);
    this.u8 = new Uint8Array(cfg.region);
    this.i32 = new Int32Array(cfg.region);
    const u32 = new Uint32Array(cfg.region);
    this.notify = new GuestNotify(this.i32, layout.nics, cfg.kick, (h) => cfg.kickFn(cfg.kickFds[h]));
    this.rxViews = layout.nics.map((n) => new RingView(this.i32, u32, n, 'rx'));
    this.txViews = layout.nics.map((n) => new RingView(this.i32, u32, n, 'tx'));
    this.rx = layout.nics.map((n, i) => new Consumer(this.rxViews[i], MIN_FRAME, n.maxFrame));
    this.tx = layout.nics.map((_, i) => new Producer(this.txViews[i]));
    this.maxFrame = layout.nics.map((n) => n.maxFrame);
    this.mtuFrame = layout.nics.map((n) => n.mtuFrame);
    this.hdr = layout.nics.map((n) => n.vnetHdrBytes);
    this.pending = layout.nics.map(() => false);
    this.slotViews = this.rxViews.map((v) => Array.from({ length: v.count }, (_, k) => new Uint8Array(cfg.region, v.frameOffset(k), v.capacity - v.hdrBytes)));
    this.lastViews = this.rxViews.map((v) => new Array<Uint8Array | null>(v.count).fill(null));
  }

  read(h: number, buf: Uint8Array, out: ReadOut): Result {
    const frame = this.readView(h);
    if (frame === null) return AGAIN;
    if (buf.length < frame.length) return EINVAL;
    buf.set(frame);
    out.size = frame.length;
    if (out.vnet !== undefined) this.readVnet(h, out.vnet);
    return this.readDone(h);
  }

  readVnet(h: number, out: VnetHeader): Result {
    const rx = this.rx[h];
    if (rx.available() === 0) return AGAIN;
    if (this.hdr[h] === 0) Object.assign(out, EMPTY);
    else decodeVnet(this.u8, this.rxViews[h].dataOffset(rx.index), out);
    return OK;
  }

  readView(h: number): Uint8Array | null {
    const rx = this.rx[h];
    if (rx.available() === 0) return null;
    const len = rx.length(0);
    // A flood is mostly frames of one length: the view made for this slot last time is the
    // same bytes, so it is reused and the read path allocates nothing.
    const slot = rx.index & this.rxViews[h].mask;
    const last = this.lastViews[h][slot];
    if (last !== null && last.length === len) return last;
    return (this.lastViews[h][slot] = this.slotViews[h][slot].subarray(0, len));
  }

  readDone(h: number): Result {
    const rx = this.rx[h];
    if (rx.available() === 0) return EINVAL;
    rx.release(1);
    this.notify.rxReleased(h);
    return OK;
  }

  write(h: number, buf: Uint8Array, size: number, notify: boolean, vnet?: VnetHeader): Result {
    if (!(size >= MIN_FRAME && size <= this.maxFrame[h] && size <= buf.length)) return EINVAL;
    const hdr = this.hdr[h];
    // Without a header the kernel can be asked nothing; with one, only a GSO frame may exceed the MTU.
    if (hdr === 0 ? !vnetIsEmpty(vnet) : size > this.mtuFrame[h] && (vnet === undefined || vnet.gsoType === VNET_GSO_NONE)) return EINVAL;
    const tx = this.tx[h];
    if (tx.room() === 0) return AGAIN;
    const at = this.txViews[h].dataOffset(tx.index);
    if (hdr > 0 && !encodeVnet(this.u8, at, vnet)) return EINVAL;
    this.u8.set(size === buf.length ? buf : buf.subarray(0, size), at + hdr);
    tx.setLength(0, size);
    tx.publish(1);
    if (notify) this.published(h);
    else this.pending[h] = true;
    return OK;
  }

  flush(h: number): Result {
    if (this.pending[h]) this.published(h);
    return OK;
  }

  private published(h: number): void {
    this.pending[h] = false;
    this.notify.txPublished(h);
  }

  private readySet(): number {
    let set = 0;
    for (let h = 0; h < this.rx.length; h++) if (this.rx[h].available() > 0) set |= 1 << h;
    return set;
  }

  wait(deadlineNs: number): number {
    return this.waitFor(() => this.readySet(), WAIT_RX, deadlineNs);
  }

  waitRoom(h: number, deadlineNs: number): boolean {
    return this.waitFor(() => (this.tx[h].room() > 0 ? 1 : 0), WAIT_TX, deadlineNs) !== 0;
  }

  /** Spin for spinNs, then announce, re-check and Atomics.wait, until check() is non-zero or the deadline. */
  private waitFor(check: () => number, what: number, deadlineNs: number): number {
    let got = check();
    if (got !== 0) return got;
    const { nowNs, spinNs } = this.cfg;
    let now = nowNs();
    const spinUntil = Math.min(now + spinNs, deadlineNs);
    while (now < spinUntil) {
      got = check();
      if (got !== 0) return got;
      this.cfg.relax();
      now = nowNs();
    }
    while (now < deadlineNs) {
      const bell = this.notify.announceWait(what);
      got = check();
      if (got === 0) this.notify.sleep(bell, (deadlineNs - now) / 1e6);
      this.notify.doneWaiting();
      if (got === 0) got = check();
      if (got !== 0) return got;
      now = nowNs();
    }
    return 0;
  }

  close(): void {
    for (let h = 0; h < this.tx.length; h++) this.flush(h);
  }
}
