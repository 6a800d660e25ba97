// The notification protocol, both halves, in the spirit of virtio's event suppression.
//
// Guest -> IO thread ("kick", an eventfd write): needed only while the IO thread sleeps.
//   IO thread: ioSleepEpoch = e+1; ioAsleep = 1; RE-CHECK all rings; then epoll_wait.
//   Guest:     publish index; if ioAsleep == 1 and ioSleepEpoch != the epoch it last kicked
//              for, kick once.
// IO thread -> guest ("interrupt", doorbell++ and Atomics.notify): needed only while the
// guest waits.
//   Guest:     guestWaitEpoch = e+1; guestWaiting = WAIT_RX|WAIT_TX; RE-CHECK rings;
//              then Atomics.wait(doorbell, value read before the re-check).
//   IO thread: publish index; if guestWaiting has that bit and guestWaitEpoch is new,
//              doorbell++ and notify, once per wait.
// Why no wake-up is lost: Atomics are sequentially consistent, so of "publish index, then
// read the sleeper's flag" and "set the flag, then re-check the index" at least one side
// sees the other's write: either the publisher sees the flag and wakes, or the sleeper's
// re-check sees the work and does not sleep. The epoch is stored before the flag, so a
// flag seen set always comes with the epoch of the current sleep. docs/abi.md has more.
import { G } from './abi.js';

export class HostNotify {
  private sleepEpoch = 0;
  private lastInterruptEpoch = 0;

  constructor(private readonly i32: Int32Array) {}

  /** Step one of going to sleep; the caller must re-check every ring before it sleeps. */
  announceSleep(): void {
    this.sleepEpoch = (this.sleepEpoch + 1) | 0;
    Atomics.store(this.i32, G.ioSleepEpoch, this.sleepEpoch);
    Atomics.store(this.i32, G.ioAsleep, 1);
  }
  awake(): void {
    Atomics.store(this.i32, G.ioAsleep, 0);
  }
  /** Wakes the guest if it waits for `reason`; returns 1 for an interrupt sent, else 0. */
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

export class GuestNotify {
  private lastKickEpoch = 0;
  private waitEpoch = 0;

  constructor(private readonly i32: Int32Array) {}

  /** True once per IO-thread sleep: the caller must kick now. */
  hostNeedsKick(): boolean {
    const i32 = this.i32;
    if (Atomics.load(i32, G.ioAsleep) !== 1) return false;
    const epoch = Atomics.load(i32, G.ioSleepEpoch);
    if (epoch === this.lastKickEpoch) return false;
    this.lastKickEpoch = epoch;
    return true;
  }
  /** Step one of waiting; returns the doorbell value to wait on after the re-check. */
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
