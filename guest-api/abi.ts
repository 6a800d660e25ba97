// The shared-memory ABI between the tender and its guest: defined here and nowhere else.
// docs/abi.md draws it. Native code knows none of these numbers: it is handed offsets.
//
// One SharedArrayBuffer per tender:
//   [global header: 3 cache lines] [NIC 0: header 3 lines | TX slots | RX slots] [NIC 1 ...]
// Each header has a constant line (written by the host before the guest starts), a line
// only the host writes while running, and a line only the guest writes: each side's live
// words on their own cache line, apart from the other's. All words are Int32 so they can
// be used with Atomics (and Atomics.wait).

export const ABI_MAGIC = 0x544d4853; // "SHMT" little-endian
export const ABI_VERSION = 1;
export const CACHE_LINE = 64;
export const MAX_NICS = 32; // the ready set of yield_until is a 32-bit mask

// Ethernet header (14) + one VLAN tag (4): the largest frame for a given MTU.
export const ETH_HEADER = 14;
export const FRAME_OVERHEAD = 18;
export const MIN_FRAME = ETH_HEADER;

/** Word indices (Int32) inside the global header. */
export const G = {
  // line 0: constant
  magic: 0,
  version: 1,
  nicCount: 2,
  regionBytes: 3,
  // line 1: host-written
  doorbell: 16, // incremented by the IO thread to wake a waiting guest (Atomics.wait target)
  ioAsleep: 17, // 1 while the IO thread is (about to be) asleep in epoll_wait
  ioSleepEpoch: 18, // incremented each time the IO thread goes to sleep
  // line 2: guest-written
  guestWaiting: 32, // WAIT_RX | WAIT_TX while the guest is (about to be) blocked
  guestWaitEpoch: 33, // incremented each time the guest goes to wait
} as const;
export const GLOBAL_HEADER_BYTES = 3 * CACHE_LINE;

export const WAIT_RX = 1; // wake me when an RX ring gets frames
export const WAIT_TX = 2; // wake me when a TX ring gets room

/** Word indices inside a NIC header, relative to the NIC's first word. */
export const N = {
  // line 0: constant
  slotCount: 0,
  slotSize: 1,
  mtu: 2,
  maxFrame: 3,
  txSlotsOffset: 4, // bytes from the start of the region
  rxSlotsOffset: 5,
  mac0: 6, // MAC bytes 0-3 (little-endian word)
  mac1: 7, // MAC bytes 4-5
  // line 1: host-written
  rxHead: 16, // RX producer index (free-running u32)
  txTail: 17, // TX consumer index
  rxStalled: 18, // 1 while the IO thread stopped reading the TAP because the RX ring is full
  // line 2: guest-written
  txHead: 32, // TX producer index
  rxTail: 33, // RX consumer index
} as const;
export const NIC_HEADER_BYTES = 3 * CACHE_LINE;

// A slot: u32 frame length, u32 reserved, then the frame. Slots are cache-line aligned.
export const SLOT_LEN_OFFSET = 0;
export const SLOT_DATA_OFFSET = 8;

export interface NicGeometry {
  mtu: number;
  slotCount: number; // a power of two
}

export interface NicLayout {
  index: number;
  headerWord: number; // Int32 index of the NIC header's first word
  slotCount: number;
  slotSize: number;
  capacity: number; // bytes a slot can hold (> maxFrame, so an oversize read is detectable)
  mtu: number;
  maxFrame: number;
  txSlotsOffset: number;
  rxSlotsOffset: number;
}

export interface RegionLayout {
  bytes: number;
  nics: NicLayout[];
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export function slotSizeFor(mtu: number): number {
  // +1 so a frame one byte over maxFrame still fits in the read and is recognised as oversize.
  return alignUp(SLOT_DATA_OFFSET + mtu + FRAME_OVERHEAD + 1, CACHE_LINE);
}

/** Computes the layout; the one place offsets come from. */
export function computeLayout(nics: NicGeometry[]): RegionLayout {
  if (nics.length < 1 || nics.length > MAX_NICS) throw new RangeError(`between 1 and ${MAX_NICS} NICs`);
  let offset = GLOBAL_HEADER_BYTES;
  const out: NicLayout[] = [];
  nics.forEach((g, index) => {
    if (!isPowerOfTwo(g.slotCount) || g.slotCount < 2 || g.slotCount > 65536)
      throw new RangeError('slot count must be a power of two from 2 to 65536');
    if (!Number.isInteger(g.mtu) || g.mtu < 68 || g.mtu > 65535) throw new RangeError('MTU must be 68..65535');
    const slotSize = slotSizeFor(g.mtu);
    const headerWord = offset / 4;
    const txSlotsOffset = offset + NIC_HEADER_BYTES;
    const rxSlotsOffset = txSlotsOffset + g.slotCount * slotSize;
    offset = rxSlotsOffset + g.slotCount * slotSize;
    out.push({
      index, headerWord, slotCount: g.slotCount, slotSize, capacity: slotSize - SLOT_DATA_OFFSET,
      mtu: g.mtu, maxFrame: g.mtu + FRAME_OVERHEAD, txSlotsOffset, rxSlotsOffset,
    });
  });
  const layout = { bytes: offset, nics: out };
  checkLayout(layout);
  return layout;
}

/** Start-up check that the numbers above are self-consistent (cheap; runs every start). */
export function checkLayout(layout: RegionLayout): void {
  const lines = [G.doorbell, G.guestWaiting, N.rxHead, N.txHead].map((w) => Math.floor((w * 4) / CACHE_LINE));
  if (lines[0] !== 1 || lines[1] !== 2 || lines[2] !== 1 || lines[3] !== 2) throw new Error('ABI: words are off their cache lines');
  for (const n of layout.nics) {
    if ((n.headerWord * 4) % CACHE_LINE || n.txSlotsOffset % CACHE_LINE || n.rxSlotsOffset % CACHE_LINE || n.slotSize % CACHE_LINE)
      throw new Error('ABI: misaligned NIC section');
    if (n.capacity <= n.maxFrame) throw new Error('ABI: slot cannot hold an oversize frame for detection');
    if (n.rxSlotsOffset + n.slotCount * n.slotSize > layout.bytes) throw new Error('ABI: NIC section outside region');
  }
}

/** The host creates the region and writes its constant lines. */
export function createRegion(layout: RegionLayout, macs: Uint8Array[]): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(layout.bytes);
  const w = new Int32Array(sab);
  w[G.magic] = ABI_MAGIC;
  w[G.version] = ABI_VERSION;
  w[G.nicCount] = layout.nics.length;
  w[G.regionBytes] = layout.bytes;
  for (const n of layout.nics) {
    const h = n.headerWord;
    w[h + N.slotCount] = n.slotCount;
    w[h + N.slotSize] = n.slotSize;
    w[h + N.mtu] = n.mtu;
    w[h + N.maxFrame] = n.maxFrame;
    w[h + N.txSlotsOffset] = n.txSlotsOffset;
    w[h + N.rxSlotsOffset] = n.rxSlotsOffset;
    const mac = macs[n.index];
    const u8 = new Uint8Array(sab, (h + N.mac0) * 4, 8);
    u8.set(mac.subarray(0, 6));
  }
  return sab;
}

/**
 * The guest reads the layout back from the region (it is handed nothing else), checking
 * magic and version so a mismatched tender and guest API fail loudly.
 */
export function readLayout(sab: SharedArrayBuffer): { layout: RegionLayout; macs: Uint8Array[] } {
  const w = new Int32Array(sab);
  if (w[G.magic] !== ABI_MAGIC) throw new Error('ABI: bad magic in shared region');
  if (w[G.version] !== ABI_VERSION) throw new Error(`ABI: version ${w[G.version]}, expected ${ABI_VERSION}`);
  const count = w[G.nicCount];
  const geoms: NicGeometry[] = [];
  const macs: Uint8Array[] = [];
  let word = GLOBAL_HEADER_BYTES / 4;
  for (let i = 0; i < count; i++) {
    geoms.push({ mtu: w[word + N.mtu], slotCount: w[word + N.slotCount] });
    macs.push(new Uint8Array(sab, (word + N.mac0) * 4, 6).slice());
    word += (NIC_HEADER_BYTES + 2 * w[word + N.slotCount] * w[word + N.slotSize]) / 4;
  }
  const layout = computeLayout(geoms);
  // Every constant word the host wrote must be what this side computes from the same geometry.
  if (layout.bytes !== sab.byteLength || w[G.regionBytes] !== layout.bytes) throw new Error('ABI: region size does not match its header');
  for (const n of layout.nics) {
    const h = n.headerWord;
    if (w[h + N.maxFrame] !== n.maxFrame || w[h + N.txSlotsOffset] !== n.txSlotsOffset || w[h + N.rxSlotsOffset] !== n.rxSlotsOffset || w[h + N.slotSize] !== n.slotSize)
      throw new Error(`ABI: NIC ${n.index} header does not match its geometry`);
  }
  return { layout, macs };
}
