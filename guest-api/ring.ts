// The one single-producer/single-consumer ring, used by the host's IO thread and by the
// guest alike. Indices are free-running 32-bit counters: slot = index & (count - 1),
// occupancy = (head - tail) mod 2^32. Each side keeps its own index in a local (it is the
// only writer) and publishes it with Atomics.store after the slot is written; it reads the
// other side's index once with Atomics.load, checks it, and uses only that checked copy.
// A value that cannot be right is a RingFault: the caller stops the peer, it never reads
// or writes outside the ring because of it.
import { N, SLOT_DATA_OFFSET, SLOT_LEN_OFFSET, SLOT_REF_OFFSET, type NicLayout } from './abi.js';

export class RingFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RingFault';
  }
}

export type RingName = 'tx' | 'rx';

/** Where one ring of one NIC lives in the region. */
export class RingView {
  readonly count: number;
  readonly mask: number;
  readonly slotSize: number;
  readonly slotsOffset: number;
  readonly capacity: number;
  /** Bytes of virtio-net header before each frame (0 without offloads). */
  readonly hdrBytes: number;
  readonly headWord: number;
  readonly tailWord: number;

  constructor(
    readonly i32: Int32Array,
    readonly u32: Uint32Array,
    readonly nic: NicLayout,
    readonly name: RingName,
  ) {
    this.count = nic.slotCount;
    this.mask = nic.slotCount - 1;
    this.slotSize = nic.slotSize;
    this.capacity = nic.capacity;
    this.hdrBytes = nic.vnetHdrBytes;
    this.slotsOffset = name === 'tx' ? nic.txSlotsOffset : nic.rxSlotsOffset;
    this.headWord = nic.headerWord + (name === 'tx' ? N.txHead : N.rxHead);
    this.tailWord = nic.headerWord + (name === 'tx' ? N.txTail : N.rxTail);
  }

  /** Byte offset of the slot that holds free-running index i. */
  slotOffset(i: number): number {
    return this.slotsOffset + (i & this.mask) * this.slotSize;
  }
  /** Where the slot's read()/write() bytes start: the virtio-net header if any, then the frame. */
  dataOffset(i: number): number {
    return this.slotOffset(i) + SLOT_DATA_OFFSET;
  }
  /** Where the frame itself starts. */
  frameOffset(i: number): number {
    return this.slotOffset(i) + SLOT_DATA_OFFSET + this.hdrBytes;
  }
  /** Of n slots starting at index i, how many lie before the ring wraps. */
  contiguous(i: number, n: number): number {
    return Math.min(n, this.count - (i & this.mask));
  }
  label(): string {
    return `nic ${this.nic.index} ${this.name} ring`;
  }
}

export class Producer {
  private head: number;
  /** Free slots known from the last read of the consumer's index, less those filled since. */
  private knownFree = 0;

  constructor(readonly ring: RingView) {
    this.head = Atomics.load(ring.i32, ring.headWord) >>> 0;
  }
  get index(): number {
    return this.head;
  }
  /** Free slots. Reads the consumer's index once and checks it. */
  room(): number {
    const r = this.ring;
    const tail = Atomics.load(r.i32, r.tailWord) >>> 0;
    const used = (this.head - tail) >>> 0;
    if (used > r.count) throw new RingFault(`${r.label()}: consumer index ${tail} is not within ${r.count} slots of producer index ${this.head}`);
    this.knownFree = r.count - used;
    return this.knownFree;
  }
  /** Free slots, reading the consumer's index only when the free slots last seen are used up. */
  space(): number {
    return this.knownFree !== 0 ? this.knownFree : this.room();
  }
  /** Writes the length word of the k-th slot after head (the frame bytes are written by the caller). */
  setLength(k: number, len: number): void {
    const r = this.ring;
    r.u32[(r.slotOffset(this.head + k) + SLOT_LEN_OFFSET) >>> 2] = len;
  }
  /** Writes the ref word of the k-th slot after head (0: the frame is in the slot). */
  setRef(k: number, ref: number): void {
    const r = this.ring;
    r.u32[(r.slotOffset(this.head + k) + SLOT_REF_OFFSET) >>> 2] = ref;
  }
  publish(n: number): void {
    this.head = (this.head + n) >>> 0;
    this.knownFree = this.knownFree > n ? this.knownFree - n : 0;
    Atomics.store(this.ring.i32, this.ring.headWord, this.head | 0);
  }
  /** Whether the consumer is past published index i (one of the last `count` published). */
  consumed(i: number): boolean {
    const used = this.ring.count - this.room();
    return ((this.head - i) >>> 0) > used;
  }
  /**
   * Takes over the producer's role from whoever held it last (the IO token, notify.ts): reads
   * the published index back and checks it against the consumer's, as any guest-writable value.
   */
  resync(): void {
    this.head = Atomics.load(this.ring.i32, this.ring.headWord) >>> 0;
    this.room();
  }
  /**
   * Taking the role back with no hand-off since (the IO token: nobody else held it), the
   * published index must still be this side's own: another value was written by a guest out of
   * turn, and left alone it would have the rings look busy to every peek while no burst finds work.
   */
  checkPublished(): void {
    const published = Atomics.load(this.ring.i32, this.ring.headWord) >>> 0;
    if (published !== this.head) throw new RingFault(`${this.ring.label()}: producer index ${published} was written while this side held the role (it is ${this.head})`);
  }
}

export class Consumer {
  private tail: number;
  /** Frames known to wait from the last read of the producer's index, less those consumed since. */
  private known = 0;
  /** Slots consumed but not yet given back to the producer (see consume / publish). */
  private unpublished = 0;

  constructor(
    readonly ring: RingView,
    private readonly minLen: number,
    private readonly maxLen: number,
  ) {
    this.tail = Atomics.load(ring.i32, ring.tailWord) >>> 0;
  }
  get index(): number {
    return this.tail;
  }
  /** Frames waiting. Reads the producer's index once and checks it. */
  available(): number {
    const r = this.ring;
    const head = Atomics.load(r.i32, r.headWord) >>> 0;
    const avail = (head - this.tail) >>> 0;
    if (avail > r.count) throw new RingFault(`${r.label()}: producer index ${head} is not within ${r.count} slots of consumer index ${this.tail}`);
    this.known = avail;
    return avail;
  }
  /**
   * Frames waiting, reading the producer's index only when the frames last seen are used up:
   * a consumer taking frames one at a time pays one shared load per batch, not per frame.
   */
  ready(): number {
    return this.known !== 0 ? this.known : this.available();
  }
  /** Length of the k-th waiting frame, read once from the slot and checked. */
  length(k: number): number {
    const r = this.ring;
    const len = r.u32[(r.slotOffset(this.tail + k) + SLOT_LEN_OFFSET) >>> 2];
    if (len < this.minLen || len > this.maxLen) {
      throw new RingFault(`${r.label()}: frame length ${len} at index ${(this.tail + k) >>> 0} is outside ${this.minLen}..${this.maxLen}`);
    }
    return len;
  }
  /** The ref word of the k-th waiting frame, read once (the caller checks what it names). */
  ref(k: number): number {
    const r = this.ring;
    return r.u32[(r.slotOffset(this.tail + k) + SLOT_REF_OFFSET) >>> 2];
  }
  /** Consumes n frames and gives their slots back to the producer at once. */
  release(n: number): void {
    this.consume(n);
    this.publish();
  }
  /** Consumes n frames (of those ready()); their slots go back to the producer at the next publish(). */
  consume(n: number): void {
    this.tail = (this.tail + n) >>> 0;
    this.known = this.known > n ? this.known - n : 0;
    this.unpublished += n;
  }
  /** Slots consumed and not yet published. */
  get unpublishedCount(): number {
    return this.unpublished;
  }
  /** Frames ready() knows of without reading the producer's index again. */
  get knownCount(): number {
    return this.known;
  }
  /** Publishes the consumer's index; returns the slots it gave back. */
  publish(): number {
    const n = this.unpublished;
    if (n === 0) return 0;
    this.unpublished = 0;
    Atomics.store(this.ring.i32, this.ring.tailWord, this.tail | 0);
    return n;
  }
  /** As Producer.checkPublished: the consumer's published index is still this side's own. */
  checkPublished(): void {
    const published = Atomics.load(this.ring.i32, this.ring.tailWord) >>> 0;
    const own = (this.tail - this.unpublished) >>> 0;
    if (published !== own) throw new RingFault(`${this.ring.label()}: consumer index ${published} was written while this side held the role (it is ${own})`);
  }
  /** As Producer.resync: takes over the consumer's role, reading its published index back and checking it. */
  resync(): void {
    this.tail = Atomics.load(this.ring.i32, this.ring.tailWord) >>> 0;
    this.unpublished = 0;
    this.available();
  }
}

/**
 * The frames a consumer has finished with but cannot release yet, in ring order: a frame
 * forwarded without a copy stays in its RX slot until the TX ring that names it has been
 * consumed, and a ring is released in order, so frames after it wait too. Bounded by the
 * ring's size (one entry per slot).
 */
export class Holds {
  private readonly by: (Producer | null)[];
  private readonly index: Uint32Array;
  private first = 0;
  private n = 0;

  constructor(private readonly size: number) {
    this.by = new Array<Producer | null>(size).fill(null);
    this.index = new Uint32Array(size);
  }
  get count(): number {
    return this.n;
  }
  /** A finished frame: free once `by` has consumed its index `i` (by null: free now). */
  push(by: Producer | null, i: number): void {
    const k = (this.first + this.n) % this.size;
    this.by[k] = by;
    this.index[k] = i;
    this.n++;
  }
  /** Drops the leading entries whose frames are free; returns how many (to release). */
  reclaim(): number {
    let freed = 0;
    while (this.n > 0) {
      const by = this.by[this.first];
      if (by !== null && !by.consumed(this.index[this.first])) break;
      this.by[this.first] = null;
      this.first = (this.first + 1) % this.size;
      this.n--;
      freed++;
    }
    return freed;
  }
}

/**
 * Frames waiting on a ring, from both published indices, without holding either role: a hint
 * for the re-check before a sleep (notify.ts), never used to index a slot. A value that cannot
 * be right reads as "work", so the caller takes the role and the checked path finds the fault.
 */
export function peekAvailable(r: RingView): number {
  const used = (Atomics.load(r.i32, r.headWord) - Atomics.load(r.i32, r.tailWord)) >>> 0;
  return used > r.count ? 1 : used;
}

/** Free slots on a ring, as peekAvailable: a hint, never an index. */
export function peekRoom(r: RingView): number {
  const used = (Atomics.load(r.i32, r.headWord) - Atomics.load(r.i32, r.tailWord)) >>> 0;
  return used > r.count ? 1 : r.count - used;
}

/** Sets all four ring indices of a NIC before either side starts (tests use this to start near 2^32). */
export function setInitialIndices(i32: Int32Array, nic: NicLayout, index: number): void {
  for (const w of [N.txHead, N.txTail, N.rxHead, N.rxTail]) Atomics.store(i32, nic.headerWord + w, index | 0);
}
