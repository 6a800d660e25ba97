// A worker that plays the guest on the rings with the real guest-side backend: receives
// and checks datagrams (role rx) or builds and sends them (role tx).
import { workerData, parentPort } from 'node:worker_threads';
import { ShmBackend } from '../../guest-api/shm-backend.js';
import { OK } from '../../guest-api/results.js';
import { monotonicNs as nowNs } from '../../guest-api/clock.js';
import type { KickPolicy } from '../../guest-api/notify.js';
import { addon } from '../../native/index.js';
import { checkPayload, fillPayload, GUEST_MAC, payloadSize } from './common.js';

interface RoleConfig {
  role: 'rx' | 'tx';
  count: number;
  region: SharedArrayBuffer;
  kickFds: number[];
  kick: KickPolicy;
  progress: SharedArrayBuffer; // [0] frames this worker handled, [1] datagrams the host side received
  hostMac?: number[];
  window?: number;
}

const cfg = workerData as RoleConfig;
const progress = new Int32Array(cfg.progress);
const backend = new ShmBackend({ region: cfg.region, kickFds: cfg.kickFds, kick: cfg.kick, spinNs: 0, kickFn: (fd) => addon.eventfdWrite(fd), relax: () => addon.yieldCpu(), nowNs });
const ether: any = await import(new URL('../../../examples/lib/ether.js', import.meta.url).href);
const deadline = nowNs() + 60e9;

if (cfg.role === 'rx') {
  const buf = new Uint8Array(2048);
  const out = { size: 0 };
  let next = 0;
  let other = 0;
  let error: string | null = null;
  const ip = Uint8Array.from([10, 0, 0, 2]);
  while (next < cfg.count && nowNs() < deadline && !error) {
    if (backend.read(0, buf, out) !== OK) {
      backend.wait(nowNs() + 100e6);
      continue;
    }
    const off = ether.udpPayload(buf, out.size, ip);
    if (off < 0 || ((buf[off - 6] << 8) | buf[off - 5]) !== 9000) {
      other++;
      continue;
    }
    const udpLen = ((buf[off - 4] << 8) | buf[off - 3]) - 8;
    error = checkPayload(buf, off, udpLen, next);
    next++;
    Atomics.store(progress, 0, next);
  }
  parentPort!.postMessage({ received: next, other, error });
} else {
  const frame = new Uint8Array(1514);
  const src = { mac: Uint8Array.from(GUEST_MAC), ip: Uint8Array.from([10, 0, 0, 2]) };
  const dst = { mac: Uint8Array.from(cfg.hostMac!), ip: Uint8Array.from([10, 0, 0, 1]) };
  const window = cfg.window ?? 128;
  let seq = 0;
  let again = 0;
  while (seq < cfg.count && nowNs() < deadline) {
    // Pace on what the host-side socket has taken, so a full socket buffer cannot lose frames.
    if (seq - Atomics.load(progress, 1) >= window) {
      backend.flush(0);
      Atomics.wait(progress, 1, Atomics.load(progress, 1), 5);
      continue;
    }
    const size = payloadSize(seq);
    const len = ether.udpHeader(frame, src, dst, 9001, 9001, size);
    fillPayload(frame, 42, seq, size);
    const r = backend.write(0, frame, len, (seq & 15) === 15);
    if (r !== OK) {
      again++;
      backend.flush(0);
      backend.waitRoom(0, nowNs() + 100e6);
      continue;
    }
    seq++;
    Atomics.store(progress, 0, seq);
  }
  backend.close();
  parentPort!.postMessage({ sent: seq, again });
}
