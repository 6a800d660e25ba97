// One side of the doorbell race (test/notify.test.ts): the IO thread frees TX room and rings
// for it as fast as it can; the guest uses up all the room there is (an app refilling its TX
// ring), announces a wait for more, re-checks and sleeps. An interrupt sent for room the guest
// then used up can land while the guest announces its next wait: if it claims that wait's
// epoch without waking it, the wait sleeps to its cap while the host goes on ringing for
// nobody (a lost wake-up). A sleep that runs out while the host did not run (descheduled on a
// busy 2-core machine) is no such thing: it is counted apart.
import { parentPort, workerData } from 'node:worker_threads';
import { G } from '../../guest-api/abi.js';
import { GuestNotify, HostNotify, WAIT_TX } from '../../guest-api/notify.js';

const { sab, role, waits, capMs } = workerData as { sab: SharedArrayBuffer; role: 'host' | 'guest'; waits: number; capMs: number };
const i32 = new Int32Array(sab);
// Words past the G block: the room the host has freed, the end of the run, the host's rounds.
const ROOM = 120;
const DONE = 121;
const ROUNDS = 122;

if (role === 'host') {
  const host = new HostNotify(i32);
  let interrupts = 0;
  for (let n = 0; Atomics.load(i32, DONE) === 0; n++) {
    Atomics.add(i32, ROOM, 1);
    interrupts += host.interruptIfWaiting(WAIT_TX);
    Atomics.store(i32, ROUNDS, n);
    for (let k = (n * 7919) % 97; k > 0; k--) Atomics.load(i32, DONE); // varied spacing
  }
  parentPort!.postMessage({ interrupts });
} else {
  const guest = new GuestNotify(i32, [], 'suppress', () => {});
  let sleeps = 0;
  let lost = 0;
  let idleHost = 0;
  try {
    for (let i = 0; i < waits; i++) {
      Atomics.exchange(i32, ROOM, 0);
      const bell = guest.announceWait(WAIT_TX);
      if (Atomics.load(i32, ROOM) === 0) {
        sleeps++;
        const rounds = Atomics.load(i32, ROUNDS);
        if (Atomics.wait(i32, G.doorbell, bell, capMs) === 'timed-out') {
          // Two rounds began after the announcement: each added room and saw the wait.
          if (Atomics.load(i32, ROUNDS) - rounds >= 2) lost++;
          else idleHost++;
        }
      }
      guest.doneWaiting();
    }
  } finally {
    Atomics.store(i32, DONE, 1); // the host stops even if this side threw
  }
  parentPort!.postMessage({ sleeps, lost, idleHost });
}
