// The capture record ring: a single-producer/single-consumer byte ring of variable-length
// records in a SharedArrayBuffer, from the thread that moves frames (the IO thread; the
// guest thread in the baseline) to the capture writer on the tender's main thread.
//
// The same discipline as guest-api/ring.ts, for bytes instead of fixed slots: free-running
// 32-bit byte indices (capacity a power of two, so they wrap cleanly), each side keeps its
// own index in a local and publishes it with Atomics.store after the bytes are written,
// and reads the other side's index once, checks it, and uses only that copy. Fixed slots
// would have to be sized for the largest frame (64 KiB with offloads); a 60-byte ping would
// then cost a 64 KiB slot. Here it costs its own length plus a 32-byte header.
//
// A record never wraps: when it does not fit before the end, the producer writes a pad
// record up to the end and starts again at 0. When the ring is full the record is refused
// (put returns false) and the caller counts it: the frame itself is never held up.
//
//   control (2 cache lines): word 0 head (producer) · word 16 tail (consumer)
//   data:    capacity bytes of records, each 8-aligned:
//     0 u32 size (header + data, rounded up to 8) · 4 u16 nic · 6 u8 dir (0 = pad) · 7 u8 reason
//     8 u32 original length · 12 u32 captured length · 16 f64 monotonic ns
//     24 u32 records of this NIC refused since its previous record · 28 u32 reserved · 32 data
import { RingFault } from '../guest-api/ring.js';

export const RECORD_HEADER = 32;

/** Direction, as the guest sees it: in = a frame it received from the TAP, out = one it sent. */
export const DIR = { in: 1, out: 2 } as const;
/** Why a frame did not go where it was going (none: it did); each names the counter it is in. */
export const REASON = { none: 0, runt: 1, oversize: 2, rxNoBuffer: 3, txRefused: 4, txUnsent: 5 } as const;
const MAX_REASON = Math.max(...Object.values(REASON));

/** What a thread that moves frames is handed to record them: the ring, the snap length, which NICs. */
export interface CaptureTap {
  ring: SharedArrayBuffer;
  snaplen: number;
  nics: boolean[];
}
const CONTROL_BYTES = 128;
const HEAD = 0;
const TAIL = 16;
const align8 = (n: number) => (n + 7) & ~7;

export interface CaptureRecord {
  size: number;
  nic: number;
  dir: number;
  reason: number;
  origLen: number;
  capLen: number;
  tsNs: number;
  dropsBefore: number;
  /** Byte offset of the data in the ring's u8 view. */
  dataOffset: number;
}

/** Allocates a ring of `capacity` bytes (a power of two, at least 4 KiB). */
export function createRecordRing(capacity: number): SharedArrayBuffer {
  if (capacity < 4096 || (capacity & (capacity - 1)) !== 0) throw new RangeError('record ring capacity must be a power of two of at least 4096 bytes');
  return new SharedArrayBuffer(CONTROL_BYTES + capacity);
}

class RingBase {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  protected readonly dv: DataView;
  readonly capacity: number;
  protected readonly mask: number;

  constructor(sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.capacity = sab.byteLength - CONTROL_BYTES;
    if (this.capacity < 4096 || (this.capacity & (this.capacity - 1)) !== 0) throw new RangeError('not a record ring');
    this.mask = this.capacity - 1;
    this.u8 = new Uint8Array(sab, CONTROL_BYTES, this.capacity);
    this.dv = new DataView(sab, CONTROL_BYTES, this.capacity);
  }
}

export class RecordProducer extends RingBase {
  private head: number;
  private readonly missed: Uint32Array;

  /** `snaplen`: bytes of each frame kept; a record is at most RECORD_HEADER + snaplen, at most a quarter of the ring. */
  constructor(sab: SharedArrayBuffer, readonly snaplen: number, nicCount: number) {
    super(sab);
    if (align8(RECORD_HEADER + snaplen) * 4 > this.capacity) throw new RangeError('record ring too small for the snap length');
    this.head = Atomics.load(this.i32, HEAD) >>> 0;
    this.missed = new Uint32Array(nicCount);
  }

  /**
   * One record of a frame `len` bytes long of which `present` lie at src[off..] (fewer when the
   * kernel said a frame was longer than the buffer it was read into): the first snaplen of
   * those, stamped and published. Returns false, and remembers it for the NIC's next record,
   * when the ring has no room.
   */
  put(nic: number, dir: number, reason: number, tsNs: number, src: Uint8Array, off: number, len: number, present = len): boolean {
    const capLen = Math.min(len, present, this.snaplen);
    const size = align8(RECORD_HEADER + capLen);
    const tail = Atomics.load(this.i32, TAIL) >>> 0;
    const used = (this.head - tail) >>> 0;
    if (used > this.capacity) throw new RingFault(`capture record ring: consumer index ${tail} is not within ${this.capacity} bytes of producer index ${this.head}`);
    let pos = this.head & this.mask;
    const toEnd = this.capacity - pos;
    const need = toEnd < size ? toEnd + size : size;
    if (this.capacity - used < need) {
      this.missed[nic]++;
      return false;
    }
    if (toEnd < size) {
      this.dv.setUint32(pos, toEnd, true);
      this.u8[pos + 6] = 0; // a pad: skip to the start
      this.head = (this.head + toEnd) >>> 0;
      pos = 0;
    }
    const dv = this.dv;
    dv.setUint32(pos, size, true);
    dv.setUint16(pos + 4, nic, true);
    this.u8[pos + 6] = dir;
    this.u8[pos + 7] = reason;
    dv.setUint32(pos + 8, len, true);
    dv.setUint32(pos + 12, capLen, true);
    dv.setFloat64(pos + 16, tsNs, true);
    dv.setUint32(pos + 24, this.missed[nic], true);
    this.missed[nic] = 0;
    this.u8.set(src.subarray(off, off + capLen), pos + RECORD_HEADER);
    this.head = (this.head + size) >>> 0;
    Atomics.store(this.i32, HEAD, this.head | 0);
    return true;
  }
}

/**
 * The writer's side. It may be fed by the guest's own thread (the baseline), so every
 * header field is read once and checked before it is used to address anything.
 */
export class RecordConsumer extends RingBase {
  private tail: number;
  private limit = 0;
  readonly rec: CaptureRecord = { size: 0, nic: 0, dir: 0, reason: 0, origLen: 0, capLen: 0, tsNs: 0, dropsBefore: 0, dataOffset: 0 };

  /** snaplen: the producers' (CaptureTap.snaplen); a record that captured more is a fault, not a packet longer than the file says. */
  constructor(sab: SharedArrayBuffer, private readonly nicCount: number, private readonly snaplen: number) {
    super(sab);
    this.tail = Atomics.load(this.i32, TAIL) >>> 0;
  }

  /** Bytes waiting; reads the producer's index once. */
  available(): number {
    const head = Atomics.load(this.i32, HEAD) >>> 0;
    const avail = (head - this.tail) >>> 0;
    if (avail > this.capacity) throw new RingFault(`capture record ring: producer index ${head} is not within ${this.capacity} bytes of consumer index ${this.tail}`);
    this.limit = avail;
    return avail;
  }

  /**
   * The next record within what available() saw, into this.rec (pads are skipped), or null.
   * Call advance() to move past it, release() to hand the space back.
   */
  next(): CaptureRecord | null {
    for (;;) {
      if (this.limit === 0) return null;
      const pos = this.tail & this.mask;
      const size = this.dv.getUint32(pos, true);
      const dir = this.u8[pos + 6];
      const toEnd = this.capacity - pos;
      if (size < 8 || size & 7 || size > this.limit || size > toEnd) throw this.fault(`record size ${size}`);
      if (dir === 0) {
        this.skip(size);
        continue;
      }
      const r = this.rec;
      r.size = size;
      r.nic = this.dv.getUint16(pos + 4, true);
      r.dir = dir;
      r.reason = this.u8[pos + 7];
      r.origLen = this.dv.getUint32(pos + 8, true);
      r.capLen = this.dv.getUint32(pos + 12, true);
      r.tsNs = this.dv.getFloat64(pos + 16, true);
      r.dropsBefore = this.dv.getUint32(pos + 24, true);
      r.dataOffset = pos + RECORD_HEADER;
      if (size < RECORD_HEADER || r.capLen > size - RECORD_HEADER || r.capLen > r.origLen || r.capLen > this.snaplen || r.nic >= this.nicCount || dir > 2 || r.reason > MAX_REASON || !Number.isFinite(r.tsNs)) {
        throw this.fault(`record at ${this.tail} (nic ${r.nic}, dir ${dir}, ${r.capLen}/${r.origLen} bytes in ${size})`);
      }
      return r;
    }
  }

  /** Moves past the record next() returned. */
  advance(): void {
    this.skip(this.rec.size);
  }

  /** Hands everything advanced over back to the producer. */
  release(): void {
    Atomics.store(this.i32, TAIL, this.tail | 0);
  }

  private skip(size: number): void {
    this.tail = (this.tail + size) >>> 0;
    this.limit -= size;
  }

  private fault(what: string): RingFault {
    return new RingFault(`capture record ring: bad ${what}`);
  }
}
