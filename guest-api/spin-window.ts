// How long a waiting thread spins before it sleeps (the guest in yield_until/net_wait_room,
// the hybrid IO thread in its idle spell), adapted to what spinning bought: KVM's halt polling
// (grow the window while wake-ups keep arriving shortly after the thread gave up spinning,
// fall back as soon as one takes longer than the cap). A request/response peer at
// 10k/s wakes a sleeping thread every 100 µs, and on these VMs each wake-up costs 30-40 µs and
// a p99 in the hundreds; a window that has grown past the gap catches every request spinning,
// as a busy C loop does. Idle, every wait outlasts the cap and the window stays at its base,
// so an idle tender costs what it did with a fixed window.
//
// A peer that keeps the thread spinning anyway (its waits all end within the cap) still pauses
// now and then: the scheduler or a kernel thread holds it up for a few hundred µs or a couple
// of milliseconds. A thread that sleeps then is woken late (an idle vCPU here takes 30-80 µs
// to wake), and a pause past the cap sends the window back to its base, so the next few gaps
// sleep too: a dozen slow requests where a busy C loop has none. So a busy thread spins on
// through a pause, up to stallNs, from a budget that fills at 1/STALL_SHARE of the time that
// passes: spinning through pauses costs at most that share of a core, and nothing while idle,
// since an idle thread's waits do not end within the cap.

/** Below this a doubling window would take too many waits to reach a 100 µs gap. */
const MIN_GROWN_NS = 10_000;
/** Waits that ended spinning within the cap, since the last sleep, before a pause may be spun through. */
export const STALL_STREAK = 32;
/** Spinning through pauses takes at most 1/STALL_SHARE of the time. */
export const STALL_SHARE = 20;

export class SpinWindow {
  /** The window the next wait spins for, unless it may spin through a pause (spinFor). */
  ns: number;
  /** Waits that ended spinning within the cap since the last sleep (a pause spun through neither counts nor ends it). */
  private streak = 0;
  /** Ns of spinning through pauses still allowed, as of budgetAt; starts full. */
  private budgetNs: number;
  private budgetAt = 0;
  /** What spinFor granted the current wait. */
  private granted = 0;

  /**
   * baseNs: the window at rest (--guest-spin-us); maxNs: the cap (--guest-spin-max-us, ≥ baseNs);
   * stallNs: how long a busy thread spins through a pause (--guest-spin-stall-us; 0: never).
   */
  constructor(
    readonly baseNs: number,
    readonly maxNs: number,
    readonly stallNs = 0,
  ) {
    if (!(baseNs >= 0 && maxNs >= baseNs && stallNs >= 0)) throw new RangeError(`spin window: base ${baseNs} ns, max ${maxNs} ns, stall ${stallNs} ns`);
    this.ns = baseNs;
    this.budgetNs = stallNs;
  }

  /** How long a wait that begins at nowNs spins before it sleeps. */
  spinFor(nowNs: number): number {
    this.granted = this.ns;
    if (this.streak >= STALL_STREAK && this.stallNs > this.ns) {
      this.budgetNs = Math.min(this.stallNs, this.budgetNs + Math.max(0, nowNs - this.budgetAt) / STALL_SHARE);
      this.budgetAt = nowNs;
      this.granted = Math.max(this.ns, Math.min(this.stallNs, this.ns + this.budgetNs));
    }
    return this.granted;
  }

  /** A wait ended while spinning, after waitedNs (0: its first look found what it waited for). */
  spun(waitedNs: number): void {
    if (waitedNs > this.ns) this.spend(waitedNs - this.ns);
    if (waitedNs <= this.maxNs) this.streak++;
  }

  /**
   * A wait that spun for its whole window, then slept, ended after waitedNs in all.
   * Woken within the cap: a longer spin would have caught it without a wake-up, so double.
   * Longer (or ended by its deadline past the cap): spinning would have been wasted, so back to base.
   */
  slept(waitedNs: number, woken: boolean): void {
    this.streak = 0;
    this.spend(this.granted - this.ns);
    if (woken && waitedNs <= this.maxNs) this.ns = Math.min(this.maxNs, Math.max(2 * this.ns, MIN_GROWN_NS));
    else if (waitedNs > this.maxNs) this.ns = this.baseNs;
  }

  private spend(ns: number): void {
    if (ns > 0) this.budgetNs = Math.max(0, this.budgetNs - ns);
  }
}
