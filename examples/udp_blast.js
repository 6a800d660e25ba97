// Sends --count=N UDP datagrams of --size=B payload bytes to --dst=IP:PORT (default
// 10.0.0.1:9000) from --ip (default 10.0.0.2). With --batch=B > 1 it queues B frames and
// flushes once (net_queue + net_flush); with --batch=1 it uses net_write for each.
// Payload: bytes 0-3 the sequence number (big-endian), then byte i = i & 0xff.
// --rate=PPS paces the sender (0: as fast as the rings take them).
import { net_info, net_write, net_queue, net_flush, net_wait_room, yield_until, clock_monotonic, console_write, AGAIN } from 'shmtender/guest';
import { option, ipBytes, udpHeader } from './lib/ether.js';
import { resolveMac, answerArp } from './lib/arp.js';

export function main({ args }) {
  const nic = net_info();
  if (!nic) return console_write('udp_blast: no NIC (run the tender with --net=IFACE)\n'), 1;
  const [dstIp, dstPort] = option(args, 'dst', '10.0.0.1:9000').split(':');
  const me = { mac: nic.mac, ip: ipBytes(option(args, 'ip', '10.0.0.2')) };
  const count = Number(option(args, 'count', '1000'));
  const size = Number(option(args, 'size', '1300'));
  const batch = Number(option(args, 'batch', '32'));
  const rate = Number(option(args, 'rate', '0'));
  const dst = { ip: ipBytes(dstIp), mac: resolveMac(nic, me, ipBytes(dstIp)) };
  if (!dst.mac) { console_write(`udp_blast: no ARP answer from ${dstIp}\n`); return 1; }

  const frame = new Uint8Array(42 + size);
  const len = udpHeader(frame, me, dst, 9000, Number(dstPort), size);
  for (let i = 4; i < size; i++) frame[42 + i] = i & 0xff;
  const send = batch === 1 ? net_write : net_queue;
  console_write(`udp_blast: sending ${count} frames to ${dstIp}:${dstPort}\n`);
  const start = clock_monotonic();
  let again = 0; // how often the TX ring was full: back-pressure, not loss
  for (let seq = 0; seq < count; ) {
    for (let b = 0; b < batch && seq < count; ) {
      frame[42] = seq >>> 24; frame[43] = seq >>> 16; frame[44] = seq >>> 8; frame[45] = seq;
      if (send(nic.handle, frame, len) === AGAIN) {
        again++;
        net_flush(nic.handle);
        net_wait_room(nic.handle, clock_monotonic() + 1e8);
        continue;
      }
      b++; seq++;
    }
    net_flush(nic.handle);
    answerArp(nic, me);
    if (rate > 0) {
      const due = start + (seq * 1e9) / rate;
      while (clock_monotonic() < due) yield_until(due);
    }
  }
  const secs = (clock_monotonic() - start) / 1e9;
  console_write(`udp_blast: sent ${count} frames in ${secs.toFixed(3)} s (${Math.round(count / secs)} frames/s, ring full ${again} times)\n`);
  return 0;
}
