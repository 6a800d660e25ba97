// How long the backed-off IO thread sleeps before its next look at a guest that holds the IO
// token (Pump.backOff). Each look wakes this thread on whichever vCPU is free, often the one the
// peer or the guest needs next (docs/tuning.md, "A back-off that grows"); so while the guest
// keeps up alone the sleep doubles, and what bounds it is how soon a guest that stopped taking
// the token (busy in its app) must be looked at again.
import { BACKOFF_FRAMES, BACKOFF_NS } from '../../guest-api/notify.js';

export interface Look {
  /** The sleep before this look. */
  sleptNs: number;
  /** Time since the last look, and the frames the guest's own bursts read meanwhile. */
  elapsedNs: number;
  framesRead: number;
  /** The guest's last burst of its own came back full: it falls behind. */
  backlogged: boolean;
  /** The guest is the only poller (--io-token=solo, or auto's choice). */
  onePoller: boolean;
  /** The guest sleeps on its TAPs (PARK_NS applies then, not this). */
  onDevice: boolean;
}

/**
 * The next sleep: double, up to maxNs (--io-backoff-max-us) and to the time the guest's pace
 * takes to bring BACKOFF_FRAMES more (half the kernel's default TAP queue: a guest that stops
 * now leaves no more than that waiting when it is next looked at), never below BACKOFF_NS.
 * Anything but a guest keeping up alone starts again from BACKOFF_NS.
 */
export function nextBackoffNs(look: Look, maxNs: number): number {
  if (look.backlogged || !look.onePoller || look.onDevice) return BACKOFF_NS;
  const paceNs = look.framesRead > 0 ? Math.floor((look.elapsedNs * BACKOFF_FRAMES) / look.framesRead) : Infinity;
  return Math.max(BACKOFF_NS, Math.min(2 * look.sleptNs, maxNs, paceNs));
}
