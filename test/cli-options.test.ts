// Command-line parsing in-process (no root): what each accepted form becomes, and the one
// line each bad form is refused with. test/tender.test.ts checks the same end to end.
import { describe, expect, it } from 'vitest';
import { defaultRingSlots, parseArgs, RING_BYTES } from '../host/cli-options.js';
import { slotSizeFor } from '../guest-api/abi.js';
import { UsageError } from '../host/endings.js';

const refuses = async (argv: string[], line: RegExp) => {
  const err = await parseArgs(argv, 2).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(UsageError);
  expect((err as Error).message).toMatch(line);
  expect((err as Error).message).not.toMatch(/\n/);
};

describe('tender command line', () => {
  it('defaults: baseline, MTU 1500, slots by their size (512 at MTU 1500), the mode-specific guest spin', async () => {
    const o = (await parseArgs(['--net=tap0', 'app.js']))!;
    expect(defaultRingSlots(1500, false)).toBe(512);
    expect(o).toMatchObject({ mode: 'baseline', mtu: 1500, ringSlots: undefined, pollBudget: 64, pollIdleUs: 50, guestSpinUs: 0, suppress: true, stats: 'none', app: 'app.js', appArgs: [] });
    expect(o.nics).toEqual([{ name: 'service', iface: 'tap0', mac: undefined, offload: false }]);
    expect((await parseArgs(['--shm=hybrid', 'a.js']))!.guestSpinUs).toBe(50);
    expect((await parseArgs(['--shm=event', 'a.js']))!.guestSpinUs).toBe(0);
  });

  it('one CPU (the tender\'s affinity): hybrid defaults to one poller and no idle poll; what is given stays', async () => {
    expect(await parseArgs(['--shm=hybrid', 'a.js'], 2)).toMatchObject({ cpus: 2, tokenPollers: 'auto', pollIdleUs: 50, pollIdleMaxUs: 500 });
    expect(await parseArgs(['--shm=hybrid', 'a.js'], 1)).toMatchObject({ cpus: 1, ioToken: true, tokenPollers: 'solo', pollIdleUs: 0, pollIdleMaxUs: 0, guestSpinUs: 50, guestSpinMaxUs: 500 });
    expect(await parseArgs(['--shm=hybrid', '--io-token=auto', '--poll-idle-us=50', 'a.js'], 1)).toMatchObject({ tokenPollers: 'auto', pollIdleUs: 50, pollIdleMaxUs: 50 });
    expect(await parseArgs(['--shm=hybrid', '--poll-idle-max-us=500', 'a.js'], 1)).toMatchObject({ pollIdleUs: 0, pollIdleMaxUs: 500 });
    expect(await parseArgs(['--shm=hybrid', '--io-token=off', 'a.js'], 1)).toMatchObject({ ioToken: false, pollIdleUs: 0 });
    // Only hybrid's: poll spins by definition, event never polls.
    expect(await parseArgs(['--shm=poll', 'a.js'], 1)).toMatchObject({ pollIdleUs: 50, ioToken: false });
    // --cpus overrides the affinity either way (a CPU quota the affinity does not show).
    expect(await parseArgs(['--shm=hybrid', '--cpus=1', 'a.js'], 2)).toMatchObject({ cpus: 1, tokenPollers: 'solo', pollIdleUs: 0 });
    expect(await parseArgs(['--shm=hybrid', '--cpus=2', 'a.js'], 1)).toMatchObject({ cpus: 2, tokenPollers: 'auto', pollIdleUs: 50, pollIdleMaxUs: 500 });
    await refuses(['--shm=poll', '--cpus=1', 'a.js'], /^--cpus applies to --shm=hybrid only$/);
    await refuses(['--shm=hybrid', '--cpus=0', 'a.js'], /^--cpus must be an integer from 1 to 4096 \(got 0\)$/);
  });

  it('spin windows: hybrid adapts both up to 500 µs, other modes keep them fixed; a cap below its base is refused', async () => {
    expect(await parseArgs(['--shm=hybrid', 'a.js'], 2)).toMatchObject({ pollIdleUs: 50, pollIdleMaxUs: 500, guestSpinUs: 50, guestSpinMaxUs: 500 });
    expect(await parseArgs(['--shm=poll', 'a.js'])).toMatchObject({ guestSpinUs: 50, guestSpinMaxUs: 50 });
    expect(await parseArgs(['--shm=event', 'a.js'])).toMatchObject({ guestSpinUs: 0, guestSpinMaxUs: 0 });
    expect(await parseArgs(['--shm=hybrid', '--guest-spin-max-us=50', '--poll-idle-max-us=50', 'a.js'])).toMatchObject({ guestSpinMaxUs: 50, pollIdleMaxUs: 50 });
    expect(await parseArgs(['--shm=hybrid', '--poll-idle-us=800', 'a.js'])).toMatchObject({ pollIdleUs: 800, pollIdleMaxUs: 800 });
    await refuses(['--shm=hybrid', '--guest-spin-us=100', '--guest-spin-max-us=50', 'a.js'], /^--guest-spin-max-us \(50\) must be at least --guest-spin-us \(100\)$/);
    await refuses(['--shm=hybrid', '--poll-idle-max-us=10', 'a.js'], /^--poll-idle-max-us \(10\) must be at least --poll-idle-us \(50\)$/);
  });

  it('spinning through a pause: 5000 µs by default in hybrid, 0 turns it off, hybrid only', async () => {
    expect((await parseArgs(['--shm=hybrid', 'a.js']))!.guestSpinStallUs).toBe(5000);
    expect((await parseArgs(['--shm=hybrid', '--guest-spin-stall-us=0', 'a.js']))!.guestSpinStallUs).toBe(0);
    expect((await parseArgs(['--shm=poll', 'a.js']))!.guestSpinStallUs).toBe(0);
    await refuses(['--shm=event', '--guest-spin-stall-us=100', 'a.js'], /^--guest-spin-stall-us applies to --shm=hybrid only$/);
    await refuses(['--shm=hybrid', '--guest-spin-stall-us=-1', 'a.js'], /guest-spin-stall-us/);
  });

  it('answers to a burst sent together: on by default in hybrid, off on request, hybrid only', async () => {
    expect((await parseArgs(['--shm=hybrid', 'a.js']))!.guestTxCoalesce).toBe(true);
    expect((await parseArgs(['--shm=hybrid', '--guest-tx-coalesce=off', 'a.js']))!.guestTxCoalesce).toBe(false);
    expect((await parseArgs(['--shm=poll', 'a.js']))!.guestTxCoalesce).toBe(false);
    await refuses(['--shm=event', '--guest-tx-coalesce=on', 'a.js'], /^--guest-tx-coalesce applies to --shm=hybrid only$/);
    await refuses(['--shm=hybrid', '--guest-tx-coalesce=maybe', 'a.js'], /guest-tx-coalesce/);
  });

  it('the spin slice in the addon: 20 µs by default, 0 spins from JS, hybrid only, an integer up to 1000', async () => {
    expect((await parseArgs(['--shm=hybrid', 'a.js']))!.guestSpinSliceUs).toBe(20);
    expect((await parseArgs(['--shm=hybrid', '--guest-spin-slice-us=0', 'a.js']))!.guestSpinSliceUs).toBe(0);
    await refuses(['--shm=poll', '--guest-spin-slice-us=5', 'a.js'], /^--guest-spin-slice-us applies to --shm=hybrid only$/);
    await refuses(['--shm=hybrid', '--guest-spin-slice-us=1001', 'a.js'], /^--guest-spin-slice-us must be an integer from 0 to 1000 \(got 1001\)$/);
    await refuses(['--shm=hybrid', '--guest-spin-slice-us=2.5', 'a.js'], /must be an integer/);
  });

  it('the IO thread\'s back-off grows to 8 ms by default; 1000 µs keeps it fixed; hybrid only, not below 1 ms', async () => {
    expect((await parseArgs(['--shm=hybrid', 'a.js']))!.ioBackoffMaxUs).toBe(8000);
    expect((await parseArgs(['--shm=hybrid', '--io-backoff-max-us=1000', 'a.js']))!.ioBackoffMaxUs).toBe(1000);
    await refuses(['--shm=event', '--io-backoff-max-us=2000', 'a.js'], /^--io-backoff-max-us applies to --shm=hybrid only$/);
    await refuses(['--shm=hybrid', '--io-backoff-max-us=999', 'a.js'], /^--io-backoff-max-us must be an integer from 1000 to 1000000 \(got 999\)$/);
  });

  it('named NICs in the order given, with their MACs; APP arguments pass through untouched', async () => {
    const o = (await parseArgs(['--net:left=tap0', '--net:right', 'tap1', '--net-mac:right=02:00:00:00:01:02', '--shm=poll', 'fw.js', '--allow=80', '--net=x']))!;
    expect(o.nics.map((n) => [n.name, n.iface])).toEqual([['left', 'tap0'], ['right', 'tap1']]);
    expect(Array.from(o.nics[1].mac!)).toEqual([2, 0, 0, 0, 1, 2]);
    expect(o.appArgs).toEqual(['--allow=80', '--net=x']);
  });

  it('a bare --stats does not swallow APP; --stats=live; -- ends the options', async () => {
    expect(await parseArgs(['--stats', 'app.js'])).toMatchObject({ stats: 'summary', app: 'app.js' });
    expect(await parseArgs(['--stats=live', 'app.js'])).toMatchObject({ stats: 'live' });
    expect(await parseArgs(['--', '--weird.js', 'x'])).toMatchObject({ app: '--weird.js', appArgs: ['x'] });
  });

  it('--offload for every NIC, --offload:NAME for one; 64 KiB slots make 64-slot rings unless --ring-slots says; a region over 2 GiB is refused', async () => {
    const all = (await parseArgs(['--net:a=tap0', '--net:b=tap1', '--offload', 'fw.js']))!;
    expect(all.nics.map((n) => n.offload)).toEqual([true, true]);
    expect(all.ringSlots).toBe(undefined);
    expect(defaultRingSlots(1500, true)).toBe(64); // 64 × 65600 B: at most RING_BYTES
    expect(defaultRingSlots(9000, false)).toBe(512); // jumbo frames keep 512 (9088 B slots)
    expect(64 * slotSizeFor(1500, true)).toBeLessThanOrEqual(RING_BYTES);
    expect((await parseArgs(['--net=tap0', '--offload', '--ring-slots=512', 'fw.js']))!.ringSlots).toBe(512);
    const one = (await parseArgs(['--net:a=tap0', '--net:b=tap1', '--offload:b', 'fw.js', '--offload']))!;
    expect(one.nics.map((n) => n.offload)).toEqual([false, true]);
    expect(one.appArgs).toEqual(['--offload']); // the APP's, not ours
    await refuses(['--net=tap0', '--offload:nope', 'a.js'], /^--offload given for NIC 'nope', which has no --net$/);
    await refuses(['--net=tap0', '--offload:service=1', 'a.js'], /^malformed --offload:NAME/);
    await refuses(['--net=tap0', '--offload:service', '--offload:service', 'a.js'], /given twice/);
    await refuses(['--net:a=tap0', '--net:b=tap1', '--offload', '--ring-slots=16384', 'a.js'], /^the rings need \d+ MiB, over the 2 GiB a region can have: fewer --ring-slots$/);
  });

  it('the sandbox is on unless --sandbox=off; nothing else is taken', async () => {
    expect((await parseArgs(['app.js']))!.sandbox).toBe(true);
    expect((await parseArgs(['--sandbox=on', 'app.js']))!.sandbox).toBe(true);
    expect((await parseArgs(['--sandbox=off', 'app.js']))!.sandbox).toBe(false);
    await refuses(['--sandbox=maybe', 'app.js'], /sandbox.*Given: "maybe", Choices: "on", "off"/);
  });

  it('no --net is a run with no NIC, not an error', async () => {
    expect((await parseArgs(['--shm=poll', 'app.js']))!.nics).toEqual([]);
  });

  it('refuses each bad form with one line', async () => {
    await refuses(['--shm=fast', 'a.js'], /shm.*fast/);
    await refuses(['--ring-slots=3', 'a.js'], /ring-slots must be a power of two/);
    await refuses(['--mtu=20', 'a.js'], /--mtu must be an integer from 68 to 65535/);
    await refuses(['--net:bad-name=tap0', 'a.js'], /malformed --net:NAME/);
    await refuses(['--net-mac=01:00:00:00:00:01', '--net=t', 'a.js'], /multicast/);
    await refuses(['--net-mac=zz', '--net=t', 'a.js'], /malformed MAC/);
    await refuses(['--net-mac:x=02:00:00:00:00:01', 'a.js'], /no --net/);
    await refuses(['--net:a=t0', '--net:a=t1', 'a.js'], /given twice/);
    await refuses(['--net=t0', '--net:service=t1', 'a.js'], /name the same NIC/);
    await refuses(['--net=a/b', 'a.js'], /malformed interface name/);
    await refuses(['--timeout=0', 'a.js'], /--timeout must be a positive/);
    await refuses(['--stats=loud', 'a.js'], /--stats takes no value or 'live'/);
    await refuses(['--bogus', 'a.js'], /Unknown argument/);
    await refuses([], /missing APP/);
  });
});

describe('capture and stats stream options', () => {
  it('--pcap=FILE takes every NIC, --pcap:NAME=FILE one; snap length and stats interval', async () => {
    const o = (await parseArgs(['--net:service=tap0', '--net:backend=tap1', '--pcap=a.pcapng', '--pcap:backend=b.pcapng', '--pcap-snaplen=128', '--stats-json=s.json', '--stats-interval=0.5', 'app.js']))!;
    expect(o.pcap).toEqual([{ path: 'a.pcapng', nic: null }, { path: 'b.pcapng', nic: 'backend' }]);
    expect([o.pcapSnaplen, o.statsIntervalS]).toEqual([128, 0.5]);
    expect((await parseArgs(['--net=tap0', 'app.js']))!).toMatchObject({ pcap: [], pcapSnaplen: 65535, statsIntervalS: undefined });
  });

  it('refuses what it cannot honour, in one line', async () => {
    await refuses(['--net=tap0', '--pcap:backend=b', 'a.js'], /--pcap given for NIC 'backend', which has no --net/);
    await refuses(['--net=tap0', '--pcap=a', '--pcap=b', 'a.js'], /--pcap given twice/);
    await refuses(['--net=tap0', '--pcap:service=a', '--pcap:service=b', 'a.js'], /--pcap:service given twice/);
    await refuses(['--net=tap0', '--pcap-snaplen=100', 'a.js'], /--pcap-snaplen needs --pcap/);
    await refuses(['--net=tap0', '--pcap=a', '--pcap-snaplen=10', 'a.js'], /--pcap-snaplen must be an integer from 14 to 262144/);
    await refuses(['--net=tap0', '--stats-interval=1', 'a.js'], /--stats-interval needs --stats-json/);
    await refuses(['--net=tap0', '--stats-json=s', '--stats-interval=0', 'a.js'], /--stats-interval must be from 0.1/);
    await refuses(['--net=tap0', '--pcap=x', '--stats-json=./x', 'a.js'], /x is named by two output options/);
    await refuses(['--net=tap0', '--shm=hybrid', '--io-token=solo', '--pcap=x', 'a.js'], /^--io-token=solo and --pcap cannot be combined/);
    await refuses(['--net=tap0', '--shm=poll', '--io-token=solo', 'a.js'], /^--io-token applies to --shm=hybrid only$/);
  });

  it('--io-token: auto by default (off with --pcap); on, solo and auto all hand out the token and differ in who polls at a round-trip pace', async () => {
    expect(await parseArgs(['--shm=hybrid', 'a.js'])).toMatchObject({ ioToken: true, tokenPollers: 'auto' });
    expect(await parseArgs(['--net=tap0', '--shm=hybrid', '--pcap=x', 'a.js'])).toMatchObject({ ioToken: false });
    expect(await parseArgs(['--net=tap0', '--shm=poll', 'a.js'])).toMatchObject({ ioToken: false });
    expect(await parseArgs(['--shm=hybrid', '--io-token=on', 'a.js'])).toMatchObject({ ioToken: true, tokenPollers: 'offer' });
    expect(await parseArgs(['--shm=hybrid', '--io-token=solo', 'a.js'])).toMatchObject({ ioToken: true, tokenPollers: 'solo' });
    expect(await parseArgs(['--shm=hybrid', '--io-token=auto', 'a.js'])).toMatchObject({ ioToken: true, tokenPollers: 'auto' });
    expect(await parseArgs(['--shm=hybrid', '--io-token=off', 'a.js'])).toMatchObject({ ioToken: false, tokenPollers: 'offer' });
  });
});
