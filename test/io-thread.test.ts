// The IO thread on a real TAP, with a worker playing the guest on the rings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRef } from '../guest-api/abi.js';
import { harness } from './helpers/harness.js';
import { GUEST_MAC, createNetns, skipReal, type Netns } from '../testbed/netns.js';


describe.skipIf(skipReal())('IO thread on a real TAP', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
  });
  afterAll(() => ns?.destroy());

  for (const mode of ['poll', 'event', 'hybrid'] as const) {
    it(`${mode}: 10,000 datagrams from a namespace socket arrive on the RX ring complete, in order, byte-exact`, async () => {
      const r = await harness(ns, ['--test=rx', `--mode=${mode}`, '--count=10000']);
      expect(r.error).toBeNull();
      expect(r.received).toBe(10000);
      expect(r.other).toBe(0);
      expect(r.io.kind).toBe('stopped');
      expect(r.counters.nics[0].rx_frames).toBe(10000);
      expect(r.counters.nics[0].rx_bad).toBe(0);
      if (mode === 'poll') expect(r.counters.io_wakeups).toBe(0);
      else expect(r.counters.io_wakeups).toBeGreaterThan(0);
    });

    it(`${mode}: 10,000 frames put on the TX ring reach a namespace socket complete, in order, byte-exact`, async () => {
      const r = await harness(ns, ['--test=tx', `--mode=${mode}`, '--count=10000', `--host-mac=${ns.mac(0)}`]);
      expect(r.sent).toBe(10000);
      expect(r.error).toBeNull();
      expect(r.received).toBe(10000);
      expect(r.counters.nics[0].tx_frames).toBe(10000);
      expect(r.counters.nics[0].tx_drops).toBe(0);
      if (mode === 'poll') expect(r.counters.kicks).toBe(0);
      else expect(r.counters.kicks).toBeGreaterThan(0);
    });
  }

  for (const tapReads of ['read', 'uring'] as const) {
    it(`hybrid, TAP read with ${tapReads}: 20,000 datagrams, up to 200 in flight on a 256-slot ring (it wraps, fills, bursts are cut short), arrive complete, in order, byte-exact`, async () => {
      const r = await harness(ns, ['--test=rx', '--mode=hybrid', '--count=20000', '--window=200', `--tap-reads=${tapReads}`]);
      expect(r.error).toBeNull();
      expect(r.received).toBe(20000);
      expect(r.counters.nics[0].rx_frames).toBe(20000);
      expect(r.counters.nics[0].rx_drops).toBe(0);
      expect(r.counters.nics[0].tap_uring).toBe(tapReads === 'uring' ? 1 : 0);
    });
  }

  for (const tapWrites of ['write', 'uring'] as const) {
    it(`hybrid, TAP written with ${tapWrites}: 20,000 frames put on the TX ring reach a namespace socket complete, in order, byte-exact`, async () => {
      const r = await harness(ns, ['--test=tx', '--mode=hybrid', '--count=20000', `--host-mac=${ns.mac(0)}`, `--tap-writes=${tapWrites}`]);
      expect(r.error).toBeNull();
      expect(r.received).toBe(20000);
      expect(r.counters.nics[0].tx_frames).toBe(20000);
      expect(r.counters.nics[0].tx_drops).toBe(0);
      expect(r.counters.nics[0].tap_uring_tx).toBe(tapWrites === 'uring' ? 1 : 0);
    });
  }

  it('a TX slot forwarding an RX slot is sent from it; a ref naming no RX slot is a guest fault', async () => {
    const good = await harness(ns, ['--test=ref', `--ref=${encodeRef(0, 3).toString(16)}`]);
    expect(good).toMatchObject({ exit: { kind: 'stopped' }, tx_frames: 1, faults: 0 });
    for (const bad of [encodeRef(1, 0), encodeRef(0, 256), 0x00000003, 0x80200000]) {
      const r = await harness(ns, ['--test=ref', `--ref=${(bad >>> 0).toString(16)}`]);
      expect(r.exit.kind).toBe('guest-fault');
      expect(r.exit.detail).toMatch(/^nic 0 tx ring: ref 0x[0-9a-f]+ names no RX slot a 60-byte frame can be sent from \(seen by the IO thread\)$/);
      expect(r.tx_frames).toBe(0);
    }
  });

  it('event: a ring freed between its stall and the re-check before the sleep: the IO thread reads the TAP again and sleeps, it does not spin', async () => {
    // The re-check saw the room and ended the sleep, but the TAP stayed out of the epoll set and
    // the ring marked stalled: every sleep from then on ended at once, a core spun until the
    // ring filled again (never, at rest).
    const r = await harness(ns, ['--test=stall', '--mode=event', '--count=100']);
    expect(r.exit.kind).toBe('stopped');
    expect(r.cycles).toBeGreaterThan(80);
    expect(r.rx_frames).toBeGreaterThanOrEqual(8 * r.cycles);
    expect(r.spun).toBe(0);
  });

  for (const mode of ['event', 'hybrid'] as const) {
    it(`${mode} at rest: the IO thread uses under 2% of a core over 2 s idle`, async () => {
      const r = await harness(ns, ['--test=idle', `--mode=${mode}`, '--seconds=2']);
      expect(r.exit.kind).toBe('stopped');
      expect(r.wall_s).toBeGreaterThanOrEqual(2);
      expect(r.io_cpu_s / r.wall_s).toBeLessThan(0.02);
    });
  }
});

describe.skipIf(skipReal())('attaching to a TAP', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns({ taps: 5 });
    ns.run('ip', ['tuntap', 'add', 'dev', 'tapdown', 'mode', 'tap']); // left down
  });
  afterAll(() => ns?.destroy());

  it('says clearly when the interface does not exist', async () => {
    const r = await harness(ns, ['--test=attach', '--iface=nosuch0']);
    expect(r).toMatchObject({ ok: false, code: 'ENODEV' });
    expect(r.message).toMatch(/no such interface 'nosuch0'/);
  });

  it('says clearly when the interface is down', async () => {
    const r = await harness(ns, ['--test=attach', '--iface=tapdown']);
    expect(r).toMatchObject({ ok: false, code: 'ENETDOWN' });
    expect(r.message).toMatch(/interface 'tapdown' is down/);
  });

  it('says clearly when the interface is not a TAP', async () => {
    const r = await harness(ns, ['--test=attach', '--iface=lo']);
    expect(r).toMatchObject({ ok: false, code: 'EINVAL' });
    expect(r.message).toMatch(/not a TAP device/);
  });

  it('works in five worker_threads at once, each attaching, reading and closing', async () => {
    const r = await harness(ns, ['--test=multi', '--workers=5']);
    expect(r.results).toHaveLength(5);
    for (const w of r.results) {
      expect(w.exitCode).toBe(0);
      expect(w.msg.fd).toBeGreaterThan(2);
      expect(w.msg.got).toBe(-1); // nothing waiting, and no error
    }
    expect(new Set(r.results.map((w: any) => w.msg.tid)).size).toBe(5);
  });
});
