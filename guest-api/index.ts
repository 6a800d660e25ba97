// The guest API: what an app imports (`import { net_write } from 'shmtender/guest'`).
// solo5-shaped and the same in every mode; the tender installs the backend before the app
// is loaded. Results are OK, AGAIN, EINVAL, UNSPEC.
import { writeSync } from 'node:fs';
import { monotonicNs } from './clock.js';
import { AGAIN, EINVAL, OK, UNSPEC, type NetBackend, type ReadOut, type Result } from './results.js';

export { OK, AGAIN, EINVAL, UNSPEC };
export type { Result, ReadOut };

export interface NetInfo {
  /** Pass this to the net_* calls. */
  handle: number;
  name: string;
  /** The guest's MAC address, 6 bytes. */
  mac: Uint8Array;
  mtu: number;
}

interface Runtime {
  backend: NetBackend;
  nics: NetInfo[];
  countTrap: () => void;
  onExit: (status: number) => never;
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
  if (!validHandle(handle)) return EINVAL;
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

export function net_read_done(handle: number): Result {
  if (!validHandle(handle)) return EINVAL;
  return rt!.backend.readDone(handle);
}

/** Queues a frame and notifies the IO thread if it needs it. AGAIN when the TX ring is full. */
export function net_write(handle: number, buf: Uint8Array, size: number = buf.length): Result {
  if (!validHandle(handle)) return EINVAL;
  return rt!.backend.write(handle, buf, size, true);
}

/** Queues a frame without notifying; follow with net_flush. AGAIN when the TX ring is full. */
export function net_queue(handle: number, buf: Uint8Array, size: number = buf.length): Result {
  if (!validHandle(handle)) return EINVAL;
  return rt!.backend.write(handle, buf, size, false);
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

/** Writes to the tender's console (its stdout). A trap. */
export function console_write(text: string | Uint8Array): void {
  runtime().countTrap();
  const bytes = typeof text === 'string' ? encoder.encode(text) : text;
  let off = 0;
  while (off < bytes.length) off += writeSync(1, bytes, off, bytes.length - off);
}

/** Ends the guest with `status` after flushing anything queued. */
export function exit(status = 0): never {
  return runtime().onExit(status);
}
