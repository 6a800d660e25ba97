// What the guest's and IO thread's small steps cost on this machine, each timed over a
// million calls on one thread: an addon burst call that moves nothing (the napi call and its
// argument checks), Atomics on a shared word, and the clock the guest API reads
// (process.hrtime). Each is called through the same closure loop, whose own cost is the first
// row: subtract it. For the per-request budget in docs/tuning.md, "Under a flood: the request
// behind a slow reply". Usage: node dist-dev/bench/call-costs.js (needs `npm run build:dev`
// and the addon, `npm run build:native` or the install's prebuild).
import { addon } from '../native/index.js';
import { monotonicNs } from '../guest-api/clock.js';

const N = 1_000_000;
const region = addon.regionOpen(new Uint8Array(new SharedArrayBuffer(1 << 16)));
const lens = new Uint32Array(new SharedArrayBuffer(64 * 4));
const offsets = new Uint32Array(new SharedArrayBuffer(64 * 4));
const port = addon.burstPortOpen(region, 0, -1, -1, 0, 2048, 2048, 16, lens, offsets); // stdin, never read: 0 frames
const word = new Int32Array(new SharedArrayBuffer(64));

function ns(f: () => void): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f();
  return Number(process.hrtime.bigint() - t) / N;
}

let sink = 0;
const steps: [string, () => void][] = [
  ['the loop itself (an empty closure)', () => (sink += 1)],
  ['burstRead (4 arguments, 0 frames)', () => (sink += addon.burstRead(port, 0, 0, 0))],
  ['burstWrite (2 arguments, 0 frames)', () => (sink += addon.burstWrite(port, 0))],
  ['Atomics.store', () => Atomics.store(word, 1, sink)],
  ['Atomics.compareExchange', () => (sink += Atomics.compareExchange(word, 2, 0, 0))],
  ['Atomics.load', () => (sink += Atomics.load(word, 3))],
  ['clock_monotonic (process.hrtime)', () => (sink += monotonicNs())],
];
for (let round = 1; round <= 3; round++) {
  console.log(`round ${round}: ${steps.map(([name, f]) => `${name} ${ns(f).toFixed(1)} ns`).join(', ')}`);
}
addon.burstPortClose(port);
addon.regionClose(region);
if (sink === -1) console.log(''); // keeps the calls from being optimised away
