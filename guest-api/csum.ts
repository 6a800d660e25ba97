// A frame whose virtio-net header asks the kernel for something, bound for a NIC whose TAP
// takes no header: what QEMU does for a backend without one. A checksum left to be filled in
// is filled in here; a super-frame cannot be cut up here and is refused.
import { VNET_F_NEEDS_CSUM, VNET_GSO_NONE, type VnetHeader } from './abi.js';

/** 'as-is': send without the header; 'csum': finish the checksum first; 'refuse': EINVAL. */
export function headerlessPlan(vnet: VnetHeader | undefined, size: number): 'as-is' | 'csum' | 'refuse' {
  if (vnet === undefined || (vnet.flags & VNET_F_NEEDS_CSUM) === 0) return vnet === undefined || vnet.gsoType === VNET_GSO_NONE ? 'as-is' : 'refuse';
  if (vnet.gsoType !== VNET_GSO_NONE) return 'refuse';
  return vnet.csumStart + vnet.csumOffset + 2 <= size ? 'csum' : 'refuse';
}

/**
 * The Internet checksum of u8[at + start .. at + size) (the field holding the pseudo-header
 * sum, as NEEDS_CSUM says), stored big-endian at at + start + offset; 0 goes out as 0xffff
 * (as the kernel's skb_checksum_help writes it, so a UDP checksum never reads "none").
 */
export function finishChecksum(u8: Uint8Array, at: number, size: number, start: number, offset: number): void {
  let sum = 0;
  const end = at + size;
  let i = at + start;
  for (; i + 1 < end; i += 2) sum += (u8[i] << 8) | u8[i + 1];
  if (i < end) sum += u8[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff || 0xffff;
  u8[at + start + offset] = c >>> 8;
  u8[at + start + offset + 1] = c & 0xff;
}
