// Answers ARP and ICMP echo for --ip (default 10.0.0.2): solo5's test_ping_serve.
// --limit=N exits 0 after N echoes. Works on the frame where it lies (net_read_view).
// Counts echo requests that arrive out of sequence, and says so when it exits.
import { net_info, net_read_view, net_read_done, net_write, net_wait_room, yield_until, clock_monotonic, console_write, AGAIN } from 'shmtender/guest';
import { option, ipBytes, arpReply, echoReply } from './lib/ether.js';

export function main({ args }) {
  const nic = net_info();
  if (!nic) return console_write('ping_serve: no NIC (run the tender with --net=IFACE)\n'), 1;
  const ip = ipBytes(option(args, 'ip', '10.0.0.2'));
  const limit = Number(option(args, 'limit', '0'));
  let echoes = 0, reordered = 0, lastSeq = -1;
  console_write(`ping_serve: answering on ${option(args, 'ip', '10.0.0.2')}\n`);
  for (;;) {
    const frame = net_read_view(nic.handle);
    if (frame === null) {
      yield_until(clock_monotonic() + 1e9);
      continue;
    }
    const isEcho = echoReply(frame, frame.length, ip);
    if (isEcho) {
      const seq = (frame[40] << 8) | frame[41]; // ICMP sequence (14 + 20 + 6)
      if (lastSeq >= 0 && seq !== ((lastSeq + 1) & 0xffff)) reordered++;
      lastSeq = seq;
    }
    if (isEcho || arpReply(frame, frame.length, nic.mac, ip)) {
      while (net_write(nic.handle, frame) === AGAIN) net_wait_room(nic.handle, clock_monotonic() + 1e8);
    }
    net_read_done(nic.handle);
    if (isEcho && ++echoes === limit) {
      console_write(`ping_serve: ${echoes} echoes, ${reordered} out of order, done\n`);
      return 0;
    }
  }
}
