// A checksummed TCP stream, for tests of what crosses a relay: the sender sends --bytes of
// random data and prints their SHA-256; the receiver hashes everything it gets until the
// sender closes. With checksum offload end to end nobody on the path verifies a TCP
// checksum, so only a hash of the data shows that the relay passed every byte unchanged.
//   --recv --addr=A --port=P --timeout-ms=T    prints {"listening":true}, then {"bytes":N,"sha256":H}
//   --send --dst=A --port=P --bytes=N          prints {"bytes":N,"sha256":H,"seconds":S}
import { createHash, randomFillSync } from 'node:crypto';
import net from 'node:net';
import { command } from '../../testbed/args.js';

const argv = command('node dist-dev/test/harness/tcp-stream.js --recv|--send [options]')
  .option('recv', { type: 'boolean', default: false })
  .option('send', { type: 'boolean', default: false })
  .option('port', { type: 'number', demandOption: true })
  .option('addr', { type: 'string', default: '10.0.0.3', describe: '--recv: the address to listen on' })
  .option('timeout-ms', { type: 'number', default: 30000 })
  .option('dst', { type: 'string', default: '10.0.0.3', describe: '--send: where to' })
  .option('bytes', { type: 'number', default: 1 << 20 })
  .check((a) => (a.recv !== a.send ? true : 'give one of --recv, --send'))
  .parseSync();
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const port = argv.port;

if (argv.recv) {
  const hash = createHash('sha256');
  let bytes = 0;
  const server = net.createServer((sock) => {
    sock.on('data', (d) => {
      hash.update(d);
      bytes += d.length;
    });
    sock.on('end', () => {
      out({ bytes, sha256: hash.digest('hex') });
      process.exit(0);
    });
    sock.on('error', (e) => {
      out({ bytes, error: e.message });
      process.exit(1);
    });
  });
  server.listen(port, argv.addr, () => out({ listening: true }));
  setTimeout(() => {
    out({ bytes, error: 'timeout' });
    process.exit(1);
  }, argv['timeout-ms']);
} else {
  const total = argv.bytes;
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(1 << 20);
  const t0 = process.hrtime.bigint();
  const sock = net.connect(port, argv.dst, async () => {
    for (let sent = 0; sent < total; ) {
      const n = Math.min(chunk.length, total - sent);
      const piece = Buffer.from(randomFillSync(chunk).subarray(0, n)); // a fresh buffer: write() keeps it until sent
      hash.update(piece);
      sent += n;
      if (!sock.write(piece)) await new Promise((r) => sock.once('drain', r));
    }
    sock.end(() => out({ bytes: total, sha256: hash.digest('hex'), seconds: Number(process.hrtime.bigint() - t0) / 1e9 }));
  });
  sock.on('error', (e) => {
    out({ error: e.message });
    process.exit(1);
  });
}
