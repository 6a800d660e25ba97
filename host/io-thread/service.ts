// Moving frames between the TAPs and the rings, in bursts: the work of whoever holds the IO
// token (guest-api/notify.ts). The IO thread always runs it; in hybrid with the token the
// guest's thread runs it too, handed in by host/guest-thread.ts as kickFn is (the app never
// reaches it: it holds the TAP fds). One copy of the burst code for both.
import { MIN_FRAME, VNET, VNET_GSO_NONE, readLayout, refNic, refSlot, type NicLayout } from '../../guest-api/abi.js';
import { monotonicNs as nowNs } from '../../guest-api/clock.js';
import { Consumer, peekAvailable, Producer, RingFault, RingView } from '../../guest-api/ring.js';
import { addon, errnoCode } from '../../native/index.js';
import { deviceFault } from '../device-fault.js';
import { DIR, REASON } from '../record-ring.js';
import type { TapReads, TapWrites } from '../cli-options.js';
import { nicCounters } from '../stats.js';

/** After this many one-frame bursts in a row, a whole burst looks for a stream (ServicePort.lastReads). */
const SINGLE_PROBE = 8;

/** How the IO thread's error starts when --tap-reads=uring or --tap-writes=uring is refused by the kernel: the tender exits 69 on it. */
export const URING_REFUSED = /^--tap-(reads|writes)=uring: /;

export interface ServiceNic {
  iface: string;
  fd: number;
}

export interface ServicePort {
  iface: string;
  fd: number;
  rx: Producer;
  tx: Consumer;
  rxView: RingView;
  txView: RingView;
  maxFrame: number;
  mtuFrame: number;
  hdr: number; // virtio-net header bytes before each frame (0 without offloads)
  layout: NicLayout;
  c: ReturnType<typeof nicCounters>;
  index: number;
  captured: boolean;
  /** The io_uring its TAP is read or written through (native/uring_rx.cc), or -1: neither. */
  ring: number;
  /** Reads go through `ring` (else read() per frame); writes likewise (else write() per frame). */
  uringReads: boolean;
  uringWrites: boolean;
  /**
   * Frames the last RX burst read. After none (or one: holdSingles), the next reads one frame
   * at most: a lone request goes to the guest (and its answer out) without the look after it
   * that finds nothing, a system call on every round trip's path. Every SINGLE_PROBE-th burst
   * after one frame reads a whole burst, which finds a stream.
   */
  lastReads: number;
  /** One-frame bursts in a row that were held to one frame, or found nothing after it (see lastReads). */
  singleReads: number;
  /** Its bursts as the addon binds them (burstPortOpen): bound again whenever `ring` or its use changes. */
  burst: number;
}

/** --pcap's hook (the IO thread's only: capture and the token are not combined): one record per frame. */
export type Recorder = (p: ServicePort, dir: number, reason: number, ts: number, offset: number, len: number, present?: number) => void;

export class RingService {
  readonly ports: ServicePort[];
  /** Frames the last round() moved, per direction. */
  rxMoved = 0;
  txMoved = 0;
  /**
   * The last round() read a quarter of a full burst or more on some NIC: frames pile up on the
   * TAP between rounds (a flood), as they never do for a request/response peer (one or two).
   */
  rxFull = false;
  private readonly u8: Uint8Array;
  private readonly region: number;
  private readonly lens: Uint32Array;
  private readonly sentLens: Uint32Array; // a TX burst's lengths, kept: burstWrite zeroes those the kernel refused
  private readonly offsets: Uint32Array; // where each frame of a TX burst lies
  private readonly backlogFrames: number;

  /**
   * On one CPU: after a burst of one frame, the next reads one (ServicePort.lastReads). There the
   * peer runs between two of the guest's waits, and the look after its request found nothing on
   * every round trip. On two the peer runs beside, and the look after a reply rarely finds the
   * next request: nothing to save (docs/tuning.md, "On one CPU").
   */
  holdSingles = false;

  /** `stats` is the calling thread's own counter section: the counters say where the work ran. */
  constructor(
    regionSab: SharedArrayBuffer,
    nics: ServiceNic[],
    private readonly stats: Float64Array,
    private readonly budget: number,
    captured: boolean[] = [],
    private readonly recorder: Recorder | null = null,
  ) {
    const { layout } = readLayout(regionSab);
    const i32 = new Int32Array(regionSab);
    const u32 = new Uint32Array(regionSab);
    this.u8 = new Uint8Array(regionSab);
    this.region = addon.regionOpen(this.u8);
    // Over SharedArrayBuffers: the addon's burst ports keep pointers into them (native/burst.cc).
    const most = Math.max(...layout.nics.map((n) => n.slotCount));
    this.lens = new Uint32Array(new SharedArrayBuffer(most * 4));
    this.sentLens = new Uint32Array(most);
    this.offsets = new Uint32Array(new SharedArrayBuffer(most * 4));
    this.backlogFrames = Math.max(2, budget >> 2);
    this.ports = nics.map((nic, index) => {
      const l = layout.nics[index];
      const rxView = new RingView(i32, u32, l, 'rx');
      const txView = new RingView(i32, u32, l, 'tx');
      return {
        iface: nic.iface, fd: nic.fd, rxView, txView, rx: new Producer(rxView), tx: new Consumer(txView, MIN_FRAME, l.maxFrame),
        maxFrame: l.maxFrame, mtuFrame: l.mtuFrame, hdr: l.vnetHdrBytes, layout: l, c: nicCounters(index),
        index, captured: (captured[index] ?? false) && recorder !== null, ring: -1, uringReads: false, uringWrites: false, lastReads: 0, singleReads: 0, burst: -1,
      };
    });
    for (const p of this.ports) this.bindBursts(p);
  }

  /** (Re)binds p's bursts to its TAP and to its ring for what goes through it. */
  private bindBursts(p: ServicePort): void {
    if (p.burst >= 0) addon.burstPortClose(p.burst);
    const v = p.rxView;
    p.burst = addon.burstPortOpen(this.region, p.fd, p.uringReads ? p.ring : -1, p.uringWrites ? p.ring : -1, v.dataOffset(0), v.slotSize, v.capacity, v.count, this.lens, this.offsets);
  }

  /**
   * The IO thread's reads and writes go through io_uring, one ring per NIC made now, before
   * the lock (native/uring_rx.cc; what it buys: docs/tuning.md, "Reading the TAP" and "Writing
   * the TAP"). 'auto' keeps read()/write() where the kernel refuses (io_uring missing or
   * disabled, memlock: an error with an errno code); 'uring' makes that an error
   * (URING_REFUSED). Anything else is a bug and is thrown.
   */
  throughUring(reads: TapReads, writes: TapWrites): void {
    if (reads === 'read' && writes === 'write') return;
    for (const p of this.ports) {
      try {
        this.openRing(p, reads !== 'read', writes !== 'write');
      } catch (err) {
        if (errnoCode(err) === undefined) throw err;
        if (reads !== 'uring' && writes !== 'uring') continue;
        this.releaseRings();
        const [option, fallback] = reads === 'uring' ? ['--tap-reads', 'read()'] : ['--tap-writes', 'write()'];
        throw new Error(`${option}=uring: ${p.iface}: ${(err as Error).message}; ${option}=auto falls back to ${fallback}`);
      }
    }
  }

  /** p's ring (native/uring_rx.cc), for its reads, its writes, or both. */
  protected openRing(p: ServicePort, reads: boolean, writes: boolean): void {
    const l = p.layout;
    p.ring = addon.uringRxOpen(this.region, p.fd, l.rxSlotsOffset, l.slotCount * l.slotSize);
    p.uringReads = reads;
    p.uringWrites = writes;
    this.bindBursts(p);
  }

  /** On taking the token when the other thread has not held it since: the published indices are still ours (a guest fault if not). */
  checkPublished(): void {
    for (const p of this.ports) {
      p.rx.checkPublished();
      p.tx.checkPublished();
    }
  }

  /** On taking the token after the other thread held it: it moved the indices; read them back, checked. */
  resync(): void {
    for (const p of this.ports) {
      p.rx.resync();
      p.tx.resync();
    }
  }

  /**
   * One burst per NIC and direction, at most rxLimit frames read per NIC; returns the frames
   * moved (also in rxMoved / txMoved). spinNs: with one NIC, an empty TAP is looked at again
   * for up to that long before the round goes on (the addon spins: SpinRead in native/).
   */
  round(rxLimit = this.budget, spinNs = 0): number {
    let rx = 0;
    let tx = 0;
    let full = false;
    const spin = this.ports.length === 1 ? spinNs : 0;
    for (const p of this.ports) {
      const got = this.rx(p, rxLimit, spin);
      if (got >= this.backlogFrames) full = true;
      rx += got;
      tx += this.tx(p);
    }
    this.rxMoved = rx;
    this.txMoved = tx;
    this.rxFull = full;
    return rx + tx;
  }

  /** Every NIC's TX ring to its TAP, one burst each (net_flush with the token). */
  flushTx(): number {
    let tx = 0;
    for (const p of this.ports) tx += this.tx(p);
    return tx;
  }

  /** TX frames still on a ring (the kernel said EAGAIN): only meaningful to the token's holder. */
  txLeft(): boolean {
    for (const p of this.ports) if (peekAvailable(p.txView) > 0) return true;
    return false;
  }

  /** TAP -> RX ring: up to the budget (or limit), straight into free slots; spinNs as round()'s. */
  rx(p: ServicePort, limit = this.budget, spinNs = 0): number {
    const room = p.rx.room();
    if (room === 0) return 0;
    const single = p.lastReads === 0 || (this.holdSingles && p.singleReads > 0 && p.singleReads < SINGLE_PROBE);
    const want = Math.min(room, limit, single ? 1 : limit);
    const view = p.rxView;
    const s = this.stats;
    let kept = 0;
    let reads = 0;
    let bytes = 0;
    while (kept < want && reads < 2 * want) {
      const start = (p.rx.index + kept) >>> 0;
      const run = view.contiguous(start, want - kept);
      let got: number;
      try {
        got = addon.burstRead(p.burst, start & view.mask, run, reads === 0 ? spinNs : 0);
      } catch (err) {
        throw deviceFault(p.iface, err);
      }
      reads += got;
      const ts = p.captured && got > 0 ? nowNs() : 0;
      let ok = 0;
      const hdr = p.hdr;
      for (let i = 0; i < got; i++) {
        const at = view.dataOffset(start + i);
        const raw = this.lens[i];
        const len = Math.max(raw - hdr, 0);
        // A runt, or larger than the slot allows, or (offloads) over the MTU without being a
        // GSO super-frame: counted, never passed on cut short.
        const gso = hdr > 0 ? this.u8[at + VNET.gsoType] : VNET_GSO_NONE;
        const bad = raw < hdr + MIN_FRAME ? REASON.runt : len > p.maxFrame || (len > p.mtuFrame && gso === VNET_GSO_NONE) ? REASON.oversize : REASON.none;
        if (p.captured) this.recorder!(p, DIR.in, bad, ts, at + hdr, len, Math.min(len, view.capacity - hdr));
        if (bad !== REASON.none) {
          s[p.c.rx_bad]++;
          continue;
        }
        if (ok !== i) this.u8.copyWithin(view.dataOffset(start + ok), at, at + raw);
        p.rx.setLength(kept + ok, len);
        bytes += len;
        if (gso !== VNET_GSO_NONE) s[p.c.rx_gso]++;
        if (len > s[p.c.rx_max]) s[p.c.rx_max] = len;
        ok++;
      }
      kept += ok;
      if (got < run) break;
    }
    p.lastReads = reads;
    // One frame, then nothing (want > 1), or the one this burst was held to: a request/response
    // pace. Not one frame because the ring had room for one: a stream that fills the ring.
    p.singleReads = reads !== 1 ? 0 : single ? p.singleReads + 1 : want > 1 ? 1 : 0;
    if (kept > 0) {
      p.rx.publish(kept);
      s[p.c.rx_frames] += kept;
      s[p.c.rx_bytes] += bytes;
    }
    return kept;
  }

  /**
   * TX ring -> TAP: up to the budget, lengths and refs read once and checked. A frame the
   * guest forwarded without a copy is written from the RX slot its ref names.
   */
  tx(p: ServicePort): number {
    const avail = p.tx.available();
    if (avail === 0) return 0;
    const want = Math.min(avail, this.budget);
    const view = p.txView;
    const s = this.stats;
    const hdr = p.hdr;
    for (let i = 0; i < want; i++) {
      const len = p.tx.length(i);
      const ref = p.tx.ref(i);
      this.lens[i] = hdr + len;
      this.offsets[i] = ref === 0 ? view.dataOffset(p.tx.index + i) : this.refOffset(p, ref, len);
    }
    if (p.captured) this.sentLens.set(this.lens.subarray(0, want));
    let put: number;
    try {
      put = addon.burstWrite(p.burst, want);
    } catch (err) {
      throw deviceFault(p.iface, err);
    }
    // Counted before anything else runs: a guest thread stopped right after the call (it may
    // run this code, holding the token) still counts what reached the kernel.
    s[p.c.tx_frames] += put;
    let bytes = 0;
    let dropped = 0;
    for (let i = 0; i < put; i++) {
      const raw = this.lens[i];
      if (raw === 0) {
        dropped++; // refused by the kernel (a bad length, or a virtio-net header it rejects): consumed, counted
        continue;
      }
      const len = raw - hdr;
      bytes += len;
      // The header is the guest's: read once, only to count what it asked of the kernel.
      if (hdr > 0 && this.u8[this.offsets[i] + VNET.gsoType] !== VNET_GSO_NONE) s[p.c.tx_gso]++;
      if (len > s[p.c.tx_max]) s[p.c.tx_max] = len;
    }
    if (p.captured) {
      const ts = nowNs();
      for (let i = 0; i < put; i++) this.recorder!(p, DIR.out, this.lens[i] === 0 ? REASON.txRefused : REASON.none, ts, this.offsets[i] + hdr, this.sentLens[i] - hdr);
    }
    s[p.c.tx_frames] -= dropped;
    s[p.c.tx_drops] += dropped;
    if (put > dropped) s[p.c.tx_bursts]++; // a send that got a frame through, as the baseline counts
    s[p.c.tx_bytes] += bytes;
    if (put > 0) p.tx.release(put);
    return put;
  }

  /** Where a forwarded frame lies: an RX slot of a NIC with the same header size, big enough for len. */
  refOffset(p: ServicePort, ref: number, len: number): number {
    const nic = refNic(ref);
    const src = nic < this.ports.length ? this.ports[nic] : undefined;
    const slot = refSlot(ref);
    if (src === undefined || slot >= src.rxView.count || src.hdr !== p.hdr || len > src.maxFrame) {
      throw new RingFault(`nic ${p.index} tx ring: ref 0x${(ref >>> 0).toString(16)} names no RX slot a ${len}-byte frame can be sent from`);
    }
    return src.rxView.dataOffset(slot);
  }

  close(): void {
    for (const p of this.ports) {
      addon.burstPortClose(p.burst);
      p.burst = -1;
    }
    this.releaseRings();
    addon.regionClose(this.region);
  }

  /**
   * Unregisters each TAP from its ring and closes the ring: a TAP a ring still holds cannot be
   * attached again until the kernel has torn the ring down. On a guest thread, whose filter
   * refuses close(), the ring's fd stays open until exit; the unregistering is what counts.
   */
  releaseRings(): void {
    for (const p of this.ports) {
      if (p.ring < 0) continue;
      addon.uringRxClose(p.ring);
      p.ring = -1;
      p.uringReads = p.uringWrites = false;
      if (p.burst >= 0) this.bindBursts(p); // not after close()
    }
  }
}

/**
 * The guest thread's RingService: also sleeps on its TAPs while it holds the token (the kernel
 * wakes it when a frame arrives, as a blocking C reader), and on wakeFd, which the tender writes
 * to get it out before it stops the thread (as the baseline's trap). Its epoll set is made
 * here, before the process is locked.
 */
export class GuestRingService extends RingService {
  private readonly epfd: number;
  private readonly readyFds = new Int32Array(64);

  /**
   * `nics[i].uring`: how the IO thread reads and writes NIC i; the guest's thread, holding the
   * token, does the same through a ring of its own (made now, before the lock: its filter lets
   * it enter only the rings it opened; native/seccomp.cc). Where the kernel refuses this thread
   * what it gave the IO thread, it throws: the two would otherwise differ silently.
   */
  constructor(regionSab: SharedArrayBuffer, nics: (ServiceNic & { uring: { reads: boolean; writes: boolean } })[], stats: Float64Array, budget: number, wakeFd: number) {
    super(regionSab, nics, stats, budget);
    for (const p of this.ports) {
      const { reads, writes } = nics[p.index].uring;
      if (!reads && !writes) continue;
      try {
        this.openRing(p, reads, writes);
      } catch (err) {
        super.close();
        throw new Error(`${p.iface}: the guest thread's io_uring, as the IO thread's: ${(err as Error).message}`);
      }
    }
    this.epfd = addon.epollCreate();
    for (const p of this.ports) addon.epollCtl(this.epfd, 'add', p.fd, true);
    if (wakeFd >= 0) addon.epollCtl(this.epfd, 'add', wakeFd, true);
  }

  /** Whether a frame waits on some TAP now (a zero-timeout epoll_wait; the tender's stop counts as one). */
  tapReadable(): boolean {
    return addon.epollWait(this.epfd, 0, this.readyFds) > 0;
  }

  /** Blocks until a TAP is readable or timeoutNs passes; true when a TAP is (not the tender's stop, not the deadline). */
  sleepOnDevice(timeoutNs: number): boolean {
    const n = addon.epollWait(this.epfd, Math.max(0, timeoutNs), this.readyFds);
    for (let i = 0; i < n; i++) for (const p of this.ports) if (this.readyFds[i] === p.fd) return true;
    return false;
  }

  override close(): void {
    addon.close(this.epfd);
    super.close();
  }
}
