// What the kernel says it did with a TAP: frames it handed to the tender (its TX side) and
// frames it dropped because the tender was not reading fast enough.
import type { Netns } from './netns.js';

export function kernelTx(ns: Netns, tap = 'tap0'): { packets: number; dropped: number } {
  const j = JSON.parse(ns.run('ip', ['-s', '-j', 'link', 'show', tap]))[0].stats64.tx;
  return { packets: j.packets, dropped: j.dropped };
}

/** Frames the kernel received from the tender on a TAP (its RX side). */
export function kernelRx(ns: Netns, tap = 'tap0'): { packets: number; dropped: number } {
  const j = JSON.parse(ns.run('ip', ['-s', '-j', 'link', 'show', tap]))[0].stats64.rx;
  return { packets: j.packets, dropped: j.dropped };
}
