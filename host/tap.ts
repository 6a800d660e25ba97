// Opening a TAP for a NIC, with or without virtio-net offloads. The policy lives here; the
// addon only does the ioctls (native/tap.cc).
import { OFFLOAD, VNET_HDR_BYTES } from '../guest-api/abi.js';
import { addon, errnoCode } from '../native/index.js';

const { csum, tso4, tso6, tsoEcn, uso4, uso6 } = OFFLOAD;
/**
 * What --offload asks for, best first. The kernel says EINVAL to a bit it does not know
 * (USO came in Linux 6.2, and it takes USO4 only together with USO6), so each set is tried
 * in turn; checksum offload and TSO are as old as IFF_VNET_HDR.
 */
export const OFFLOAD_SETS = [csum | tso4 | tso6 | tsoEcn | uso4 | uso6, csum | tso4 | tso6 | tsoEcn, csum | tso4 | tso6, csum];

export interface OpenTap {
  fd: number;
  /** The TUN_F_* bits in force (0 without offloads). */
  offloads: number;
  /** Whether every frame carries a virtio-net header (exactly when offloads were asked for). */
  vnet: boolean;
}

/**
 * Attaches to `iface`. Offloads outlive the program that set them on a persistent TAP, and a
 * TAP left with checksum/TSO on hands a reader without a virtio-net header super-frames and
 * unfinished checksums; so without offloads the set is cleared, as solo5's tap_attach does.
 */
export function openTap(iface: string, offload: boolean): OpenTap {
  const fd = addon.tapAttach(iface, offload ? VNET_HDR_BYTES : 0);
  try {
    if (!offload) {
      addon.tapSetOffload(fd, 0);
      return { fd, offloads: 0, vnet: false };
    }
    for (const set of OFFLOAD_SETS) {
      try {
        addon.tapSetOffload(fd, set);
        return { fd, offloads: set, vnet: true };
      } catch (err) {
        if (errnoCode(err) !== 'EINVAL') throw err;
      }
    }
    // No checksum offload at all: frames still carry the (then always empty) header.
    addon.tapSetOffload(fd, 0);
    return { fd, offloads: 0, vnet: true };
  } catch (err) {
    addon.close(fd);
    throw err;
  }
}
