// A two-port firewall: forwards Ethernet frames between the NICs named `service` and
// `backend`, passing ARP and ICMP, and UDP/TCP only to the ports in --allow=P,Q,...
// Everything else is dropped and counted. Waits on both NICs at once (yield_until's ready
// set), forwards each frame where it lies (net_forward: no copy) and sends each batch with
// one net_flush. Stops after --seconds=S (0: never).
// With --offload a frame may be a 64 KiB TCP super-frame with its checksum left to finish:
// its virtio-net header goes out with it untouched, and the kernel segments and checksums.
//   tender --net:service=tap100 --net:backend=tap101 --shm=hybrid --offload firewall.js --allow=80,9000
import { net_info, net_read_view, net_read_done, net_forward, net_flush, net_wait_room, yield_until, clock_monotonic, console_write, AGAIN, OK } from 'shmtender/guest';
import { option, etherType, ETH_ARP, ETH_IP } from './lib/ether.js';

export function main({ args }) {
  const service = net_info('service'), backend = net_info('backend');
  if (!service || !backend) return console_write('firewall: needs two NICs (--net:service=IFACE --net:backend=IFACE)\n'), 1;
  const allow = new Set(option(args, 'allow', '').split(',').filter(Boolean).map(Number));
  const seconds = Number(option(args, 'seconds', '0'));
  const end = seconds > 0 ? clock_monotonic() + seconds * 1e9 : Infinity;
  const peer = [], passed = [0, 0];
  peer[service.handle] = backend.handle;
  peer[backend.handle] = service.handle;
  let dropped = 0, refused = 0;
  console_write(`firewall: service <-> backend, allowing ports ${[...allow].join(',') || 'none'}\n`);
  while (clock_monotonic() < end) {
    const ready = yield_until(Math.min(clock_monotonic() + 1e9, end));
    for (const from of [service.handle, backend.handle]) {
      if ((ready & (1 << from)) === 0) continue;
      const to = peer[from];
      for (let f = net_read_view(from); f !== null; f = net_read_view(from)) {
        let r = -1;
        if (allowed(f, allow)) {
          while ((r = net_forward(from, to)) === AGAIN) { net_flush(to); net_wait_room(to, clock_monotonic() + 1e8); }
          if (r === OK) passed[from]++;
          else refused++; // a super-frame towards a NIC without offloads (give both --offload)
        } else dropped++;
        if (r !== OK) net_read_done(from);
      }
      net_flush(to);
    }
  }
  console_write(`firewall: passed ${passed[service.handle]} from service, ${passed[backend.handle]} from backend, dropped ${dropped}, refused ${refused}\n`);
  return 0;
}

function allowed(f, allow) {
  const type = etherType(f);
  if (type === ETH_ARP) return true;
  if (type !== ETH_IP || f.length < 34) return false;
  const proto = f[23];
  if (proto === 1) return true; // ICMP
  if (proto !== 6 && proto !== 17) return false;
  const l4 = 14 + (f[14] & 0xf) * 4;
  const src = (f[l4] << 8) | f[l4 + 1], dst = (f[l4 + 2] << 8) | f[l4 + 3];
  return allow.has(dst) || allow.has(src); // the request and its reply
}
