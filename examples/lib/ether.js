// Just enough Ethernet/ARP/IPv4/ICMP/UDP for the examples; everything works in place on
// the frame's bytes, no allocation per frame.
export const ETH_ARP = 0x0806;
export const ETH_IP = 0x0800;

/** `--name=value` from the app's arguments. */
export function option(args, name, fallback) {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
}

export function ipBytes(text) {
  const p = text.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 address ${text}`);
  return Uint8Array.from(p);
}

const u16 = (f, o) => (f[o] << 8) | f[o + 1];
export const put16 = (f, o, v) => { f[o] = v >>> 8; f[o + 1] = v & 0xff; };
const same = (f, o, b) => f[o] === b[0] && f[o + 1] === b[1] && f[o + 2] === b[2] && f[o + 3] === b[3];
export const etherType = (f) => u16(f, 12);

function swap(f, a, b, n) {
  for (let i = 0; i < n; i++) { const t = f[a + i]; f[a + i] = f[b + i]; f[b + i] = t; }
}

/** Turns an ARP request for `ip` into the reply, in place. True if it did. */
export function arpReply(f, len, mac, ip) {
  if (len < 42 || etherType(f) !== ETH_ARP || u16(f, 20) !== 1 || !same(f, 38, ip)) return false;
  f.copyWithin(0, 6, 12); f.set(mac, 6);          // to the asker, from us
  put16(f, 20, 2);                                  // op = reply
  f.copyWithin(32, 22, 32);                         // target = the asker (sha, spa)
  f.set(mac, 22); f.set(ip, 28);                    // sender = us
  return true;
}

/** Builds an ARP request for `targetIp` into f; returns its length. */
export function arpRequest(f, mac, ip, targetIp) {
  f.fill(0xff, 0, 6); f.set(mac, 6); put16(f, 12, ETH_ARP);
  put16(f, 14, 1); put16(f, 16, ETH_IP); f[18] = 6; f[19] = 4; put16(f, 20, 1);
  f.set(mac, 22); f.set(ip, 28); f.fill(0, 32, 38); f.set(targetIp, 38);
  return 42;
}

/** If f is an ARP reply from `ip`, its MAC. */
export function arpAnswerFrom(f, len, ip) {
  if (len < 42 || etherType(f) !== ETH_ARP || u16(f, 20) !== 2 || !same(f, 28, ip)) return null;
  return f.slice(22, 28);
}

/** Turns an ICMP echo request to `ip` into the reply, in place. True if it did. */
export function echoReply(f, len, ip) {
  if (len < 42 || etherType(f) !== ETH_IP || (f[14] >> 4) !== 4 || f[23] !== 1 || !same(f, 30, ip)) return false;
  const icmp = 14 + (f[14] & 0xf) * 4;
  if (len < icmp + 8 || f[icmp] !== 8) return false;
  swap(f, 0, 6, 6);                                  // MACs
  swap(f, 26, 30, 4);                                // IPs (header checksum unchanged)
  f[icmp] = 0;                                       // echo reply
  // RFC 1624 incremental update: the type word went from 0x0800 to 0x0000.
  let sum = (~u16(f, icmp + 2) & 0xffff) + (~0x0800 & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  put16(f, icmp + 2, ~sum & 0xffff);
  return true;
}

/** If f is a UDP datagram to `ip`, the offset of its payload (else -1). */
export function udpPayload(f, len, ip) {
  if (len < 42 || etherType(f) !== ETH_IP || (f[14] >> 4) !== 4 || f[23] !== 17 || !same(f, 30, ip)) return -1;
  return 14 + (f[14] & 0xf) * 4 + 8;
}

function ipChecksum(f, off, n) {
  let sum = 0;
  for (let i = 0; i < n; i += 2) sum += u16(f, off + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Writes a whole UDP/IPv4 frame header for `payload` bytes into f (payload left to the caller); returns the frame length. */
export function udpHeader(f, src, dst, srcPort, dstPort, payload) {
  f.set(dst.mac, 0); f.set(src.mac, 6); put16(f, 12, ETH_IP);
  f[14] = 0x45; f[15] = 0; put16(f, 16, 20 + 8 + payload); put16(f, 18, 0);
  put16(f, 20, 0x4000); f[22] = 64; f[23] = 17; put16(f, 24, 0);
  f.set(src.ip, 26); f.set(dst.ip, 30);
  put16(f, 24, ipChecksum(f, 14, 20));
  put16(f, 34, srcPort); put16(f, 36, dstPort); put16(f, 38, 8 + payload); put16(f, 40, 0); // no UDP checksum (allowed on IPv4)
  return 42 + payload;
}

/** Sum over bytes, as real per-frame work for --work-ns. */
export function checksum(f, from, to) {
  let a = 1, b = 0;
  for (let i = from; i < to; i++) { a = (a + f[i]) % 65521; b = (b + a) % 65521; }
  return (b << 16) | a;
}

/**
 * A function that spends about `ns` nanoseconds checksumming a payload (going round it as
 * often as it takes): calibrated per byte, so small amounts of work are as exact as large.
 */
export function workFor(ns, now) {
  if (!(ns > 0)) return () => 0;
  const buf = new Uint8Array(1300).map((_, i) => i);
  let bytes = 0, x = 0;
  // Warm first: timed while the JIT is still compiling checksum, the loop looks slower than it
  // will run, and 2000 ns asked gave ~1600 ns of work.
  let t0 = now();
  while (now() - t0 < 50e6) x ^= checksum(buf, 0, buf.length);
  t0 = now();
  while (now() - t0 < 50e6) { x ^= checksum(buf, 0, buf.length); bytes += buf.length; }
  const want = Math.max(1, Math.round(ns / ((now() - t0) / bytes)));
  return (f, from, to) => {
    let acc = x & 0;
    for (let left = want; left > 0; left -= to - from) acc ^= checksum(f, from, Math.min(to, from + left));
    return acc;
  };
}

/** Writes an ICMP echo request (id, seq, `payload` bytes of i & 0xff) into f; returns its length. */
export function echoRequest(f, src, dst, id, seq, payload) {
  f.set(dst.mac, 0); f.set(src.mac, 6); put16(f, 12, ETH_IP);
  f[14] = 0x45; f[15] = 0; put16(f, 16, 20 + 8 + payload); put16(f, 18, seq & 0xffff);
  put16(f, 20, 0x4000); f[22] = 64; f[23] = 1; put16(f, 24, 0);
  f.set(src.ip, 26); f.set(dst.ip, 30);
  put16(f, 24, ipChecksum(f, 14, 20));
  f[34] = 8; f[35] = 0; put16(f, 36, 0); put16(f, 38, id); put16(f, 40, seq & 0xffff);
  for (let i = 0; i < payload; i++) f[42 + i] = i & 0xff;
  put16(f, 36, ipChecksum(f, 34, 8 + payload + (payload & 1)));
  return 42 + payload;
}

/** If f is an ICMP echo reply to `ip` with identifier `id`, its sequence number (else -1). */
export function echoReplySeq(f, len, ip, id) {
  if (len < 42 || etherType(f) !== ETH_IP || f[23] !== 1 || !same(f, 30, ip)) return -1;
  const icmp = 14 + (f[14] & 0xf) * 4;
  if (f[icmp] !== 0 || u16(f, icmp + 4) !== id) return -1;
  return u16(f, icmp + 6);
}
