// The guest's ring backend in-process (no root), with the IO thread played by this test
// through the same Producer/Consumer/HostNotify it uses, a fake clock and a kick recorder.
import { describe, expect, it } from 'vitest';
import { computeLayout, createRegion, G, MIN_FRAME, TOKEN_ASK } from '../guest-api/abi.js';
import { HostNotify, IO_BACKED_OFF, IO_PARKED, kickPolicyFor, STREAM_FRAMES, STREAM_WINDOW_NS, type KickPolicy } from '../guest-api/notify.js';
import { AGAIN, EINVAL, OK } from '../guest-api/results.js';
import { Consumer, Producer, RingView } from '../guest-api/ring.js';
import { ShmBackend } from '../guest-api/shm-backend.js';

function rig(kick: KickPolicy, slots = 4, o: { spinStallNs?: number; onRelax?: () => void } = {}) {
  const layout = computeLayout([{ mtu: 1500, slotCount: slots }]);
  const region = createRegion(layout, [new Uint8Array(6)]);
  const i32 = new Int32Array(region);
  const u32 = new Uint32Array(region);
  const u8 = new Uint8Array(region);
  const nic = layout.nics[0];
  const kicks: number[] = [];
  let now = 1e9;
  let relaxes = 0;
  const backend = new ShmBackend({
    region, kickFds: [42], kick, spinNs: 10_000, spinStallNs: o.spinStallNs, kickFn: (fd) => kicks.push(fd), relax: () => (relaxes++, o.onRelax?.()),
    nowNs: () => (now += 1000), // every look at the clock moves it 1 µs
  });
  const rxView = new RingView(i32, u32, nic, 'rx');
  const txView = new RingView(i32, u32, nic, 'tx');
  const host = { notify: new HostNotify(i32), rx: new Producer(rxView), tx: new Consumer(txView, MIN_FRAME, nic.maxFrame) };
  const deliver = (bytes: number[]) => {
    u8.set(bytes, rxView.dataOffset(host.rx.index));
    host.rx.setLength(0, bytes.length);
    host.rx.publish(1);
  };
  return { backend, host, nic, kicks, deliver, u8, txView, relaxes: () => relaxes, now: () => now };
}

const frame = (n: number, fill = 7) => new Uint8Array(n).fill(fill);

describe('ShmBackend', () => {
  it('reads frames in order by copy and by view, AGAIN when empty, EINVAL for a short buffer', () => {
    const { backend, deliver } = rig('never');
    const out = { size: 0 };
    expect(backend.read(0, new Uint8Array(2048), out)).toBe(AGAIN);
    deliver(Array.from(frame(60, 1)));
    deliver(Array.from(frame(100, 2)));
    const buf = new Uint8Array(2048);
    expect(backend.read(0, buf, out)).toBe(OK);
    expect(out.size).toBe(60);
    expect(buf[59]).toBe(1);
    expect(backend.read(0, new Uint8Array(50), out)).toBe(EINVAL); // 100 bytes waiting: not consumed
    const view = backend.readView(0)!;
    expect(view.length).toBe(100);
    expect(view[0]).toBe(2);
    expect(backend.readDone(0)).toBe(OK);
    expect(backend.readView(0)).toBeNull();
    expect(backend.readDone(0)).toBe(EINVAL);
  });

  it('writes what fits on the TX ring, AGAIN when full, EINVAL for sizes outside 14..maxFrame', () => {
    const { backend, host, nic, u8, txView } = rig('never', 4);
    expect(backend.write(0, frame(13), 13, true)).toBe(EINVAL);
    expect(backend.write(0, frame(nic.maxFrame + 1), nic.maxFrame + 1, true)).toBe(EINVAL);
    expect(backend.write(0, frame(20), 30, true)).toBe(EINVAL); // size past the buffer
    for (let i = 0; i < 4; i++) expect(backend.write(0, frame(64, i), 64, true)).toBe(OK);
    expect(backend.write(0, frame(64), 64, true)).toBe(AGAIN);
    expect(host.tx.available()).toBe(4);
    expect(host.tx.length(3)).toBe(64);
    expect(u8[txView.dataOffset(3)]).toBe(3);
  });

  it('poll mode never kicks; unsuppressed event mode kicks every write and every flush of queued frames', () => {
    const poll = rig(kickPolicyFor('poll', true));
    poll.host.notify.announceSleep();
    poll.backend.write(0, frame(60), 60, true);
    expect(poll.kicks).toEqual([]);
    const always = rig(kickPolicyFor('event', false));
    always.backend.write(0, frame(60), 60, true);
    always.backend.write(0, frame(60), 60, false);
    always.backend.write(0, frame(60), 60, false);
    expect(always.kicks).toEqual([42]);
    always.backend.flush(0);
    always.backend.flush(0); // nothing queued since: no kick
    expect(always.kicks).toEqual([42, 42]);
  });

  it('suppressed: a kick only for a sleeping IO thread, once per sleep', () => {
    const { backend, host, kicks } = rig(kickPolicyFor('hybrid', true), 8);
    backend.write(0, frame(60), 60, true);
    expect(kicks).toEqual([]); // awake: it will see the frame
    host.notify.announceSleep();
    backend.write(0, frame(60), 60, true);
    backend.write(0, frame(60), 60, true);
    expect(kicks).toEqual([42]);
    host.notify.awake();
    host.notify.announceSleep();
    backend.write(0, frame(60), 60, false);
    expect(kicks).toEqual([42]);
    backend.flush(0);
    expect(kicks).toEqual([42, 42]);
  });

  it('a stalled RX ring: releasing a slot kicks the sleeping IO thread once', () => {
    const { backend, host, nic, kicks, deliver } = rig('suppress', 2);
    deliver(Array.from(frame(60)));
    deliver(Array.from(frame(60)));
    host.notify.setRxStalled(nic, true);
    host.notify.announceSleep();
    expect(backend.readView(0)).not.toBeNull();
    backend.readDone(0);
    expect(kicks).toEqual([42]);
    backend.readView(0);
    backend.readDone(0);
    expect(kicks).toEqual([42]);
  });

  it('wait: returns the ready set at once, else spins (relaxing) until the deadline and returns 0', () => {
    const { backend, deliver, relaxes } = rig('suppress');
    deliver(Array.from(frame(60)));
    expect(backend.wait(0)).toBe(1);
    backend.readView(0);
    backend.readDone(0);
    const r = rig('suppress');
    const t0 = r.now();
    expect(r.backend.wait(t0 + 5_000)).toBe(0); // within the 10 µs spin: no sleep at all
    expect(r.relaxes()).toBeGreaterThan(0);
    expect(relaxes()).toBe(0);
  });

  it('a guest its peer keeps busy spins through a pause (--guest-spin-stall-us) and catches the frame; without it, it sleeps past it', () => {
    for (const stallNs of [5_000_000, 0]) {
      let dueAt = Infinity; // the fake time at which the next frame arrives, while the guest spins
      const r = rig('suppress', 4, { spinStallNs: stallNs, onRelax: () => { if (r.now() >= dueAt) (r.deliver(Array.from(frame(60))), (dueAt = Infinity)); } });
      const waitFor = (afterNs: number, forNs: number) => {
        dueAt = r.now() + afterNs;
        const got = r.backend.wait(r.now() + forNs);
        if (got !== 0) (r.backend.readView(0), r.backend.readDone(0));
        return got;
      };
      // 32 requests caught within the 10 µs window: a busy peer.
      for (let k = 0; k < 32; k++) expect(waitFor(1_000, 1e9)).toBe(1);
      // Then a 200 µs pause: spun through, or slept through to the 300 µs deadline (the frame
      // only comes while the guest spins, so a sleeping guest misses it here).
      expect(waitFor(200_000, 300_000)).toBe(stallNs > 0 ? 1 : 0);
    }
  });

  it('close flushes what was queued', () => {
    const { backend, host, kicks } = rig('always');
    backend.write(0, frame(60), 60, false);
    host.notify.announceSleep();
    backend.close();
    expect(kicks).toEqual([42]);
  });
});

describe('ShmBackend with the IO token', () => {
  it('a guest that takes the token after the IO thread filled its RX ring returns the frame; it does not sleep on the TAPs', () => {
    const layout = computeLayout([{ mtu: 1500, slotCount: 4 }]);
    const region = createRegion(layout, [new Uint8Array(6)]);
    const i32 = new Int32Array(region);
    const u8 = new Uint8Array(region);
    const rxView = new RingView(i32, new Uint32Array(region), layout.nics[0], 'rx');
    const io = { notify: new HostNotify(i32), rx: new Producer(rxView) };
    expect(io.notify.takeToken()).toBeGreaterThanOrEqual(0); // the IO thread holds the token
    let deviceSleeps = 0;
    let clockReads = 0;
    const backend = new ShmBackend({
      region, kickFds: [42], kick: kickPolicyFor('hybrid', true), spinNs: 0, kickFn: () => {}, relax: () => {},
      nowNs: () => {
        // The first clock read comes after the guest's first look found the ring empty and the
        // token taken: the IO thread reads a frame off the TAP into the ring, then gives the token up.
        if (++clockReads === 1) {
          u8.set(frame(60, 9), rxView.dataOffset(io.rx.index));
          io.rx.setLength(0, 60);
          io.rx.publish(1);
          io.notify.giveToken();
        }
        return 1e9 + clockReads * 1000;
      },
      service: {
        resync: () => {}, round: () => 0, rxFull: false, rxMoved: 0, flushTx: () => 0, txLeft: () => false, tapReadable: () => false, releaseRings: () => {},
        sleepOnDevice: () => (deviceSleeps++, false), // the TAP is empty: a real one would sleep to the deadline
      },
    });
    expect(backend.wait(1e9 + 1e10)).toBe(1);
    expect(deviceSleeps).toBe(0);
    expect(backend.readView(0)![0]).toBe(9);
  });

  it('a guest that found the token taken and sleeps on the doorbell kicks an IO thread that stepped aside meanwhile', () => {
    const layout = computeLayout([{ mtu: 1500, slotCount: 4 }]);
    const region = createRegion(layout, [new Uint8Array(6)]);
    const io = new HostNotify(new Int32Array(region));
    expect(io.takeToken()).toBeGreaterThanOrEqual(0); // the IO thread holds the token and polls
    const kicks: number[] = [];
    let now = 1e9;
    const backend = new ShmBackend({
      region, kickFds: [42], kick: kickPolicyFor('hybrid', true), spinNs: 0, kickFn: (fd) => kicks.push(fd), relax: () => {},
      nowNs: () => (now += 1000),
      service: {
        resync: () => {}, round: () => 0, rxFull: false, rxMoved: 0, flushTx: () => 0, txLeft: () => false, tapReadable: () => false, releaseRings: () => {},
        sleepOnDevice: () => false,
      },
    });
    // Between the guest's last take (it failed: the IO thread held the token) and its announced
    // wait, --io-token=auto's choice turns to one poller: the IO thread gives the token, backs
    // off, and its re-check finds no wait yet, so it sleeps on kicks alone (pump.ts, backOff).
    const guestNotify = (backend as unknown as { notify: { announceWait(what: number): number } }).notify;
    const announceWait = guestNotify.announceWait.bind(guestNotify);
    let stepAsides = 0;
    guestNotify.announceWait = (what) => {
      if (stepAsides++ === 0) {
        io.giveToken();
        io.announceSleep(IO_BACKED_OFF);
        expect(io.tokenFreeAndNeeded(() => false)).toBe(false);
      }
      return announceWait(what);
    };
    expect(backend.wait(now + 5e6)).toBe(0); // nothing comes; a 5 ms sleep on the doorbell
    expect(stepAsides).toBe(1);
    expect(kicks).toEqual([42]); // without it the frame that comes next waits for the back-off's timer
  });
});

describe('a guest woken on its TAPs while the IO thread is parked', () => {
  /** The guest holds the token and sleeps on its TAP; during the sleep the IO thread parks, and a request arrives. */
  function parkedRig() {
    const layout = computeLayout([{ mtu: 1500, slotCount: 4 }]);
    const region = createRegion(layout, [new Uint8Array(6)]);
    const i32 = new Int32Array(region);
    const io = new HostNotify(i32);
    io.announceSleep(IO_BACKED_OFF); // backed off, the token free: the guest takes it and keeps it
    const rxView = new RingView(i32, new Uint32Array(region), layout.nics[0], 'rx');
    const rx = new Producer(rxView); // the guest's own burst, holding the token
    const kicks: number[] = [];
    const order: string[] = [];
    let arrived = false;
    let now = 1e9;
    const backend = new ShmBackend({
      region, kickFds: [42], kick: kickPolicyFor('hybrid', true), spinNs: 0, kickFn: (fd) => (kicks.push(fd), order.push('kick')), relax: () => {},
      nowNs: () => (now += 1000),
      service: {
        resync: () => {}, rxFull: false, rxMoved: 0, txLeft: () => false, tapReadable: () => false, releaseRings: () => {},
        round: () => {
          if (!arrived) return 0;
          arrived = false;
          new Uint8Array(region).set(frame(60, 5), rxView.dataOffset(rx.index));
          rx.setLength(0, 60);
          rx.publish(1);
          return 1;
        },
        flushTx: () => (order.push('send'), 1),
        sleepOnDevice: () => {
          io.announceSleep(IO_PARKED); // a whole park went by: no timer now, the guest is to kick
          arrived = true;
          return true;
        },
      },
    });
    return { backend, io, kicks, order, now: () => now };
  }

  it('kicks it after the answer to the frame that woke it, not before', () => {
    const { backend, kicks, order, now } = parkedRig();
    expect(backend.wait(now() + 1e9)).toBe(1);
    expect(kicks).toEqual([]); // the kick would have come before the answer (80-100 µs at rest on the KVM VM)
    expect(backend.readView(0)![0]).toBe(5);
    expect(backend.write(0, frame(60), 60, true)).toBe(OK);
    expect(order).toEqual(['send', 'kick']);
    backend.readDone(0);
    expect(backend.readView(0)).toBeNull();
    expect(kicks).toEqual([42]); // once
  });

  it('kicks it at net_read_done for a frame not answered, and not at all once it woke by itself', () => {
    const a = parkedRig();
    expect(a.backend.wait(a.now() + 1e9)).toBe(1);
    a.backend.readView(0);
    expect(a.kicks).toEqual([]);
    a.backend.readDone(0);
    expect(a.kicks).toEqual([42]); // a guest busy in its app from here is looked at within a period
    const b = parkedRig();
    expect(b.backend.wait(b.now() + 1e9)).toBe(1);
    b.io.awake(); // its one-second cap came first
    b.io.announceSleep(IO_BACKED_OFF);
    b.backend.readView(0);
    b.backend.readDone(0);
    expect(b.kicks).toEqual([]); // backed off with its timer again: nothing owed
  });
});

describe('a relay leaves the token to the IO thread (relayPipeline)', () => {
  /** Two NICs without offloads, the IO thread backed off with the token free; one frame waits on NIC 0's RX ring. */
  function relayRig(relayPipeline: boolean) {
    const layout = computeLayout([{ mtu: 1500, slotCount: 4 }, { mtu: 1500, slotCount: 4 }]);
    const region = createRegion(layout, [new Uint8Array(6), new Uint8Array(6)]);
    const i32 = new Int32Array(region);
    const io = new HostNotify(i32);
    const rxView = new RingView(i32, new Uint32Array(region), layout.nics[0], 'rx');
    const rx = new Producer(rxView);
    new Uint8Array(region).set(frame(60, 3), rxView.dataOffset(rx.index));
    rx.setLength(0, 60);
    rx.publish(1);
    io.announceSleep(IO_BACKED_OFF);
    const kicks: number[] = [];
    const calls = { round: 0, flushTx: 0 };
    let now = 1e9;
    const backend = new ShmBackend({
      region, kickFds: [42, 43], kick: kickPolicyFor('hybrid', true), spinNs: 10_000, kickFn: (fd) => kicks.push(fd), relax: () => {},
      nowNs: () => (now += 1000), relayPipeline,
      service: {
        resync: () => {}, round: () => (calls.round++, 0), rxFull: false, rxMoved: 0, flushTx: () => (calls.flushTx++, 0), txLeft: () => false,
        tapReadable: () => false, releaseRings: () => {}, sleepOnDevice: () => false,
      },
    });
    return { backend, io, i32, kicks, calls, layout, now: () => now };
  }

  it('once it forwards, the guest takes the token no more: it kicks the backed-off IO thread, whose re-check takes over, and waits without servicing', () => {
    const { backend, io, i32, kicks, calls, now } = relayRig(true);
    expect(io.tokenFreeAndNeeded(() => false)).toBe(false); // a guest that may take it: the IO thread stays backed off
    expect(backend.forward(0, 1, false)).toBe(OK);
    expect(io.guestRelays()).toBe(true);
    expect(kicks).toEqual([42]); // the back-off ends now, not at its timer
    expect(io.tokenFreeAndNeeded(() => false)).toBe(true);
    expect(backend.flush(1)).toBe(OK);
    expect(calls.flushTx).toBe(0); // published for the IO thread, not sent on this thread holding the token
    expect(backend.wait(now() + 1e6)).toBe(0);
    expect(calls.round).toBe(0);
    expect(Atomics.load(i32, G.ioToken)).toBe(0); // TOKEN_FREE: never taken
  });

  it('a frame forwarded back out of the NIC it came in on (a reflector) is no relay: the guest keeps the token', () => {
    const { backend, io, kicks } = relayRig(true);
    expect(backend.forward(0, 0, false)).toBe(OK);
    expect(io.guestRelays()).toBe(false);
    expect(kicks).toEqual([]);
  });

  it('a forward refused for want of room is no relay yet; the one that goes out is', () => {
    const { backend, io, i32, kicks, layout } = relayRig(true);
    for (let k = 0; k < 4; k++) expect(backend.write(1, frame(60, k), 60, false)).toBe(OK); // NIC 1's TX ring: full
    expect(backend.forward(0, 1, false)).toBe(AGAIN);
    expect(io.guestRelays()).toBe(false);
    expect(kicks).toEqual([]);
    new Consumer(new RingView(i32, new Uint32Array(i32.buffer), layout.nics[1], 'tx'), 60, 1514).release(4); // sent
    expect(backend.forward(0, 1, false)).toBe(OK);
    expect(io.guestRelays()).toBe(true);
  });

  it('an ask for the token beside guestRelays is no ask: the IO thread keeps the token (a hostile guest that writes both spins nothing)', () => {
    const { io, i32 } = relayRig(true);
    Atomics.store(i32, G.guestTokenRequest, TOKEN_ASK);
    expect(io.guestAsks()).toBe(true);
    Atomics.store(i32, G.guestRelays, 1);
    expect(io.guestAsks()).toBe(false);
  });

  it('without relayPipeline (one CPU, or --io-token=on/solo) the same guest keeps servicing its rings', () => {
    const { backend, io, kicks, calls, now } = relayRig(false);
    expect(backend.forward(0, 1, false)).toBe(OK);
    expect(io.guestRelays()).toBe(false);
    expect(kicks).toEqual([]);
    expect(backend.flush(1)).toBe(OK);
    expect(calls.flushTx).toBe(1); // the token is free: sent at once on this thread
    backend.wait(now() + 1e6);
    expect(calls.round).toBeGreaterThan(0);
  });
});

describe('answers to a burst (--guest-tx-coalesce)', () => {
  /** A guest with the IO token free, its service sending what the TX ring holds and recording each send's size. */
  function tokenRig(txCoalesce: boolean) {
    const layout = computeLayout([{ mtu: 1500, slotCount: 8 }]);
    const region = createRegion(layout, [new Uint8Array(6)]);
    const i32 = new Int32Array(region);
    const u32 = new Uint32Array(region);
    const u8 = new Uint8Array(region);
    const nic = layout.nics[0];
    const rxView = new RingView(i32, u32, nic, 'rx');
    const io = { rx: new Producer(rxView), tx: new Consumer(new RingView(i32, u32, nic, 'tx'), MIN_FRAME, nic.maxFrame) };
    const sends: number[] = [];
    let now = 1e9;
    const backend = new ShmBackend({
      region, kickFds: [42], kick: kickPolicyFor('hybrid', true), spinNs: 0, kickFn: () => {}, relax: () => {}, nowNs: () => (now += 1000), txCoalesce,
      service: {
        resync: () => {}, round: () => 0, rxFull: false, rxMoved: 0, txLeft: () => false, tapReadable: () => false, releaseRings: () => {}, sleepOnDevice: () => false,
        flushTx: () => {
          const n = io.tx.available();
          if (n > 0) (sends.push(n), io.tx.release(n));
          return n;
        },
      },
    });
    const deliver = (count: number) => {
      for (let i = 0; i < count; i++) {
        u8.set(frame(60, i + 1), rxView.dataOffset(io.rx.index));
        io.rx.setLength(0, 60);
        io.rx.publish(1);
      }
    };
    /** What ping_serve does with one frame: answer it where it lies, then let it go. */
    const answer = () => {
      const v = backend.readView(0)!;
      expect(backend.write(0, v, v.length, true)).toBe(OK);
      expect(backend.readDone(0)).toBe(OK);
    };
    return { backend, deliver, answer, sends };
  }

  it('a burst of requests is answered with one send after its last frame; off, one send per answer', () => {
    const on = tokenRig(true);
    on.deliver(3);
    on.answer();
    on.answer();
    expect(on.sends).toEqual([]); // two answers held while the third request waits
    on.answer();
    expect(on.sends).toEqual([3]);
    const off = tokenRig(false);
    off.deliver(3);
    for (let i = 0; i < 3; i++) off.answer();
    expect(off.sends).toEqual([1, 1, 1]);
  });

  it('an answer held back goes out when the app finds no frame, waits, or ends', () => {
    const noFrame = tokenRig(true);
    noFrame.deliver(2);
    noFrame.answer();
    expect(noFrame.backend.readView(0)).not.toBeNull(); // the second frame, not answered
    expect(noFrame.backend.readDone(0)).toBe(OK);
    expect(noFrame.sends).toEqual([]);
    expect(noFrame.backend.readView(0)).toBeNull();
    expect(noFrame.sends).toEqual([1]);

    const waits = tokenRig(true);
    waits.deliver(2);
    waits.answer();
    expect(waits.backend.wait(0)).toBe(1); // the second frame is there: no sleep, but the answer goes first
    expect(waits.sends).toEqual([1]);

    const ends = tokenRig(true);
    ends.deliver(2);
    ends.answer();
    ends.backend.close();
    expect(ends.sends).toEqual([1]);
  });

  it('only one answer per frame read is held: a frame left unanswered, a second write, a write with nothing read send at once', () => {
    const skipped = tokenRig(true);
    skipped.deliver(3);
    skipped.answer();
    expect(skipped.backend.readView(0)).not.toBeNull(); // not a request: no answer
    expect(skipped.backend.readDone(0)).toBe(OK);
    expect(skipped.sends).toEqual([]);
    expect(skipped.backend.readView(0)).not.toBeNull(); // the answer does not wait for the rest of the ring
    expect(skipped.sends).toEqual([1]);

    const twice = tokenRig(true);
    twice.deliver(3);
    const v = twice.backend.readView(0)!;
    expect(twice.backend.write(0, v, v.length, true)).toBe(OK);
    expect(twice.sends).toEqual([]);
    expect(twice.backend.write(0, v, v.length, true)).toBe(OK); // a sender now, not an answer
    expect(twice.sends).toEqual([2]);

    const sender = tokenRig(true);
    sender.deliver(2);
    expect(sender.backend.wait(0)).toBe(1); // frames known to wait, none read
    expect(sender.backend.write(0, frame(60), 60, true)).toBe(OK);
    expect(sender.sends).toEqual([1]);
  });

  it('a TX ring filled by held answers and queued frames takes the next write: what is held goes first', () => {
    const r = tokenRig(true);
    r.deliver(3);
    const v = r.backend.readView(0)!;
    for (let i = 0; i < 7; i++) expect(r.backend.write(0, frame(60), 60, false)).toBe(OK); // net_queue
    expect(r.backend.write(0, v, v.length, true)).toBe(OK); // held: the ring's 8 slots are full
    expect(r.backend.readDone(0)).toBe(OK);
    r.answer();
    expect(r.sends).toEqual([8]);
  });
});

describe('step 4: RX frames streaming in (notify.ts)', () => {
  const streamingWord = (i32: Int32Array) => Atomics.load(i32, G.ioStreaming);

  it('the IO thread says "streaming" after two full 100 µs windows running, not after one burst, and not once it sleeps', () => {
    const region = createRegion(computeLayout([{ mtu: 1500, slotCount: 512 }]), [new Uint8Array(6)]);
    const i32 = new Int32Array(region);
    const io = new HostNotify(i32);
    let t = 1e9;
    const round = (frames: number, dt: number) => {
      t += dt;
      io.rxRound(frames, t);
    };
    round(STREAM_FRAMES * 2, STREAM_WINDOW_NS); // a request/response peer's burst: one full window
    round(0, STREAM_WINDOW_NS);
    expect(streamingWord(i32)).toBe(0);
    for (let k = 0; k < 3; k++) round(STREAM_FRAMES, STREAM_WINDOW_NS); // a flood: window after window
    expect(streamingWord(i32)).toBe(1);
    round(STREAM_FRAMES - 1, STREAM_WINDOW_NS); // a thin window ends it
    expect(streamingWord(i32)).toBe(0);
    for (let k = 0; k < 3; k++) round(STREAM_FRAMES, STREAM_WINDOW_NS);
    expect(streamingWord(i32)).toBe(1);
    io.streamEnded(); // the IO thread goes to sleep
    expect(streamingWord(i32)).toBe(0);
    expect(io.rxNeedsClock(0)).toBe(false);
  });

  it('a guest waiting while frames stream in naps (timed, no spin, no wait announced) and finds the frame the IO thread brings', () => {
    const { backend, deliver, relaxes, now } = rig(kickPolicyFor('hybrid', true));
    const region = (backend as unknown as { i32: Int32Array }).i32;
    Atomics.store(region, G.ioStreaming, 1);
    const t0 = Date.now();
    expect(backend.wait(now() + 200_000)).toBe(0); // nothing comes: naps until the deadline
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1); // slept for real (200 µs naps), did not spin
    expect(relaxes()).toBe(0);
    expect(Atomics.load(region, G.guestWaiting)).toBe(0); // never announced: nobody was asked to ring
    deliver(Array.from(frame(60, 3)));
    expect(backend.wait(now() + 1e9)).toBe(1);
    Atomics.store(region, G.ioStreaming, 0);
  });
});
