// The guest API: what an app imports (`import { net_write } from 'shmtender/guest'`).
// solo5-shaped and the same in every mode; the tender installs the backend before the app
// is loaded. Results are OK, AGAIN, EINVAL, UNSPEC.
import { writeAll, type ConsoleGone } from './console.js';
import { monotonicNs } from './clock.js';
import { AGAIN, EINVAL, OK, UNSPEC, type NetBackend, type ReadOut, type Result } from './results.js';
import { emptyVnet, type VnetHeader } from './abi.js';

export { OK, AGAIN, EINVAL, UNSPEC };
export type { Result, ReadOut, VnetHeader };
export {
  OFFLOAD, VNET_F_NEEDS_CSUM, VNET_F_DATA_VALID, VNET_GSO_NONE, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_GSO_UDP,
  VNET_GSO_UDP_L4, VNET_GSO_ECN,
} from './abi.js';

export interface NetInfo {
  /** Pass this to the net_* calls. */
  handle: number;
  name: string;
  /** The guest's MAC address, 6 bytes. */
  mac: Uint8Array;
  mtu: number;
  /** The largest frame net_read can return and net_write take: mtu + 18, or 65554 with a virtio-net header. */
  maxFrame: number;
  /** TUN_F_* bits (OFFLOAD.csum, .tso4, ...) in force; 0 without --offload. */
  offloads: number;
  /** True when frames carry a virtio-net header (--offload): net_read_vnet and the vnet arguments mean something. */
  vnet: boolean;
}

interface Runtime {
  backend: NetBackend;
  nics: NetInfo[];
  countTrap: () => void;
  onExit: (status: number) => never;
  /** The console's reader went away (EPIPE, ECONNRESET): the tender stops the guest, as SIGPIPE stops a program. */
  onConsoleClosed: (why: ConsoleGone) => never;
}

let rt: Runtime | undefined;
const scratchOut: ReadOut = { size: 0 };

/** Called by the tender's guest thread before the app is imported. Not for apps. */
export function __installRuntime(runtime: Runtime): void {
  if (rt) throw new Error('guest runtime installed twice');
  rt = runtime;
}

function runtime(): Runtime {
  if (!rt) throw new Error('shmtender/guest: no tender here (run the app with `tender`)');
  return rt;
}

const validHandle = (h: number) => Number.isInteger(h) && h >= 0 && h < runtime().nics.length;
/** What every backend can take: bytes, and a whole number of them (in the baseline a 60.5 or a Uint16Array reached the TAP's system call and failed there, as if the TAP had). */
const validFrame = (buf: Uint8Array, size: number) => buf instanceof Uint8Array && Number.isInteger(size);

/** The NIC named `name` ('service' for --net=IFACE); with no name and one NIC, that NIC. A trap. */
export function net_info(name?: string): NetInfo | undefined {
  const r = runtime();
  r.countTrap();
  const nic = name === undefined ? (r.nics.length === 1 ? r.nics[0] : r.nics.find((n) => n.name === 'service')) : r.nics.find((n) => n.name === name);
  return nic && { ...nic, mac: nic.mac.slice() };
}

/** Names of all NICs, in handle order. */
export function net_names(): string[] {
  return runtime().nics.map((n) => n.name);
}

/** Copies the next frame into buf; out.size is its length. AGAIN when none is waiting. */
export function net_read(handle: number, buf: Uint8Array, out: ReadOut = scratchOut): Result {
  if (!validHandle(handle) || !validFrame(buf, 0)) return EINVAL;
  return rt!.backend.read(handle, buf, out);
}

/**
 * Zero copy: a view of the next frame where it lies, or null when none is waiting.
 * The view is valid until net_read_done(handle), which gives the slot back.
 */
export function net_read_view(handle: number): Uint8Array | null {
  if (!validHandle(handle)) return null;
  return rt!.backend.readView(handle);
}

/**
 * The virtio-net header of the next frame (the one net_read_view returns), into `out` in
 * place. An empty header on a NIC without offloads; AGAIN when no frame is waiting.
 */
export function net_read_vnet(handle: number, out: VnetHeader): Result {
  if (!validHandle(handle)) return EINVAL;
  return rt!.backend.readVnet(handle, out);
}

/** A fresh, empty virtio-net header object to pass to net_read / net_read_vnet / net_write. */
export function vnet_header(): VnetHeader {
  return emptyVnet();
}

export function net_read_done(handle: number): Result {
  if (!validHandle(handle)) return EINVAL;
  return rt!.backend.readDone(handle);
}

/**
 * Queues a frame and notifies the IO thread if it needs it. AGAIN when the TX ring is full.
 * `vnet` (NICs with offloads) asks the kernel to finish the frame: NEEDS_CSUM fills in the L4
 * checksum, a gsoType segments a super-frame. EINVAL for a non-empty header on a NIC without.
 */
export function net_write(handle: number, buf: Uint8Array, size: number = buf?.length, vnet?: VnetHeader): Result {
  if (!validHandle(handle) || !validFrame(buf, size)) return EINVAL;
  return rt!.backend.write(handle, buf, size, true, vnet);
}

/** Queues a frame without notifying; follow with net_flush. AGAIN when the TX ring is full. */
export function net_queue(handle: number, buf: Uint8Array, size: number = buf?.length, vnet?: VnetHeader): Result {
  if (!validHandle(handle) || !validFrame(buf, size)) return EINVAL;
  return rt!.backend.write(handle, buf, size, false, vnet);
}

/**
 * Queues the frame net_read_view(from) returns on `to`'s TX ring, its virtio-net header with
 * it, and consumes it as net_read_done(from) does. No copy: the IO thread sends it from where
 * it was received (and the RX slot comes back once it is sent). Follow with net_flush(to).
 * AGAIN when `to`'s TX ring is full (the frame stays), EINVAL when no frame waits or it
 * cannot go out on `to` (a super-frame towards a NIC without offloads).
 */
export function net_forward(from: number, to: number): Result {
  if (!validHandle(from) || !validHandle(to)) return EINVAL;
  return rt!.backend.forward(from, to, false);
}

/** One notification for everything queued (on `handle`, or on every NIC). */
export function net_flush(handle?: number): Result {
  const r = runtime();
  if (handle === undefined) {
    for (let h = 0; h < r.nics.length; h++) r.backend.flush(h);
    return OK;
  }
  if (!validHandle(handle)) return EINVAL;
  return r.backend.flush(handle);
}

/**
 * solo5_yield: blocks until a NIC has frames or clock_monotonic() reaches deadline (ns).
 * Returns the ready set: bit h is set when handle h has frames waiting; 0 at the deadline.
 */
export function yield_until(deadline: number): number {
  return runtime().backend.wait(deadline);
}

/** Blocks until handle's TX ring has room (true) or the deadline passes (false): for AGAIN from net_write. */
export function net_wait_room(handle: number, deadline: number): boolean {
  if (!validHandle(handle)) return false;
  return rt!.backend.waitRoom(handle, deadline);
}

/** Monotonic time in nanoseconds (a float64 number; exact for ~104 days of uptime). */
export const clock_monotonic: () => number = monotonicNs;

/** Wall-clock time in nanoseconds since the Unix epoch. */
export function clock_wall(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}

const encoder = new TextEncoder();

/**
 * Writes to the tender's console (its stdout), all of it: where stdout is a pipe or socket
 * and its reader is behind (`tender app.js | less`), it waits for room, as a blocking write
 * would (guest-api/console.ts). Where the reader has gone (`tender app.js | head -1`), the run
 * ends as a program's does on SIGPIPE: the guest is stopped, exit 141. A trap.
 */
export function console_write(text: string | Uint8Array): void {
  runtime().countTrap();
  const gone = writeAll(1, typeof text === 'string' ? encoder.encode(text) : text);
  if (gone) runtime().onConsoleClosed(gone);
}

/** Ends the guest with `status` after flushing anything queued. */
export function exit(status = 0): never {
  return runtime().onExit(status);
}
