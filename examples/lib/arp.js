// ARP on top of the guest API: find a peer's MAC, and answer for ourselves meanwhile.
import { net_read_view, net_read_done, net_write, net_wait_room, yield_until, clock_monotonic, OK } from 'shmtender/guest';
import { arpReply, arpRequest, arpAnswerFrom } from './ether.js';

/** The MAC of `ip`, asking every 200 ms; null after 5 s. */
export function resolveMac(nic, me, ip) {
  const req = new Uint8Array(64);
  const until = clock_monotonic() + 5e9;
  while (clock_monotonic() < until) {
    while (net_write(nic.handle, req, arpRequest(req, me.mac, me.ip, ip)) !== OK) net_wait_room(nic.handle, until);
    const retry = clock_monotonic() + 2e8;
    while (clock_monotonic() < retry) {
      const f = net_read_view(nic.handle);
      if (f === null) { yield_until(retry); continue; }
      const mac = arpAnswerFrom(f, f.length, ip);
      if (!mac && arpReply(f, f.length, me.mac, me.ip)) net_write(nic.handle, f);
      net_read_done(nic.handle);
      if (mac) return mac;
    }
  }
  return null;
}

/** Answers ARP requests waiting on the NIC and drops anything else that is waiting. */
export function answerArp(nic, me) {
  for (let f = net_read_view(nic.handle); f !== null; f = net_read_view(nic.handle)) {
    if (arpReply(f, f.length, me.mac, me.ip)) net_write(nic.handle, f);
    net_read_done(nic.handle);
  }
}
