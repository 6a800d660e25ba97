// Runs inside a test's namespace: the real IO thread on real TAPs, a guest-role worker on
// the rings, and UDP sockets on the host side. Prints one JSON result line.
//   --test=rx|tx  --mode=poll|event|hybrid --count=N   datagrams through the tender
//                 (rx: --window=W datagrams in flight at most, --tap-reads=auto|uring|read;
//                  tx: --tap-writes=auto|uring|write)
//   --test=idle   --mode=event|hybrid --seconds=S      IO thread CPU while idle
//   --test=attach --iface=NAME                          what attaching says
//   --test=multi  --workers=N                           the addon in N workers at once
//   --test=ref    --ref=R                               a TX slot whose ref is R (hex), as a guest could write it
//   --test=stall  --mode=event|hybrid --count=C         C times: fill an 8-slot RX ring, free it the moment it stalls
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { kickPolicyFor, type ShmMode } from '../../guest-api/notify.js';
import type { TapReads, TapWrites } from '../../host/cli-options.js';
import { totals } from '../../host/stats.js';
import { addon, errnoCode } from '../../native/index.js';
import { computeLayout, G, N } from '../../guest-api/abi.js';
import { Producer, RingView } from '../../guest-api/ring.js';
import { command } from '../../testbed/args.js';
import { checkPayload, distPath, fillPayload, IoRig, payloadSize } from './common.js';

const argv = command('node dist-dev/test/harness/io-harness.js --test=rx|tx|idle|attach|multi|ref [options]')
  .option('test', { type: 'string', choices: ['rx', 'tx', 'idle', 'attach', 'multi', 'ref', 'stall'], demandOption: true })
  .option('mode', { type: 'string', choices: ['poll', 'event', 'hybrid'] })
  .option('count', { type: 'number', default: 10000 })
  .option('window', { type: 'number', default: 64, describe: 'rx: datagrams sent ahead of what the guest has taken' })
  .option('tap-reads', { type: 'string', choices: ['auto', 'uring', 'read'], default: 'auto' })
  .option('tap-writes', { type: 'string', choices: ['auto', 'uring', 'write'], default: 'auto' })
  .option('host-mac', { type: 'string', default: '' })
  .option('seconds', { type: 'number', default: 2 })
  .option('iface', { type: 'string', default: 'tap0' })
  .option('workers', { type: 'number', default: 5 })
  .option('ref', { type: 'string', default: '0', describe: 'a TX slot ref word, in hex (--test=ref)' })
  .check((a) => (a.mode || !['rx', 'tx', 'idle', 'stall'].includes(a.test) ? true : `--test=${a.test} needs --mode`))
  .parseSync();
const mode = argv.mode as ShmMode;
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const tick = () => new Promise((r) => setImmediate(r));

function roleWorker(data: object): Promise<any> {
  return new Promise((resolve, reject) => {
    const w = new Worker(distPath('test/harness/ring-guest.js'), { workerData: data });
    let result: unknown;
    w.on('message', (m) => (result = m));
    w.on('error', reject);
    w.on('exit', () => resolve(result));
  });
}

async function rx(mode: ShmMode, count: number, window: number, tapReads: TapReads) {
  const rig = await IoRig.start(mode, ['tap0'], { tapReads });
  const progress = new SharedArrayBuffer(8);
  const p = new Int32Array(progress);
  const done = roleWorker({ role: 'rx', count, region: rig.region, kickFds: rig.kickFds, kick: kickPolicyFor(mode, true), progress });
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '10.0.0.1' }, () => r()));
  const buf = new Uint8Array(1400);
  for (let seq = 0; seq < count; seq++) {
    while (seq - Atomics.load(p, 0) >= window) await tick(); // pace on the guest, not on the kernel queue
    const size = payloadSize(seq);
    fillPayload(buf, 0, seq, size);
    await new Promise<void>((r, j) => sock.send(buf.subarray(0, size), 9000, '10.0.0.2', (e) => (e ? j(e) : r())));
  }
  const guest = await done;
  sock.close();
  const io = await rig.stop();
  out({ ...guest, io: io.exit, counters: io.totals });
}

async function tx(mode: ShmMode, count: number, hostMac: string, tapWrites: TapWrites) {
  const rig = await IoRig.start(mode, ['tap0'], { tapWrites });
  const progress = new SharedArrayBuffer(8);
  const p = new Int32Array(progress);
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  let next = 0;
  let error: string | null = null;
  sock.on('message', (msg) => {
    const u8 = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    error ??= checkPayload(u8, 0, msg.length, next);
    next++;
    Atomics.store(p, 1, next);
    Atomics.notify(p, 1);
  });
  await new Promise<void>((r) => sock.bind({ address: '10.0.0.1', port: 9001 }, () => r()));
  const guest = await roleWorker({
    role: 'tx', count, region: rig.region, kickFds: rig.kickFds, kick: kickPolicyFor(mode, true), progress,
    hostMac: hostMac.split(':').map((x) => parseInt(x, 16)),
  });
  const until = Date.now() + 10_000;
  while (next < count && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  sock.close();
  const io = await rig.stop();
  out({ ...guest, received: next, error, io: io.exit, counters: io.totals });
}

async function idle(mode: ShmMode, seconds: number) {
  const rig = await IoRig.start(mode, ['tap0']);
  await new Promise((r) => setTimeout(r, 300)); // let it settle into its sleep
  const t0 = process.hrtime.bigint();
  const cpu0 = totals(rig.stats, 1).cpu_s.io; // what the IO thread published before its first sleep
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const io = await rig.stop();
  out({ wall_s: wall, io_cpu_s: io.totals.cpu_s.io - cpu0, io_wakeups: io.totals.io_wakeups, exit: io.exit });
}

function attach(iface: string) {
  try {
    const fd = addon.tapAttach(iface);
    addon.close(fd);
    out({ ok: true });
  } catch (err) {
    out({ ok: false, code: errnoCode(err), message: (err as Error).message });
  }
}

async function multi(workers: number) {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.native).then(({ addon }) => {
      const fd = addon.tapAttach(workerData.iface);
      const got = addon.readFrame(fd, new Uint8Array(2048));
      addon.close(fd);
      parentPort.postMessage({ iface: workerData.iface, fd, got, tid: addon.threadId() });
    });`;
  const results = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      new Promise((resolve) => {
        const w = new Worker(code, { eval: true, workerData: { iface: `tap${i}`, native: new URL('../../native/index.js', import.meta.url).href } });
        let msg: unknown = null;
        w.on('message', (m) => (msg = m));
        w.on('error', (e) => (msg = { error: e.message }));
        w.on('exit', (exitCode) => resolve({ exitCode, msg }));
      }),
    ),
  );
  out({ results });
}

/** Puts one 60-byte frame on the TX ring with the given ref and reports how the IO thread took it. */
async function ref(value: number) {
  const rig = await IoRig.start('poll', ['tap0']);
  const nic = computeLayout([{ mtu: 1500, slotCount: 256 }]).nics[0];
  const tx = new Producer(new RingView(new Int32Array(rig.region), new Uint32Array(rig.region), nic, 'tx'));
  tx.setLength(0, 60);
  tx.setRef(0, value);
  tx.publish(1);
  const until = Date.now() + 500;
  while (Atomics.load(new Int32Array(rig.region), nic.headerWord + N.txTail) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  const io = await rig.stop();
  out({ exit: io.exit, tx_frames: io.totals.nics[0].tx_frames, faults: io.totals.faults });
}

/**
 * `cycles` times: 8 datagrams fill an 8-slot RX ring; a guest-role worker, spinning on the
 * ring's stalled word, frees every slot the moment the IO thread sets it (an rxTail store and a
 * kick, as net_read_view/readDone and rxReleased do), which now and then lands between the
 * stall and the IO thread's re-check. Then nothing comes: an IO thread that went to sleep
 * announces a sleep or two; one that spins announces one per look (ioSleepEpoch).
 */
async function stall(mode: ShmMode, cycles: number) {
  const rig = await IoRig.start(mode, ['tap0'], { slots: 8 });
  const nic = computeLayout([{ mtu: 1500, slotCount: 8 }]).nics[0];
  const i32 = new Int32Array(rig.region);
  const ctl = new Int32Array(new SharedArrayBuffer(8)); // [0]: stop; [1]: releases
  const racer = new Worker(
    `const { workerData: { region, ctl, stalled, head, tail, kickFd, native } } = require('node:worker_threads');
     import(native).then(({ addon }) => {
       const w = new Int32Array(region);
       while (Atomics.load(ctl, 0) === 0) {
         if (Atomics.load(w, stalled) !== 1 || Atomics.load(w, head) === Atomics.load(w, tail)) continue;
         Atomics.store(w, tail, Atomics.load(w, head));
         addon.eventfdWrite(kickFd);
         Atomics.add(ctl, 1, 1);
       }
     });`,
    { eval: true, workerData: { region: rig.region, ctl, stalled: nic.headerWord + N.rxStalled, head: nic.headerWord + N.rxHead, tail: nic.headerWord + N.rxTail, kickFd: rig.kickFds[0], native: new URL('../../native/index.js', import.meta.url).href } },
  );
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind({ address: '10.0.0.1' }, () => r()));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let spun = 0, done = 0;
  for (let c = 0; c < cycles; c++) {
    const released = Atomics.load(ctl, 1);
    for (let k = 0; k < 8; k++) await new Promise<void>((r, j) => sock.send(new Uint8Array(64), 9000, '10.0.0.2', (e) => (e ? j(e) : r())));
    const until = Date.now() + 2000;
    while (Atomics.load(ctl, 1) === released && Date.now() < until) await sleep(1);
    if (Atomics.load(ctl, 1) === released) continue; // the ring did not stall this time (a datagram still on its way)
    done++;
    await sleep(20);
    const e0 = Atomics.load(i32, G.ioSleepEpoch);
    await sleep(50);
    if (Atomics.load(i32, G.ioSleepEpoch) - e0 > 50) spun++;
  }
  Atomics.store(ctl, 0, 1);
  await racer.terminate();
  sock.close();
  const io = await rig.stop();
  out({ cycles: done, spun, rx_frames: io.totals.nics[0].rx_frames, exit: io.exit });
}

switch (argv.test) {
  case 'rx': await rx(mode, argv.count, argv.window, argv['tap-reads'] as TapReads); break;
  case 'tx': await tx(mode, argv.count, argv['host-mac'], argv['tap-writes'] as TapWrites); break;
  case 'idle': await idle(mode, argv.seconds); break;
  case 'attach': attach(argv.iface); break;
  case 'multi': await multi(argv.workers); break;
  case 'ref': await ref(parseInt(argv.ref, 16)); break;
  case 'stall': await stall(mode, argv.count); break;
}
process.exit(0);
