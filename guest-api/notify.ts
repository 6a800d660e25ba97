// The notification protocol, whole: who wakes whom, when, and why no wake-up is lost. Both
// halves live here; the IO thread (host/io-thread/pump.ts) and the guest's backend
// (shm-backend.ts) only call these methods. docs/abi.md points here.
//
// Three hand-offs, each in the spirit of virtio's event suppression (a wake-up is sent only
// to a side that announced it sleeps):
//
// 1. Guest -> IO thread, "kick" (an eventfd write): the guest published TX frames.
//    IO thread: ioSleepEpoch = e+1; ioAsleep = 1; RE-CHECK every ring; then epoll_wait.
//    Guest:     publish txHead; if ioAsleep == 1 and ioSleepEpoch is not the epoch it last
//               kicked for, kick once (policy 'suppress'). 'always' kicks on every publish
//               (event mode without suppression); 'never' in poll mode, whose IO thread never sleeps.
// 2. Guest -> IO thread, "room" kick: the RX ring was full, so the IO thread stopped reading
//    the TAP (the kernel queues, then drops and counts) and sleeps without the TAP in its set.
//    IO thread: rxStalled = 1; then step 1's announce, RE-CHECK (a stalled ring with room is
//               work); then epoll_wait.
//    Guest:     release rxTail; if rxStalled == 1 and the IO thread needs a kick (as in 1), kick.
// 3. IO thread -> guest, "interrupt" (doorbell++ and Atomics.notify): frames on an RX ring, or
//    room on a TX ring, for a guest blocked in yield_until / net_wait_room.
//    Guest:     guestWaitEpoch = e+1; guestWaiting = WAIT_RX|WAIT_TX; RE-CHECK the rings;
//               then Atomics.wait(doorbell, the value read before the re-check).
//    IO thread: publish rxHead (or txTail); if guestWaiting has that bit and guestWaitEpoch is
//               new, doorbell++ and notify, once per wait.
//
// Why no wake-up is lost: Atomics are sequentially consistent, so of "publish an index, then
// read the sleeper's flag" and "set the flag, then re-check the index" at least one side sees
// the other's write: either the publisher sees the flag and wakes the sleeper, or the
// sleeper's re-check sees the work and does not sleep. The epoch is stored before the flag,
// so a flag seen set always comes with the epoch of the current sleep, and a side wakes a
// given sleep at most once. A wake-up sent between the re-check and the sleep is not lost
// either: the guest's Atomics.wait compares the doorbell with the value read before its
// re-check (so it returns at once), and a kick is an eventfd write that stays readable until
// read (so epoll_wait returns at once). test/notify.test.ts checks all of this across two
// threads. The IO thread also never sleeps longer than a second (a guest that
// scribbled over these words is still served, late, never hung: they are guest-writable).
import { G, N, WAIT_RX, WAIT_TX, type NicLayout } from './abi.js';

export { WAIT_RX, WAIT_TX };

/** How the tender drives the I/O: baseline traps, or an IO thread that polls, sleeps, or both. */
export type Mode = 'baseline' | 'poll' | 'event' | 'hybrid';
export type ShmMode = Exclude<Mode, 'baseline'>;

/** When the guest kicks the IO thread after publishing frames (step 1 above). */
export type KickPolicy = 'never' | 'always' | 'suppress';

/** The one place the kick policy is chosen: poll never sleeps; event/hybrid kick a sleeper (or, unsuppressed, always). */
export function kickPolicyFor(mode: Mode, suppress: boolean): KickPolicy {
  if (mode === 'baseline' || mode === 'poll') return 'never';
  return suppress ? 'suppress' : 'always';
}

/** The IO thread's half. */
export class HostNotify {
  private sleepEpoch = 0;
  private lastInterruptEpoch = 0;

  constructor(private readonly i32: Int32Array) {}

  /** Step one of going to sleep; the caller must then re-check every ring (and stalled RX ring) before it sleeps. */
  announceSleep(): void {
    this.sleepEpoch = (this.sleepEpoch + 1) | 0;
    Atomics.store(this.i32, G.ioSleepEpoch, this.sleepEpoch);
    Atomics.store(this.i32, G.ioAsleep, 1);
  }
  awake(): void {
    Atomics.store(this.i32, G.ioAsleep, 0);
  }
  /** Step 2: the IO thread stops (or resumes) reading a TAP because its RX ring is full; set before announceSleep. */
  setRxStalled(nic: NicLayout, stalled: boolean): void {
    Atomics.store(this.i32, nic.headerWord + N.rxStalled, stalled ? 1 : 0);
  }
  /** Step 3: wakes the guest if it waits for `reason`; returns 1 for an interrupt sent, else 0. */
  interruptIfWaiting(reason: number): number {
    const i32 = this.i32;
    if ((Atomics.load(i32, G.guestWaiting) & reason) === 0) return 0;
    const epoch = Atomics.load(i32, G.guestWaitEpoch);
    if (epoch === this.lastInterruptEpoch) return 0;
    this.lastInterruptEpoch = epoch;
    Atomics.add(i32, G.doorbell, 1);
    Atomics.notify(i32, G.doorbell);
    return 1;
  }
}

/** The guest's half. `kick(h)` does the eventfd write for NIC h. */
export class GuestNotify {
  private lastKickEpoch = 0;
  private waitEpoch = 0;
  private readonly stalledWords: number[];

  constructor(
    private readonly i32: Int32Array,
    nics: NicLayout[],
    private readonly policy: KickPolicy,
    private readonly kick: (h: number) => void,
  ) {
    this.stalledWords = nics.map((n) => n.headerWord + N.rxStalled);
  }

  /** Step 1: call after publishing TX frames on NIC h (net_write, or net_flush of what net_queue left). */
  txPublished(h: number): void {
    if (this.policy === 'always' || (this.policy === 'suppress' && this.hostNeedsKick())) this.kick(h);
  }
  /** Step 2: call after releasing RX slots on NIC h. */
  rxReleased(h: number): void {
    if (this.policy !== 'never' && Atomics.load(this.i32, this.stalledWords[h]) === 1 && this.hostNeedsKick()) this.kick(h);
  }
  /** True once per IO-thread sleep. */
  private hostNeedsKick(): boolean {
    const i32 = this.i32;
    if (Atomics.load(i32, G.ioAsleep) !== 1) return false;
    const epoch = Atomics.load(i32, G.ioSleepEpoch);
    if (epoch === this.lastKickEpoch) return false;
    this.lastKickEpoch = epoch;
    return true;
  }
  /** Step 3, first half: announce; returns the doorbell value to wait on after the caller's re-check. */
  announceWait(what: number): number {
    this.waitEpoch = (this.waitEpoch + 1) | 0;
    Atomics.store(this.i32, G.guestWaitEpoch, this.waitEpoch);
    Atomics.store(this.i32, G.guestWaiting, what);
    return Atomics.load(this.i32, G.doorbell);
  }
  /** Blocks until the doorbell moves past `bell` or timeoutMs passes. */
  sleep(bell: number, timeoutMs: number): void {
    Atomics.wait(this.i32, G.doorbell, bell, timeoutMs);
  }
  doneWaiting(): void {
    Atomics.store(this.i32, G.guestWaiting, 0);
  }
}
