// The "node-readsync" row: what a Node user would write without shmtender. One thread, a
// blocking TAP fd (attached with our addon, nothing else of ours), fs.readSync/writeSync, and
// the same per-frame logic as the example guests (examples/lib/ether.js).
//   --rx  [--count=N] [--work-ns=N] [--idle-ms=MS]  count UDP datagrams to 10.0.0.2
//   --tx  --dst-mac=MAC --count=N --size=B          send UDP datagrams to 10.0.0.1:9000
//   --echo --count=N                                answer ARP and ICMP echo
import { readSync, writeSync } from 'node:fs';
import { addon } from '../native/index.js';

const ether: any = await import(new URL('../../examples/lib/ether.js', import.meta.url).href);
const arg = (n: string, d: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d;
const fd = addon.tapAttach(arg('tap', 'tap0'));
addon.setBlocking(fd, true);
const ip = Uint8Array.from([10, 0, 0, 2]);
const mac = Uint8Array.from([2, 0, 0, 0, 0, 2]);
const buf = new Uint8Array(65536);
const count = Number(arg('count', '100000'));
const cpu0 = process.cpuUsage();
const out = (o: object) => {
  const c = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ ...o, cpu_s: (c.user + c.system) / 1e6 }) + '\n');
  process.exit(0);
};
const now = () => Number(process.hrtime.bigint()) / 1e9;

if (process.argv.includes('--rx')) {
  const work = ether.workFor(Number(arg('work-ns', '0')), () => now() * 1e9);
  // A blocking read cannot time out (nor see a signal handler run): a datagram to port 9999
  // is the bench's "that was all".
  let frames = 0;
  let first = 0;
  let last = 0;
  process.stdout.write('{"ready":true}\n');
  let sum = 0;
  while (frames < count) {
    const n = readSync(fd, buf, 0, buf.length, null);
    const off = ether.udpPayload(buf, n, ip);
    if (off < 0) continue;
    if (((buf[off - 6] << 8) | buf[off - 5]) === 9999) break;
    sum ^= work(buf, off, n);
    if (frames++ === 0) first = now();
    if ((frames & 255) === 0) last = now();
  }
  if (frames >= count) last = now();
  out({ frames, seconds: last - first, fps: last > first ? (frames - 1) / (last - first) : 0, work: sum & 1 });
} else if (process.argv.includes('--tx')) {
  const size = Number(arg('size', '1300'));
  const dst = { mac: Uint8Array.from(arg('dst-mac', 'ff:ff:ff:ff:ff:ff').split(':').map((x) => parseInt(x, 16))), ip: Uint8Array.from([10, 0, 0, 1]) };
  const len = ether.udpHeader(buf, { mac, ip }, dst, 9000, 9000, size);
  for (let i = 4; i < size; i++) buf[42 + i] = i & 0xff;
  const t0 = now();
  for (let seq = 0; seq < count; seq++) {
    buf[42] = seq >>> 24; buf[43] = seq >>> 16; buf[44] = seq >>> 8; buf[45] = seq;
    writeSync(fd, buf, 0, len);
  }
  const dt = now() - t0;
  out({ frames: count, seconds: dt, fps: count / dt });
} else {
  process.stdout.write('{"ready":true}\n');
  let echoes = 0;
  while (echoes < count) {
    const n = readSync(fd, buf, 0, buf.length, null);
    const echo = ether.echoReply(buf, n, ip);
    if (echo || ether.arpReply(buf, n, mac, ip)) writeSync(fd, buf, 0, n);
    if (echo) echoes++;
  }
  out({ echoes });
}
