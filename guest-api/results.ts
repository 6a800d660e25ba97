// Result codes, as solo5's solo5_result_t.
export const OK = 0;
export const AGAIN = 1;
export const EINVAL = 2;
export const UNSPEC = 3;
export type Result = typeof OK | typeof AGAIN | typeof EINVAL | typeof UNSPEC;

import type { VnetHeader } from './abi.js';

/** Out-parameter of net_read (solo5's *read_size); with `vnet`, also the frame's virtio-net header. */
export interface ReadOut {
  size: number;
  /** Filled in place when present: the header on a NIC with offloads, an empty one otherwise. */
  vnet?: VnetHeader;
}

/** What a guest API call is served by: the rings (shm modes) or traps (baseline). */
export interface NetBackend {
  read(handle: number, buf: Uint8Array, out: ReadOut): Result;
  /** A zero-copy view of the next frame's bytes, valid until net_read_done. */
  readView(handle: number): Uint8Array | null;
  readDone(handle: number): Result;
  /** The virtio-net header of the frame readView returns (empty on a NIC without offloads). */
  readVnet(handle: number, out: VnetHeader): Result;
  write(handle: number, buf: Uint8Array, size: number, notify: boolean, vnet?: VnetHeader): Result;
  /** The frame readView(from) returns, with its header, onto `to`'s TX ring; consumes it as readDone does. */
  forward(from: number, to: number, notify: boolean): Result;
  flush(handle: number): Result;
  /** Blocks until a NIC has frames (returns the ready set, bit h for handle h) or the deadline passes (0). */
  wait(deadlineNs: number): number;
  /** Blocks until the TX ring of `handle` has room (true) or the deadline passes (false). */
  waitRoom(handle: number, deadlineNs: number): boolean;
  /** Called once before the guest thread ends: flushes anything queued. */
  close(): void;
}
