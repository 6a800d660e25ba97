// Counts UDP datagrams sent to --ip (default 10.0.0.2), prints the rate each second (the
// first at its 1024th frame) and a total at the end. Stops after --count=N datagrams,
// --timeout=S seconds, or --idle-ms=MS without a datagram once traffic has started.
// --work-ns=N spends about N ns of real computation per datagram (a checksum over the payload).
// With --offload a frame may carry many datagrams (USO: a sender's UDP_SEGMENT kept whole):
// each counts.
// --skip-port=P: datagrams to port P are read and worked on like the rest but not counted, so
// that a warm-up (the bench's) runs the very code the count then measures.
import { net_info, net_read_view, net_read_vnet, net_read_done, net_write, vnet_header, yield_until, clock_monotonic, console_write, OK, VNET_GSO_UDP_L4 } from 'shmtender/guest';
import { option, ipBytes, arpReply, udpPayload, workFor } from './lib/ether.js';

export function main({ args }) {
  const nic = net_info();
  if (!nic) return console_write('udp_sink: no NIC (run the tender with --net=IFACE)\n'), 1;
  const ip = ipBytes(option(args, 'ip', '10.0.0.2'));
  const count = Number(option(args, 'count', '0'));
  const timeoutNs = Number(option(args, 'timeout', '0')) * 1e9;
  const idleNs = Number(option(args, 'idle-ms', '0')) * 1e6;
  const work = workFor(Number(option(args, 'work-ns', '0')), clock_monotonic);
  const skipPort = Number(option(args, 'skip-port', '-1'));
  let frames = 0, bytes = 0, sum = 0, lastFrames = 0;
  let first = 0, seenFrames = 0; // the span traffic flowed: first datagram to (about) the last
  const hdr = vnet_header();
  let looked = 0;
  console_write(`udp_sink: counting on ${option(args, 'ip', '10.0.0.2')}\n`);
  const start = clock_monotonic();
  let now = start, lastReport = start;
  // The first report comes at the 1024th frame, not a second in: V8 compiles the loop during a
  // warm-up, and a report it had never seen run made it drop the compiled loop, a second in,
  // in the bench's drain. (Nor at once: that early, V8 keeps no record of what ran.)
  let reported = false;
  let lastSeen = start; // a time from the start, as it will hold: a 0 here made V8 drop the loop when it first held one
  while (count === 0 || frames < count) {
    const f = net_read_view(nic.handle);
    if (f !== null) {
      const off = udpPayload(f, f.length, ip);
      if (off >= 0) {
        // A skipped datagram takes every step a counted one does (a step that a warm-up never
        // took makes V8 drop the compiled loop when the count starts); only what it adds is 0.
        const counted = ((f[off - 6] << 8) | f[off - 5]) !== skipPort ? 1 : 0;
        if (frames === 0) first = clock_monotonic();
        let datagrams = 1;
        if (nic.vnet && net_read_vnet(nic.handle, hdr) === OK && hdr.gsoType === VNET_GSO_UDP_L4 && hdr.gsoSize > 0) datagrams = Math.ceil((f.length - off) / hdr.gsoSize);
        frames += counted * datagrams;
        bytes += counted * (f.length - off);
        sum ^= work(f, off, f.length);
      } else if (arpReply(f, f.length, nic.mac, ip)) net_write(nic.handle, f);
      net_read_done(nic.handle);
      if ((++looked & 1023) !== 0) continue; // look at the clock now and then, not per frame
    } else {
      now = clock_monotonic();
      if (frames !== seenFrames) { seenFrames = frames; lastSeen = now; } // the ring just ran dry
      // Computed and compared whether or not it counts yet (see `counted`): an operation the
      // warm-up never ran made V8 drop the compiled loop in the first milliseconds of the count.
      const idleEnd = lastSeen + idleNs;
      const idle = now >= idleEnd;
      if (idleNs && frames > 0 && idle) break;
      yield_until(Math.min(lastReport + 1e9, timeoutNs ? start + timeoutNs : Infinity, idleNs && frames > 0 ? idleEnd : Infinity));
    }
    now = clock_monotonic();
    if (timeoutNs && now - start >= timeoutNs) break;
    if (now - lastReport >= 1e9 || (!reported && looked >= 1024)) {
      console_write(`udp_sink: ${Math.round(((frames - lastFrames) * 1e9) / (now - lastReport))} frames/s\n`);
      lastFrames = frames;
      lastReport = now;
      reported = true;
    }
  }
  const end = clock_monotonic();
  const secs = (end - start) / 1e9;
  const span = frames > 1 ? ((frames === seenFrames ? lastSeen : end) - first) / 1e9 : 0;
  console_write(`udp_sink: total ${frames} frames ${bytes} bytes in ${secs.toFixed(3)} s (active ${span.toFixed(3)} s, ${span > 0 ? Math.round(frames / span) : 0} frames/s, work ${sum & 1})\n`);
  return 0;
}
