// The baseline: no rings, no IO thread. Each guest net call is one synchronous trap into
// this device code, which runs on the guest's own thread (as an hvt vCPU thread exits into
// its tender) and does the syscall itself. One trap per net call, counted.
import { MIN_FRAME } from '../guest-api/abi.js';
import { AGAIN, EINVAL, OK, UNSPEC, type NetBackend, type ReadOut, type Result } from '../guest-api/results.js';
import { addon, errnoCode } from '../native/index.js';
import { gIndex, nIndex } from './stats.js';

/** The TAP failed under a trap (deleted while in use): the tender reports it, exit 74. */
export class DeviceFault extends Error {}

function trapSyscall<T>(iface: string, what: () => T): T {
  try {
    return what();
  } catch (err) {
    const code = errnoCode(err);
    throw new DeviceFault(`${iface}: ${code === 'EBADFD' || code === 'EBADF' || code === 'ENODEV' ? 'the TAP device was deleted' : (err as Error).message}`);
  }
}

export interface BaselineNic {
  iface: string;
  fd: number;
  maxFrame: number;
}

export class BaselineDevice implements NetBackend {
  private readonly epfd: number;
  private readonly ready: Int32Array;
  private readonly scratch: Uint8Array;
  private viewLen = -1;
  private readonly traps = gIndex('traps');

  constructor(
    private readonly nics: BaselineNic[],
    private readonly stats: Float64Array,
    wakeFd: number,
  ) {
    this.epfd = addon.epollCreate();
    for (const n of nics) addon.epollCtl(this.epfd, 'add', n.fd, true);
    if (wakeFd >= 0) addon.epollCtl(this.epfd, 'add', wakeFd, true);
    this.ready = new Int32Array(nics.length + 1);
    this.scratch = new Uint8Array(Math.max(0, ...nics.map((n) => n.maxFrame)) + 1);
  }

  /** Reads the next acceptable frame into buf (which must be longer than maxFrame to catch an oversize frame). */
  private readInto(h: number, buf: Uint8Array): number {
    const nic = this.nics[h];
    const s = this.stats;
    for (;;) {
      const len = trapSyscall(nic.iface, () => addon.readFrame(nic.fd, buf));
      if (len < 0) return -1;
      if (len < MIN_FRAME || len > nic.maxFrame) {
        s[nIndex(h, 'rx_bad')]++;
        continue;
      }
      s[nIndex(h, 'rx_frames')]++;
      s[nIndex(h, 'rx_bytes')] += len;
      return len;
    }
  }

  read(h: number, buf: Uint8Array, out: ReadOut): Result {
    this.stats[this.traps]++;
    const direct = buf.length > this.nics[h].maxFrame;
    const len = this.readInto(h, direct ? buf : this.scratch);
    if (len < 0) return AGAIN;
    if (!direct) {
      if (buf.length < len) {
        this.stats[nIndex(h, 'rx_drops')]++; // the guest's buffer is too small: counted, reported
        return EINVAL;
      }
      buf.set(this.scratch.subarray(0, len));
    }
    out.size = len;
    return OK;
  }

  readView(h: number): Uint8Array | null {
    this.stats[this.traps]++;
    this.viewLen = this.readInto(h, this.scratch);
    return this.viewLen < 0 ? null : this.scratch.subarray(0, this.viewLen);
  }

  readDone(_h: number): Result {
    if (this.viewLen < 0) return EINVAL;
    this.viewLen = -1;
    return OK;
  }

  write(h: number, buf: Uint8Array, size: number, _notify: boolean): Result {
    const nic = this.nics[h];
    if (!(size >= MIN_FRAME && size <= nic.maxFrame && size <= buf.length)) return EINVAL;
    this.stats[this.traps]++;
    const rc = trapSyscall(nic.iface, () => addon.writeFrame(nic.fd, buf, size));
    if (rc === -1) return AGAIN;
    if (rc === -2) {
      this.stats[nIndex(h, 'tx_drops')]++;
      return UNSPEC;
    }
    this.stats[nIndex(h, 'tx_frames')]++;
    this.stats[nIndex(h, 'tx_bytes')] += size;
    return OK;
  }

  flush(_h: number): Result {
    return OK; // every write already trapped: nothing is queued
  }

  wait(deadlineNs: number, nowNs = defaultNow): number {
    this.stats[this.traps]++;
    const timeout = Math.max(deadlineNs - nowNs(), 0);
    const n = addon.epollWait(this.epfd, timeout, this.ready);
    let set = 0;
    for (let i = 0; i < n; i++) {
      const h = this.nics.findIndex((nic) => nic.fd === this.ready[i] || -nic.fd - 1 === this.ready[i]);
      if (h >= 0) set |= 1 << h;
    }
    return set;
  }

  waitRoom(_h: number, _deadlineNs: number): boolean {
    return true; // a TAP write does not wait for room: the kernel takes it or drops it
  }

  close(): void {
    addon.close(this.epfd);
  }
}

function defaultNow(): number {
  const [s, ns] = process.hrtime();
  return s * 1e9 + ns;
}
