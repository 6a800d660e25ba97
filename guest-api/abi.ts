// The shared-memory ABI between the tender and its guest: defined here and nowhere else.
// docs/abi.md draws it. Native code knows none of these numbers: it is handed offsets.
//
// One SharedArrayBuffer per tender:
//   [global header: 3 cache lines] [NIC 0: header 3 lines | TX slots | RX slots] [NIC 1 ...]
// Each header has a constant line (written by the host before the guest starts), a line
// only the host writes while running, and a line only the guest writes: each side's live
// words on their own cache line, apart from the other's. The one word both sides write, the
// IO token, sits on the global constant line, which neither side's hot words share. All words
// are Int32 so they can be used with Atomics (and Atomics.wait).

export const ABI_MAGIC = 0x544d4853; // "SHMT" little-endian
export const ABI_VERSION = 2; // 2: per-NIC virtio-net header and offloads; slots sized for 64 KiB frames
export const CACHE_LINE = 64;
export const MAX_NICS = 32; // the ready set of yield_until is a 32-bit mask
export const MAX_REGION_BYTES = 2 ** 31 - 64;

// Ethernet header (14) + one VLAN tag (4): the largest frame for a given MTU.
export const ETH_HEADER = 14;
export const FRAME_OVERHEAD = 18;
export const MIN_FRAME = ETH_HEADER;

// virtio-net offloads (issue 14). A NIC with offloads has its TAP opened IFF_VNET_HDR, and
// every frame in its slots is preceded by this header, as the TAP reads and writes it:
// struct virtio_net_hdr_v1 (virtio 1.0, little-endian), 12 bytes: the legacy 10-byte
// header plus num_buffers, which is what QEMU and vhost-net use, so a guest that knows
// virtio reads it as it always has. num_buffers means nothing here (one frame, one slot).
export const VNET_HDR_BYTES = 12;
export const VNET = { flags: 0, gsoType: 1, hdrLen: 2, gsoSize: 4, csumStart: 6, csumOffset: 8, numBuffers: 10 } as const;
export const VNET_F_NEEDS_CSUM = 1; // the L4 checksum is to be filled in: csumStart/csumOffset say where
export const VNET_F_DATA_VALID = 2; // the kernel already checked the checksum (RX only)
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_UDP = 3;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_UDP_L4 = 5; // USO: UDP segmentation (one datagram per gsoSize bytes of payload)
export const VNET_GSO_ECN = 0x80; // or-ed into gsoType: TCP with ECN (CWR) set

/** A virtio-net header in typed form (what net_read and net_read_vnet fill, net_write/net_queue take). */
export interface VnetHeader {
  flags: number; // VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID
  gsoType: number; // VNET_GSO_*, maybe | VNET_GSO_ECN
  hdrLen: number; // bytes of Ethernet + IP + L4 headers (a hint for GSO frames)
  gsoSize: number; // L4 payload bytes per segment (GSO frames)
  csumStart: number; // NEEDS_CSUM: where the checksummed bytes start, from the frame's first byte
  csumOffset: number; // NEEDS_CSUM: where the checksum goes, from csumStart
}

export function emptyVnet(): VnetHeader {
  return { flags: 0, gsoType: VNET_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

export function decodeVnet(u8: Uint8Array, at: number, out: VnetHeader): void {
  out.flags = u8[at + VNET.flags];
  out.gsoType = u8[at + VNET.gsoType];
  out.hdrLen = u8[at + VNET.hdrLen] | (u8[at + VNET.hdrLen + 1] << 8);
  out.gsoSize = u8[at + VNET.gsoSize] | (u8[at + VNET.gsoSize + 1] << 8);
  out.csumStart = u8[at + VNET.csumStart] | (u8[at + VNET.csumStart + 1] << 8);
  out.csumOffset = u8[at + VNET.csumOffset] | (u8[at + VNET.csumOffset + 1] << 8);
}

const u8ok = (v: number) => (v & 0xff) === v;
const u16ok = (v: number) => (v & 0xffff) === v;

/** Encodes h (or an empty header) at u8[at]; false, writing nothing, if a field does not fit its width. */
export function encodeVnet(u8: Uint8Array, at: number, h: VnetHeader | undefined): boolean {
  if (h === undefined) {
    u8.fill(0, at, at + VNET_HDR_BYTES);
    return true;
  }
  const { flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset } = h;
  if (!(u8ok(flags) && u8ok(gsoType) && u16ok(hdrLen) && u16ok(gsoSize) && u16ok(csumStart) && u16ok(csumOffset))) return false;
  u8[at + VNET.flags] = flags;
  u8[at + VNET.gsoType] = gsoType;
  u8[at + VNET.hdrLen] = hdrLen; u8[at + VNET.hdrLen + 1] = hdrLen >>> 8;
  u8[at + VNET.gsoSize] = gsoSize; u8[at + VNET.gsoSize + 1] = gsoSize >>> 8;
  u8[at + VNET.csumStart] = csumStart; u8[at + VNET.csumStart + 1] = csumStart >>> 8;
  u8[at + VNET.csumOffset] = csumOffset; u8[at + VNET.csumOffset + 1] = csumOffset >>> 8;
  u8[at + VNET.numBuffers] = 0; u8[at + VNET.numBuffers + 1] = 0;
  return true;
}

// TUN_F_* bits (linux/if_tun.h), as TUNSETOFFLOAD takes them and the NIC header reports them.
export const OFFLOAD = { csum: 0x01, tso4: 0x02, tso6: 0x04, tsoEcn: 0x08, uso4: 0x20, uso6: 0x40 } as const;
export type OffloadName = keyof typeof OFFLOAD;
export function offloadNames(bits: number): OffloadName[] {
  return (Object.keys(OFFLOAD) as OffloadName[]).filter((k) => (bits & OFFLOAD[k]) !== 0);
}

// The largest packet the kernel hands a TAP with TSO/USO or takes from it: its default
// gso_max_size / gro_max_size (GSO_LEGACY_MAX_SIZE). A bigger frame (BIG TCP turned on by
// hand) is counted in rx_bad like any oversize frame, never passed on cut short.
export const GSO_MAX_PACKET = 65536;

/** Word indices (Int32) inside the global header. */
export const G = {
  // line 0: constant
  magic: 0,
  version: 1,
  nicCount: 2,
  regionBytes: 3,
  // The IO token's words were unused before it and need no new version: a guest API that knows
  // nothing of the token never takes it, and the IO thread then keeps it (hybrid as before).
  ioToken: 8, // TOKEN_FREE / TOKEN_IO / TOKEN_GUEST: who moves frames between the TAPs and the rings (notify.ts)
  // line 1: host-written
  doorbell: 16, // incremented by the IO thread to wake a waiting guest (Atomics.wait target)
  ioAsleep: 17, // IO_AWAKE, or IO_WATCHING / IO_BACKED_OFF / IO_PARKED while it is (about to be) asleep in epoll_wait
  ioSleepEpoch: 18, // incremented each time the IO thread goes to sleep
  ioTokenTakes: 19, // incremented each time the IO thread takes the IO token
  // Unused before, as the token's words were: a guest API that ignores it spins as before.
  ioStreaming: 20, // 1 while RX frames stream in (a flood, a drain): a waiting guest sleeps at once (notify.ts, step 4)
  // Unused before: a guest API that ignores it is stopped as before.
  guestStop: 21, // 1 once the tender stops the guest: it takes the IO token no more (host/tender.ts, stopGuest)
  // line 2: guest-written
  guestWaiting: 32, // WAIT_RX | WAIT_TX while the guest is (about to be) blocked
  guestWaitEpoch: 33, // incremented each time the guest goes to wait
  guestTokenTakes: 34, // incremented each time the guest takes the IO token
  guestTokenRequest: 35, // TOKEN_ASK / TOKEN_BACK: what the guest asks of a running IO thread (notify.ts)
  guestBacklog: 36, // 1 while the guest's own RX bursts (holding the token) come back full
  // Unused before, as the token's words were: a guest API that leaves it 0 is offered a poll as before.
  guestRxFrames: 37, // frames the guest's own RX bursts read, mod 2^32: with guestTokenTakes, its pace (notify.ts)
  // Unused before: a guest API that leaves it 0 takes the token as before.
  guestRelays: 38, // 1 once the guest forwards frames between NICs without offloads: it leaves the token to the IO thread (notify.ts)
} as const;
export const GLOBAL_HEADER_BYTES = 3 * CACHE_LINE;

export const WAIT_RX = 1; // wake me when an RX ring gets frames
export const WAIT_TX = 2; // wake me when a TX ring gets room
export const WAIT_DEVICE = 4; // not a wake-up request: the guest sleeps on its TAPs itself, holding the IO token

// Values of G.ioToken.
export const TOKEN_FREE = 0;
export const TOKEN_IO = 1;
export const TOKEN_GUEST = 2;
// Values of G.guestTokenRequest.
export const TOKEN_ASK = 1; // the guest is about to wait: give it the token
export const TOKEN_BACK = 2; // the guest's burst found nothing: take the token back and poll

// Values of G.ioAsleep.
export const IO_AWAKE = 0;
export const IO_WATCHING = 1; // asleep on the TAPs, the kick eventfds and the control eventfd
export const IO_BACKED_OFF = 2; // asleep on the kicks and the control only, for a bounded time: the guest has the token
// The same, without the short timer: the guest has slept on its TAPs a whole park through, and
// kicks when that sleep ends. (A guest API that never kicks leaves it to the one-second cap.)
export const IO_PARKED = 3;

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
  vnetHdrBytes: 8, // 0, or VNET_HDR_BYTES: each slot's frame is preceded by a virtio-net header
  offloads: 9, // TUN_F_* bits the kernel accepted for this NIC's TAP (0 without offloads)
  // line 1: written by the IO token's holder (the IO thread, or a guest servicing its own rings)
  rxHead: 16, // RX producer index (free-running u32)
  txTail: 17, // TX consumer index
  rxStalled: 18, // 1 while the IO thread stopped reading the TAP because the RX ring is full
  // line 2: guest-written
  txHead: 32, // TX producer index
  rxTail: 33, // RX consumer index
} as const;
export const NIC_HEADER_BYTES = 3 * CACHE_LINE;

// A slot: u32 frame length, u32 ref, [virtio-net header,] then the frame. The length counts
// the frame only. Slots are cache-line aligned. In a TX slot, ref 0 means the frame is in
// this slot; otherwise the guest forwards a received frame where it lies (net_forward): ref
// names an RX slot, whose header and frame the IO thread writes instead, and the guest keeps
// that RX slot until the TX slot is consumed. RX slots' ref is 0.
export const SLOT_LEN_OFFSET = 0;
export const SLOT_REF_OFFSET = 4;
export const SLOT_DATA_OFFSET = 8; // where a read() lands and a write() starts: the header, if any, then the frame
const REF_FLAG = 0x80000000;
/** A TX slot's ref naming slot `slot` of NIC `nic`'s RX ring. */
export function encodeRef(nic: number, slot: number): number {
  return (REF_FLAG | (nic << 16) | slot) >>> 0;
}
/** The NIC a non-zero ref names; a value >= MAX_NICS (bits 21-30 set, or no flag) names none. */
export function refNic(ref: number): number {
  return (ref & REF_FLAG) !== 0 ? (ref >>> 16) & 0x7fff : 0x7fff;
}
export function refSlot(ref: number): number {
  return ref & 0xffff;
}

export interface NicGeometry {
  mtu: number;
  slotCount: number; // a power of two
  /** TUN_F_* bits in force; 0 (or absent) without offloads. */
  offloads?: number;
  /** Whether the TAP carries a virtio-net header (set with offloads, even if the kernel took none of them). */
  vnet?: boolean;
}

export interface NicLayout {
  index: number;
  headerWord: number; // Int32 index of the NIC header's first word
  slotCount: number;
  slotSize: number;
  capacity: number; // bytes a read() may fill: header + frame (> header + maxFrame, so an oversize read is detectable)
  mtu: number;
  /** The largest frame in a slot: mtu + 18, or with a virtio-net header GSO_MAX_PACKET + 18. */
  maxFrame: number;
  /** The largest frame without segmentation offload (gsoType NONE): mtu + 18. */
  mtuFrame: number;
  vnetHdrBytes: number;
  offloads: number;
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

/** The largest frame a NIC's slots hold. */
export function maxFrameFor(mtu: number, vnet: boolean): number {
  return (vnet ? Math.max(mtu, GSO_MAX_PACKET) : mtu) + FRAME_OVERHEAD;
}

export function slotSizeFor(mtu: number, vnet = false): number {
  // +1 so a frame one byte over maxFrame still fits in the read and is recognised as oversize.
  return alignUp(SLOT_DATA_OFFSET + (vnet ? VNET_HDR_BYTES : 0) + maxFrameFor(mtu, vnet) + 1, CACHE_LINE);
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
    const vnet = g.vnet === true;
    const offloads = g.offloads ?? 0;
    if (!Number.isInteger(offloads) || offloads < 0 || offloads > 0xffff || (offloads !== 0 && !vnet)) throw new RangeError('offloads need a virtio-net header');
    const slotSize = slotSizeFor(g.mtu, vnet);
    const vnetHdrBytes = vnet ? VNET_HDR_BYTES : 0;
    const headerWord = offset / 4;
    const txSlotsOffset = offset + NIC_HEADER_BYTES;
    const rxSlotsOffset = txSlotsOffset + g.slotCount * slotSize;
    offset = rxSlotsOffset + g.slotCount * slotSize;
    out.push({
      index, headerWord, slotCount: g.slotCount, slotSize, capacity: slotSize - SLOT_DATA_OFFSET,
      mtu: g.mtu, maxFrame: maxFrameFor(g.mtu, vnet), mtuFrame: g.mtu + FRAME_OVERHEAD, vnetHdrBytes, offloads, txSlotsOffset, rxSlotsOffset,
    });
  });
  // regionBytes is an Int32 word; 2 GiB is also well past what any NIC needs.
  if (offset > MAX_REGION_BYTES) throw new RangeError(`the rings need ${Math.ceil(offset / 2 ** 20)} MiB, over the 2 GiB a region can have: fewer --ring-slots`);
  const layout = { bytes: offset, nics: out };
  checkLayout(layout);
  return layout;
}

/** Start-up check that the numbers above are self-consistent (cheap; runs every start). */
export function checkLayout(layout: RegionLayout): void {
  const lines = [G.doorbell, G.guestWaiting, N.rxHead, N.txHead, G.ioToken, G.ioTokenTakes, G.guestTokenRequest, G.guestBacklog].map((w) => Math.floor((w * 4) / CACHE_LINE));
  if (lines.join() !== '1,2,1,2,0,1,2,2') throw new Error('ABI: words are off their cache lines');
  for (const n of layout.nics) {
    if ((n.headerWord * 4) % CACHE_LINE || n.txSlotsOffset % CACHE_LINE || n.rxSlotsOffset % CACHE_LINE || n.slotSize % CACHE_LINE)
      throw new Error('ABI: misaligned NIC section');
    if (n.capacity <= n.vnetHdrBytes + n.maxFrame) throw new Error('ABI: slot cannot hold an oversize frame for detection');
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
    w[h + N.vnetHdrBytes] = n.vnetHdrBytes;
    w[h + N.offloads] = n.offloads;
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
    if (w[word + N.vnetHdrBytes] !== 0 && w[word + N.vnetHdrBytes] !== VNET_HDR_BYTES) throw new Error(`ABI: virtio-net header of ${w[word + N.vnetHdrBytes]} bytes`);
    geoms.push({ mtu: w[word + N.mtu], slotCount: w[word + N.slotCount], vnet: w[word + N.vnetHdrBytes] !== 0, offloads: w[word + N.offloads] });
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
