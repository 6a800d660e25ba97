// --io-token=auto: at a round-trip pace, one poller (the guest, as --io-token=solo) or two (the
// backed-off IO thread offers to poll beside it, as --io-token=on), whichever served more frames
// on this machine, measured now. Which pays is a property of the machine, not of the code: on
// the Intel VM of sessions 1–8 two pollers served `ping -f` 1.3× better than one, on the AMD
// PVM guest of sessions 9–12 one poller served it 1.2–1.5× better (docs/tuning.md, "One poller
// or two"), and a fixed default loses on one of them.
//
// How: hold the choice for a while; then, if frames came at least MIN_FPS, try one, two, two,
// one (ABBA: a load that drifts through the trial favours neither) for TRIAL_NS each and keep
// two only if they moved MARGIN× the frames one did. A trial costs the worse arrangement's
// frames for half its length, so a trial that confirms the choice doubles the hold (HOLD_NS up
// to HOLD_MAX_NS) and a change starts it again at HOLD_NS. At a fixed offered rate both move the same
// and one poller is kept, which costs less CPU and, on both machines, had the lower p99; a trial
// that finds them within SAME of each other has met such a load, which the pollers do not pace,
// and holds HOLD_MAX_NS at once: each trial's two-poller half is a third busy thread on a 2-core
// machine, and at 10k echo/s trials every 1-2 s showed in the p99. Frames coming RATE_CHANGE×
// faster or slower than in the last trial are a new load, and so is one after rest: each is
// tried at the end of the HOLD_NS spell that shows it. The first trial runs the IO thread's
// polling path cold, which handicaps two pollers: its answer of one poller is asked again at once
// (not where both moved alike, nor once the frames no longer come at a round-trip pace).
// The frame count includes the guest's own (G.guestRxFrames, guest-written): a guest that lies
// there only changes how its own frames are polled.

export const HOLD_NS = 1_000_000_000;
export const HOLD_MAX_NS = 8_000_000_000;
export const TRIAL_NS = 40_000_000;
export const MARGIN = 1.15;
/** Two and one pollers this close (either way): the load sets the pace, not the pollers. */
export const SAME = 1.05;
/** Frames this much faster or slower than in the last trial: a new load, tried at the end of the spell that shows it. */
export const RATE_CHANGE = 1.5;
/** Below this the choice is not worth a trial (nor its CPU): one poller. */
export const MIN_FPS = 2000;

const SLOTS = [false, true, true, false]; // two pollers in each trial slot?

export class PollerChoice {
  /** Two pollers (the IO thread offers to poll beside the guest) now? */
  two = false;
  /** Trials run, and how many picked two pollers: the stats' poller_trials / two_pollers. */
  trials = 0;
  picks = 0;
  /** RX frames per second with one poller and with two over the last trial that ended (a cold one too): the stats' poller_one_fps / poller_two_fps. */
  lastOneFps = 0;
  lastTwoFps = 0;
  /** The last trial's pick (the arrangement held between trials). */
  private chosen = false;
  private slot = -1; // -1: holding
  /** No trial has ended yet: the IO thread's polling path has not run (see the end of tick). */
  private cold = true;
  private hold: number;
  private since = -1; // the start of the current slot, or while holding of the last HOLD_NS measured
  private framesAt = 0;
  private heldSince = 0;
  /** Frames per second over the last trial (0 before the first). */
  private trialFps = 0;
  private readonly moved = [0, 0]; // frames per ns, summed over the trial slots with [one, two] pollers

  constructor(
    private readonly holdNs = HOLD_NS,
    private readonly trialNs = TRIAL_NS,
    private readonly holdMaxNs = HOLD_MAX_NS,
  ) {
    this.hold = holdNs;
  }

  /**
   * Called now and then (the backed-off IO thread's wake-ups, every thousand idle rounds of a
   * second poller) with the clock and every frame moved so far; a trial starts only when
   * `mayTry` (frames come at a round-trip pace).
   */
  tick(now: number, frames: number, mayTry = true): boolean {
    if (this.since < 0) {
      this.restart(now, frames, -1);
      return this.two;
    }
    const dt = now - this.since;
    if (this.slot < 0) {
      // The rate is measured over spells of HOLD_NS or so (a change shows within two of them);
      // a spell of a stream (not `mayTry`) says nothing of round trips and is dropped.
      if (dt < this.holdNs) return this.two;
      const fps = ((frames - this.framesAt) * 1e9) / dt;
      this.since = now;
      this.framesAt = frames;
      if (!mayTry) return this.two;
      if (fps < MIN_FPS) {
        // At rest: one poller, and the hold left expired, so the load that comes next is tried
        // at the end of its first spell instead of a hold later.
        this.two = this.chosen = false;
        this.hold = this.holdNs;
        this.trialFps = 0;
        return this.two;
      }
      const changed = this.trialFps > 0 && (fps > RATE_CHANGE * this.trialFps || fps * RATE_CHANGE < this.trialFps);
      if (now - this.heldSince < this.hold && !changed) return this.two;
      this.moved[0] = this.moved[1] = 0;
      this.trials++;
      this.restart(now, frames, 0);
      return this.two;
    }
    if (dt < this.trialNs) return this.two;
    // Per ns, since a tick comes late by up to a back-off.
    this.moved[SLOTS[this.slot] ? 1 : 0] += (frames - this.framesAt) / dt;
    if (this.slot + 1 < SLOTS.length) {
      this.restart(now, frames, this.slot + 1);
      return this.two;
    }
    const before = this.chosen;
    const [one, two] = this.moved;
    // Two slots of each: the summed frames per ns over 2, per second.
    this.lastOneFps = one * 5e8;
    this.lastTwoFps = two * 5e8;
    const same = two < SAME * one && one < SAME * two;
    const pick = two > MARGIN * one;
    if (this.cold && !pick && !same && mayTry) {
      // The first trial ran the IO thread's polling path for the first time (code V8 had not
      // compiled yet, presumably, its compiler a third thread on two busy cores). Its two-poller
      // slots lost to the one-poller ones in 5 of 5 runs where later trials had two win by
      // 1.1–2.4× (docs/tuning.md, "One poller or two"), so a first answer of one is not kept
      // unless both moved alike (an offered rate, which a second trial would only cost): the
      // trial runs again at once, warm.
      this.cold = false;
      this.moved[0] = this.moved[1] = 0;
      this.trials++;
      this.restart(now, frames, 0);
      return this.two;
    }
    this.cold = false;
    this.two = this.chosen = pick;
    if (this.two) this.picks++;
    this.trialFps = ((this.two ? two : one) / 2) * 1e9; // the rate under the arrangement now held
    this.hold = same ? this.holdMaxNs : this.two === before ? Math.min(2 * this.hold, this.holdMaxNs) : this.holdNs;
    this.restart(now, frames, -1);
    return this.two;
  }

  private restart(now: number, frames: number, slot: number): void {
    this.slot = slot;
    this.since = now;
    this.framesAt = frames;
    if (slot >= 0) this.two = SLOTS[slot];
    else this.heldSince = now;
  }
}
