// The baseline: no rings, no IO thread. Each guest net call is one synchronous trap into
// this device code, which runs on the guest's own thread (as an hvt vCPU thread exits into
// its tender) and does the syscall itself. One trap per net call, counted.
import { MIN_FRAME, VNET, VNET_GSO_NONE, decodeVnet, emptyVnet, encodeVnet, type VnetHeader } from '../guest-api/abi.js';
import { monotonicNs } from '../guest-api/clock.js';
import { finishChecksum, headerlessPlan } from '../guest-api/csum.js';
import { AGAIN, EINVAL, OK, UNSPEC, type NetBackend, type ReadOut, type Result } from '../guest-api/results.js';
import { addon } from '../native/index.js';
import { deviceFault } from './device-fault.js';
import { DIR, REASON, RecordProducer, type CaptureTap } from './record-ring.js';
import { COUNTER, nicCounters } from './stats.js';

export interface BaselineNic {
  iface: string;
  fd: number;
  maxFrame: number;
  /** The largest frame that is not a GSO super-frame (mtu + 18). */
  mtuFrame: number;
  /** Virtio-net header bytes before each frame on the TAP (0 without offloads). */
  vnetHdrBytes: number;
}

const EMPTY = Object.freeze(emptyVnet());

export class BaselineDevice implements NetBackend {
  private readonly epfd: number;
  private readonly ready: Int32Array;
  private readonly scratch: Uint8Array;
  private viewLen = -1;
  private viewNic = -1;
  private readonly fwdHdr = emptyVnet();
  private readonly txScratch: Uint8Array;
  private readonly counters: ReturnType<typeof nicCounters>[];
  private readonly cap: RecordProducer | null;
  private readonly captured: boolean[];
  /** Per NIC: the virtio-net header of the last frame read (readv puts it here), and one to write. */
  private readonly rxHdr: (Uint8Array | undefined)[];
  private readonly txHdr: (Uint8Array | undefined)[];

  constructor(
    private readonly nics: BaselineNic[],
    private readonly stats: Float64Array,
    wakeFd: number,
    capture: CaptureTap | null = null,
  ) {
    this.counters = nics.map((_, h) => nicCounters(h));
    this.cap = capture ? new RecordProducer(capture.ring, capture.snaplen, nics.length) : null;
    this.captured = nics.map((_, h) => capture?.nics[h] ?? false);
    this.epfd = addon.epollCreate();
    for (const n of nics) addon.epollCtl(this.epfd, 'add', n.fd, true);
    if (wakeFd >= 0) addon.epollCtl(this.epfd, 'add', wakeFd, true);
    this.ready = new Int32Array(nics.length + 1);
    this.scratch = new Uint8Array(Math.max(0, ...nics.map((n) => n.maxFrame)) + 1);
    this.txScratch = new Uint8Array(Math.max(0, ...nics.map((n) => n.maxFrame)));
    this.rxHdr = nics.map((n) => (n.vnetHdrBytes > 0 ? new Uint8Array(n.vnetHdrBytes) : undefined));
    this.txHdr = nics.map((n) => (n.vnetHdrBytes > 0 ? new Uint8Array(n.vnetHdrBytes) : undefined));
  }

  /** Reads the next acceptable frame into buf (which must be longer than maxFrame to catch an oversize frame). */
  private readInto(h: number, buf: Uint8Array): number {
    const nic = this.nics[h];
    const s = this.stats;
    const c = this.counters[h];
    const hdr = this.rxHdr[h];
    const hdrBytes = nic.vnetHdrBytes;
    for (;;) {
      let raw: number;
      try {
        raw = addon.readFrame(nic.fd, buf, hdr);
      } catch (err) {
        throw deviceFault(nic.iface, err); // a failing TAP: the tender's exit 74
      }
      if (raw < 0) return -1;
      const len = raw - hdrBytes;
      const gso = hdr !== undefined && raw >= hdrBytes ? hdr[VNET.gsoType] : VNET_GSO_NONE;
      if (raw < hdrBytes + MIN_FRAME || len > nic.maxFrame || (len > nic.mtuFrame && gso === VNET_GSO_NONE)) {
        this.record(h, DIR.in, len < MIN_FRAME ? REASON.runt : REASON.oversize, buf, Math.max(len, 0));
        s[c.rx_bad]++;
        continue;
      }
      s[c.rx_frames]++;
      s[c.rx_bytes] += len;
      if (gso !== VNET_GSO_NONE) s[c.rx_gso]++;
      if (len > s[c.rx_max]) s[c.rx_max] = len;
      return len;
    }
  }

  read(h: number, buf: Uint8Array, out: ReadOut): Result {
    this.stats[COUNTER.traps]++;
    const direct = buf.length > this.nics[h].maxFrame;
    const len = this.readInto(h, direct ? buf : this.scratch);
    if (len < 0) return AGAIN;
    if (!direct) {
      if (buf.length < len) {
        this.record(h, DIR.in, REASON.rxNoBuffer, this.scratch, len);
        this.stats[this.counters[h].rx_drops]++; // the guest's buffer is too small: counted, reported
        return EINVAL;
      }
      buf.set(this.scratch.subarray(0, len));
    }
    this.record(h, DIR.in, REASON.none, buf, len);
    out.size = len;
    if (out.vnet !== undefined) this.decodeHdr(h, out.vnet);
    return OK;
  }

  private decodeHdr(h: number, out: VnetHeader): void {
    const hdr = this.rxHdr[h];
    if (hdr === undefined) Object.assign(out, EMPTY);
    else decodeVnet(hdr, 0, out);
  }

  readVnet(h: number, out: VnetHeader): Result {
    if (this.viewLen < 0 || this.viewNic !== h) return AGAIN; // only the frame net_read_view handed out has a header to give
    this.decodeHdr(h, out);
    return OK;
  }

  readView(h: number): Uint8Array | null {
    this.stats[COUNTER.traps]++;
    this.viewLen = this.readInto(h, this.scratch);
    this.viewNic = h;
    if (this.viewLen >= 0) this.record(h, DIR.in, REASON.none, this.scratch, this.viewLen);
    return this.viewLen < 0 ? null : this.scratch.subarray(0, this.viewLen);
  }

  readDone(_h: number): Result {
    if (this.viewLen < 0) return EINVAL;
    this.viewLen = -1;
    return OK;
  }

  write(h: number, buf: Uint8Array, size: number, _notify: boolean, vnet?: VnetHeader): Result {
    const nic = this.nics[h];
    if (!(size >= MIN_FRAME && size <= nic.maxFrame && size <= buf.length)) return EINVAL;
    const hdr = this.txHdr[h];
    const plan = hdr === undefined ? headerlessPlan(vnet, size) : size > nic.mtuFrame && (vnet === undefined || vnet.gsoType === VNET_GSO_NONE) ? 'refuse' : 'as-is';
    if (plan === 'refuse') return EINVAL;
    if (hdr !== undefined && !encodeVnet(hdr, 0, vnet)) return EINVAL;
    if (plan === 'csum') {
      // Finished in a copy: the guest's buffer is the guest's.
      this.txScratch.set(buf.subarray(0, size));
      finishChecksum(this.txScratch, 0, size, vnet!.csumStart, vnet!.csumOffset);
      buf = this.txScratch;
    }
    this.stats[COUNTER.traps]++;
    let rc: number;
    try {
      rc = addon.writeFrame(nic.fd, buf, size, hdr);
    } catch (err) {
      throw deviceFault(nic.iface, err);
    }
    if (rc === -1) return AGAIN;
    if (rc === -2) {
      this.record(h, DIR.out, REASON.txRefused, buf, size);
      this.stats[this.counters[h].tx_drops]++;
      return UNSPEC;
    }
    this.record(h, DIR.out, REASON.none, buf, size);
    const c = this.counters[h];
    this.stats[c.tx_frames]++;
    this.stats[c.tx_bursts]++; // a trap per frame: each its own send
    this.stats[c.tx_bytes] += size;
    if (hdr !== undefined && hdr[VNET.gsoType] !== VNET_GSO_NONE) this.stats[c.tx_gso]++;
    if (size > this.stats[c.tx_max]) this.stats[c.tx_max] = size;
    return OK;
  }

  /** The frame readView handed out, header and all, in one write trap: no copy here either. */
  forward(from: number, to: number, _notify: boolean): Result {
    if (this.viewLen < 0 || this.viewNic !== from) return EINVAL;
    const hdr = this.rxHdr[from];
    let vnet: VnetHeader | undefined;
    if (hdr !== undefined) decodeVnet(hdr, 0, (vnet = this.fwdHdr));
    const r = this.write(to, this.scratch, this.viewLen, true, vnet);
    if (r === OK || r === UNSPEC) this.readDone(from); // UNSPEC: the kernel refused it, counted in tx_drops
    return r;
  }

  /** --pcap: a record of the frame in buf (len long; what a short buffer could hold is kept), counted if the ring refuses it. */
  private record(h: number, dir: number, reason: number, buf: Uint8Array, len: number): void {
    if (!this.captured[h]) return;
    if (!this.cap!.put(h, dir, reason, monotonicNs(), buf, 0, len, Math.min(len, buf.length))) this.stats[this.counters[h].pcap_dropped]++;
  }

  flush(_h: number): Result {
    return OK; // every write already trapped: nothing is queued
  }

  wait(deadlineNs: number): number {
    this.stats[COUNTER.traps]++;
    const timeout = Math.max(deadlineNs - monotonicNs(), 0);
    const n = addon.epollWait(this.epfd, timeout, this.ready);
    let set = 0;
    for (let i = 0; i < n; i++) {
      const h = this.nics.findIndex((nic) => nic.fd === this.ready[i] || -nic.fd - 1 === this.ready[i]);
      if (h >= 0) set |= 1 << h;
    }
    return set;
  }

  waitRoom(_h: number, _deadlineNs: number): boolean {
    return true; // a TAP write does not wait for room: the kernel takes it or drops it
  }

  close(): void {
    try {
      addon.close(this.epfd);
    } catch {
      // Locked, the guest's thread may close nothing (native/seccomp.cc): the process's exit closes it.
    }
  }
}
