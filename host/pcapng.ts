// The pcapng file format (draft-ietf-opsawg-pcapng), as far as the tender writes it: pure
// functions that encode blocks, little-endian, into Buffers. Nothing here knows about rings,
// files or the tender; host/capture.ts decides what goes in them.
//
// Every block: u32 type · u32 total length · body · options · u32 total length. Options: u16
// code · u16 length · value padded to 4 bytes, ended by opt_endofopt (code 0, length 0).

export const BLOCK = { SHB: 0x0a0d0d0a, IDB: 1, ISB: 5, EPB: 6 } as const;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const LINKTYPE_ETHERNET = 1;
/** if_tsresol = 9: timestamps count nanoseconds. */
export const TSRESOL_NS = 9;

const OPT = { endofopt: 0, comment: 1 } as const;
const SHB_OPT = { hardware: 2, os: 3, userappl: 4 } as const;
const IF_OPT = { name: 2, description: 3, macaddr: 6, tsresol: 9 } as const;
const EPB_OPT = { flags: 2, dropcount: 4 } as const;
const ISB_OPT = { starttime: 2, endtime: 3, ifrecv: 4, ifdrop: 5, filteraccept: 6, osdrop: 7, usrdeliv: 8 } as const;

/** epb_flags: bits 0-1 direction, bits 16-31 link-layer errors (bit 26 too short, 25 too long). */
export const EPB_FLAG = {
  inbound: 1,
  outbound: 2,
  tooShort: 1 << 26,
  tooLong: 1 << 25,
} as const;

export interface Option {
  code: number;
  value: Uint8Array;
}

const pad4 = (n: number) => (n + 3) & ~3;

export const option = {
  text: (code: number, text: string): Option => ({ code, value: Buffer.from(text, 'utf8') }),
  u8: (code: number, v: number): Option => ({ code, value: Uint8Array.of(v) }),
  u32: (code: number, v: number): Option => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return { code, value: b };
  },
  u64: (code: number, v: bigint | number): Option => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return { code, value: b };
  },
  /** A pcapng timestamp: the high 32 bits first, then the low 32 bits (not a plain u64). */
  time: (code: number, ns: bigint): Option => {
    const b = Buffer.alloc(8);
    const [hi, lo] = splitNs(ns);
    b.writeUInt32LE(hi, 0);
    b.writeUInt32LE(lo, 4);
    return { code, value: b };
  },
  comment: (text: string): Option => option.text(OPT.comment, text),
};

/** A 64-bit count of nanoseconds as the two u32 words pcapng stores (high, low). */
export function splitNs(ns: bigint): [number, number] {
  return [Number((ns >> 32n) & 0xffffffffn), Number(ns & 0xffffffffn)];
}

/** Bytes the encoded options take, opt_endofopt included (none at all when the list is empty). */
export function optionsLength(opts: Option[]): number {
  return opts.length === 0 ? 0 : opts.reduce((a, o) => a + 4 + pad4(o.value.length), 4);
}

function writeOptions(out: Buffer, off: number, opts: Option[]): number {
  if (opts.length === 0) return off;
  for (const o of opts) {
    if (o.value.length > 0xffff) throw new RangeError(`pcapng option ${o.code} longer than 65535 bytes`);
    out.writeUInt16LE(o.code, off);
    out.writeUInt16LE(o.value.length, off + 2);
    out.set(o.value, off + 4);
    out.fill(0, off + 4 + o.value.length, off + 4 + pad4(o.value.length));
    off += 4 + pad4(o.value.length);
  }
  out.writeUInt32LE(OPT.endofopt, off); // code 0, length 0
  return off + 4;
}

/** A whole block: type, length, the fixed body, the options, the length again. */
export function block(type: number, body: Uint8Array, opts: Option[] = []): Buffer {
  const total = 12 + pad4(body.length) + optionsLength(opts);
  const out = Buffer.alloc(total);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  out.set(body, 8);
  writeOptions(out, 8 + pad4(body.length), opts);
  out.writeUInt32LE(total, total - 4);
  return out;
}

export interface SectionInfo {
  userappl?: string;
  os?: string;
  hardware?: string;
  comment?: string;
}

/** Section Header Block: byte-order magic, version 1.0, section length unknown (-1). */
export function sectionHeader(info: SectionInfo = {}): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  body.writeUInt16LE(1, 4);
  body.writeUInt16LE(0, 6);
  body.writeBigInt64LE(-1n, 8);
  const opts: Option[] = [];
  if (info.comment) opts.push(option.comment(info.comment));
  if (info.hardware) opts.push(option.text(SHB_OPT.hardware, info.hardware));
  if (info.os) opts.push(option.text(SHB_OPT.os, info.os));
  if (info.userappl) opts.push(option.text(SHB_OPT.userappl, info.userappl));
  return block(BLOCK.SHB, body, opts);
}

export interface InterfaceInfo {
  name: string;
  description?: string;
  mac?: Uint8Array;
  snaplen: number;
  linktype?: number;
  comment?: string;
}

/** Interface Description Block with if_tsresol = 9 (nanoseconds). Interfaces are numbered 0, 1, ... in the order written. */
export function interfaceDescription(i: InterfaceInfo): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(i.linktype ?? LINKTYPE_ETHERNET, 0);
  body.writeUInt32LE(i.snaplen >>> 0, 4);
  const opts: Option[] = [option.text(IF_OPT.name, i.name)];
  if (i.description) opts.push(option.text(IF_OPT.description, i.description));
  if (i.mac) opts.push({ code: IF_OPT.macaddr, value: i.mac.subarray(0, 6) });
  opts.push(option.u8(IF_OPT.tsresol, TSRESOL_NS));
  if (i.comment) opts.push(option.comment(i.comment));
  return block(BLOCK.IDB, body, opts);
}

export interface InterfaceStats {
  interfaceId: number;
  timestampNs: bigint;
  startNs?: bigint;
  endNs?: bigint;
  ifrecv?: number;
  ifdrop?: number;
  filteraccept?: number;
  osdrop?: number;
  usrdeliv?: number;
  comment?: string;
}

/** Interface Statistics Block. */
export function interfaceStatistics(s: InterfaceStats): Buffer {
  const body = Buffer.alloc(12);
  const [hi, lo] = splitNs(s.timestampNs);
  body.writeUInt32LE(s.interfaceId, 0);
  body.writeUInt32LE(hi, 4);
  body.writeUInt32LE(lo, 8);
  const opts: Option[] = [];
  if (s.comment) opts.push(option.comment(s.comment));
  if (s.startNs !== undefined) opts.push(option.time(ISB_OPT.starttime, s.startNs));
  if (s.endNs !== undefined) opts.push(option.time(ISB_OPT.endtime, s.endNs));
  for (const k of ['ifrecv', 'ifdrop', 'filteraccept', 'osdrop', 'usrdeliv'] as const) {
    if (s[k] !== undefined) opts.push(option.u64(ISB_OPT[k], s[k]!));
  }
  return block(BLOCK.ISB, body, opts);
}

export interface PacketInfo {
  interfaceId: number;
  tsHi: number;
  tsLo: number;
  origLen: number;
  flags: number;
  /** Packets lost on this interface between the previous packet and this one (epb_dropcount). */
  dropCount?: number;
  /** An opt_comment already encoded with option.comment (encoded once, reused per packet). */
  comment?: Option;
}

/** Bytes an Enhanced Packet Block of capLen data bytes takes. */
export function enhancedPacketLength(capLen: number, p: Pick<PacketInfo, 'dropCount' | 'comment'>): number {
  let opts = 8 + 4; // epb_flags, opt_endofopt
  if (p.dropCount) opts += 4 + 8;
  if (p.comment) opts += 4 + pad4(p.comment.value.length);
  return 28 + pad4(capLen) + opts + 4;
}

/**
 * Writes an Enhanced Packet Block into out at off (the fast path: no allocation) with the
 * capLen bytes of data from dataStart; returns the offset after it.
 */
export function writeEnhancedPacket(out: Buffer, off: number, p: PacketInfo, data: Uint8Array, dataStart: number, capLen: number): number {
  const total = enhancedPacketLength(capLen, p);
  out.writeUInt32LE(BLOCK.EPB, off);
  out.writeUInt32LE(total, off + 4);
  out.writeUInt32LE(p.interfaceId, off + 8);
  out.writeUInt32LE(p.tsHi, off + 12);
  out.writeUInt32LE(p.tsLo, off + 16);
  out.writeUInt32LE(capLen, off + 20);
  out.writeUInt32LE(p.origLen, off + 24);
  out.set(data.subarray(dataStart, dataStart + capLen), off + 28);
  let o = off + 28 + capLen;
  while (o & 3) out[o++] = 0;
  if (p.comment) o = writeOne(out, o, p.comment);
  out.writeUInt16LE(EPB_OPT.flags, o);
  out.writeUInt16LE(4, o + 2);
  out.writeUInt32LE(p.flags >>> 0, o + 4);
  o += 8;
  if (p.dropCount) {
    out.writeUInt16LE(EPB_OPT.dropcount, o);
    out.writeUInt16LE(8, o + 2);
    out.writeBigUInt64LE(BigInt(p.dropCount), o + 4);
    o += 12;
  }
  out.writeUInt32LE(OPT.endofopt, o);
  out.writeUInt32LE(total, o + 4);
  return o + 8;
}

function writeOne(out: Buffer, off: number, o: Option): number {
  out.writeUInt16LE(o.code, off);
  out.writeUInt16LE(o.value.length, off + 2);
  out.set(o.value, off + 4);
  let end = off + 4 + o.value.length;
  while (end & 3) out[end++] = 0;
  return end;
}

/** An Enhanced Packet Block as its own Buffer (tests, and anything not on a hot path). */
export function enhancedPacket(p: PacketInfo, data: Uint8Array, capLen = data.length): Buffer {
  const out = Buffer.alloc(enhancedPacketLength(capLen, p));
  writeEnhancedPacket(out, 0, p, data, 0, capLen);
  return out;
}
