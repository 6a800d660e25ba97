// Sends --count=N UDP datagrams of --size=B payload bytes to --dst=IP:PORT (default
// 10.0.0.1:9000) from --ip (default 10.0.0.2). With --batch=B > 1 it queues B frames and
// flushes once (net_queue + net_flush); with --batch=1 it uses net_write for each.
// Payload: bytes 0-3 the sequence number (big-endian), then byte i = i & 0xff.
// --rate=PPS paces the sender (0: as fast as the rings take them).
// --warm=W first sends W datagrams to --warm-port (default 9001), untimed, and says so; the
// count and the time printed at the end are of the --count that follow. The bench's TX
// workloads use it so that V8 has compiled the send loop before the timed frames.
import { net_info, net_write, net_queue, net_flush, net_wait_room, yield_until, clock_monotonic, console_write, AGAIN } from 'shmtender/guest';
import { option, ipBytes, udpHeader, put16 } from './lib/ether.js';
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
  const warm = Number(option(args, 'warm', '0'));
  console_write(`udp_blast: sending ${count} frames to ${dstIp}:${dstPort}\n`);
  // The warm-up runs the very loop that is timed after it: a path the warm-up never took makes
  // V8 drop the compiled loop the first time it is taken (examples/udp_sink.js says the same).
  // In four calls: V8 first compiles blast's loop alone (on-stack replacement) and the whole
  // function only at its next call, which would otherwise be the timed one.
  if (warm > 0) {
    put16(frame, 36, Number(option(args, 'warm-port', '9001')));
    const part = Math.ceil(warm / 4);
    for (let left = warm; left > 0; left -= part) blast(nic, me, frame, len, send, Math.min(left, part), batch, rate, clock_monotonic());
    put16(frame, 36, Number(dstPort));
    console_write(`udp_blast: warmed up with ${warm} frames\n`);
  }
  const start = clock_monotonic();
  const again = blast(nic, me, frame, len, send, count, batch, rate, start); // the TX ring was full: back-pressure, not loss
  const secs = (clock_monotonic() - start) / 1e9;
  console_write(`udp_blast: sent ${count} frames in ${secs.toFixed(3)} s (${Math.round(count / secs)} frames/s, ring full ${again} times)\n`);
  return 0;
}

/**
 * Sends `count` copies of `frame`, numbered from 0, in batches, paced from `start`; returns how
 * often the ring was full. (The clock is read by the caller: a call made only on blast's first
 * entry, before V8 kept feedback for it, made V8 drop the compiled blast when next entered.)
 */
function blast(nic, me, frame, len, send, count, batch, rate, start) {
  let again = 0;
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
  return again;
}
