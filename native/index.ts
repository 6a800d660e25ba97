// The typed face of the addon: one thin wrapper, no logic (as serialport's bindings-cpp).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface InterfaceState {
  exists: boolean;
  up: boolean;
}

export interface Addon {
  /**
   * Attach to an existing, up TAP (IFF_TAP|IFF_NO_PI), non-blocking. vnetHdrBytes > 0 adds
   * IFF_VNET_HDR with that header size. Errors carry .code (errno name).
   */
  tapAttach(name: string, vnetHdrBytes?: number): number;
  /** TUNSETOFFLOAD with exactly these TUN_F_* bits (EINVAL: the kernel does not know one). */
  tapSetOffload(fd: number, tunFlags: number): void;
  /** An AF_UNIX datagram socket made at setup, for interfaceState once no socket can be made. */
  watchSocket(): number;
  /** SIOCGIFFLAGS on `sock` (from watchSocket); exists is false once the interface is deleted. */
  interfaceState(sock: number, name: string): InterfaceState;
  setBlocking(fd: number, blocking: boolean): void;
  close(fd: number): void;

  /** Register a Uint8Array over a SharedArrayBuffer; bursts address it by id and are bounds-checked. */
  regionOpen(u8: Uint8Array): number;
  regionClose(region: number): void;
  /**
   * A NIC's bursts, bound once (native/burst.cc): its TAP, the io_uring (from uringRxOpen) its
   * reads and its writes go through, or -1 for read()/write() per frame; its RX slots, rxSlots
   * buffers of rxCapacity bytes rxStride apart from rxFirst, checked against the region now;
   * the lens and offsets arrays every burst of the port fills and reads (each over a
   * SharedArrayBuffer, which cannot be detached under the port).
   */
  burstPortOpen(region: number, fd: number, readRing: number, writeRing: number, rxFirst: number, rxStride: number, rxCapacity: number, rxSlots: number, lens: Uint32Array, offsets: Uint32Array): number;
  burstPortClose(port: number): void;
  /**
   * Up to count frames from the TAP into RX slots slot, slot+1, …; their lengths into lens.
   * spinNs: while the TAP is empty, the first read is tried again for up to that long.
   */
  burstRead(port: number, slot: number, count: number, spinNs?: number): number;
  /**
   * count frames to the TAP, lens[i] bytes at offsets[i] each (anywhere in the region, all
   * checked first); a refused frame is consumed with lens[i] = 0. Frames consumed.
   */
  burstWrite(port: number, count: number): number;
  /**
   * An io_uring that reads fd's frames into the RX slots [slotsOffset, +slotsLength) of the
   * region, restricted to that before it is enabled (native/uring_rx.cc). Before the lock only.
   * Errors carry .code: ENOSYS/EPERM where io_uring is missing or disabled, ENOMEM past RLIMIT_MEMLOCK.
   */
  uringRxOpen(region: number, fd: number, slotsOffset: number, slotsLength: number): number;
  uringRxClose(ring: number): void;
  /** io_uring_enter(fd) doing nothing: 0 or -errno; what this thread's filter lets through (test/escape.test.ts). */
  uringEnterProbe(fd: number): number;
  /** One frame into buf (its virtio-net header into hdr, when given): the length read (header included), or -1 when nothing waits. */
  readFrame(fd: number, buf: Uint8Array, hdr?: Uint8Array): number;
  /** One frame from buf (after the virtio-net header hdr, when given): 0 written, -1 would block, -2 refused by the kernel. */
  writeFrame(fd: number, buf: Uint8Array, length: number, hdr?: Uint8Array): number;

  eventfdCreate(): number;
  eventfdWrite(fd: number, value?: number): void;
  /** The eventfd counter (sum of writes since the last read), 0 if none. */
  eventfdRead(fd: number): number;
  epollCreate(): number;
  epollCtl(epfd: number, op: 'add' | 'mod' | 'del', fd: number, readable?: boolean): void;
  /** Ready fds into readyFds (an fd with only an error/hangup comes back as -fd - 1). */
  epollWait(epfd: number, timeoutNs: number, readyFds: Int32Array): number;

  /** CPU seconds (user + system) of the calling thread (getrusage RUSAGE_THREAD); undefined if the thread is being stopped. */
  threadCpuSeconds(): number | undefined;
  /** CPU seconds of another thread of this process, by its tid; null once it has ended. */
  threadCpuSecondsOf(tid: number): number | null;
  threadId(): number;
  /** One pwritev2 + RWF_APPEND of bytes[offset, offset+length) to fd; the bytes taken. The one write the filters let through to a protected fd, from a tender thread. */
  protectedWrite(fd: number, bytes: Uint8Array, offset?: number, length?: number): number;
  /** After the lock: stacks the guest filter on the calling thread (native/seccomp.cc). */
  guestFilter(): void;
  /** After the lock: stacks the guest filter on each of the n threadpool threads (n = the pool's size). */
  guestFilterThreadpool(n: number): Promise<void>;
  /** Names the calling thread (PR_SET_NAME; 15 bytes kept): shmt-io, shmt-guest show in top -H, ps -L and perf. */
  setThreadName(name: string): void;
  /** sched_yield(): let another runnable thread have this CPU, without sleeping. */
  yieldCpu(): void;
}

/** The lock (native/privileges.cc, seccomp.cc). On the main thread only: no worker's addon has these. */
export interface LockAddon {
  /** root -> nobody/nogroup, or every capability dropped; checked on every thread. */
  dropPrivileges(): { uid: number; gid: number; from: 'root' | 'capabilities' | 'unprivileged'; deaf: number[] };
  /** NO_NEW_PRIVS, then the allow-list filter on all threads; returns the protected fds' new numbers. */
  seccompLock(protectFds: number[]): number[];
  /** RLIMIT_DATA, soft and hard, to `bytes` (native/rlimit.cc): mappings past it fail with ENOMEM. */
  limitData(bytes: number): void;
  /** _exit(code) (native/thread.cc): an exit that joins no thread, for a guest blocked in a system call. */
  exitNow(code: number): never;
}

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
// The package root holds binding.gyp: two levels up from dist/native/, one from native/ (tests).
const packageRoot = fileURLToPath(new URL(existsSync(new URL('../binding.gyp', import.meta.url)) ? '..' : '../..', import.meta.url));

export const addon = nodeGypBuild(packageRoot) as Addon & Partial<LockAddon>;

/** The lock functions; throws off the main thread, where the addon does not have them. */
export function lockAddon(): LockAddon {
  if (typeof addon.seccompLock !== 'function') throw new Error('the lock is only available on the main thread');
  return addon as LockAddon;
}

/** CPU seconds (user + system) of the calling thread. */
export function threadCpuSeconds(): number {
  return addon.threadCpuSeconds() ?? 0;
}

/** An addon error's errno name, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}
