// --pcap: the capture writer. The thread that moves frames (the IO thread; in the baseline
// the guest's thread, inside the device code) copies each frame's first snaplen bytes into
// the record ring (host/record-ring.ts) and never waits: a full ring refuses the record and
// the producer counts it (pcap_dropped). This writer, on the tender's main thread, drains
// the ring on a timer into pcapng blocks (host/pcapng.ts) and writes them to each file.
//
// One ring, however many files: a record leaves the ring only when every file that wants it
// has room for it, so a FIFO whose reader is behind holds the ring, and records are then
// refused (counted) at the producer — never frames, never the main thread (pipes are
// non-blocking). Memory: RING_BYTES plus, per file, a staging buffer of STAGING_BYTES (more
// only if the snap length needs it).
import { performance } from 'node:perf_hooks';
import { arch, release } from 'node:os';
import { monotonicNs as nowNs } from '../guest-api/clock.js';
import { writeSome, type OutFile } from './out-files.js';
import {
  EPB_FLAG, enhancedPacketLength, interfaceDescription, interfaceStatistics, option, sectionHeader, writeEnhancedPacket, type Option,
} from './pcapng.js';
import { createRecordRing, DIR, REASON, RecordConsumer, type CaptureRecord, type CaptureTap } from './record-ring.js';
import { nicCounters, section, type NicTotals } from './stats.js';

export const RING_BYTES = 8 << 20;
export const STAGING_BYTES = 256 << 10;
export const DEFAULT_SNAPLEN = 65535;
/** How long the writer waits between passes: short while records keep coming, longer when idle. */
const BUSY_MS = 1;
const IDLE_MS = 10;
/** At exit: how long to keep writing normally, then how long to wait for the end of the file. */
const FINISH_DRAIN_MS = 2000;
const FINISH_END_MS = 2000;

export interface CaptureNic {
  name: string;
  iface: string;
  mac: Uint8Array;
  mtu: number;
  maxFrame: number;
}

export interface CaptureFile {
  out: OutFile;
  /** Indices of the NICs this file captures. */
  nics: number[];
}

const TWO32 = 4294967296;

/** One output file: its interfaces, a staging buffer of encoded blocks, what was written. */
class Sink {
  readonly iface: Int32Array; // NIC index -> interface id in this file, -1 if not captured
  readonly staging: Buffer;
  staged = 0; // bytes encoded
  written = 0; // of those, bytes the file took
  // Each block in staging: where it starts and which NIC's packet it is (NOT_A_PACKET for
  // headers and statistics), so packets no byte of which was written can be dropped and counted.
  private readonly starts: Int32Array;
  private readonly nicOf: Int32Array;
  private blocks = 0;
  readonly delivered: number[];
  /** Packets for this file that never reached it: dropped at exit, or after the file failed. */
  readonly lost: number[];

  constructor(readonly file: CaptureFile, nicCount: number, stagingBytes: number) {
    this.iface = new Int32Array(nicCount).fill(-1);
    file.nics.forEach((n, id) => (this.iface[n] = id));
    this.staging = Buffer.alloc(stagingBytes);
    const maxBlocks = Math.ceil(stagingBytes / MIN_BLOCK) + 1;
    this.starts = new Int32Array(maxBlocks);
    this.nicOf = new Int32Array(maxBlocks);
    this.delivered = new Array(nicCount).fill(0);
    this.lost = new Array(nicCount).fill(0);
  }

  get out(): OutFile {
    return this.file.out;
  }

  wants(nic: number): boolean {
    return this.iface[nic] >= 0 && !this.out.failed;
  }

  /** Appends a block that is not a packet (headers, statistics). */
  appendRaw(b: Buffer): boolean {
    if (!this.makeRoom(b.length)) return false;
    this.note(NOT_A_PACKET);
    this.staging.set(b, this.staged);
    this.staged += b.length;
    return true;
  }

  /** Makes room for n more bytes: writes what the file takes, then moves the rest to the front. */
  makeRoom(n: number): boolean {
    if (this.staging.length - this.staged >= n) return true;
    this.flush();
    if (this.written > 0) {
      this.staging.copyWithin(0, this.written, this.staged);
      let keep = 0;
      for (let i = 0; i < this.blocks; i++) {
        const end = i + 1 < this.blocks ? this.starts[i + 1] : this.staged;
        if (end <= this.written) continue; // written whole
        this.starts[keep] = this.starts[i] - this.written; // negative: begun, part written
        this.nicOf[keep++] = this.nicOf[i];
      }
      this.blocks = keep;
      this.staged -= this.written;
      this.written = 0;
    }
    return this.staging.length - this.staged >= n;
  }

  packet(r: CaptureRecord, ring: Uint8Array, tsHi: number, tsLo: number, flags: number, comment: Option | undefined): void {
    this.note(r.nic);
    this.staged = writeEnhancedPacket(this.staging, this.staged, {
      interfaceId: this.iface[r.nic], tsHi, tsLo, origLen: r.origLen, flags, dropCount: r.dropsBefore, comment,
    }, ring, r.dataOffset, r.capLen);
    this.delivered[r.nic]++;
  }

  /** A packet counted as delivered that the file did not get after all. */
  private forget(nic: number): void {
    this.lost[nic]++;
    this.delivered[nic]--;
  }

  private note(nic: number): void {
    this.starts[this.blocks] = this.staged;
    this.nicOf[this.blocks++] = nic;
  }

  /** Writes what the file takes now; true when nothing is left. */
  flush(): boolean {
    if (this.written < this.staged) {
      const n = writeSome(this.out, this.staging, this.written, this.staged - this.written);
      if (n < 0) {
        // The file failed: what it had not taken whole is lost, and nothing more goes to it.
        for (let i = 0; i < this.blocks; i++) {
          const end = i + 1 < this.blocks ? this.starts[i + 1] : this.staged;
          if (end > this.written && this.nicOf[i] !== NOT_A_PACKET) this.forget(this.nicOf[i]);
        }
        this.staged = this.written = this.blocks = 0;
        return true;
      }
      this.written += n;
    }
    if (this.written === this.staged) this.staged = this.written = this.blocks = 0;
    return this.staged === 0;
  }

  /** At exit, when the reader did not keep up: drops the packets no byte of which was written, counting them. */
  dropUnwritten(): void {
    let keep = this.blocks;
    while (keep > 0 && this.starts[keep - 1] >= this.written && this.nicOf[keep - 1] !== NOT_A_PACKET) this.forget(this.nicOf[--keep]);
    if (keep < this.blocks) this.staged = this.starts[keep];
    this.blocks = keep;
  }
}

const NOT_A_PACKET = -1;
/** The smallest block the writer makes: an Enhanced Packet Block of no data with its flags. */
const MIN_BLOCK = 28;

export class Capture {
  readonly tap: CaptureTap;
  private readonly consumer: RecordConsumer;
  private readonly sinks: Sink[];
  private readonly comments: (Option | undefined)[][]; // [nic][reason]
  private readonly startWall: bigint;
  private readonly startMono: number;
  private readonly baseHi: number;
  private readonly baseLo: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  readonly lostInRing: number[];
  /** Of the losses this writer counts (lostInRing, each file's lost), what pcap_dropped already holds. */
  private readonly published: number[];

  /** tenderStats: the tender's own counters, where this writer's losses go as they happen. */
  constructor(files: CaptureFile[], private readonly nics: CaptureNic[], readonly snaplen: number, info: { mode: string }, private readonly tenderStats: SharedArrayBuffer, ringBytes = RING_BYTES) {
    const ring = createRecordRing(ringBytes);
    const wanted = nics.map((_, i) => files.some((f) => f.nics.includes(i)));
    this.tap = { ring, snaplen, nics: wanted };
    this.consumer = new RecordConsumer(ring, nics.length, snaplen);
    const biggest = enhancedPacketLength(snaplen, { dropCount: 1, comment: option.comment('x'.repeat(200)) });
    this.sinks = files.map((f) => new Sink(f, nics.length, Math.max(STAGING_BYTES, 2 * biggest)));
    this.comments = nics.map((n) => reasonComments(n));
    this.lostInRing = new Array(nics.length).fill(0);
    this.published = new Array(nics.length).fill(0);
    // Timestamps: the monotonic clock every thread reads (exact between frames), anchored once
    // to the wall clock (to within a millisecond or so).
    this.startMono = nowNs();
    this.startWall = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
    this.baseHi = Number(this.startWall / BigInt(TWO32));
    this.baseLo = Number(this.startWall % BigInt(TWO32));
    const shb = sectionHeader({
      userappl: 'shmtender', os: `Linux ${release()}`, hardware: arch(),
      comment: `shmtender --shm=${info.mode}: inbound = frames the guest received from its TAP, outbound = frames the guest sent; snap length ${snaplen}`,
    });
    for (const s of this.sinks) {
      s.appendRaw(shb);
      for (const n of s.file.nics) {
        const nic = nics[n];
        s.appendRaw(interfaceDescription({ // one snap length for all: libpcap (tcpdump) refuses files whose interfaces differ in it
          name: `${nic.name} (${nic.iface})`, mac: nic.mac, snaplen,
          description: `guest NIC ${nic.name} on TAP ${nic.iface}, MTU ${nic.mtu} (frames up to ${nic.maxFrame} bytes), guest MAC ${macText(nic.mac)}`,
        }));
      }
    }
  }

  /** Writes the file headers and starts draining the ring. */
  start(): void {
    this.pass();
  }

  private pass(): void {
    if (this.stopped) return;
    let moved = 0;
    try {
      moved = this.pump();
    } catch (err) {
      this.fail(err as Error);
      this.publishLosses();
      return;
    }
    this.timer = setTimeout(() => this.pass(), moved >= this.consumer.capacity / 8 ? BUSY_MS : IDLE_MS);
    this.timer.unref();
  }

  /** A damaged record ring stops capturing (it is counted from then on), never the tender. */
  private fail(err: Error): void {
    for (const s of this.sinks) if (!s.out.failed) s.out.failed = err.message;
  }

  /** Moves what fits from the ring into the files; returns ring bytes consumed. */
  private pump(): number {
    for (const s of this.sinks) s.flush();
    const c = this.consumer;
    const moved = c.available() > 0 ? this.move(c) : 0;
    // Also when nothing new came: a file can fail on what it had staged (its reader quit).
    this.publishLosses();
    return moved;
  }

  /** Records from the ring into every file that wants them, while they all have room; returns ring bytes consumed. */
  private move(c: RecordConsumer): number {
    let moved = 0;
    for (let r = c.next(); r !== null; r = c.next()) {
      const comment = this.comments[r.nic][r.reason];
      const need = enhancedPacketLength(r.capLen, { dropCount: r.dropsBefore, comment });
      let room = true;
      for (const s of this.sinks) if (s.wants(r.nic) && !s.makeRoom(need)) room = false;
      if (!room) break;
      for (const s of this.sinks) if (s.out.failed && s.iface[r.nic] >= 0) s.lost[r.nic]++;
      const delta = r.tsNs - this.startMono;
      let lo = this.baseLo + Math.max(0, Math.round(delta));
      const hi = this.baseHi + Math.floor(lo / TWO32);
      lo -= Math.floor(lo / TWO32) * TWO32;
      const flags = flagsFor(r.dir, r.reason);
      for (const s of this.sinks) if (s.wants(r.nic)) s.packet(r, c.u8, hi, lo, flags, comment);
      moved += r.size;
      c.advance();
    }
    c.release();
    for (const s of this.sinks) s.flush();
    return moved;
  }

  /**
   * Adds what this writer lost since the last call to pcap_dropped, so that --stats-interval
   * and --stats=live show a failed file's losses as they happen, not only at exit. With several
   * files, a record one of them lost counts once for each.
   */
  private publishLosses(): void {
    const sec = section(this.tenderStats);
    this.nics.forEach((_, n) => {
      const lost = this.lostInRing[n] + this.sinks.reduce((a, s) => a + s.lost[n], 0);
      sec[nicCounters(n).pcap_dropped] += lost - this.published[n];
      this.published[n] = lost;
    });
  }

  /**
   * At exit, after the producers stopped: writes what is left, for a bounded time; what a slow
   * reader did not take by then is dropped and counted (added to the tender's own pcap_dropped),
   * and each file ends with an Interface Statistics Block per interface. Returns lines to print.
   */
  async finish(counters: () => NicTotals[]): Promise<string[]> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const lines: string[] = [];
    // Every file is flushed on each pass: one whose reader is behind must not hold up the others.
    const flushAll = () => this.sinks.map((s) => s.flush()).every(Boolean);
    const idle = () => this.consumer.available() === 0 && flushAll();
    try {
      const deadline = Date.now() + FINISH_DRAIN_MS;
      while (this.pump() > 0 || !idle()) {
        if (Date.now() > deadline) break;
        await sleep(BUSY_MS);
      }
      this.discardRing();
    } catch (err) {
      this.fail(err as Error);
    }
    for (const s of this.sinks) s.dropUnwritten();
    // By the producers, while the ring was full: the rest of pcap_dropped is this writer's.
    const refused = counters().map((t, n) => t.pcap_dropped - this.published[n]);
    this.publishLosses();
    const totals = counters();
    const endWall = this.wallNow();
    for (const s of this.sinks) {
      if (s.out.failed) continue;
      s.file.nics.forEach((n, id) => s.appendRaw(this.statistics(s, n, id, totals[n], refused[n] + this.lostInRing[n] + s.lost[n], endWall)));
    }
    const deadline = Date.now() + FINISH_END_MS;
    while (!flushAll() && Date.now() < deadline) await sleep(BUSY_MS);
    this.publishLosses(); // a file that failed meanwhile lost the packet it had begun
    for (const s of this.sinks) {
      const lost = s.file.nics.reduce((a, n) => a + s.lost[n] + this.lostInRing[n], 0);
      if (s.out.failed) lines.push(`${s.out.option}=${s.out.path}: capture stopped: ${s.out.failed}; ${lost} records not written (counted in pcap_dropped)`);
      else if (s.staged > s.written) lines.push(`${s.out.option}=${s.out.path}: the reader did not take the end of the capture within ${(FINISH_DRAIN_MS + FINISH_END_MS) / 1000} s; the file is cut short`);
      else if (lost > 0) lines.push(`${s.out.option}=${s.out.path}: the reader was too slow at exit: ${lost} records dropped (counted in pcap_dropped)`);
    }
    return lines;
  }

  /** Records still in the ring at exit that no file could take in time: dropped, counted per NIC. */
  private discardRing(): void {
    const c = this.consumer;
    c.available();
    for (let r = c.next(); r !== null; r = c.next()) {
      this.lostInRing[r.nic]++;
      c.advance();
    }
    c.release();
  }

  private statistics(s: Sink, n: number, id: number, t: NicTotals, dropped: number, endWall: bigint): Buffer {
    const nic = this.nics[n];
    const written = s.delivered[n];
    return interfaceStatistics({
      interfaceId: id, timestampNs: endWall, startNs: this.startWall, endNs: endWall,
      ifrecv: t.rx_frames + t.rx_bad, ifdrop: t.rx_bad + t.rx_drops + t.tx_drops,
      filteraccept: written + dropped, osdrop: dropped, usrdeliv: written,
      comment: `shmtender counters for ${nic.name} (${nic.iface}): rx_frames ${t.rx_frames} rx_bytes ${t.rx_bytes} tx_frames ${t.tx_frames} tx_bytes ${t.tx_bytes} rx_bad ${t.rx_bad} rx_drops ${t.rx_drops} tx_drops ${t.tx_drops}; capture records written ${written}, pcap_dropped ${dropped} (isb_osdrop: records the capture could not keep; the frames themselves went through)`,
    });
  }

  private wallNow(): bigint {
    return this.startWall + BigInt(Math.max(0, Math.round(nowNs() - this.startMono)));
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

function flagsFor(dir: number, reason: number): number {
  const d = dir === DIR.in ? EPB_FLAG.inbound : EPB_FLAG.outbound;
  if (reason === REASON.runt) return d | EPB_FLAG.tooShort;
  if (reason === REASON.oversize) return d | EPB_FLAG.tooLong;
  return d;
}

/** The opt_comment that names why a frame went nowhere, per NIC (encoded once). */
function reasonComments(n: CaptureNic): (Option | undefined)[] {
  const c: (Option | undefined)[] = [];
  c[REASON.none] = undefined;
  c[REASON.runt] = option.comment(`rx_bad: shorter than an Ethernet header (14 bytes); not passed to the guest`);
  c[REASON.oversize] = option.comment(`rx_bad: longer than MTU + 18 (${n.maxFrame} bytes; original length is what the tender could read); not passed to the guest`);
  c[REASON.rxNoBuffer] = option.comment(`rx_drops: the guest's buffer was too small for it; not delivered`);
  c[REASON.txRefused] = option.comment(`tx_drops: the kernel refused the TAP write; not sent`);
  c[REASON.txUnsent] = option.comment(`tx_drops: still in the TX ring when the tender stopped; not sent`);
  return c;
}

function macText(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
