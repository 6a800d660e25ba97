// The namespace's side of UDP tests, as a process run inside the namespace.
//   --recv --port=P --count=N --timeout-ms=T [--addr=A]  counts and checks udp_blast's datagrams (bound to A, default 10.0.0.1)
//   --send --dst=IP --port=P --count=N --size=B  sends datagrams (paced in small bursts)
import dgram from 'node:dgram';
import { command } from '../../testbed/args.js';

const argv = command('node dist-dev/test/harness/udp-peer.js --recv|--send [options]')
  .option('recv', { type: 'boolean', default: false })
  .option('send', { type: 'boolean', default: false })
  .option('port', { type: 'number', demandOption: true })
  .option('count', { type: 'number', demandOption: true })
  .option('addr', { type: 'string', default: '10.0.0.1', describe: '--recv: the address to bind' })
  .option('timeout-ms', { type: 'number', default: 30000 })
  .option('dst', { type: 'string', default: '10.0.0.2', describe: '--send: where to' })
  .option('size', { type: 'number', default: 1300 })
  .check((a) => (a.recv !== a.send ? true : 'give one of --recv, --send'))
  .parseSync();
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

if (argv.recv) {
  const count = argv.count;
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 32 << 20 });
  let received = 0;
  let bad = 0;
  let outOfOrder = 0;
  let bytes = 0;
  let next = 0;
  const finish = () => {
    out({ received, bad, outOfOrder, bytes, rcvbuf: sock.getRecvBufferSize() });
    process.exit(0);
  };
  sock.on('message', (m) => {
    const seq = m.readUInt32BE(0);
    if (seq !== next) outOfOrder++;
    next = seq + 1;
    for (let i = 4; i < m.length; i++) if (m[i] !== (i & 0xff)) { bad++; break; }
    received++;
    bytes += m.length;
    if (received === count) finish();
  });
  sock.bind({ address: argv.addr, port: argv.port }, () => out({ listening: true }));
  setTimeout(finish, argv['timeout-ms']);
} else {
  const count = argv.count;
  const size = argv.size;
  const sock = dgram.createSocket('udp4');
  let sent = 0;
  const burst = () => {
    for (let i = 0; i < 50 && sent < count; i++, sent++) {
      const buf = Buffer.alloc(size, 0xab); // its own buffer: send() is asynchronous and may still hold the last one
      buf.writeUInt32BE(sent, 0);
      sock.send(buf, argv.port, argv.dst);
    }
    if (sent < count) setTimeout(burst, 1);
    else setTimeout(() => { out({ sent }); process.exit(0); }, 200);
  };
  burst();
}
