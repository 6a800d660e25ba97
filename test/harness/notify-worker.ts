// One side of the two-thread notification test (test/notify.test.ts): the protocol of
// guest-api/notify.ts with the real rings, an Int32 word standing in for the kick eventfd
// (a counter that only grows, waited on as epoll_wait waits on the fd), and bounded sleeps
// whose time-outs count as lost wake-ups: with no lost wake-up, no sleep ever times out.
import { parentPort, workerData } from 'node:worker_threads';
import { G, MIN_FRAME, readLayout } from '../../guest-api/abi.js';
import { GuestNotify, HostNotify, WAIT_RX, type KickPolicy } from '../../guest-api/notify.js';
import { Consumer, Producer, RingView } from '../../guest-api/ring.js';

interface Config {
  role: 'host' | 'guest';
  region: SharedArrayBuffer;
  kick: SharedArrayBuffer; // [0] kicks sent (the eventfd), [1] set to 1 when the guest is done
  frames: number; // each direction
  policy: KickPolicy;
  sleepCapMs: number;
}
const cfg = workerData as Config;
const i32 = new Int32Array(cfg.region);
const kick = new Int32Array(cfg.kick);
const { layout } = readLayout(cfg.region);
const nic = layout.nics[0];
const tx = new RingView(i32, new Uint32Array(cfg.region), nic, 'tx');
const rx = new RingView(i32, new Uint32Array(cfg.region), nic, 'rx');
const dv = new DataView(cfg.region);
// A little random work between steps, so the two threads interleave every which way.
let seed = cfg.role === 'host' ? 12345 : 67890;
const jitter = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  for (let i = (seed >>> 24) & 63; i > 0; i--) Atomics.load(i32, 0);
  return seed;
};

if (cfg.role === 'host') {
  const notify = new HostNotify(i32);
  const fromGuest = new Consumer(tx, MIN_FRAME, nic.maxFrame);
  const toGuest = new Producer(rx);
  let consumed = 0, produced = 0, announces = 0, sleeps = 0, lost = 0, interrupts = 0, stalls = 0, bad = 0;
  let stalled = false;
  while (consumed < cfg.frames || produced < cfg.frames) {
    let work = 0;
    const avail = fromGuest.available();
    for (let k = 0; k < avail; k++) if (dv.getUint32(tx.dataOffset(fromGuest.index + k), true) !== consumed + k) bad++;
    if (avail > 0) fromGuest.release(avail);
    consumed += avail;
    work += avail;
    const room = Math.min(toGuest.room(), cfg.frames - produced, 1 + (jitter() & 7));
    for (let k = 0; k < room; k++) {
      dv.setUint32(rx.dataOffset(toGuest.index + k), produced + k, true);
      toGuest.setLength(k, 60);
    }
    if (room > 0) {
      toGuest.publish(room);
      produced += room;
      work += room;
      interrupts += notify.interruptIfWaiting(WAIT_RX);
    }
    if (work > 0) continue;
    // Nothing to do: the sleep of pump.ts (stall if the RX ring is full, announce, re-check, wait).
    const full = produced < cfg.frames && toGuest.room() === 0;
    if (full !== stalled) notify.setRxStalled(nic, (stalled = full));
    if (full) stalls++;
    const seen = Atomics.load(kick, 0);
    notify.announceSleep();
    announces++;
    jitter();
    // The re-check: TX frames, or room on the RX ring for frames still to come (a TAP that
    // became readable would wake epoll_wait; here production is the host's own work).
    const pending = fromGuest.available() > 0 || (produced < cfg.frames && toGuest.room() > 0);
    if (!pending) {
      sleeps++;
      if (Atomics.wait(kick, 0, seen, cfg.sleepCapMs) === 'timed-out' && Atomics.load(kick, 1) === 0) lost++;
    }
    notify.awake();
  }
  parentPort!.postMessage({ consumed, produced, announces, sleeps, lost, interrupts, stalls, bad });
} else {
  const notify = new GuestNotify(i32, layout.nics, cfg.policy, () => {
    Atomics.add(kick, 0, 1);
    Atomics.notify(kick, 0);
  });
  const toHost = new Producer(tx);
  const fromHost = new Consumer(rx, MIN_FRAME, nic.maxFrame);
  let sent = 0, received = 0, announces = 0, waits = 0, lost = 0, bad = 0;
  while (sent < cfg.frames || received < cfg.frames) {
    const n = Math.min(toHost.room(), cfg.frames - sent, (jitter() & 3) === 0 ? 1 + (seed & 15) : 0);
    for (let k = 0; k < n; k++) {
      dv.setUint32(tx.dataOffset(toHost.index + k), sent + k, true);
      toHost.setLength(k, 60);
    }
    if (n > 0) {
      toHost.publish(n);
      sent += n;
      notify.txPublished(0);
    }
    const avail = fromHost.available();
    if (avail > 0) {
      // Release one at a time, as net_read_done does, so the stall kick is exercised.
      for (let k = 0; k < avail; k++) {
        if (dv.getUint32(rx.dataOffset(fromHost.index), true) !== received) bad++;
        fromHost.release(1);
        received++;
        notify.rxReleased(0);
        jitter();
      }
      continue;
    }
    if (received >= cfg.frames) continue;
    // No frame waiting: yield_until's sleep (announce, re-check, wait on the doorbell). The host
    // always has RX work while we have none (it produces until the ring is full), so it must ring.
    const bell = notify.announceWait(WAIT_RX);
    announces++;
    if (fromHost.available() === 0) {
      waits++;
      notify.sleep(bell, cfg.sleepCapMs);
      if (fromHost.available() === 0 && Atomics.load(i32, G.doorbell) === bell) lost++; // the doorbell never rang
    }
    notify.doneWaiting();
  }
  const kicks = Atomics.load(kick, 0);
  Atomics.store(kick, 1, 1);
  Atomics.add(kick, 0, 1); // let a host still asleep see the end
  Atomics.notify(kick, 0);
  parentPort!.postMessage({ sent, received, announces, waits, lost, bad, kicks });
}
