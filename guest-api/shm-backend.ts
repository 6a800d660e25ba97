// The guest's half of the shm modes: frames go through the rings, the IO thread is kicked
// only as guest-api/notify.ts says, and waiting is spin-then-Atomics.wait. With the IO token
// (hybrid) the spin services the rings itself, and a send with the token free goes out at once.
import { MIN_FRAME, VNET, VNET_GSO_NONE, decodeVnet, emptyVnet, encodeRef, encodeVnet, readLayout, type VnetHeader } from './abi.js';
import { finishChecksum, headerlessPlan } from './csum.js';
import { GuestNotify, STREAM_NAP_NS, WAIT_RX, WAIT_TX, type KickPolicy } from './notify.js';
import { AGAIN, EINVAL, OK, type NetBackend, type ReadOut, type Result } from './results.js';
import { Consumer, Holds, Producer, RingView } from './ring.js';
import { SpinWindow } from './spin-window.js';

export interface ShmBackendConfig {
  region: SharedArrayBuffer;
  kickFds: number[];
  /** From kickPolicyFor (notify.ts). */
  kick: KickPolicy;
  /** How long a wait spins before it sleeps, at rest (spin-window.ts). */
  spinNs: number;
  /** The most the window grows to while wake-ups keep coming soon after it; default spinNs (fixed). */
  spinMaxNs?: number;
  /** A guest kept spinning by its peer spins through a pause this long instead of sleeping (spin-window.ts); default 0: never. */
  spinStallNs?: number;
  /**
   * With the token, waiting for RX on one NIC with nothing left to send: how long a spin round
   * looks at the empty TAP inside the addon (native SpinRead) before it comes back to JS; 0 or
   * absent: one look per round. A look from JS (the round, the check, the yield) took ~2x a bare
   * read() (docs/tuning.md, "Spinning in the addon"). A wait can outlast its window by this much.
   */
  spinSliceNs?: number;
  /**
   * With the token: the answer to a frame with more frames behind it on its RX ring is held
   * and goes out with the answer to the burst's last frame (queued), one send for the burst;
   * default false.
   */
  txCoalesce?: boolean;
  /**
   * With the token: once the app forwards a frame between NICs without offloads (net_forward),
   * this side takes the token no more and the IO thread moves every frame while the app filters
   * them (a pipeline on two threads; notify.ts, "relaying"). --io-token=auto on two CPUs or more.
   */
  relayPipeline?: boolean;
  /**
   * With the token: the tender may run on one CPU only (host/cli-options.ts, ONE_CPU), where two
   * pollers only take turns on it. A waiting guest asks for the token at its first look when the
   * IO thread holds it, and keeps it when a burst finds nothing (no hand-back to an awake IO thread).
   */
  oneCpu?: boolean;
  kickFn: (fd: number) => void;
  /** Called on each empty spin round (sched_yield), so a spinning guest gives way to runnable threads. */
  relax: () => void;
  nowNs: () => number;
  /** hybrid with the IO token: the burst code the IO thread runs (host/io-thread/service.ts), handed in by the tender. */
  service?: TokenService | null;
  /** Counts token hand-offs to this thread in its stats. */
  countHandoffs?: (n: number) => void;
  /** Counts the kernel waking this thread from a sleep on its TAPs (holding the token): its interrupts. */
  countTapWakeup?: () => void;
}

/** Moves frames between the TAPs and the rings; used only while this thread holds the IO token. */
export interface TokenService {
  /** On taking the token: reads back and checks the indices the IO thread moved. */
  resync(): void;
  /**
   * One burst per NIC and direction (TAP -> RX ring, TX ring -> TAP), at most rxLimit frames
   * read per NIC; returns frames moved. spinNs: with one NIC, an empty TAP is looked at again
   * for up to that long.
   */
  round(rxLimit?: number, spinNs?: number): number;
  /** The last round() read a full burst on some NIC. */
  readonly rxFull: boolean;
  /** RX frames the last round() read. */
  readonly rxMoved: number;
  /** One TX burst per NIC. */
  flushTx(): number;
  /** TX frames still on a ring (the kernel took no more). */
  txLeft(): boolean;
  /** Whether a frame waits on some TAP now. */
  tapReadable(): boolean;
  /** Blocks until a TAP has a frame or timeoutNs passes (the tender's stop also ends it); true when a TAP woke it. */
  sleepOnDevice(timeoutNs: number): boolean;
  /** At exit: lets go of its io_uring rings (each keeps its TAP registered until then). */
  releaseRings(): void;
}

const EMPTY = Object.freeze(emptyVnet());

/** How long a waiting guest leaves frames on the TAPs to a polling IO thread before it asks for the token. */
const ASK_AFTER_NS = 20_000;

/**
 * Which look of a wait poll() makes: the first, another, or one past ASK_AFTER_NS. A small
 * integer rather than the time: a float64 handed to a call that is not inlined is boxed, one
 * heap number per spin round, and a guest spinning at 10k requests/s then made 50 MB/s of
 * garbage, a scavenge every 40 ms.
 */
const LOOK_FIRST = 0;
const LOOK_AGAIN = 1;
const LOOK_LATE = 2;
/**
 * A spinning wait reads the clock once per this many rounds: each reading is a heap number too
 * (the call is not inlined). A round is about a µs, so the window still holds to a few µs.
 */
const CLOCK_EVERY = 8;
/**
 * With the IO token free, a net_write/net_flush sends at once on the guest's thread (an answer
 * leaves without waking anyone). Past this many sends with no frame read or wait for frames
 * between them, the guest is a sender streaming frames: it publishes and leaves them to the IO
 * thread (kicked if asleep), which writes them in batches while the guest makes the next ones
 * (TX batch 1: 125k frames/s sending each at once, as the baseline's 106k; 500k through the IO
 * thread, docs/tuning.md, the IO token).
 */
const TX_SELF_SENDS = 32;
/** The most net_write frames held back while the app reads on through a burst (queued): one io_uring batch. */
const TX_DEFER_MAX = 32;

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
  /** NICs with net_write frames held back while the app reads on through a burst (queued). */
  private readonly deferred: boolean[];
  private deferredCount = 0;
  private readonly txCoalesce: boolean;
  /** The NIC whose frame net_read_view last handed out, while answers may be held (queued); -1: none. */
  private answering = -1;
  /** That frame has had a net_write: a second one is not an answer to a burst. */
  private answered = false;
  private readonly releaseBatch: number[];
  private readonly svc: TokenService | null;
  private readonly spin: SpinWindow;
  private readonly spinSliceNs: number;
  private held = false;
  /** relayPipeline took effect: the token is the IO thread's for good, and waits are as without it. */
  private relaying = false;
  /** In the current wait: this side services the rings (false once it handed the token back). */
  private polling = false;
  private burstTried = false;
  private askAfter = 0;
  private backlogStreak = 0;
  /** Sends on this thread since the last frame read or wait for frames (TX_SELF_SENDS). */
  private selfSends = 0;
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
    this.deferred = layout.nics.map(() => false);
    this.releaseBatch = layout.nics.map((n) => Math.max(1, Math.min(32, n.slotCount >> 2)));
    this.svc = cfg.service ?? null;
    this.spin = new SpinWindow(cfg.spinNs, Math.max(cfg.spinNs, cfg.spinMaxNs ?? cfg.spinNs), cfg.spinStallNs ?? 0);
    this.spinSliceNs = cfg.spinSliceNs ?? 0;
    this.txCoalesce = this.svc !== null && cfg.txCoalesce === true;
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
    // The producer's index is read again only when the frames last seen are used up.
    const n = this.rx[h].ready() - this.holds[h].count;
    return n > 0 ? n : this.rx[h].available() - this.holds[h].count;
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
    if (this.next(h) === 0) {
      this.giveBack(h); // nothing more to read: the producer gets every slot back before the app waits
      this.answering = -1;
      if (this.deferredCount > 0) this.sendDeferred();
      this.notify.payParkedKick();
      return null;
    }
    // A frame read after one that got no answer: the burst of requests is over, or other
    // traffic came between them; what is held goes now, not after the rest of the ring.
    if (this.deferredCount > 0 && (!this.answered || this.answering !== h)) this.sendDeferred();
    this.answering = h;
    this.answered = false;
    this.selfSends = 0;
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
    this.notify.payParkedKick();
    return OK;
  }

  /** Releases the held frames of RX ring h that are free now. */
  private releaseFreed(h: number): void {
    const n = this.holds[h].reclaim();
    if (n > 0) this.release(h, n);
  }

  /**
   * Slots go back in batches (one shared store and one stall check per batch, not per frame),
   * and always when the frames this side knew of are used up.
   */
  private release(h: number, n: number): void {
    const rx = this.rx[h];
    rx.consume(n);
    if (rx.knownCount === 0 || rx.unpublishedCount >= this.releaseBatch[h]) this.giveBack(h);
  }

  private giveBack(h: number): void {
    if (this.rx[h].publish() > 0) this.notify.rxReleased(h);
  }

  write(h: number, buf: Uint8Array, size: number, notify: boolean, vnet?: VnetHeader): Result {
    if (!(size >= MIN_FRAME && size <= this.maxFrame[h] && size <= buf.length)) return EINVAL;
    const hdr = this.hdr[h];
    // With a header only a GSO frame may exceed the MTU; without one the kernel can be asked
    // nothing, so a checksum it was to finish is finished here (csum.ts).
    const plan = hdr === 0 ? headerlessPlan(vnet, size) : size > this.mtuFrame[h] && (vnet === undefined || vnet.gsoType === VNET_GSO_NONE) ? 'refuse' : 'as-is';
    if (plan === 'refuse') return EINVAL;
    const tx = this.tx[h];
    if (tx.space() === 0 && !this.sentDeferred(tx)) return AGAIN;
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
    if (tx.room() === 0 && !this.sentDeferred(tx)) return AGAIN;
    // A forward that goes out (not one refused above) makes this guest a relay (notify.ts).
    if (from !== to && this.hdr[to] === 0 && !this.relaying && this.svc !== null && this.cfg.relayPipeline === true) {
      this.relaying = true;
      this.notify.relaying();
    }
    tx.setLength(0, len);
    tx.setRef(0, encodeRef(from, this.nextIndex(from) & this.rxViews[from].mask));
    const index = tx.index;
    tx.publish(1);
    this.holds[from].push(tx, index);
    this.queued(to, notify);
    return OK;
  }

  /**
   * A net_write (notify) goes out now, unless the app is answering a burst: the first write
   * after net_read_view handed out a frame, with more frames known to wait behind that one,
   * is held (TX_DEFER_MAX at most) and goes out with the write made after the burst's last
   * frame, or when the app reads a frame it does not answer, writes twice, finds no frame,
   * waits, flushes or ends; so a burst of requests costs one send, not one per answer. The
   * frames are on the TX ring already: an IO thread that looks meanwhile sends them.
   */
  private queued(h: number, notify: boolean): void {
    if (!notify) {
      this.pending[h] = true;
      return;
    }
    const a = this.answering;
    const hold = this.txCoalesce && a >= 0 && !this.answered && this.deferredCount < TX_DEFER_MAX &&
      // Behind the frame being answered (net_read_done comes after the answer); no shared
      // load: what the last read of the producer's index left.
      this.rx[a].knownCount - this.holds[a].count > 1;
    this.answered = true;
    if (hold || this.deferredCount > 0) {
      this.deferred[h] = true;
      this.deferredCount++;
      if (!hold) this.sendDeferred();
    } else this.published(h);
  }

  /** Full TX ring tx with answers held: sends them; whether tx has room now. */
  private sentDeferred(tx: Producer): boolean {
    if (this.deferredCount === 0) return false;
    this.sendDeferred();
    return tx.room() > 0;
  }

  private sendDeferred(): void {
    this.deferredCount = 0;
    for (let h = 0; h < this.deferred.length; h++) {
      if (!this.deferred[h]) continue;
      this.deferred[h] = false;
      this.pending[h] = false;
      this.published(h);
    }
  }

  flush(h: number): Result {
    if (this.deferred[h]) this.sendDeferred();
    if (this.pending[h]) this.published(h);
    return OK;
  }

  private published(h: number): void {
    this.pending[h] = false;
    if (this.svc !== null && this.selfSends < TX_SELF_SENDS && this.take()) {
      this.selfSends++;
      try {
        this.svc.flushTx(); // the token is free: nobody to wake, send now
      } finally {
        this.give(false);
      }
    } else this.notify.txPublished(h);
    this.notify.payParkedKick(); // after the answer (notify.ts, deviceSleepEnded)
  }

  /** Holds the IO token after this call if it was free (resynced), else false; a relaying guest never takes it. */
  private take(): boolean {
    if (this.relaying) return false;
    if (this.held) {
      if (!this.notify.stopping()) return true;
      // Being stopped (host/tender.ts, stopGuest): let go between bursts, so that the tender
      // hands the token to the IO thread; the wait goes on to the doorbell.
      this.give(false);
      return false;
    }
    const handoff = this.notify.takeToken();
    if (handoff < 0) return false;
    this.held = true;
    if (handoff > 0) {
      // The IO thread held the token since: it moved the indices this side's copies hold.
      this.cfg.countHandoffs?.(handoff);
      this.svc!.resync();
    }
    return true;
  }

  private give(sleeping: boolean): void {
    if (!this.held) return;
    this.held = false;
    this.notify.giveToken(sleeping, this.svc!.txLeft());
  }

  /** What a wait waits for: the ready set of the RX rings (forRoom < 0), or room on TX ring forRoom. */
  private check(forRoom: number): number {
    if (forRoom >= 0) return this.tx[forRoom].room() > 0 ? 1 : 0;
    let set = 0;
    for (let h = 0; h < this.rx.length; h++) if (this.next(h) > 0) set |= 1 << h;
    return set;
  }

  wait(deadlineNs: number): number {
    // Held frames are freed as the IO thread sends them: ask to hear of that too, or a ring
    // full of them would wait for the deadline.
    let held = false;
    for (const x of this.holds) held ||= x.count > 0;
    this.selfSends = 0;
    return this.waitFor(-1, held ? WAIT_RX | WAIT_TX : WAIT_RX, deadlineNs);
  }

  waitRoom(h: number, deadlineNs: number): boolean {
    return this.waitFor(h, WAIT_TX, deadlineNs) !== 0;
  }

  /**
   * Spin for spinNs, then sleep, until check() is non-zero or the deadline. With the IO token
   * the spin services the rings itself (taking the token, or asking the IO thread for it); a
   * first burst that finds nothing hands the token back to an IO thread that is awake; the
   * sleep is on the TAPs while holding the token, else on the doorbell (notify.ts).
   */
  private waitFor(forRoom: number, what: number, deadlineNs: number): number {
    this.answering = -1;
    if (this.deferredCount > 0) this.sendDeferred();
    this.notify.payParkedKick();
    let got = this.check(forRoom);
    if (got !== 0) return got;
    const svc = this.svc;
    this.polling = svc !== null && !this.relaying;
    this.burstTried = false;
    // The common case under load: the token is free, one burst finds frames, no clock read.
    got = this.poll(forRoom);
    if (got !== 0) {
      this.give(false);
      this.spin.spun(0);
      return got;
    }
    const { nowNs } = this.cfg;
    let now = nowNs();
    const start = now;
    // RX frames stream in: the IO thread is busy filling the ring, and spinning would only
    // take its core; nap instead (notify.ts, step 4). Such a wait says nothing of the window.
    let streaming = false;
    const spinUntil = Math.min(now + this.spin.spinFor(now), deadlineNs);
    this.askAfter = now + ASK_AFTER_NS;
    let slept = false;
    let rounds = 0;
    try {
      while (now < spinUntil || (streaming && now < deadlineNs)) {
        if ((svc === null || this.relaying) && this.notify.ioStreaming()) {
          streaming = true;
          this.notify.nap(Math.min(STREAM_NAP_NS, deadlineNs - now));
        } else {
          if (streaming && now >= spinUntil) break; // the stream ended after the window: wait as usual
          this.cfg.relax();
        }
        const inAddon = this.spinSliceNs > 0 && this.held && forRoom < 0 && !svc!.txLeft();
        got = this.poll(forRoom, now >= this.askAfter ? LOOK_LATE : LOOK_AGAIN, inAddon ? this.spinSliceNs : 0);
        if (got !== 0) return got;
        if (++rounds % CLOCK_EVERY === 0 || streaming || inAddon) now = nowNs();
      }
      slept = true;
      while (now < deadlineNs) {
        if (svc !== null && (what & WAIT_RX) !== 0 && this.take() && !svc.txLeft()) {
          // The IO thread may have filled the RX rings since the last look, while it held the
          // token: the kernel will not wake us for frames already taken off the TAPs.
          got = this.check(forRoom);
          if (got !== 0) return got;
          // Holding the token with nothing to send: sleep on the TAPs, woken by the kernel as a
          // blocking C reader is; the IO thread stays backed off.
          this.notify.announceDeviceSleep();
          if (svc.sleepOnDevice(deadlineNs - now)) this.cfg.countTapWakeup?.();
          this.notify.deviceSleepEnded();
          // One frame per NIC: what woke us. Reading on would end in an EAGAIN read that the
          // next wait's burst makes anyway (a ping-pong pays one syscall less per frame).
          svc.round(1);
          got = this.check(forRoom);
          if (got !== 0) return got;
          now = nowNs();
          continue;
        }
        const bell = this.notify.announceWait(what);
        if (svc !== null) {
          // After announceWait: the order the proof in notify.ts needs.
          this.notify.stopAsking(true);
          if (this.held) this.give(true);
          else this.notify.waitingBesideIo();
        }
        got = this.check(forRoom);
        if (got === 0) this.notify.sleep(bell, (deadlineNs - now) / 1e6);
        this.notify.doneWaiting();
        if (got === 0) got = this.check(forRoom);
        if (got !== 0) return got;
        now = nowNs();
      }
      return 0;
    } finally {
      if (slept && !streaming) this.spin.slept(nowNs() - start, got !== 0);
      else if (!streaming) this.spin.spun(now - start);
      if (svc !== null) {
        this.notify.stopAsking();
        this.give(false);
      }
    }
  }

  /** One look while waiting: with the token, a burst and the check; without, the check (and an ask). */
  private poll(forRoom: number, look = LOOK_FIRST, spinNs = 0): number {
    const svc = this.svc;
    if (svc === null || !this.polling) return this.check(forRoom);
    if (!this.take()) {
      const got = this.check(forRoom);
      if (this.cfg.oneCpu === true) {
        if (got === 0) this.notify.askToken();
        return got;
      }
      // The IO thread polls; frames waiting on a TAP all the same mean it is not keeping up (or
      // not running). Not on one sighting: a request/response peer's next frame is often on the
      // TAP a moment before a polling IO thread picks it up, and asking for it then only makes
      // the token change hands twice per frame. So: at the first look of two waits running, or
      // after a while into one.
      if (got === 0 && look !== LOOK_AGAIN) {
        const backlog = svc.tapReadable();
        if (look === LOOK_FIRST) this.backlogStreak = backlog ? this.backlogStreak + 1 : 0;
        if (backlog && (look === LOOK_LATE || this.backlogStreak >= 2)) this.notify.askToken();
      }
      return got;
    }
    svc.round(undefined, spinNs);
    this.notify.ownBurst(svc.rxMoved, svc.rxFull);
    const got = this.check(forRoom);
    if (got !== 0 || this.burstTried || this.cfg.oneCpu === true) return got;
    this.burstTried = true;
    // Nothing came: an IO thread that is awake polls instead (a request/response peer is then
    // served by two polling threads, the guest's and the IO thread's, as hybrid always was).
    const r = this.notify.handBack();
    if (r < 0) {
      this.held = false;
      this.polling = false;
    } else if (r > 0) {
      this.cfg.countHandoffs?.(r);
      svc.resync();
    }
    return 0;
  }

  close(): void {
    for (let h = 0; h < this.tx.length; h++) this.flush(h);
    // Now, not when the thread is torn down: a TAP its ring still holds cannot be attached again
    // until the kernel has let go of the ring, and the next tender on it would find it busy.
    this.svc?.releaseRings();
  }
}
