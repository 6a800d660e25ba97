// The IO thread's work: TAP -> RX ring, TX ring -> TAP, in bursts, driven by one policy:
//   poll   never sleeps;
//   event  sleeps in epoll_wait as soon as a round finds no work;
//   hybrid keeps polling for pollIdleUs after the last work (notifications stay masked
//          because the guest only kicks a sleeping IO thread), then sleeps.
// Sleeping follows guest-api/notify.ts: announce, re-check every ring, then epoll_wait.
import { MIN_FRAME, VNET, VNET_GSO_NONE, readLayout, refNic, refSlot, type NicLayout } from '../../guest-api/abi.js';
import { HostNotify, WAIT_RX, WAIT_TX, type ShmMode } from '../../guest-api/notify.js';
import { Consumer, Producer, RingFault, RingView } from '../../guest-api/ring.js';
import { monotonicNs as nowNs } from '../../guest-api/clock.js';
import { addon, threadCpuSeconds } from '../../native/index.js';
import { DeviceFault, deviceFault } from '../device-fault.js';
import { tapGone, type Ending } from '../endings.js';
import { DIR, REASON, RecordProducer, type CaptureTap } from '../record-ring.js';
import { COUNTER, nicCounters, section } from '../stats.js';


const SLEEP_CAP_NS = 1e9;

export interface IoNic {
  iface: string;
  fd: number;
  kickFd: number;
}

export interface IoConfig {
  mode: ShmMode;
  region: SharedArrayBuffer;
  stats: SharedArrayBuffer; // the IO thread's own counters
  control: SharedArrayBuffer;
  controlFd: number;
  nics: IoNic[];
  pollBudget: number;
  pollIdleUs: number;
  drainTimeoutMs: number;
  /** --pcap: where to record the frames of the NICs it names. */
  capture?: CaptureTap | null;
}

/** Words of the tender <-> IO thread control block (host-only memory). */
export const CTL = { stop: 0 } as const;
export const CTL_BYTES = 64;

/** How the IO thread ended: stopped when asked, or one of the tender's endings (host/endings.ts). */
export type IoExit = { kind: 'stopped' } | Extract<Ending, { kind: 'guest-fault' | 'device-fault' | 'internal' }>;

interface Port {
  iface: string;
  fd: number;
  kickFd: number;
  rx: Producer;
  tx: Consumer;
  rxView: RingView;
  txView: RingView;
  maxFrame: number;
  mtuFrame: number;
  hdr: number; // virtio-net header bytes before each frame (0 without offloads)
  layout: NicLayout;
  stalled: boolean;
  c: ReturnType<typeof nicCounters>;
  index: number;
  captured: boolean;
}

export class Pump {
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly ctl: Int32Array;
  private readonly stats: Float64Array;
  private readonly notify: HostNotify;
  private readonly ports: Port[];
  private readonly region: number;
  private readonly lens: Uint32Array;
  private readonly sentLens: Uint32Array; // a TX burst's lengths, kept: writeBurst zeroes those the kernel refused
  private readonly offsets: Uint32Array; // where each frame of a TX burst lies
  private readonly cap: RecordProducer | null;
  private readonly ready = new Int32Array(64);
  private epfd = -1;
  private lastCpuUpdate = 0;

  constructor(private readonly cfg: IoConfig) {
    const { layout } = readLayout(cfg.region);
    this.i32 = new Int32Array(cfg.region);
    const u32 = new Uint32Array(cfg.region);
    this.u8 = new Uint8Array(cfg.region);
    this.ctl = new Int32Array(cfg.control);
    this.stats = section(cfg.stats);
    this.notify = new HostNotify(this.i32);
    this.region = addon.regionOpen(this.u8);
    this.lens = new Uint32Array(Math.max(...layout.nics.map((n) => n.slotCount)));
    this.sentLens = new Uint32Array(this.lens.length);
    this.offsets = new Uint32Array(this.lens.length);
    this.cap = cfg.capture ? new RecordProducer(cfg.capture.ring, cfg.capture.snaplen, cfg.nics.length) : null;
    this.ports = cfg.nics.map((nic, index) => {
      const l = layout.nics[index];
      const rxView = new RingView(this.i32, u32, l, 'rx');
      const txView = new RingView(this.i32, u32, l, 'tx');
      return {
        iface: nic.iface, fd: nic.fd, kickFd: nic.kickFd, rxView, txView,
        rx: new Producer(rxView), tx: new Consumer(txView, MIN_FRAME, l.maxFrame), maxFrame: l.maxFrame,
        mtuFrame: l.mtuFrame, hdr: l.vnetHdrBytes, layout: l, stalled: false, c: nicCounters(index),
        index, captured: cfg.capture?.nics[index] ?? false,
      };
    });
    if (cfg.mode !== 'poll') {
      this.epfd = addon.epollCreate();
      addon.epollCtl(this.epfd, 'add', cfg.controlFd, true);
      for (const p of this.ports) {
        addon.epollCtl(this.epfd, 'add', p.fd, true);
        addon.epollCtl(this.epfd, 'add', p.kickFd, true);
      }
    }
  }

  run(): IoExit {
    let exit: IoExit = { kind: 'stopped' };
    try {
      this.loop();
      this.drain();
    } catch (err) {
      if (err instanceof RingFault) {
        this.stats[COUNTER.faults]++;
        exit = { kind: 'guest-fault', detail: `${err.message} (seen by the IO thread)` };
      } else if (err instanceof DeviceFault) {
        exit = { kind: 'device-fault', detail: err.message };
      } else {
        throw err;
      }
    } finally {
      this.collectKicks();
      this.updateCpu();
      if (this.epfd >= 0) addon.close(this.epfd);
      addon.regionClose(this.region);
    }
    return exit;
  }

  private loop(): void {
    const { mode, pollIdleUs } = this.cfg;
    const idleNs = mode === 'hybrid' ? pollIdleUs * 1000 : 0;
    let idleSince = 0;
    let rounds = 0;
    while (Atomics.load(this.ctl, CTL.stop) === 0) {
      if (this.serviceAll() > 0) {
        idleSince = 0;
        continue;
      }
      if ((++rounds & 1023) === 0) this.maybeUpdateCpu();
      // Measured: on 2 cores this doubles ping -f echoes/s (docs/tuning.md); the poll never sleeps.
      addon.yieldCpu();
      if (mode === 'poll') continue;
      if (idleNs > 0) {
        const now = nowNs();
        if (idleSince === 0) idleSince = now;
        if (now - idleSince < idleNs) continue;
      }
      this.sleep();
      idleSince = 0;
    }
  }

  /** One round over every NIC; returns frames moved. */
  private serviceAll(): number {
    let rx = 0;
    let tx = 0;
    for (const p of this.ports) {
      rx += this.serviceRx(p);
      tx += this.serviceTx(p);
    }
    if (rx > 0) this.stats[COUNTER.interrupts] += this.notify.interruptIfWaiting(WAIT_RX);
    if (tx > 0) this.stats[COUNTER.interrupts] += this.notify.interruptIfWaiting(WAIT_TX);
    return rx + tx;
  }

  /** TAP -> RX ring: up to pollBudget frames straight into free slots. */
  private serviceRx(p: Port): number {
    const room = p.rx.room();
    if (room === 0) return 0;
    const want = Math.min(room, this.cfg.pollBudget);
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
        got = addon.readBurst(this.region, p.fd, view.dataOffset(start), view.slotSize, view.capacity, run, this.lens);
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
        if (p.captured) this.record(p, DIR.in, bad, ts, at + hdr, len, Math.min(len, view.capacity - hdr));
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
    if (kept > 0) {
      p.rx.publish(kept);
      s[p.c.rx_frames] += kept;
      s[p.c.rx_bytes] += bytes;
    }
    return kept;
  }

  /**
   * TX ring -> TAP: every waiting frame, lengths and refs read once and checked. A frame the
   * guest forwarded without a copy is written from the RX slot its ref names.
   */
  private serviceTx(p: Port): number {
    const avail = p.tx.available();
    if (avail === 0) return 0;
    const want = Math.min(avail, this.cfg.pollBudget);
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
      put = addon.writeBurst(this.region, p.fd, this.offsets, this.lens, want);
    } catch (err) {
      throw deviceFault(p.iface, err);
    }
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
      for (let i = 0; i < put; i++) this.record(p, DIR.out, this.lens[i] === 0 ? REASON.txRefused : REASON.none, ts, this.offsets[i] + hdr, this.sentLens[i] - hdr);
    }
    s[p.c.tx_frames] += put - dropped;
    s[p.c.tx_drops] += dropped;
    s[p.c.tx_bytes] += bytes;
    if (put > 0) p.tx.release(put);
    return put;
  }

  /** Where a forwarded frame lies: an RX slot of a NIC with the same header size, big enough for len. */
  private refOffset(p: Port, ref: number, len: number): number {
    const nic = refNic(ref);
    const src = nic < this.ports.length ? this.ports[nic] : undefined;
    const slot = refSlot(ref);
    if (src === undefined || slot >= src.rxView.count || src.hdr !== p.hdr || len > src.maxFrame) {
      throw new RingFault(`nic ${p.index} tx ring: ref 0x${(ref >>> 0).toString(16)} names no RX slot a ${len}-byte frame can be sent from`);
    }
    return src.rxView.dataOffset(slot);
  }

  /** announce -> re-check -> epoll_wait; see guest-api/notify.ts for why this loses nothing. */
  private sleep(): void {
    for (const p of this.ports) if (!p.stalled && p.rx.room() === 0) this.setStalled(p, true);
    this.maybeUpdateCpu();
    this.notify.announceSleep();
    if (this.workPending() || Atomics.load(this.ctl, CTL.stop) !== 0) {
      this.notify.awake();
      return;
    }
    // Never asleep for more than a second: on waking, the rings are checked again (a guest
    // that scribbled over the control words so it never kicks is still caught in bounded time).
    const n = addon.epollWait(this.epfd, SLEEP_CAP_NS, this.ready);
    this.notify.awake();
    this.stats[COUNTER.io_wakeups]++;
    if (n === 0) this.workPending(); // validates every guest-written index
    for (let i = 0; i < n; i++) {
      const fd = this.ready[i];
      if (fd < 0) {
        const bad = this.ports.find((p) => p.fd === -fd - 1);
        if (bad) throw new DeviceFault(`${tapGone(bad.iface, 'deleted')} (hangup on its fd)`);
        continue;
      }
      if (fd === this.cfg.controlFd) addon.eventfdRead(fd);
      else {
        const p = this.ports.find((q) => q.kickFd === fd);
        if (p) this.stats[COUNTER.kicks] += addon.eventfdRead(fd);
      }
    }
    for (const p of this.ports) if (p.stalled && p.rx.room() > 0) this.setStalled(p, false);
  }

  private workPending(): boolean {
    for (const p of this.ports) {
      if (p.tx.available() > 0) return true;
      if (p.stalled && p.rx.room() > 0) return true;
    }
    return false;
  }

  /** A full RX ring: stop listening to the TAP (the kernel queues, then drops and counts) until the guest makes room. */
  private setStalled(p: Port, stalled: boolean): void {
    p.stalled = stalled;
    addon.epollCtl(this.epfd, 'mod', p.fd, !stalled);
    this.notify.setRxStalled(p.layout, stalled);
  }

  /** On stop: send what the guest queued, bounded in time. */
  private drain(): void {
    const deadline = nowNs() + this.cfg.drainTimeoutMs * 1e6;
    for (;;) {
      let waiting = 0;
      for (const p of this.ports) {
        this.serviceTx(p);
        waiting += p.tx.available();
      }
      if (waiting === 0 || nowNs() > deadline) {
        for (const p of this.ports) {
          const left = p.tx.available();
          this.stats[p.c.tx_drops] += left;
          if (p.captured) this.recordUnsent(p, left);
        }
        return;
      }
    }
  }

  /** One capture record; a full record ring refuses it and it is counted (the frame is not held up). */
  private record(p: Port, dir: number, reason: number, ts: number, offset: number, len: number, present = len): void {
    if (!this.cap!.put(p.index, dir, reason, ts, this.u8, offset, len, present)) this.stats[p.c.pcap_dropped]++;
  }

  /**
   * Frames left in a TX ring at exit, recorded as never sent. Their lengths are read once and
   * checked, as for sending; a bad one ends the recording (they are counted in tx_drops all the
   * same), so capturing never changes how the tender ends.
   */
  private recordUnsent(p: Port, left: number): void {
    const ts = nowNs();
    for (let k = 0; k < left; k++) {
      let len: number;
      let at: number;
      try {
        len = p.tx.length(k);
        const ref = p.tx.ref(k);
        at = (ref === 0 ? p.txView.dataOffset(p.tx.index + k) : this.refOffset(p, ref, len)) + p.hdr;
      } catch {
        return;
      }
      this.record(p, DIR.out, REASON.txUnsent, ts, at, len);
    }
  }

  private collectKicks(): void {
    for (const p of this.ports) this.stats[COUNTER.kicks] += addon.eventfdRead(p.kickFd);
  }

  private maybeUpdateCpu(): void {
    const now = nowNs();
    if (now - this.lastCpuUpdate > 50e6) this.updateCpu();
  }

  private updateCpu(): void {
    this.lastCpuUpdate = nowNs();
    this.stats[COUNTER.cpu_s] = threadCpuSeconds();
  }
}
