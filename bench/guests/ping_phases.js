// ping_serve.js with a clock on each step, for bench/latency-phases.ts: answers ICMP echo (and
// ARP) for 10.0.0.2 as ping_serve does, and records when each echo request reached the app and
// when its reply's net_write began and returned, by the request's sequence number (icmp_probe
// puts it in the payload's first 4 bytes), plus a log of every frame and wait. After the request
// numbered --count - 1, or a second without a frame once requests have come (the last one was
// lost), it prints them and exits:
//   PHASE seq got write_begin write_end     (seconds, CLOCK_MONOTONIC as the probe's dump)
//   EV t kind                               (kind: flood frame, echo, wait begins, wait ends)
// Used by bench/profile-latency.sh with GUEST=bench/guests/ping_phases.js; docs/tuning.md,
// "Under a flood: the request behind a slow reply".
import { net_info, net_read_view, net_read_done, net_write, net_wait_room, yield_until, clock_monotonic, console_write, AGAIN } from 'shmtender/guest';
import { option, ipBytes, arpReply, echoReply } from '../../examples/lib/ether.js';

// The EV kinds (bench/latency-phases.ts reads them by number).
const EV_FRAME = 1, EV_ECHO = 2, EV_WAIT = 3, EV_WOKE = 4;

export function main({ args }) {
  const nic = net_info();
  if (!nic) return console_write('ping_phases: no NIC (run the tender with --net=IFACE)\n'), 1;
  const ip = ipBytes('10.0.0.2');
  const count = Number(option(args, 'count', '0'));
  if (!(count > 0)) return console_write('ping_phases: needs --count=N (the probe\'s warm-up and count)\n'), 1;
  const got = new Float64Array(count), begin = new Float64Array(count), end = new Float64Array(count);
  const LOG = 1 << 22; // a ring of the last 4M events: ~10 s of a 100k frames/s flood
  const logT = new Float64Array(LOG), logK = new Uint8Array(LOG);
  let logged = 0;
  const log = (kind, t) => { logT[logged & (LOG - 1)] = t; logK[logged & (LOG - 1)] = kind; logged++; };
  console_write('ping_serve: answering on 10.0.0.2 (ping_phases)\n'); // ping_serve's line, which tests wait for
  let echoes = 0;
  for (;;) {
    const frame = net_read_view(nic.handle);
    if (frame === null) {
      log(EV_WAIT, clock_monotonic());
      const ready = yield_until(clock_monotonic() + 1e9);
      log(EV_WOKE, clock_monotonic());
      if (ready === 0 && echoes > 0) break;
      continue;
    }
    const t = clock_monotonic();
    const isEcho = echoReply(frame, frame.length, ip);
    const at = 14 + (frame[14] & 0xf) * 4 + 8; // the ICMP payload, where icmp_probe puts its sequence number
    const seq = frame.length >= at + 4 ? ((frame[at] << 24) | (frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3]) >>> 0 : -1;
    log(isEcho ? EV_ECHO : EV_FRAME, t);
    const writing = clock_monotonic();
    if (isEcho || arpReply(frame, frame.length, nic.mac, ip)) {
      while (net_write(nic.handle, frame) === AGAIN) net_wait_room(nic.handle, clock_monotonic() + 1e8);
    }
    const written = clock_monotonic();
    net_read_done(nic.handle);
    if (!isEcho || seq >= count) continue;
    echoes++;
    got[seq] = t;
    begin[seq] = writing;
    end[seq] = written;
    if (seq === count - 1) break;
  }
  let out = '';
  const flush = () => ((out.length > 1 << 20 ? (console_write(out), (out = '')) : 0));
  for (let i = 0; i < count; i++) (out += `PHASE ${i} ${got[i] / 1e9} ${begin[i] / 1e9} ${end[i] / 1e9}\n`), flush();
  for (let j = Math.max(0, logged - LOG); j < logged; j++) (out += `EV ${logT[j & (LOG - 1)] / 1e9} ${logK[j & (LOG - 1)]}\n`), flush();
  console_write(out);
  return 0;
}
