// The guest's half of the shm modes: frames go through the rings, the IO thread is kicked
// only as guest-api/notify.ts says, and waiting is spin-then-Atomics.wait.
import { MIN_FRAME, VNET, VNET_GSO_NONE, decodeVnet, emptyVnet, encodeRef, encodeVnet, readLayout, type VnetHeader } from './abi.js';
import { finishChecksum, headerlessPlan } from './csum.js';
import { GuestNotify, WAIT_RX, WAIT_TX, type KickPolicy } from './notify.js';
import { AGAIN, EINVAL, OK, type NetBackend, type ReadOut, type Result } from './results.js';
import { Consumer, Holds, Producer, RingView } from './ring.js';

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
  private readonly holds: Holds[];
  private readonly scratchHdr = emptyVnet();
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
    this.holds = layout.nics.map((n) => new Holds(n.slotCount));
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

  /**
   * Frames on RX ring h not yet handed out: frames this guest finished with but still holds
   * (forwarded, not yet sent) sit between the ring's tail and the first of them.
   */
  private next(h: number): number {
    if (this.holds[h].count > 0) this.releaseFreed(h);
    return this.rx[h].available() - this.holds[h].count;
  }
  private nextIndex(h: number): number {
    return (this.rx[h].index + this.holds[h].count) >>> 0;
  }

  readVnet(h: number, out: VnetHeader): Result {
    if (this.next(h) === 0) return AGAIN;
    if (this.hdr[h] === 0) Object.assign(out, EMPTY);
    else decodeVnet(this.u8, this.rxViews[h].dataOffset(this.nextIndex(h)), out);
    return OK;
  }

  readView(h: number): Uint8Array | null {
    if (this.next(h) === 0) return null;
    const rx = this.rx[h];
    const held = this.holds[h].count;
    const len = rx.length(held);
    // A flood is mostly frames of one length: the view made for this slot last time is the
    // same bytes, so it is reused and the read path allocates nothing.
    const slot = (rx.index + held) & this.rxViews[h].mask;
    const last = this.lastViews[h][slot];
    if (last !== null && last.length === len) return last;
    return (this.lastViews[h][slot] = this.slotViews[h][slot].subarray(0, len));
  }

  readDone(h: number): Result {
    if (this.next(h) === 0) return EINVAL;
    const holds = this.holds[h];
    if (holds.count === 0) this.release(h, 1);
    else holds.push(null, 0); // behind a frame still being sent: released with it
    return OK;
  }

  /** Releases the held frames of RX ring h that are free now. */
  private releaseFreed(h: number): void {
    const n = this.holds[h].reclaim();
    if (n > 0) this.release(h, n);
  }

  private release(h: number, n: number): void {
    this.rx[h].release(n);
    this.notify.rxReleased(h);
  }

  write(h: number, buf: Uint8Array, size: number, notify: boolean, vnet?: VnetHeader): Result {
    if (!(size >= MIN_FRAME && size <= this.maxFrame[h] && size <= buf.length)) return EINVAL;
    const hdr = this.hdr[h];
    // With a header only a GSO frame may exceed the MTU; without one the kernel can be asked
    // nothing, so a checksum it was to finish is finished here (csum.ts).
    const plan = hdr === 0 ? headerlessPlan(vnet, size) : size > this.mtuFrame[h] && (vnet === undefined || vnet.gsoType === VNET_GSO_NONE) ? 'refuse' : 'as-is';
    if (plan === 'refuse') return EINVAL;
    const tx = this.tx[h];
    if (tx.room() === 0) return AGAIN;
    const at = this.txViews[h].dataOffset(tx.index);
    if (hdr > 0 && !encodeVnet(this.u8, at, vnet)) return EINVAL;
    this.u8.set(size === buf.length ? buf : buf.subarray(0, size), at + hdr);
    if (plan === 'csum') finishChecksum(this.u8, at, size, vnet!.csumStart, vnet!.csumOffset);
    tx.setLength(0, size);
    tx.setRef(0, 0);
    tx.publish(1);
    this.queued(h, notify);
    return OK;
  }

  /**
   * The next frame of RX ring `from` onto TX ring `to` with its header, where it lies: the TX
   * slot names the RX slot, and the RX slot is held until the IO thread has sent it. Between
   * NICs whose headers differ, it is copied (net_queue's way) instead.
   */
  forward(from: number, to: number, notify: boolean): Result {
    if (this.next(from) === 0) return EINVAL;
    if (this.hdr[from] !== this.hdr[to]) {
      const frame = this.readView(from)!;
      this.readVnet(from, this.scratchHdr);
      const r = this.write(to, frame, frame.length, notify, this.scratchHdr);
      if (r === OK) this.readDone(from);
      return r;
    }
    const rx = this.rx[from];
    const len = rx.length(this.holds[from].count);
    if (len > this.maxFrame[to]) return EINVAL;
    if (this.hdr[to] > 0 && len > this.mtuFrame[to] && this.u8[this.rxViews[from].dataOffset(this.nextIndex(from)) + VNET.gsoType] === VNET_GSO_NONE) return EINVAL;
    if (this.hdr[to] === 0 && len > this.mtuFrame[to]) return EINVAL;
    const tx = this.tx[to];
    if (tx.room() === 0) return AGAIN;
    tx.setLength(0, len);
    tx.setRef(0, encodeRef(from, this.nextIndex(from) & this.rxViews[from].mask));
    const index = tx.index;
    tx.publish(1);
    this.holds[from].push(tx, index);
    this.queued(to, notify);
    return OK;
  }

  private queued(h: number, notify: boolean): void {
    if (notify) this.published(h);
    else this.pending[h] = true;
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
    for (let h = 0; h < this.rx.length; h++) if (this.next(h) > 0) set |= 1 << h;
    return set;
  }

  wait(deadlineNs: number): number {
    // Held frames are freed as the IO thread sends them: ask to hear of that too, or a ring
    // full of them would wait for the deadline.
    let held = false;
    for (const x of this.holds) held ||= x.count > 0;
    return this.waitFor(() => this.readySet(), held ? WAIT_RX | WAIT_TX : WAIT_RX, deadlineNs);
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
