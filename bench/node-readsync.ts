// The "node-readsync" row: what a Node user would write without shmtender. One thread, a
// blocking TAP fd (attached with our addon, nothing else of ours), fs.readSync/writeSync, and
// the same per-frame logic as the example guests (examples/lib/ether.js).
//   --rx  [--count=N] [--work-ns=N] [--skip-port=P]
//                                            count UDP datagrams to 10.0.0.2 (a datagram to port 9999 ends
//                                            it; those to port P are read and worked on, not counted)
//   --tx  --dst-mac=MAC --count=N --size=B [--warm=W --warm-port=P]
//                                            send UDP datagrams to 10.0.0.1:9000 (first W to port P,
//                                            default 9001, untimed, then {"warmed":W})
//   --echo [--count=N]                       answer ARP and ICMP echo (0: until killed)
// Prints {"ready":true} when attached, then one JSON line; cpu_s is the process's CPU since it started.
import { readSync, writeSync } from 'node:fs';
import { addon } from '../native/index.js';
import { command } from '../testbed/args.js';

const argv = command('node dist-dev/bench/node-readsync.js --rx|--tx|--echo [options]')
  .option('rx', { type: 'boolean', default: false })
  .option('tx', { type: 'boolean', default: false })
  .option('echo', { type: 'boolean', default: false })
  .option('tap', { type: 'string', default: 'tap0' })
  .option('count', { type: 'number', default: 100000 })
  .option('work-ns', { type: 'number', default: 0 })
  .option('skip-port', { type: 'number', default: -1 })
  .option('warm', { type: 'number', default: 0 })
  .option('warm-port', { type: 'number', default: 9001 })
  .option('size', { type: 'number', default: 1300 })
  .option('dst-mac', { type: 'string', default: 'ff:ff:ff:ff:ff:ff' })
  .check((a) => (Number(a.rx) + Number(a.tx) + Number(a.echo) === 1 ? true : 'give one of --rx, --tx, --echo'))
  .parseSync();

const ether: any = await import(new URL('../../examples/lib/ether.js', import.meta.url).href);
const fd = addon.tapAttach(argv.tap);
addon.setBlocking(fd, true);
const ip = Uint8Array.from([10, 0, 0, 2]);
const mac = Uint8Array.from([2, 0, 0, 0, 0, 2]);
const buf = new Uint8Array(65536);
const count = argv.count;
const skipPort = argv['skip-port'];
const out = (o: object) => {
  const c = process.cpuUsage();
  process.stdout.write(JSON.stringify({ ...o, cpu_s: (c.user + c.system) / 1e6 }) + '\n');
  process.exit(0);
};
const now = () => Number(process.hrtime.bigint()) / 1e9;
process.stdout.write('{"ready":true}\n');

if (argv.rx) {
  const work = ether.workFor(argv['work-ns'], () => now() * 1e9);
  // A blocking read cannot time out (nor see a signal handler run): a datagram to port 9999
  // is the bench's "that was all".
  let frames = 0;
  let first = 0;
  let last = 0;
  let sum = 0;
  while (frames < count) {
    const n = readSync(fd, buf, 0, buf.length, null);
    const off = ether.udpPayload(buf, n, ip);
    if (off < 0) continue;
    if (((buf[off - 6] << 8) | buf[off - 5]) === 9999) break;
    sum ^= work(buf, off, n);
    // A skipped datagram (a warm-up) takes every step a counted one does; only what it adds is 0.
    const counted = ((buf[off - 6] << 8) | buf[off - 5]) !== skipPort;
    if (frames === 0) first = now();
    frames += counted ? 1 : 0;
    if ((frames & 255) === 0) last = now();
  }
  if (frames >= count) last = now();
  // frames / span, as udp_sink and tap_reader print it.
  out({ frames, seconds: last - first, fps: last > first ? frames / (last - first) : 0, work: sum & 1 });
} else if (argv.tx) {
  const size = argv.size;
  const dst = { mac: Uint8Array.from(argv['dst-mac'].split(':').map((x) => parseInt(x, 16))), ip: Uint8Array.from([10, 0, 0, 1]) };
  const len = ether.udpHeader(buf, { mac, ip }, dst, 9000, 9000, size);
  for (let i = 4; i < size; i++) buf[42 + i] = i & 0xff;
  // The warm-up runs the loop that is timed after it, so the JIT has compiled what is timed.
  const send = (n: number) => {
    for (let seq = 0; seq < n; seq++) {
      buf[42] = seq >>> 24; buf[43] = seq >>> 16; buf[44] = seq >>> 8; buf[45] = seq;
      writeSync(fd, buf, 0, len);
    }
  };
  if (argv.warm > 0) {
    ether.put16(buf, 36, argv['warm-port']);
    const part = Math.ceil(argv.warm / 4); // in calls, as udp_blast.js does: the JIT compiles send whole
    for (let left = argv.warm; left > 0; left -= part) send(Math.min(left, part));
    ether.put16(buf, 36, 9000);
    process.stdout.write(`{"warmed":${argv.warm}}\n`);
  }
  const t0 = now();
  send(count);
  const dt = now() - t0;
  out({ frames: count, seconds: dt, fps: count / dt });
} else {
  let echoes = 0;
  while (count === 0 || echoes < count) {
    const n = readSync(fd, buf, 0, buf.length, null);
    const echo = ether.echoReply(buf, n, ip);
    if (echo || ether.arpReply(buf, n, mac, ip)) writeSync(fd, buf, 0, n);
    if (echo) echoes++;
  }
  out({ echoes });
}
