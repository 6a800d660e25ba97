// One side of the two-thread IO-token test (test/notify.test.ts): the token protocol of
// guest-api/notify.ts on the real rings, with a simulated TAP between them.
//   wire   the traffic source: delivers numbered frames onto the simulated TAP in bursts with
//          gaps from none to milliseconds (floods, idle spells, request/response pace), and
//          wakes a TAP sleeper as epoll would: the guest sleeping on its TAPs, and the IO
//          thread only while it sleeps watching them (ioAsleep = WATCHING, not stalled).
//   host   the IO thread's token loop as pump.ts runs it (take, serve, give to a guest that
//          asks, back off, poll for a hand-back, sleep watching), its "epoll" an Int32 word
//          that kicks and the wire bump, waited on with Atomics.wait.
//   guest  the real ShmBackend, handed a TokenService over the simulated TAP: it takes, asks
//          for, hands back and sleeps holding the token exactly as in the tender.
// Whoever holds the token moves frames (wire -> RX ring, TX ring -> wire); a service entered
// while the other side is inside one is a violation. Every sleep is bounded; one that runs
// to its cap while frames keep coming is a lost wake-up.
import { parentPort, workerData } from 'node:worker_threads';
import { G, IO_BACKED_OFF, IO_PARKED, IO_WATCHING, MIN_FRAME, N, readLayout } from '../../guest-api/abi.js';
import { monotonicNs as nowNs } from '../../guest-api/clock.js';
import { BACKOFF_NS, HostNotify, PARK_NS, WAIT_RX, WAIT_TX } from '../../guest-api/notify.js';
import { OK } from '../../guest-api/results.js';
import { Consumer, peekAvailable, peekRoom, Producer, RingView } from '../../guest-api/ring.js';
import { ShmBackend, type TokenService } from '../../guest-api/shm-backend.js';

interface Config {
  role: 'wire' | 'host' | 'guest';
  region: SharedArrayBuffer;
  shared: SharedArrayBuffer;
  frames: number;
  capMs: number;
  /** Back off and park for capMs instead of BACKOFF / PARK, and keep the guest from going busy: every wake-up must then be sent, none comes from a timer. */
  strict: boolean;
}
// Words of `shared`.
const S = {
  delivered: 0, // frames the wire put on the TAP
  taken: 1, // frames read off the TAP (only the token's holder writes it)
  inService: 2, // 1 while a holder moves frames
  txSeen: 3, // TX frames that reached the wire (only the holder writes it)
  ioEvents: 4, // the IO thread's "epoll": kicks and (while it watches) TAP arrivals bump it
  guestTap: 5, // the guest's TAP "epoll": every arrival bumps it
  done: 6,
  violations: 7,
  kicks: 8,
  txBad: 9,
  stamp: 16, // 16..: the wire's delivery time (ms, low bits) of frame i % 1024, for delays
} as const;

const cfg = workerData as Config;
const i32 = new Int32Array(cfg.region);
const sh = new Int32Array(cfg.shared);
const { layout } = readLayout(cfg.region);
const nic = layout.nics[0];
const u32 = new Uint32Array(cfg.region);
const rxView = new RingView(i32, u32, nic, 'rx');
const txView = new RingView(i32, u32, nic, 'tx');
const dv = new DataView(cfg.region);
const nowMs = () => nowNs() / 1e6;
let seed = cfg.role === 'host' ? 12345 : cfg.role === 'guest' ? 67890 : 424242;
const rand = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
};
const jitter = () => {
  for (let i = rand(64); i > 0; i--) Atomics.load(sh, S.done);
};
const done = () => Atomics.load(sh, S.done) !== 0;
const bump = (w: number) => {
  Atomics.add(sh, w, 1);
  Atomics.notify(sh, w);
};

/** The service both holders run: what host/io-thread/service.ts does with read()/write() on a TAP. */
class SimService {
  rxFull = false;
  rxMoved = 0;
  readonly rx = new Producer(rxView);
  readonly tx = new Consumer(txView, MIN_FRAME, nic.maxFrame);
  resync(): void {
    this.rx.resync();
    this.tx.resync();
  }
  round(limit = 16): number {
    if (Atomics.exchange(sh, S.inService, 1) !== 0) Atomics.add(sh, S.violations, 1);
    const taken = Atomics.load(sh, S.taken);
    const n = Math.min(Atomics.load(sh, S.delivered) - taken, this.rx.room(), limit);
    for (let k = 0; k < n; k++) {
      dv.setUint32(rxView.dataOffset(this.rx.index + k), taken + k, true);
      this.rx.setLength(k, 60);
    }
    jitter();
    if (n > 0) {
      Atomics.store(sh, S.taken, taken + n);
      this.rx.publish(n);
    }
    this.rxFull = n >= 4;
    this.rxMoved = n;
    const t = this.flushTx(false);
    Atomics.store(sh, S.inService, 0);
    return n + t;
  }
  flushTx(enter = true): number {
    if (enter && Atomics.exchange(sh, S.inService, 1) !== 0) Atomics.add(sh, S.violations, 1);
    // The kernel takes a few frames a call, then says EAGAIN: TX frames are left behind, for
    // the hand-back kick and net_wait_room to deal with.
    const avail = Math.min(this.tx.available(), 1 + rand(6));
    let seen = Atomics.load(sh, S.txSeen);
    for (let k = 0; k < avail; k++) {
      this.tx.length(k);
      if (dv.getUint32(txView.dataOffset(this.tx.index + k), true) !== seen++) Atomics.add(sh, S.txBad, 1);
    }
    if (avail > 0) {
      this.tx.release(avail);
      Atomics.store(sh, S.txSeen, seen);
    }
    if (enter) Atomics.store(sh, S.inService, 0);
    return avail;
  }
}

if (cfg.role === 'wire') {
  // Bursts of 1..48 frames; gaps: none, a short spin, 1-6 ms, or now and then 25-45 ms (so
  // every sleep happens, the IO thread's untimed park too).
  let sent = 0;
  while (sent < cfg.frames && !done()) {
    const burst = Math.min(1 + rand(48), cfg.frames - sent);
    for (let k = 0; k < burst; k++) Atomics.store(sh, S.stamp + ((sent + k) & 1023), nowMs() | 0);
    sent += burst;
    Atomics.store(sh, S.delivered, sent);
    bump(S.guestTap);
    if (Atomics.load(i32, G.ioAsleep) === IO_WATCHING && Atomics.load(i32, nic.headerWord + N.rxStalled) === 0) bump(S.ioEvents);
    const r = rand(100);
    if (r < 1) Atomics.wait(sh, S.done, 0, 25 + rand(20));
    else if (r < 8) Atomics.wait(sh, S.done, 0, 1 + rand(6));
    else if (r < 60) for (let i = rand(4000); i > 0; i--) Atomics.load(sh, S.done);
    // Never more than 256 frames ahead of the guest: the test is about wake-ups, not drops.
    while (sent - Atomics.load(sh, S.taken) > 256 && !done()) Atomics.wait(sh, S.done, 0, 1);
  }
  parentPort!.postMessage({ sent });
} else if (cfg.role === 'host') {
  const notify = new HostNotify(i32);
  const svc = new SimService();
  let held = false;
  let stalled = false;
  const c = { takes: 0, handoffs: 0, yields: 0, stepAsides: 0, backoffs: 0, handBacks: 0, takeovers: 0, parks: 0, deepParks: 0, kickedFromPark: 0, watches: 0, lost: 0, interrupts: 0 };
  const txWaiting = () => peekAvailable(txView) > 0;
  const needed = () => done() || notify.tokenFreeAndNeeded(txWaiting);
  const pollForHandBack = () => {
    for (let i = 0; i < 50; i++) {
      if (needed()) return true;
      jitter();
    }
    return false;
  };
  // onePoller: --io-token=auto's choice went to the guest alone (pump.ts): no poll for a hand-back.
  const backOff = (onePoller = false) => {
    c.backoffs++;
    if (onePoller ? needed() : pollForHandBack()) return void c.handBacks++;
    let seen = notify.guestTakes();
    let seenFrames = notify.guestRxFrames();
    let parkedOn: number | null = null;
    for (;;) {
      const events = Atomics.load(sh, S.ioEvents);
      const deviceSleep = notify.guestDeviceSleep();
      const parked = deviceSleep !== null && deviceSleep === parkedOn;
      parkedOn = deviceSleep;
      notify.announceSleep(parked ? IO_PARKED : IO_BACKED_OFF);
      if (needed()) return void notify.awake();
      if (parked && !notify.stillInDeviceSleep(deviceSleep)) continue; // still announced, as pump.ts
      if (deviceSleep !== null) c.parks++;
      if (parked) c.deepParks++;
      const r = Atomics.wait(sh, S.ioEvents, events, cfg.strict || parked ? cfg.capMs : (deviceSleep !== null ? PARK_NS : BACKOFF_NS) / 1e6);
      // Still announced while it looks around, as pump.ts: awake only to return or to offer.
      // Parked without a timer, only the guest's kick on waking ends it: one that ran to the
      // cap after that sleep ended is a lost kick.
      if (parked && r === 'timed-out' && !done() && !notify.stillInDeviceSleep(deviceSleep)) c.lost++;
      if (parked && r !== 'timed-out') c.kickedFromPark++;
      if (r !== 'timed-out') return void notify.awake();
      const takes = notify.guestTakes();
      if (takes === seen && !notify.guestOnDevice()) return void notify.awake();
      if (notify.guestBackloggedAndWorking()) {
        notify.awake();
        return void c.takeovers++;
      }
      const frames = notify.guestRxFrames();
      const roundTrips = ((frames - seenFrames) | 0) < 2 * ((takes - seen) | 0);
      seen = takes;
      seenFrames = frames;
      if (roundTrips && !onePoller && !notify.guestOnDevice()) {
        notify.awake();
        if (pollForHandBack()) return void c.handBacks++;
      }
    }
  };
  while (!done()) {
    if (!held) {
      const h = notify.takeToken();
      if (h < 0) {
        backOff();
        continue;
      }
      held = true;
      c.takes++;
      if (h > 0) {
        c.handoffs++;
        svc.resync();
      }
      if (stalled && svc.rx.room() > 0) notify.setRxStalled(nic, (stalled = false));
    }
    if (notify.guestAsks()) {
      c.yields++;
      notify.giveToken();
      held = false;
      backOff();
      continue;
    }
    const moved = svc.round();
    notify.checkHeld(); // as pump.ts: nobody but this side lets go of its token
    if (rand(16) === 0) for (let i = rand(40000); i > 0; i--) Atomics.load(sh, S.done); // descheduled now and then: frames pile up on the TAP
    if (moved > 0) {
      c.interrupts += notify.interruptIfWaiting(WAIT_RX) + notify.interruptIfWaiting(WAIT_TX);
      continue;
    }
    if (rand(8) === 0) {
      // auto's choice went to one poller while this thread polls beside the guest: it steps
      // aside as for an ask (pump.ts), and a guest about to sleep on the doorbell must wake it.
      c.stepAsides++;
      notify.giveToken();
      held = false;
      backOff(true);
      continue;
    }
    if (rand(4) !== 0) continue; // the idle spell
    // sleep(): stall a full ring, announce, give the token, re-check, wait watching the TAP.
    if (!stalled && svc.rx.room() === 0) notify.setRxStalled(nic, (stalled = true));
    const seen = Atomics.load(sh, S.ioEvents); // read before the re-check: epoll_wait returns for what came since
    notify.announceSleep(IO_WATCHING);
    notify.giveToken();
    held = false;
    const tapReady = !stalled && Atomics.load(sh, S.delivered) > Atomics.load(sh, S.taken);
    if (!tapReady && !txWaiting() && !(stalled && peekRoom(rxView) > 0) && !done()) {
      c.watches++;
      if (Atomics.wait(sh, S.ioEvents, seen, cfg.capMs) === 'timed-out' && !done()) c.lost++;
    }
    notify.awake();
  }
  parentPort!.postMessage(c);
} else {
  const svc = new SimService();
  const service: TokenService = {
    resync: () => svc.resync(),
    releaseRings: () => {},
    round: (limit?: number) => svc.round(limit),
    flushTx: () => svc.flushTx(),
    txLeft: () => peekAvailable(txView) > 0,
    get rxFull() {
      return svc.rxFull;
    },
    get rxMoved() {
      return svc.rxMoved;
    },
    tapReadable: () => Atomics.load(sh, S.delivered) > Atomics.load(sh, S.taken),
    sleepOnDevice(timeoutNs: number) {
      deviceSleeps++;
      const seen = Atomics.load(sh, S.guestTap);
      if (Atomics.load(sh, S.delivered) > Atomics.load(sh, S.taken)) return true;
      const t = nowNs();
      const woken = Atomics.wait(sh, S.guestTap, seen, Math.min(timeoutNs / 1e6, cfg.capMs)) !== 'timed-out';
      lastDeviceSleepNs = nowNs() - t;
      return woken;
    },
  };
  let deviceSleeps = 0;
  let lastDeviceSleepNs = 0;
  // Busy in the app for `ns` (holding no token): the longest that frames sat on the TAP, with
  // room for them on the RX ring, and none taken off it meanwhile, in ms. The IO thread must
  // take the reads over.
  const busyWatchingTap = (ns: number): number => {
    const until = nowNs() + ns;
    let since = 0, longest = 0, taken = Atomics.load(sh, S.taken);
    for (let now = nowNs(); now < until; now = nowNs()) {
      const t = Atomics.load(sh, S.taken);
      if (t !== taken || Atomics.load(sh, S.delivered) === t || peekRoom(rxView) === 0) since = 0;
      else if (since === 0) since = now;
      else longest = Math.max(longest, (now - since) / 1e6);
      taken = t;
    }
    return longest;
  };
  let busyAfterLongSleep = 0, maxTapWaitBusyMs = 0;
  let handoffs = 0;
  const backend = new ShmBackend({
    region: cfg.region, kickFds: [0], kick: 'suppress', spinNs: 20_000, nowNs,
    kickFn: () => {
      Atomics.add(sh, S.kicks, 1);
      bump(S.ioEvents);
    },
    relax: jitter,
    service,
    countHandoffs: (n) => (handoffs += n),
  });
  const frame = new Uint8Array(60);
  const fdv = new DataView(frame.buffer);
  const slow: string[] = [];
  let received = 0, bad = 0, sent = 0, lost = 0, waits = 0, maxDelayMs = 0, roomWaits = 0;
  while (received < cfg.frames || Atomics.load(sh, S.txSeen) < cfg.frames) {
    // TX now and then: net_write, or net_queue + net_flush, as apps do.
    if (sent < cfg.frames && rand(2) === 0) {
      const batch = Math.min(1 + rand(6), cfg.frames - sent);
      let k = 0;
      for (; k < batch; k++) {
        fdv.setUint32(0, sent, true);
        if (backend.write(0, frame, 60, k === batch - 1 || rand(2) === 0) !== OK) {
          backend.flush(0);
          roomWaits++;
          const t1 = nowNs();
          backend.waitRoom(0, nowNs() + cfg.capMs * 1e6);
          if (nowNs() - t1 > 5e8) slow.push(`waitRoom ${((nowNs() - t1) / 1e6) | 0}ms tok=${Atomics.load(i32, G.ioToken)} asleep=${Atomics.load(i32, G.ioAsleep)} txavail=${peekAvailable(txView)}`);
          break;
        }
        sent++;
      }
      backend.flush(0);
    }
    const f = backend.readView(0);
    if (f !== null) {
      const seq = new DataView(f.buffer, f.byteOffset).getUint32(0, true);
      if (seq !== received) bad++;
      const delay = ((nowMs() | 0) - Atomics.load(sh, S.stamp + (seq & 1023))) | 0;
      if (delay > maxDelayMs) maxDelayMs = delay;
      received++;
      backend.readDone(0);
      // Woken from a sleep on its TAPs longer than two parks (the IO thread then parks without
      // a timer) and now busy for 60 ms: the IO thread must have heard of the waking.
      if (!cfg.strict && lastDeviceSleepNs > 2 * PARK_NS && rand(2) === 0) {
        busyAfterLongSleep++;
        maxTapWaitBusyMs = Math.max(maxTapWaitBusyMs, busyWatchingTap(60e6));
      }
      lastDeviceSleepNs = 0;
      // Busy in the app now and then for longer than BACKOFF: the IO thread must take over.
      if (!cfg.strict && rand(400) === 0) {
        const until = nowNs() + 1.5e6 + rand(2e6);
        while (nowNs() < until) jitter();
      }
      continue;
    }
    if (received >= cfg.frames) {
      if (!backend.waitRoom(0, nowNs() + 1e6)) Atomics.wait(sh, S.done, 0, 1);
      continue;
    }
    waits++;
    const t0 = nowNs();
    const got = backend.wait(t0 + cfg.capMs * 1e6);
    if (nowNs() - t0 > 5e8) slow.push(`wait ${((nowNs() - t0) / 1e6) | 0}ms got=${got} tok=${Atomics.load(i32, G.ioToken)} asleep=${Atomics.load(i32, G.ioAsleep)} tap=${Atomics.load(sh, S.delivered) - Atomics.load(sh, S.taken)}`);
    if (got === 0 && nowNs() - t0 >= cfg.capMs * 1e6) lost++; // frames keep coming: a sleep to the cap is lost
  }
  backend.close();
  Atomics.store(sh, S.done, 1);
  bump(S.ioEvents);
  bump(S.guestTap);
  Atomics.notify(sh, S.done);
  parentPort!.postMessage({
    slow, received, sent, bad, lost, waits, roomWaits, deviceSleeps, handoffs, maxDelayMs, busyAfterLongSleep, maxTapWaitBusyMs,
    txSeen: Atomics.load(sh, S.txSeen), txBad: Atomics.load(sh, S.txBad), violations: Atomics.load(sh, S.violations), kicks: Atomics.load(sh, S.kicks),
  });
}
