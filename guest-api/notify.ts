// The notification protocol, whole: who wakes whom, when, who moves the frames, and why no
// wake-up is lost. Both halves live here; the IO thread (host/io-thread/pump.ts) and the
// guest's backend (shm-backend.ts) only call these methods. docs/abi.md points here.
//
// Three hand-offs, each in the spirit of virtio's event suppression (a wake-up is sent only
// to a side that announced it sleeps):
//
// 1. Guest -> IO thread, "kick" (an eventfd write): the guest published TX frames.
//    IO thread: ioSleepEpoch = e+1; ioAsleep = WATCHING; RE-CHECK every ring; then epoll_wait.
//    Guest:     publish txHead; if ioAsleep != AWAKE and ioSleepEpoch is not the epoch it last
//               kicked for, kick once (policy 'suppress'). 'always' kicks on every publish
//               (event mode without suppression); 'never' in poll mode, whose IO thread never sleeps.
// 2. Guest -> IO thread, "room" kick: the RX ring was full, so the IO thread stopped reading
//    the TAP (the kernel queues, then drops and counts) and sleeps without the TAP in its set.
//    IO thread: rxStalled = 1; then step 1's announce, RE-CHECK (a stalled ring with room is
//               work); then epoll_wait.
//    Guest:     release rxTail; if rxStalled == 1 and the IO thread needs a kick (as in 1), kick.
// 3. IO thread -> guest, "interrupt" (doorbell++ and Atomics.notify): frames on an RX ring, or
//    room on a TX ring, for a guest blocked in yield_until / net_wait_room.
//    Guest:     bell = doorbell; guestWaitEpoch = e+1; guestWaiting = WAIT_RX|WAIT_TX;
//               RE-CHECK the rings; then Atomics.wait(doorbell, bell).
//    IO thread: publish rxHead (or txTail); if guestWaiting has that bit and guestWaitEpoch is
//               new, doorbell++ and notify, once per wait.
// 4. IO thread -> guest, "streaming" (no wake-up, a hint): ioStreaming = 1 while at least
//    STREAM_FRAMES RX frames arrive in each STREAM_WINDOW_NS, two windows running (cleared by
//    a window with fewer, or when the IO thread goes to sleep). A guest about to wait (or
//    spinning) then naps STREAM_NAP_NS instead of spinning, without announcing (no interrupt
//    is asked for; the nap is a timer, not a notification), and looks again: on two cores its
//    spin takes the core the IO thread and the sender need (a UDP flood lost 24-52% at the
//    TAP with the spin). NAPI's deferred interrupts (gro_flush_timeout) are the same idea.
//    Once the stream ends it waits as in step 3. Only a hint: a nap ends by its timer, so it
//    changes no wake-up and bounds the delay.
//
// Why no wake-up is lost: Atomics are sequentially consistent, so of "publish an index, then
// read the sleeper's flag" and "set the flag, then re-check the index" at least one side sees
// the other's write: either the publisher sees the flag and wakes the sleeper, or the
// sleeper's re-check sees the work and does not sleep. A side wakes a given sleep (epoch) at
// most once, so a wake-up that claims an epoch must reach that sleep. It does: a waker
// claims epoch e only after reading e, so after the sleeper stored it, so after the sleeper
// read the value it will sleep on — the sleep returns at once. The guest reads its bell before
// announcing; a kick is an eventfd write, level-triggered in epoll, which the IO thread reads
// only after its epoll_wait returns, never between announcing and sleeping. The guest's bell
// was once read after announcing: an interrupt sent for room the app then used up could claim
// the next wait's epoch with a doorbell++ that came before that read, and the wait slept to
// its deadline ("uses up" in test/notify.test.ts, which checks all of this across two
// threads). The IO thread also never sleeps longer than a second (a guest that
// scribbled over these words is still served, late, never hung: they are guest-writable).
//
// The IO token (hybrid, unless --io-token=off): who moves frames between the TAPs and the rings.
// Only the holder of G.ioToken produces on the RX rings and consumes from the TX rings, so
// each ring keeps one producer and one consumer at a time. It is taken with a compare-and-
// swap and handed over without a wake-up (a hand-off is not a notification); a side that
// takes it after the other held it re-reads and checks the indices the other moved
// (Producer/Consumer.resync: the host never trusts them).
//   Guest, about to wait with nothing ready: takes a free token, or asks a running IO thread
//          for it when frames wait on its TAPs all the same (it looks with a zero-timeout
//          epoll_wait: the IO thread is not keeping up, so the cores are better spent on one
//          thread doing both) with guestTokenRequest = ASK; the IO thread gives it at its next
//          round and backs off. A request/response peer leaves the TAPs empty while the guest
//          waits, so there the IO thread keeps the token and polls, as hybrid always did. Holding it, it reads the TAPs into its RX rings and writes its TX rings
//          itself: a busy poll from the consumer, as Linux's SO_PREFER_BUSY_POLL. If that
//          burst finds nothing and the IO thread is awake, it hands the token back (= BACK):
//          a request/response peer is then served by two polling threads as hybrid always
//          was. Out of frames and holding the token with no TX left, it sleeps on its TAPs
//          (the kernel wakes it, one wake-up, as a blocking C reader), announced with
//          guestWaiting = WAIT_DEVICE. Any other sleep (on the doorbell) gives the token
//          back first: guestWaiting announced FIRST, then the ask withdrawn and token = FREE,
//          then, if the IO thread is backed off (or TX frames are left and it sleeps at all),
//          the hand-back kick, once per IO sleep. net_write/net_flush with the token free
//          send at once, up to 32 running without a frame read or a wait for frames; past
//          that a stream is published and kicked, as with the token held, so that the IO
//          thread batches it (a kick to a backed-off IO thread ends its back-off).
//   IO thread: holding the token, it polls as hybrid always did, and gives it to a guest that
//          asks; it gives it before any sleep. Backed off, it polls for pollIdleUs (the guest
//          may hand it straight back; not with --io-token=solo, where the guest is the only
//          poller), then announces ioAsleep = BACKED_OFF, RE-CHECKS (token
//          free and the guest handing back, waiting, or leaving TX frames: it takes over at
//          once), and sleeps on the kicks and control only (frames arriving for the guest do
//          not wake it) for BACKOFF (doubling up to --io-backoff-max-us, and to the time
//          BACKOFF_FRAMES take at the guest's pace, while each look finds the guest keeping up
//          alone: host/io-thread/backoff.ts), or PARK while the guest sleeps on its TAPs; once the
//          guest has slept on its TAPs a whole PARK through (the same guestWaitEpoch), it
//          parks without the timer (ioAsleep = PARKED, re-checking that the guest is still in
//          that sleep) and the guest, once it has dealt with the frame that ended that sleep
//          (its first send, net_read_done, empty net_read_view or wait), kicks it once: at rest nothing
//          wakes either thread, as it wakes no blocking C reader. Between two such sleeps it
//          stays announced (awake only to take over or to offer): a guest hands the token back
//          only to an IO thread it sees awake, and one about to sleep again would not use it. At each
//          timeout it takes over when the guest has not taken the token for a whole period
//          (the guest got busy in its app, or stopped): Linux's gro_flush_timeout, which
//          re-arms the interrupt when the busy poller stops polling; and when the guest's last
//          burst came back full (guestBacklog) and the token is free, i.e. it is working
//          through frames that pile up faster than one thread reads and handles them: the IO
//          thread then reads while the guest works. At a round-trip pace (fewer than two
//          frames per take, from guestRxFrames) it polls again for pollIdleUs (not with solo,
//          nor with auto while one poller is its measured choice: host/io-thread/poller-choice.ts),
//          so the guest can hand the token back to two pollers; a stream the guest keeps up
//          with is left to it. With auto the IO thread polling beside the guest also steps
//          aside (gives the token, backs off) when the choice turns to one poller: a give-away
//          as on an ask, but to a guest that did not ask and may be about to sleep on the
//          doorbell, having found the token taken (see (a)).
//   A relay (--io-token=auto, two CPUs or more): once the app forwards a frame between NICs
//          without offloads (net_forward), the guest sets guestRelays = 1 and takes the token no
//          more, kicking a backed-off IO thread; the IO thread then keeps it (its back-off
//          re-check counts a free token as needed) and moves every frame while the guest
//          filters, a pipeline on two threads: a relay pays a read and a write of kernel work
//          per frame, and one thread doing both and the filtering let the ingress TAP overflow
//          3-5x as often (docs/tuning.md, "A TCP relay: the pipeline"). It waits as without the
//          token (ioStreaming, turned on for it). The word only ever hands the token to the IO
//          thread, so a guest that writes it starves nobody but itself of the token.
// Why the token loses no wake-up: (a) frames arriving while the guest sleeps: on its TAPs it
// holds the token and the kernel wakes it — having looked at its RX rings after taking the
// token, since the IO thread may have filled them while it held it (frames taken off the TAPs
// wake nobody; missing this look stranded a reply until the next frame); on the doorbell it
// holds no token, and the IO thread is then awake (it takes the free token), watching the
// TAPs, or backed off — and of the guest's "guestWaiting; token = FREE; read ioAsleep" and
// the IO thread's "ioAsleep = BACKED_OFF; read token; read guestWaiting" one sees the other
// (the SC argument above): the guest kicks, or the IO thread does not sleep. The hand-back is
// the same pair ("token = FREE; request = BACK; read ioAsleep" against "ioAsleep =
// BACKED_OFF; read token; read request"), and the guest hands back only to an IO thread it
// saw awake; so is withdrawing an ask before a doorbell sleep ("request = 0; read ioAsleep":
// the IO thread that gave the token on the ask and saw the ask in its re-check is kicked);
// and so is a doorbell sleep without the token, the IO thread having held it at the guest's
// last take and stepped aside since ("guestWaiting; read ioAsleep", waitingBesideIo, against
// "token = FREE; ioAsleep = BACKED_OFF; read guestWaiting": without the guest's read, the wait
// hung on the back-off's timer, up to a period; test/shm-backend.test.ts).
// (b) TX frames published while the IO thread holds the token: its re-check comes after it
// gave the token up, so it sees every frame published before the guest found the token taken;
// frames a guest holder leaves behind get step 1's kick when it gives the token back. (c)
// Interrupts are unchanged: only a holder produces RX frames, and a guest on the doorbell
// holds none. (d) Bounded latency: a guest that stops servicing (busy, or gone) loses the IO
// thread's attention for at most PARK + BACKOFF. A PARKED IO thread hears of the guest's
// waking from the guest: of "ioAsleep = PARKED; read guestWaiting and guestWaitEpoch" and
// the guest's "guestWaiting = 0; read ioAsleep", one sees the other (the SC argument): the
// IO thread does not park, or the guest owes a kick, paid at its next call of those above
// (it reads ioAsleep again then: an IO thread woken at its cap meanwhile is not kicked); so a
// guest that gets busy holding the very frame that woke it is looked at from its next such
// call, not within PARK. A guest that scribbles over these words
// starves only itself: stopping and draining ignore the token (the tender stops the guest
// thread first). (e) The stop: the tender sets guestStop, then takes the token from FREE
// (as IO, for the drain) once the guest lets go; the guest, taking, checks guestStop after its
// CAS too (grab), and one holding it gives it up at its next look. So the guest's thread is
// not ended inside a burst of its own, whose index it would never publish (a frame sent twice
// by the drain); a guest that never lets go is ended after 200 ms all the same.
// test/notify.test.ts runs the hand-offs on two threads.
import {
  G, IO_AWAKE, IO_BACKED_OFF, IO_PARKED, IO_WATCHING, N, TOKEN_ASK, TOKEN_BACK, TOKEN_FREE, TOKEN_GUEST, TOKEN_IO, WAIT_DEVICE, WAIT_RX, WAIT_TX, type NicLayout,
} from './abi.js';
import { RingFault } from './ring.js';

export { WAIT_RX, WAIT_TX, WAIT_DEVICE, IO_WATCHING, IO_BACKED_OFF, IO_PARKED };

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

/** How long a backed-off IO thread sleeps before it looks whether the guest still services its rings. */
export const BACKOFF_NS = 1_000_000;
/**
 * What that sleep doubles to while each look finds the guest keeping up alone (one poller), by
 * default (--io-backoff-max-us): every timed wake-up took 10-50 µs of a vCPU on the AMD VM,
 * often the one the peer needed, and showed in the tail (docs/tuning.md, "A back-off that
 * grows").
 */
export const BACKOFF_MAX_NS = 8_000_000;
/**
 * Frames a look may come after, at the pace the guest read them: a guest that stops taking the
 * token mid-stream (busy in its app) is looked at before that many more wait on its TAP, half
 * the kernel's default queue (txqueuelen 1000). So a stream grows the sleep less the faster it
 * comes, and from 500k frames/s not at all.
 */
export const BACKOFF_FRAMES = 500;
/** The same while the guest sleeps on its TAPs: it needs nobody then, until it wakes and perhaps gets busy. */
export const PARK_NS = 10_000_000;

/** The IO thread's half. */
/** Step 4: RX frames "stream in" when at least STREAM_FRAMES arrive in each of two STREAM_WINDOW_NS running (480k frames/s). */
export const STREAM_WINDOW_NS = 100_000;
export const STREAM_FRAMES = 48;
/** Step 4: how long a guest naps while frames stream in: ~200 frames at 1M/s, under half a ring. */
export const STREAM_NAP_NS = 200_000;

export class HostNotify {
  private streaming = false;
  private fullWindows = 0;
  private windowStart = 0;
  private windowFrames = 0;
  private sleepEpoch = 0;
  private lastInterruptEpoch = 0;
  private takes = 0;
  private guestTakesAtLastTake = 0;

  constructor(private readonly i32: Int32Array) {}

  /** Step one of going to sleep; the caller must then re-check every ring (and stalled RX ring) before it sleeps. */
  announceSleep(how: typeof IO_WATCHING | typeof IO_BACKED_OFF | typeof IO_PARKED = IO_WATCHING): void {
    this.sleepEpoch = (this.sleepEpoch + 1) | 0;
    Atomics.store(this.i32, G.ioSleepEpoch, this.sleepEpoch);
    Atomics.store(this.i32, G.ioAsleep, how);
  }
  awake(): void {
    Atomics.store(this.i32, G.ioAsleep, IO_AWAKE);
  }
  /** Step 2: the IO thread stops (or resumes) reading a TAP because its RX ring is full; set before announceSleep. */
  setRxStalled(nic: NicLayout, stalled: boolean): void {
    Atomics.store(this.i32, nic.headerWord + N.rxStalled, stalled ? 1 : 0);
  }
  /** Step 4 needs the time after a round only while RX frames move or a stream is on. */
  rxNeedsClock(moved: number): boolean {
    return moved > 0 || this.streaming || this.windowFrames > 0;
  }
  /**
   * Step 4, after each round that moved `moved` RX frames: every STREAM_WINDOW_NS it decides
   * whether RX frames stream in (≥ STREAM_FRAMES in the window) and says so in ioStreaming
   * (written only when it changes).
   */
  rxRound(moved: number, now: number): void {
    this.windowFrames += moved;
    if (now - this.windowStart < STREAM_WINDOW_NS) return;
    // Two full windows running: a request/response peer's burst (a ring's worth at most) is not a stream.
    this.fullWindows = this.windowFrames >= STREAM_FRAMES ? this.fullWindows + 1 : 0;
    this.setStreaming(this.fullWindows >= 2);
    this.windowStart = now;
    this.windowFrames = 0;
  }
  /** Before this thread sleeps: no stream any more. */
  streamEnded(): void {
    this.setStreaming(false);
    this.windowFrames = 0;
    this.fullWindows = 0;
  }
  private setStreaming(streaming: boolean): void {
    if (streaming === this.streaming) return;
    this.streaming = streaming;
    Atomics.store(this.i32, G.ioStreaming, streaming ? 1 : 0);
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

  /**
   * Takes the token if it is free (or already says IO: only this thread writes that, and the tender when it stops the guest, for this thread). Returns
   * -1 if the guest holds it, else the hand-offs this take completes (1 if the guest held it
   * since this thread's last take, else 0). After a hand-off the caller resyncs its ring roles;
   * without one its own copies of the indices are still the published ones.
   */
  takeToken(): number {
    const was = Atomics.compareExchange(this.i32, G.ioToken, TOKEN_FREE, TOKEN_IO);
    if (was !== TOKEN_FREE && was !== TOKEN_IO) return -1;
    this.takes = (this.takes + 1) | 0;
    Atomics.store(this.i32, G.ioTokenTakes, this.takes);
    const guestTakes = this.guestTakes();
    const handoff = guestTakes !== this.guestTakesAtLastTake ? 1 : 0;
    this.guestTakesAtLastTake = guestTakes;
    return handoff;
  }
  /**
   * After a round holding the token: it still says IO. Only this thread lets go of it (the
   * guest's CASes all start from FREE or GUEST), so another value is the guest's write, and
   * its thread may be running the rings' burst code beside this one: a guest fault.
   */
  checkHeld(): void {
    const now = Atomics.load(this.i32, G.ioToken);
    if (now !== TOKEN_IO) throw new RingFault(`the IO token was written (${now}) while the IO thread held it`);
  }
  /** Gives the token back (before any sleep, or because the guest asked). */
  giveToken(): void {
    Atomics.compareExchange(this.i32, G.ioToken, TOKEN_IO, TOKEN_FREE);
  }
  /** Stopping: the guest thread is gone, so the token is taken whatever it says. */
  seizeToken(): void {
    Atomics.store(this.i32, G.ioToken, TOKEN_IO);
  }
  /**
   * The guest, about to wait, asks for the token: give it at the next round. Not beside
   * guestRelays, which only ever hands the token to this thread: a relaying guest asks no more,
   * and one that wrote both would have this thread give the token and its back-off re-check
   * ("free, and the guest relays") take it straight back, round after round, a core spun idle.
   */
  guestAsks(): boolean {
    return Atomics.load(this.i32, G.guestTokenRequest) === TOKEN_ASK && !this.guestRelays();
  }
  /** The guest sleeps on its TAPs holding the token (the backed-off thread may sleep PARK_NS). */
  guestOnDevice(): boolean {
    return Atomics.load(this.i32, G.ioToken) === TOKEN_GUEST && (Atomics.load(this.i32, G.guestWaiting) & WAIT_DEVICE) !== 0;
  }
  /** Which sleep on its TAPs the guest is in (its wait epoch), or null if it is in none. */
  guestDeviceSleep(): number | null {
    return this.guestOnDevice() ? Atomics.load(this.i32, G.guestWaitEpoch) : null;
  }
  /** The park's re-check (after announceSleep(IO_PARKED)): the guest is still in that sleep. */
  stillInDeviceSleep(sleep: number): boolean {
    return this.guestDeviceSleep() === sleep;
  }
  /** The guest's last burst of its own came back full (it may hold the token or not). */
  guestBacklogged(): boolean {
    return Atomics.load(this.i32, G.guestBacklog) === 1;
  }
  /**
   * The guest's last burst of its own came back full and it is not servicing now (the token is
   * free: it works through those frames): the backed-off IO thread takes the reads over.
   */
  guestBackloggedAndWorking(): boolean {
    return Atomics.load(this.i32, G.guestBacklog) === 1 && Atomics.load(this.i32, G.ioToken) === TOKEN_FREE;
  }
  /** How often the guest has taken the token: moving while the guest busy-polls its rings. */
  guestTakes(): number {
    return Atomics.load(this.i32, G.guestTokenTakes);
  }
  /** The guest forwards between NICs without offloads and leaves the token to this thread (the pipeline). */
  guestRelays(): boolean {
    return Atomics.load(this.i32, G.guestRelays) === 1;
  }
  /** Frames the guest's own bursts have read (mod 2^32): over a period, per take, its pace. */
  guestRxFrames(): number {
    return Atomics.load(this.i32, G.guestRxFrames);
  }
  /**
   * The backed-off re-check (after announceSleep(IO_BACKED_OFF), and in the backed-off poll):
   * the token is free and the guest hands it back, waits on the doorbell, or left TX frames.
   * A guest that asked and has not taken it yet is not one of these: it is about to.
   */
  tokenFreeAndNeeded(txWaiting: () => boolean): boolean {
    const i32 = this.i32;
    if (Atomics.load(i32, G.ioToken) !== TOKEN_FREE) return false;
    if (this.guestRelays()) return true; // it takes the token no more
    const request = Atomics.load(i32, G.guestTokenRequest);
    if (request === TOKEN_BACK) return true;
    if (request === TOKEN_ASK) return false;
    return (Atomics.load(i32, G.guestWaiting) & (WAIT_RX | WAIT_TX)) !== 0 || txWaiting();
  }
}

/** The guest's half. `kick(h)` does the eventfd write for NIC h. */
export class GuestNotify {
  private lastKickEpoch = 0;
  private waitEpoch = 0;
  private takes = 0;
  private ioTakesAtLastTake = 0;
  private request = 0;
  private backlog = false;
  private rxFrames = 0;
  /** A sleep on the TAPs ended with the IO thread parked on it: it is to be kicked (payParkedKick). */
  private parkedKickOwed = false;
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
    if (Atomics.load(i32, G.ioAsleep) === IO_AWAKE) return false;
    const epoch = Atomics.load(i32, G.ioSleepEpoch);
    if (epoch === this.lastKickEpoch) return false;
    this.lastKickEpoch = epoch;
    return true;
  }
  /** Step 4: RX frames stream in: nap instead of spinning. */
  ioStreaming(): boolean {
    return Atomics.load(this.i32, G.ioStreaming) === 1;
  }
  /** Step 4: sleeps timeoutNs without announcing a wait (so nobody rings for it): a timed nap, not a notification. */
  nap(timeoutNs: number): void {
    Atomics.wait(this.i32, G.doorbell, Atomics.load(this.i32, G.doorbell), timeoutNs / 1e6);
  }
  /** Step 3, first half: announce; returns the doorbell value to wait on after the caller's re-check. */
  announceWait(what: number): number {
    // The bell first: an interrupt that claims this wait's epoch read the epoch after it was
    // stored, so its doorbell++ comes after this read and the sleep on `bell` returns at once.
    // Read after the announcement, an interrupt whose doorbell++ came before the read (sent
    // for room the app then used up) would claim the epoch and wake nothing (header, step 3).
    const bell = Atomics.load(this.i32, G.doorbell);
    this.waitEpoch = (this.waitEpoch + 1) | 0;
    Atomics.store(this.i32, G.guestWaitEpoch, this.waitEpoch);
    Atomics.store(this.i32, G.guestWaiting, what);
    return bell;
  }
  /** Blocks until the doorbell moves past `bell` or timeoutMs passes. */
  sleep(bell: number, timeoutMs: number): void {
    Atomics.wait(this.i32, G.doorbell, bell, timeoutMs);
  }
  doneWaiting(): void {
    Atomics.store(this.i32, G.guestWaiting, 0);
  }

  /**
   * Takes the token if it is free. Returns -1 if not, else the hand-offs this take completes
   * (1 if the IO thread held it since this side's last take). The caller then resyncs.
   */
  takeToken(): number {
    return this.grab() ? this.took() : -1;
  }
  /**
   * FREE -> GUEST, unless the tender is stopping this guest (the IO thread moves what is left):
   * checked before and after, since the tender sets guestStop and then reads the token, and this
   * side writes the token and then reads guestStop, one of the two sees the other.
   */
  private grab(): boolean {
    const i32 = this.i32;
    if (this.stopping()) return false;
    if (Atomics.compareExchange(i32, G.ioToken, TOKEN_FREE, TOKEN_GUEST) !== TOKEN_FREE) return false;
    if (!this.stopping()) return true;
    Atomics.compareExchange(i32, G.ioToken, TOKEN_GUEST, TOKEN_FREE); // not a take: nothing was moved
    return false;
  }
  /** The tender is stopping this guest: it takes the IO token no more, and lets go of it at once. */
  stopping(): boolean {
    return Atomics.load(this.i32, G.guestStop) !== 0;
  }
  /** Bookkeeping of every take: the IO thread learns from guestTokenTakes that this side held it (and moved the indices). */
  private took(): number {
    const i32 = this.i32;
    this.takes = (this.takes + 1) | 0;
    Atomics.store(i32, G.guestTokenTakes, this.takes);
    this.setRequest(0);
    const ioTakes = Atomics.load(i32, G.ioTokenTakes);
    const handoff = ioTakes !== this.ioTakesAtLastTake ? 1 : 0;
    this.ioTakesAtLastTake = ioTakes;
    return handoff;
  }
  /**
   * The token is taken by a running IO thread, this side's ring is empty, and yet frames wait
   * on its TAPs (the caller looked): the IO thread is not keeping up, so one thread doing both
   * does better than two sharing the cores. Ask; the IO thread gives it at its next round.
   */
  askToken(): void {
    if (!this.stopping()) this.setRequest(TOKEN_ASK); // it would not take it
  }
  /**
   * After a burst of this side's own, holding the token: the frames it read (the IO thread
   * reads the pace from them) and whether it came back full (RingService.rxFull: the IO thread
   * then takes the reads over while the guest works).
   */
  ownBurst(frames: number, backlog: boolean): void {
    if (frames > 0) {
      this.rxFrames = (this.rxFrames + frames) | 0;
      Atomics.store(this.i32, G.guestRxFrames, this.rxFrames);
    }
    if (backlog === this.backlog) return;
    this.backlog = backlog;
    Atomics.store(this.i32, G.guestBacklog, backlog ? 1 : 0);
  }
  /**
   * No longer asking. `sleeping`: the guest, having announced its wait (announceWait) BEFORE
   * this call, is about to sleep on the doorbell; an IO thread that gave the token on the ask
   * and backed off (its re-check saw the ask, so it sleeps) is kicked to take it back.
   */
  stopAsking(sleeping = false): void {
    if (this.request !== TOKEN_ASK) return;
    this.setRequest(0);
    if (sleeping && Atomics.load(this.i32, G.ioAsleep) === IO_BACKED_OFF && this.hostNeedsKick()) this.kick(0);
  }
  private setRequest(r: number): void {
    if (this.request === r) return;
    this.request = r;
    Atomics.store(this.i32, G.guestTokenRequest, r);
  }
  /**
   * The guest's burst found nothing: if the IO thread is awake (it just gave the token, and
   * polls), give the token back for it to poll with. Returns -1 when handed back (the guest
   * then waits on its rings as in hybrid without the token), else the guest still holds the
   * token and the result is as takeToken's (1: the IO thread held it meanwhile, resync).
   */
  handBack(): number {
    const i32 = this.i32;
    if (Atomics.load(i32, G.ioAsleep) !== IO_AWAKE) return 0;
    Atomics.compareExchange(i32, G.ioToken, TOKEN_GUEST, TOKEN_FREE);
    this.setRequest(TOKEN_BACK);
    // Seen awake after the hand-back was written: its next look (or its re-check, if it is
    // going to sleep now) sees it. Seen asleep: take the token back, unless it already took it.
    if (Atomics.load(i32, G.ioAsleep) === IO_AWAKE) return -1;
    // Taken back: a take like any other, so the IO thread resyncs after it.
    return this.grab() ? this.took() : -1;
  }
  /**
   * Gives the token back. `sleeping`: the guest is about to sleep, having announced its wait
   * (announceWait) BEFORE this call; `txLeft`: TX frames are still on a ring (the kernel said
   * EAGAIN). Kicks the IO thread when it must take over now (see the header), once per sleep.
   */
  giveToken(sleeping: boolean, txLeft: boolean): void {
    const i32 = this.i32;
    Atomics.compareExchange(i32, G.ioToken, TOKEN_GUEST, TOKEN_FREE);
    const asleep = Atomics.load(i32, G.ioAsleep);
    if (asleep === IO_AWAKE) return;
    if ((txLeft || (sleeping && asleep === IO_BACKED_OFF)) && this.hostNeedsKick()) this.kick(0);
  }
  /**
   * About to sleep on the doorbell without the token, the wait announced (announceWait) BEFORE
   * this call. The IO thread held it at this side's last take; if it has since given it up and
   * backed off (auto's choice went to one poller: pump.ts steps aside), its re-check may have
   * missed this wait, and it sleeps on kicks alone: kick it, once per sleep.
   */
  waitingBesideIo(): void {
    const asleep = Atomics.load(this.i32, G.ioAsleep);
    if ((asleep === IO_BACKED_OFF || asleep === IO_PARKED) && this.hostNeedsKick()) this.kick(0);
  }
  /**
   * From now on this side takes the token no more (a relay: the IO thread moves the frames
   * while the guest filters them). Called between waits, not holding it; a backed-off or
   * parked IO thread is kicked to take over now rather than at its timer. Of "guestRelays = 1;
   * read ioAsleep" and the IO thread's "ioAsleep = BACKED_OFF; read token and guestRelays" one
   * sees the other: it is kicked, or it does not sleep.
   */
  relaying(): void {
    Atomics.store(this.i32, G.guestRelays, 1);
    const asleep = Atomics.load(this.i32, G.ioAsleep);
    if ((asleep === IO_BACKED_OFF || asleep === IO_PARKED) && this.hostNeedsKick()) this.kick(0);
  }
  /**
   * Sleeping on the TAPs, holding the token (the kernel wakes the guest then; nobody else
   * needs to). Announced so a backed-off IO thread looks less often; call with nothing ready
   * and no TX frames left.
   */
  announceDeviceSleep(): void {
    this.waitEpoch = (this.waitEpoch + 1) | 0;
    Atomics.store(this.i32, G.guestWaitEpoch, this.waitEpoch);
    Atomics.store(this.i32, G.guestWaiting, WAIT_DEVICE);
  }
  /**
   * Woken on the TAPs (or at the deadline): no longer asleep there. An IO thread parked
   * without a timer on this sleep (IO_PARKED) is owed a kick, so that it looks again every
   * period in case the guest now gets busy in its app holding the token's work: paid by
   * payParkedKick, once the frame that woke this side has been dealt with, not now. Kicked
   * here, the eventfd write (and the wake of a halted vCPU it sets off) came before the answer
   * to that frame: 80-100 µs of a 250 µs round trip at rest (docs/tuning.md, "At rest").
   */
  deviceSleepEnded(): void {
    Atomics.store(this.i32, G.guestWaiting, 0);
    if (Atomics.load(this.i32, G.ioAsleep) === IO_PARKED) this.parkedKickOwed = true;
  }
  /**
   * Pays the kick deviceSleepEnded owes, if the IO thread is still parked (it has not woken at
   * its cap meanwhile). The backend calls it at the guest's first send, net_read_done, empty
   * net_read_view or wait after the waking, so the IO thread hears of it within that call of
   * the app: a guest busy in its app after it is looked at within a period as before, unless it
   * is busy while it still holds the frame that woke it (then from its first such call on).
   * A wait pays before it sleeps; one woken with nothing to read that sleeps on its TAPs again
   * leaves the kick owed: the IO thread parked on the sleep before wakes at its cap and, seeing
   * the guest in a sleep it has not watched, parks on that one with the timer first.
   */
  payParkedKick(): void {
    if (!this.parkedKickOwed) return;
    this.parkedKickOwed = false;
    if (Atomics.load(this.i32, G.ioAsleep) === IO_PARKED && this.hostNeedsKick()) this.kick(0);
  }
}
