// One side of the two-worker ring stress: a producer writes frames carrying a sequence
// number and a checksum in batches; the consumer checks every one.
import { workerData, parentPort } from 'node:worker_threads';
import { readLayout } from '../../guest-api/abi.js';
import { Consumer, Producer, RingView } from '../../guest-api/ring.js';

const { region, role, count } = workerData as { region: SharedArrayBuffer; role: 'producer' | 'consumer'; count: number };
const { layout } = readLayout(region);
const nic = layout.nics[0];
const view = new RingView(new Int32Array(region), new Uint32Array(region), nic, 'tx');
const u8 = new Uint8Array(region);
const dv = new DataView(region);

// Frame k: length 16 + (k % 48); bytes 0-3 seq, 4-7 checksum of bytes 8.., then a pattern.
const frameLen = (k: number) => 16 + (k % 48);
function sum(off: number, len: number): number {
  let s = 0;
  for (let i = 8; i < len; i++) s = (Math.imul(s, 31) + u8[off + i]) >>> 0;
  return s;
}

if (role === 'producer') {
  const p = new Producer(view);
  let seq = 0;
  while (seq < count) {
    const n = Math.min(p.room(), 64, count - seq);
    for (let k = 0; k < n; k++) {
      const s = seq + k;
      const off = view.dataOffset(p.index + k);
      const len = frameLen(s);
      for (let i = 8; i < len; i++) u8[off + i] = (s + i) & 0xff;
      dv.setUint32(off, s, true);
      dv.setUint32(off + 4, sum(off, len), true);
      p.setLength(k, len);
    }
    if (n > 0) p.publish(n);
    seq += n;
  }
  parentPort!.postMessage({ produced: seq });
} else {
  const c = new Consumer(view, 16, 64);
  let expect = 0;
  let error: string | null = null;
  while (expect < count && !error) {
    const n = c.available();
    for (let k = 0; k < n && !error; k++) {
      const off = view.dataOffset(c.index + k);
      const len = c.length(k);
      const seq = dv.getUint32(off, true);
      if (seq !== expect) error = `got sequence ${seq}, expected ${expect}`;
      else if (len !== frameLen(seq)) error = `frame ${seq}: length ${len}`;
      else if (dv.getUint32(off + 4, true) !== sum(off, len)) error = `frame ${seq}: checksum mismatch`;
      expect++;
    }
    if (n > 0) c.release(n);
  }
  parentPort!.postMessage({ consumed: expect, error, finalIndex: c.index });
}
