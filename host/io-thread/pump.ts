// The IO thread's work: TAP -> RX ring, TX ring -> TAP, in bursts, driven by one policy:
//   poll   never sleeps;
//   event  sleeps in epoll_wait as soon as a round finds no work;
//   hybrid keeps polling for pollIdleUs after the last work (notifications stay masked
//          because the guest only kicks a sleeping IO thread), then sleeps. With the IO token
//          it services the rings only while it holds the token: it gives it to a guest that
//          asks and backs off, and takes it back when the guest stops servicing.
// The bursts themselves are service.ts's. Sleeping follows guest-api/notify.ts: announce,
// re-check every ring, then epoll_wait.
import { IO_BACKED_OFF, IO_PARKED, IO_WATCHING } from '../../guest-api/abi.js';
import type { TapReads, TapWrites, TokenPollers } from '../cli-options.js';
import { SpinWindow } from '../../guest-api/spin-window.js';
import { BACKOFF_NS, HostNotify, PARK_NS, WAIT_RX, WAIT_TX, type ShmMode } from '../../guest-api/notify.js';
import { peekAvailable, peekRoom, RingFault } from '../../guest-api/ring.js';
import { monotonicNs as nowNs } from '../../guest-api/clock.js';
import { nextBackoffNs } from './backoff.js';
import { addon, threadCpuSeconds } from '../../native/index.js';
import { DeviceFault } from '../device-fault.js';
import { tapGone, type Ending } from '../endings.js';
import { DIR, REASON, RecordProducer, type CaptureTap } from '../record-ring.js';
import { COUNTER, section } from '../stats.js';
import { PollerChoice } from './poller-choice.js';
import { RingService, type ServicePort } from './service.js';


const SLEEP_CAP_NS = 1e9;

export interface IoNic {
  iface: string;
  fd: number;
  kickFd: number;
}

export interface IoConfig {
  mode: ShmMode;
  region: SharedArrayBuffer;
  stats: SharedArrayBuffer; // the IO thread's own counters
  control: SharedArrayBuffer;
  controlFd: number;
  nics: IoNic[];
  pollBudget: number;
  pollIdleUs: number;
  /** hybrid: the most the idle poll grows to (spin-window.ts); ≤ pollIdleUs: fixed. */
  pollIdleMaxUs: number;
  /** hybrid with the token: the most the backed-off sleep grows to beside a guest keeping up alone (≥ BACKOFF_NS; backoff.ts). */
  backoffMaxNs: number;
  drainTimeoutMs: number;
  /** hybrid only: share the ring work with the guest through the IO token (notify.ts). */
  ioToken?: boolean;
  /**
   * With the token, at a round-trip pace: the backed-off IO thread offers to poll beside the
   * guest (two pollers, --io-token=on), never does (one, --io-token=solo; backOff says why), or
   * does whichever served more frames here (--io-token=auto, poller-choice.ts).
   */
  tokenPollers?: TokenPollers;
  /**
   * With the token: the tender may run on one CPU only. A guest whose bursts come back full is
   * not taken over while it works (two threads there take turns on the CPU; they do not read
   * beside each other); one that stops taking the token still is.
   */
  oneCpu?: boolean;
  tapReads: TapReads;
  tapWrites: TapWrites;
  /** --pcap: where to record the frames of the NICs it names. */
  capture?: CaptureTap | null;
}

/** Words of the tender <-> IO thread control block (host-only memory). */
export const CTL = { stop: 0 } as const;
export const CTL_BYTES = 64;

/** How the IO thread ended: stopped when asked, or one of the tender's endings (host/endings.ts). */
export type IoExit = { kind: 'stopped' } | Extract<Ending, { kind: 'guest-fault' | 'device-fault' | 'internal' }>;

interface Port extends ServicePort {
  kickFd: number;
  stalled: boolean;
}

export class Pump {
  private readonly u8: Uint8Array;
  private readonly ctl: Int32Array;
  private readonly stats: Float64Array;
  private readonly notify: HostNotify;
  private readonly service: RingService;
  private readonly ports: Port[];
  private readonly cap: RecordProducer | null;
  private readonly ready = new Int32Array(64);
  private readonly token: boolean;
  /**
   * poll and hybrid without the token tell a waiting guest when RX frames stream in, so that it
   * naps instead of spinning (notify.ts, step 4). Not event mode: its guest never spins, and
   * its point is one interrupt per wait. The token has its own answer (the guest asks for it),
   * except for a relaying guest: it leaves the token to this thread and waits as without it,
   * so the hint is turned on when this thread first takes the token after it said so.
   */
  private streamHint: boolean;
  private epfd = -1;
  /** The backed-off IO thread's set: the kicks and the control, no TAP (the guest is reading them). */
  private backoffEpfd = -1;
  private lastCpuUpdate = 0;
  /** --io-token=auto: one poller or two, as measured (poller-choice.ts); null otherwise. */
  private readonly choice: PollerChoice | null;
  private guestFramesSeen = 0;
  private guestFrames = 0;

  constructor(private readonly cfg: IoConfig) {
    this.u8 = new Uint8Array(cfg.region);
    this.ctl = new Int32Array(cfg.control);
    this.stats = section(cfg.stats);
    this.notify = new HostNotify(new Int32Array(cfg.region));
    this.token = (cfg.ioToken ?? false) && cfg.mode === 'hybrid';
    this.streamHint = !this.token && cfg.mode !== 'event';
    this.choice = this.token && cfg.tokenPollers === 'auto' ? new PollerChoice() : null;
    this.cap = cfg.capture ? new RecordProducer(cfg.capture.ring, cfg.capture.snaplen, cfg.nics.length) : null;
    const captured = cfg.nics.map((_, i) => cfg.capture?.nics[i] ?? false);
    this.service = new RingService(cfg.region, cfg.nics, this.stats, cfg.pollBudget, captured, (p, dir, reason, ts, offset, len, present) =>
      this.record(p, dir, reason, ts, offset, len, present),
    );
    this.service.throughUring(cfg.tapReads, cfg.tapWrites);
    this.service.holdSingles = cfg.oneCpu === true;
    for (const p of this.service.ports) (this.stats[p.c.tap_uring] = p.uringReads ? 1 : 0), (this.stats[p.c.tap_uring_tx] = p.uringWrites ? 1 : 0);
    this.ports = this.service.ports.map((p, i) => Object.assign(p, { kickFd: cfg.nics[i].kickFd, stalled: false }));
    if (cfg.mode !== 'poll') {
      this.epfd = addon.epollCreate();
      addon.epollCtl(this.epfd, 'add', cfg.controlFd, true);
      for (const p of this.ports) {
        addon.epollCtl(this.epfd, 'add', p.fd, true);
        addon.epollCtl(this.epfd, 'add', p.kickFd, true);
      }
    }
    if (this.token) {
      this.backoffEpfd = addon.epollCreate();
      addon.epollCtl(this.backoffEpfd, 'add', cfg.controlFd, true);
      for (const p of this.ports) addon.epollCtl(this.backoffEpfd, 'add', p.kickFd, true);
    }
  }

  run(): IoExit {
    let exit: IoExit = { kind: 'stopped' };
    try {
      if (this.token) this.loopToken();
      else this.loop();
      this.drain();
    } catch (err) {
      if (err instanceof RingFault) {
        this.stats[COUNTER.faults]++;
        exit = { kind: 'guest-fault', detail: `${err.message} (seen by the IO thread)` };
      } else if (err instanceof DeviceFault) {
        exit = { kind: 'device-fault', detail: err.message };
      } else {
        throw err;
      }
    } finally {
      this.collectKicks();
      this.updateCpu();
      for (const fd of [this.epfd, this.backoffEpfd]) if (fd >= 0) addon.close(fd);
      this.service.close();
    }
    return exit;
  }

  private loop(): void {
    const { mode, pollIdleUs, pollIdleMaxUs } = this.cfg;
    // hybrid's idle poll adapts as the guest's spin does (guest-api/spin-window.ts); event never polls.
    const idle = mode === 'hybrid' ? new SpinWindow(pollIdleUs * 1000, Math.max(pollIdleUs, pollIdleMaxUs) * 1000) : new SpinWindow(0, 0);
    let idleSince = 0;
    let rounds = 0;
    while (Atomics.load(this.ctl, CTL.stop) === 0) {
      if (this.serviceAll() > 0) {
        idleSince = 0;
        continue;
      }
      if ((++rounds & 1023) === 0) this.maybeUpdateCpu();
      // Measured: on 2 cores this doubles ping -f echoes/s (docs/tuning.md); the poll never sleeps.
      addon.yieldCpu();
      if (mode === 'poll') continue;
      if (idle.maxNs > 0) {
        const now = nowNs();
        if (idleSince === 0) idleSince = now;
        if (now - idleSince < idle.ns) continue;
        const woken = this.sleep();
        idle.slept(nowNs() - idleSince, woken);
      } else {
        this.sleep();
      }
      idleSince = 0;
    }
  }

  /** hybrid with the IO token: the loop above, servicing only while this thread holds the token. */
  private loopToken(): void {
    const idleNs = this.cfg.pollIdleUs * 1000;
    let idleSince = 0;
    let rounds = 0;
    let held = false;
    while (Atomics.load(this.ctl, CTL.stop) === 0) {
      if (!held) {
        const handoff = this.notify.takeToken();
        if (handoff < 0) {
          this.backOff();
          continue;
        }
        held = true;
        if (!this.streamHint && this.notify.guestRelays()) {
          this.streamHint = true;
          this.stats[COUNTER.relay_pipeline] = 1;
        }
        if (handoff > 0) {
          this.stats[COUNTER.token_handoffs] += handoff;
          this.service.resync(); // the guest moved rxHead / txTail since: read back and checked
        } else {
          this.service.checkPublished(); // nobody else held the role: still this thread's values
        }
        for (const p of this.ports) if (p.stalled && p.rx.room() > 0) this.setStalled(p, false);
        idleSince = 0;
      }
      if (this.notify.guestAsks()) {
        // A guest about to wait services its own rings (a busy poll from the consumer): one thread instead of two.
        this.notify.giveToken();
        held = false;
        this.backOff();
        continue;
      }
      const moved = this.serviceAll();
      this.notify.checkHeld();
      if (moved > 0) {
        idleSince = 0;
        continue;
      }
      if ((++rounds & 1023) === 0) {
        this.maybeUpdateCpu();
        if (this.choice !== null && this.choice.two && !this.notify.guestRelays() && !this.tickChoice(true)) {
          // The choice went to one poller (the guest) while this thread polls beside it: step
          // aside as for an ask; a guest spinning in its wait takes the free token.
          this.notify.giveToken();
          held = false;
          this.backOff();
          continue;
        }
      }
      addon.yieldCpu();
      const now = nowNs();
      if (idleSince === 0) idleSince = now;
      if (now - idleSince < idleNs) continue;
      held = false; // sleep() gives the token back before it sleeps
      this.sleep();
      idleSince = 0;
    }
  }

  /**
   * The guest holds the token. Poll for pollIdleUs (it may hand it straight back), then sleep on
   * the kicks and the control only, BACKOFF_NS at a time (growing while the guest keeps up
   * alone: backoff.ts; PARK_NS while it sleeps on its TAPs, then untimed until the
   * guest kicks on waking),
   * for as long as the guest keeps taking the token; return to take over when it hands the token
   * back, waits on the doorbell, has not taken it for a whole period, or cannot keep up alone.
   * With tokenSolo it never polls: where a look at the TAP and a yield each cost a system call
   * of ~1 µs and the scheduler packs runnable threads onto one vCPU, a second poller beside the
   * guest delays each round trip more than it saves (docs/tuning.md, the IO token).
   */
  private backOff(): void {
    if (this.streamHint) this.notify.streamEnded(); // not servicing: no stream to nap through
    const needed = () => Atomics.load(this.ctl, CTL.stop) !== 0 || this.notify.tokenFreeAndNeeded(this.txWaitingFn);
    if (this.onePoller() ? needed() : this.pollForHandBack(needed)) return;
    let seen = this.notify.guestTakes();
    let seenFrames = this.notify.guestRxFrames();
    let seenAt = nowNs();
    let parkedOn: number | null = null;
    let backoffNs = BACKOFF_NS;
    for (;;) {
      // A guest still in the sleep on its TAPs that a whole park saw: nothing to watch for until
      // that sleep ends, and the guest kicks then. At rest this thread then wakes once a second
      // (the cap), not every PARK_NS: each wake cost ~0.1 ms of CPU on a VM where a sleeping
      // thread is dear to wake.
      const deviceSleep = this.notify.guestDeviceSleep();
      const parked = deviceSleep !== null && deviceSleep === parkedOn;
      parkedOn = deviceSleep;
      this.notify.announceSleep(parked ? IO_PARKED : IO_BACKED_OFF);
      if (needed()) {
        this.notify.awake();
        return;
      }
      if (parked && !this.notify.stillInDeviceSleep(deviceSleep)) continue;
      const timeout = parked ? SLEEP_CAP_NS : deviceSleep !== null ? PARK_NS : backoffNs;
      const n = addon.epollWait(this.backoffEpfd, timeout, this.ready);
      // Still announced as backed off while it looks around: a guest that saw it awake now
      // would hand the token back (handBack) to a thread about to sleep again. Announced and
      // awake is safe: a kick meanwhile stays readable for the next epoll_wait.
      this.stats[COUNTER.io_wakeups]++;
      this.maybeUpdateCpu();
      if (n > 0) {
        this.notify.awake();
        this.readEvents(n);
        return;
      }
      const takes = this.notify.guestTakes();
      // The guest has not taken the token for a whole period (busy in its app, or stopped);
      // or its own bursts come back full and it is working through them: frames pile up
      // faster than it reads and handles them alone, so take the reads over while it works (a
      // guest busy computing leaves the device to this thread).
      if ((takes === seen && !this.notify.guestOnDevice()) || (!this.cfg.oneCpu && this.notify.guestBackloggedAndWorking())) {
        this.notify.awake();
        return;
      }
      // At a request/response pace (fewer than two frames per take: a request, its answer, a
      // look that found nothing) offer to poll again: the guest hands the token back to an
      // awake IO thread, and two polling threads serve round trips better on two cores. A
      // stream the guest keeps up with is left to it: one thread moving and handling the
      // frames costs the least CPU, and under a flood the offer took a core from the guest and
      // the sender (docs/tuning.md, the IO token). Not while it sleeps on its TAPs: it hands
      // nothing back then, and a poll after every park cost half a percent of a core at rest.
      const frames = this.notify.guestRxFrames();
      const now = nowNs();
      const framesRead = (frames - seenFrames) | 0;
      const roundTrips = framesRead < 2 * ((takes - seen) | 0);
      if (this.choice !== null) this.tickChoice(roundTrips);
      // The guest took the token all period: while it keeps up alone, round trips or a stream,
      // look half as often (backoff.ts); a takeover returns from here, so the next back-off
      // starts again from BACKOFF_NS.
      backoffNs = nextBackoffNs({ sleptNs: backoffNs, elapsedNs: now - seenAt, framesRead, backlogged: this.notify.guestBacklogged(), onePoller: this.onePoller(), onDevice: deviceSleep !== null }, this.cfg.backoffMaxNs);
      seen = takes;
      seenFrames = frames;
      seenAt = now;
      if (roundTrips && !this.onePoller() && !this.notify.guestOnDevice()) {
        this.notify.awake(); // offered: the guest may hand the token back to it now
        if (this.pollForHandBack(needed)) return;
      }
    }
  }

  /** With the token: is the guest the only poller now (--io-token=solo, or auto's measured choice)? */
  private onePoller(): boolean {
    if (this.choice !== null) return !this.choice.two;
    return this.cfg.tokenPollers === 'solo';
  }

  /**
   * Feeds auto's choice every RX frame moved so far (this thread's and the guest's own); returns
   * it: two pollers? A trial starts only at a round-trip pace (`roundTrips`): a stream the guest
   * keeps up with is left to it whatever the choice, and a trial would only move the token.
   */
  private tickChoice(roundTrips: boolean): boolean {
    const choice = this.choice!;
    const g = this.notify.guestRxFrames();
    const d = (g - this.guestFramesSeen) | 0; // guest-written, mod 2^32: a step back counts as none
    this.guestFramesSeen = g;
    if (d > 0) this.guestFrames += d;
    let own = 0;
    for (const p of this.ports) own += this.stats[p.c.rx_frames];
    const two = choice.tick(nowNs(), own + this.guestFrames, roundTrips);
    this.stats[COUNTER.poller_trials] = choice.trials;
    this.stats[COUNTER.two_pollers] = choice.picks;
    this.stats[COUNTER.poller_one_fps] = choice.lastOneFps;
    this.stats[COUNTER.poller_two_fps] = choice.lastTwoFps;
    return two;
  }

  /** Polls (awake, yielding) for pollIdleUs; true as soon as needed() says the guest gave the token back. */
  private pollForHandBack(needed: () => boolean): boolean {
    const until = nowNs() + this.cfg.pollIdleUs * 1000;
    do {
      if (needed()) return true;
      addon.yieldCpu();
    } while (nowNs() < until);
    return false;
  }

  private readonly txWaitingFn = () => this.txWaiting();

  private txWaiting(): boolean {
    for (const p of this.ports) if (peekAvailable(p.txView) > 0) return true;
    return false;
  }

  /** One round over every NIC; returns frames moved. */
  private serviceAll(): number {
    const moved = this.service.round();
    const rx = this.service.rxMoved;
    if (rx > 0) this.stats[COUNTER.interrupts] += this.notify.interruptIfWaiting(WAIT_RX);
    if (this.streamHint && this.notify.rxNeedsClock(rx)) this.notify.rxRound(rx, nowNs());
    if (this.service.txMoved > 0) this.stats[COUNTER.interrupts] += this.notify.interruptIfWaiting(WAIT_TX);
    return moved;
  }

  /**
   * announce -> (give the token) -> re-check -> epoll_wait; see guest-api/notify.ts for why this
   * loses nothing. True when work (a kick, a frame, the re-check) ended it, false at the cap.
   */
  private sleep(): boolean {
    for (const p of this.ports) if (!p.stalled && p.rx.room() === 0) this.setStalled(p, true);
    this.maybeUpdateCpu();
    if (this.streamHint) this.notify.streamEnded();
    this.notify.announceSleep(IO_WATCHING);
    if (this.token) this.notify.giveToken();
    if (this.workPending() || Atomics.load(this.ctl, CTL.stop) !== 0) {
      this.notify.awake();
      // The guest may have made room between the stall and the re-check: read the TAP again,
      // or every sleep ends here at once and this thread spins on a core until the ring fills.
      this.resumeStalled();
      return true;
    }
    // Never asleep for more than a second: on waking, the rings are checked again (a guest
    // that scribbled over the control words so it never kicks is still caught in bounded time).
    const n = addon.epollWait(this.epfd, SLEEP_CAP_NS, this.ready);
    this.notify.awake();
    this.stats[COUNTER.io_wakeups]++;
    if (n === 0 && !this.token) this.workPending(); // validates every guest-written index (with the token, taking it does)
    this.readEvents(n);
    this.resumeStalled();
    return n > 0;
  }

  /** Without the token: listen to the TAP of every stalled ring that has room again (with it, taking the token does). */
  private resumeStalled(): void {
    if (!this.token) for (const p of this.ports) if (p.stalled && p.rx.room() > 0) this.setStalled(p, false);
  }

  private readEvents(n: number): void {
    for (let i = 0; i < n; i++) {
      const fd = this.ready[i];
      if (fd < 0) {
        const bad = this.ports.find((p) => p.fd === -fd - 1);
        if (bad) throw new DeviceFault(`${tapGone(bad.iface, 'deleted')} (hangup on its fd)`);
        continue;
      }
      if (fd === this.cfg.controlFd) addon.eventfdRead(fd);
      else {
        const p = this.ports.find((q) => q.kickFd === fd);
        if (p) this.stats[COUNTER.kicks] += addon.eventfdRead(fd);
      }
    }
  }

  /** The re-check. With the token this thread has just given it away, so it reads both published indices as a hint. */
  private workPending(): boolean {
    for (const p of this.ports) {
      if (this.token) {
        if (peekAvailable(p.txView) > 0 || (p.stalled && peekRoom(p.rxView) > 0)) return true;
        continue;
      }
      if (p.tx.available() > 0) return true;
      if (p.stalled && p.rx.room() > 0) return true;
    }
    return false;
  }

  /** A full RX ring: stop listening to the TAP (the kernel queues, then drops and counts) until the guest makes room. */
  private setStalled(p: Port, stalled: boolean): void {
    p.stalled = stalled;
    addon.epollCtl(this.epfd, 'mod', p.fd, !stalled);
    this.notify.setRxStalled(p.layout, stalled);
  }

  /** On stop: send what the guest queued, bounded in time. */
  private drain(): void {
    if (this.token) {
      // The guest thread is stopped before the IO thread: whatever the token says, it is this thread's.
      this.notify.seizeToken();
      for (const p of this.ports) p.tx.resync();
    }
    const deadline = nowNs() + this.cfg.drainTimeoutMs * 1e6;
    for (;;) {
      let waiting = 0;
      for (const p of this.ports) {
        this.service.tx(p);
        waiting += p.tx.available();
      }
      if (waiting === 0 || nowNs() > deadline) {
        for (const p of this.ports) {
          const left = p.tx.available();
          this.stats[p.c.tx_drops] += left;
          if (p.captured) this.recordUnsent(p, left);
        }
        return;
      }
    }
  }

  /** One capture record; a full record ring refuses it and it is counted (the frame is not held up). */
  private record(p: ServicePort, dir: number, reason: number, ts: number, offset: number, len: number, present = len): void {
    if (!this.cap!.put(p.index, dir, reason, ts, this.u8, offset, len, present)) this.stats[p.c.pcap_dropped]++;
  }

  /**
   * Frames left in a TX ring at exit, recorded as never sent. Their lengths are read once and
   * checked, as for sending; a bad one ends the recording (they are counted in tx_drops all the
   * same), so capturing never changes how the tender ends.
   */
  private recordUnsent(p: Port, left: number): void {
    const ts = nowNs();
    for (let k = 0; k < left; k++) {
      let len: number;
      let at: number;
      try {
        len = p.tx.length(k);
        const ref = p.tx.ref(k);
        at = (ref === 0 ? p.txView.dataOffset(p.tx.index + k) : this.service.refOffset(p, ref, len)) + p.hdr;
      } catch {
        this.stats[p.c.pcap_dropped] += left - k; // in tx_drops all the same; not in the file: counted
        return;
      }
      this.record(p, DIR.out, REASON.txUnsent, ts, at, len);
    }
  }

  private collectKicks(): void {
    for (const p of this.ports) this.stats[COUNTER.kicks] += addon.eventfdRead(p.kickFd);
  }

  private maybeUpdateCpu(): void {
    const now = nowNs();
    if (now - this.lastCpuUpdate > 50e6) this.updateCpu();
  }

  private updateCpu(): void {
    this.lastCpuUpdate = nowNs();
    this.stats[COUNTER.cpu_s] = threadCpuSeconds();
  }
}
