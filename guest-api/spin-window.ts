// How long a waiting thread spins before it sleeps (the guest in yield_until/net_wait_room,
// the hybrid IO thread in its idle spell), adapted to what spinning bought: KVM's halt polling
// (grow the window while wake-ups keep arriving shortly after the thread gave up spinning,
// fall back as soon as one takes longer than the cap). A request/response peer at
// 10k/s wakes a sleeping thread every 100 µs, and on these VMs each wake-up costs 30-40 µs and
// a p99 in the hundreds; a window that has grown past the gap catches every request spinning,
// as a busy C loop does. Idle, every wait outlasts the cap and the window stays at its base,
// so an idle tender costs what it did with a fixed window.

/** Below this a doubling window would take too many waits to reach a 100 µs gap. */
const MIN_GROWN_NS = 10_000;

export class SpinWindow {
  /** The window the next wait spins for. */
  ns: number;

  /** baseNs: the window at rest (--guest-spin-us); maxNs: the cap (--guest-spin-max-us, ≥ baseNs). */
  constructor(
    readonly baseNs: number,
    readonly maxNs: number,
  ) {
    if (!(baseNs >= 0 && maxNs >= baseNs)) throw new RangeError(`spin window: base ${baseNs} ns, max ${maxNs} ns`);
    this.ns = baseNs;
  }

  /**
   * A wait that spun for the whole window, then slept, ended after waitedNs in all. Woken
   * within the cap: a longer spin would have caught it without a wake-up, so double. Longer
   * (or ended by its deadline past the cap): spinning would have been wasted, so back to base.
   */
  slept(waitedNs: number, woken: boolean): void {
    if (woken && waitedNs <= this.maxNs) this.ns = Math.min(this.maxNs, Math.max(2 * this.ns, MIN_GROWN_NS));
    else if (waitedNs > this.maxNs) this.ns = this.baseNs;
  }
}
