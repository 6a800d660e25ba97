// The capture's parts without root: the pcapng encoder (read back by our own reader and by
// tshark and tcpdump), the record ring, and the writer against a FIFO whose reader is slow.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RingFault } from '../guest-api/ring.js';
import { Capture } from '../host/capture.js';
import { openOutFile } from '../host/out-files.js';
import {
  BLOCK, EPB_FLAG, enhancedPacket, enhancedPacketLength, interfaceDescription, interfaceStatistics, option, sectionHeader, splitNs,
} from '../host/pcapng.js';
import { createRecordRing, DIR, REASON, RECORD_HEADER, RecordConsumer, RecordProducer } from '../host/record-ring.js';
import { createStats, nicCounters, section, totals } from '../host/stats.js';
import { opt, optU64, readBlocks, tcpdumpCount, tshark } from './helpers/pcapng-read.js';

const dir = mkdtempSync(join(tmpdir(), 'shmt-pcapng-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);
/** A frame of ethertype 0x88b5 (local experimental: tshark shows its bytes as data.data). */
const frame = (len: number, seed = 0) => {
  const f = new Uint8Array(len);
  f.set(MAC, 0);
  f.set(Uint8Array.of(2, 1, 1, 1, 1, 1), 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  for (let i = 14; i < len; i++) f[i] = (i + seed) & 0xff;
  return f;
};

describe('pcapng blocks', () => {
  it('are framed as the format says: lengths at both ends, 4-byte padding, options ended', () => {
    const shb = readBlocks(sectionHeader({ userappl: 'shmtender', comment: 'c' }))[0];
    expect(shb.type).toBe(BLOCK.SHB);
    expect(shb.body.readUInt32LE(0)).toBe(0x1a2b3c4d);
    expect([shb.body.readUInt16LE(4), shb.body.readUInt16LE(6), shb.body.readBigInt64LE(8)]).toEqual([1, 0, -1n]);
    expect(opt(shb, 4)?.toString()).toBe('shmtender');

    const idb = readBlocks(interfaceDescription({ name: 'service (tap0)', mac: MAC, snaplen: 1234, description: 'd' }))[0];
    expect([idb.type, idb.body.readUInt16LE(0), idb.body.readUInt32LE(4)]).toEqual([1, 1, 1234]);
    expect(opt(idb, 2)?.toString()).toBe('service (tap0)');
    expect([...opt(idb, 6)!]).toEqual([...MAC]);
    expect([...opt(idb, 9)!]).toEqual([9]);

    for (let cap = 0; cap <= 9; cap++) {
      for (const extra of [{}, { dropCount: 7, comment: option.comment('why, in 21 bytes....') }]) {
        const data = frame(Math.max(cap, 14)).subarray(0, cap);
        const b = enhancedPacket({ interfaceId: 3, tsHi: 0x1234, tsLo: 0xfffffff0, origLen: 1500, flags: EPB_FLAG.outbound, ...extra }, data);
        expect(b.length).toBe(enhancedPacketLength(cap, extra));
        const [epb] = readBlocks(b);
        expect([epb.type, epb.body.readUInt32LE(0), epb.body.readUInt32LE(4), epb.body.readUInt32LE(8), epb.body.readUInt32LE(12), epb.body.readUInt32LE(16)])
          .toEqual([6, 3, 0x1234, 0xfffffff0, cap, 1500]);
        expect([...epb.body.subarray(20, 20 + cap)]).toEqual([...data]);
        expect(opt(epb, 2)!.readUInt32LE(0)).toBe(2);
        expect(optU64(epb, 4)).toBe('dropCount' in extra ? 7 : undefined);
      }
    }
    const isb = readBlocks(interfaceStatistics({ interfaceId: 1, timestampNs: 5n << 32n, ifrecv: 10, ifdrop: 2, osdrop: 3, usrdeliv: 9 }))[0];
    expect([isb.type, isb.body.readUInt32LE(0), isb.body.readUInt32LE(4), isb.body.readUInt32LE(8)]).toEqual([5, 1, 5, 0]);
    expect([optU64(isb, 4), optU64(isb, 5), optU64(isb, 7), optU64(isb, 8)]).toEqual([10, 2, 3, 9]);
    expect(splitNs(0x1_0000_0002n)).toEqual([1, 2]);
  });

  it('tshark and tcpdump read them: interface names, nanosecond times, directions, error flags, comments, drop counts', () => {
    const file = join(dir, 'made.pcapng');
    const ts = 1_700_000_000_123_456_789n;
    const [hi, lo] = splitNs(ts);
    const parts = [
      sectionHeader({ userappl: 'shmtender' }),
      interfaceDescription({ name: 'service (tap0)', mac: MAC, snaplen: 65535 }),
      interfaceDescription({ name: 'backend (tap1)', mac: MAC, snaplen: 65535 }), // libpcap refuses interfaces that differ in it
      enhancedPacket({ interfaceId: 0, tsHi: hi, tsLo: lo, origLen: 60, flags: EPB_FLAG.inbound }, frame(60)),
      enhancedPacket({ interfaceId: 1, tsHi: hi, tsLo: lo + 1000, origLen: 300, flags: EPB_FLAG.outbound, dropCount: 4 }, frame(300, 1), 100), // cut at 100
      enhancedPacket({ interfaceId: 0, tsHi: hi, tsLo: lo + 2000, origLen: 1600, flags: EPB_FLAG.inbound | EPB_FLAG.tooLong, comment: option.comment('rx_bad: too long') }, frame(1600, 2)),
      interfaceStatistics({ interfaceId: 0, timestampNs: ts, ifrecv: 2, ifdrop: 1 }),
    ];
    writeFileSync(file, Buffer.concat(parts));
    const rows = tshark(file, ['frame.interface_name', 'frame.time_epoch', 'frame.packet_flags_direction', 'frame.packet_flags_packet_too_error', 'frame.comment', 'frame.drop_count', 'frame.len', 'frame.cap_len', 'data.data']);
    expect(rows.map((r) => r.slice(0, 8))).toEqual([
      ['service (tap0)', '1700000000.123456789', '0x00000001', '0', '', '', '60', '60'],
      ['backend (tap1)', '1700000000.123457789', '0x00000002', '0', '', '4', '300', '100'],
      ['service (tap0)', '1700000000.123458789', '0x00000001', '1', 'rx_bad: too long', '', '1600', '1600'],
    ]);
    expect(rows[0][8]).toBe(Buffer.from(frame(60).subarray(14)).toString('hex'));
    expect(tcpdumpCount(file)).toBe(3);
  });
});

describe('the capture record ring', () => {
  it('carries records of every size across the wrap (indices near 2^32), refuses when full and says how many before the next', () => {
    const sab = createRecordRing(4096);
    const words = new Int32Array(sab);
    Atomics.store(words, 0, -600); // head and tail both start 600 bytes before 2^32
    Atomics.store(words, 16, -600);
    const p = new RecordProducer(sab, 700, 2);
    const c = new RecordConsumer(sab, 2, 700);
    let seq = 0;
    let seen = 0;
    const refusedBefore: number[] = [];
    let refused = 0;
    for (let round = 0; round < 400; round++) {
      const burst = 1 + (round % 9);
      for (let k = 0; k < burst; k++) {
        const len = 14 + ((seq * 97) % 900); // some longer than the snap length
        const f = frame(len, seq);
        if (p.put(seq & 1, seq & 1 ? DIR.out : DIR.in, REASON.none, seq * 1000, f, 0, len)) {
          refusedBefore.push(refused);
          refused = 0;
        } else refused++;
        seq++;
      }
      if (round % 3 === 0) continue; // the consumer falls behind now and then
      c.available();
      for (let r = c.next(); r; r = c.next()) {
        const s = r.tsNs / 1000;
        expect([r.nic, r.dir, r.origLen, r.capLen]).toEqual([s & 1, s & 1 ? 2 : 1, 14 + ((s * 97) % 900), Math.min(700, 14 + ((s * 97) % 900))]);
        expect([...c.u8.subarray(r.dataOffset, r.dataOffset + r.capLen)]).toEqual([...frame(r.origLen, s).subarray(0, r.capLen)]);
        seen++;
        c.advance();
      }
      c.release();
    }
    expect(seen).toBeGreaterThan(500);
    expect(refusedBefore.some((n) => n > 0)).toBe(true); // it was full at times
    expect(Atomics.load(words, 0) >>> 0).toBeLessThan(1 << 30); // the indices wrapped
  });

  it('a record says how many of its NIC were refused before it, and keeps only what the buffer held', () => {
    const sab = createRecordRing(8192);
    const p = new RecordProducer(sab, 1600, 2);
    const c = new RecordConsumer(sab, 2, 1600);
    let ok = 0;
    while (p.put(0, DIR.in, REASON.none, 1, frame(1000), 0, 1000)) ok++;
    expect(p.put(0, DIR.in, REASON.none, 1, frame(1000), 0, 1000)).toBe(false);
    expect(p.put(1, DIR.in, REASON.none, 1, frame(1000), 0, 1000)).toBe(false);
    c.available();
    for (let i = 0; i < ok; i++) (c.next(), c.advance());
    c.release();
    expect(p.put(0, DIR.in, REASON.oversize, 2, frame(1600), 0, 9000, 1600)).toBe(true);
    c.available();
    expect(c.next()).toMatchObject({ nic: 0, reason: REASON.oversize, origLen: 9000, capLen: 1600, dropsBefore: 2 });
  });

  it('the writer checks what it reads: a bad size, length, snap length, NIC, direction or reason, or a producer index out of range, is a RingFault', () => {
    const corrupt = (at: number, v: number, width: 1 | 2 | 4 = 4) => {
      const sab = createRecordRing(4096);
      new RecordProducer(sab, 200, 1).put(0, DIR.in, REASON.none, 1, frame(60), 0, 60);
      const dv = new DataView(sab, 128);
      if (width === 4) dv.setUint32(at, v, true);
      else if (width === 2) dv.setUint16(at, v, true);
      else dv.setUint8(at, v);
      const c = new RecordConsumer(sab, 1, 60);
      c.available();
      return () => c.next();
    };
    expect(corrupt(0, 4000)).toThrow(RingFault); // size beyond what was published
    expect(corrupt(0, 13)).toThrow(RingFault); // not 8-aligned
    expect(corrupt(12, 61)).toThrow(RingFault); // captured more than its length
    expect(corrupt(12, 200)).toThrow(RingFault); // captured more than the record holds
    expect(corrupt(4, 1, 2)).toThrow(RingFault); // no such NIC
    expect(corrupt(6, 3, 1)).toThrow(RingFault); // no such direction
    expect(corrupt(7, 6, 1)).toThrow(RingFault); // no such reason
    expect(corrupt(8, 64)).not.toThrow(); // a longer frame, 60 bytes of it kept: as a producer writes it
    // Captured more than the snap length, within the record and its length: an EPB longer than
    // the file's snaplen, or one no staging buffer holds (the capture would stall).
    const sab2 = createRecordRing(4096);
    new RecordProducer(sab2, 200, 1).put(0, DIR.in, REASON.none, 1, frame(60), 0, 60);
    const c2 = new RecordConsumer(sab2, 1, 40);
    c2.available();
    expect(() => c2.next()).toThrow(RingFault);
    const sab = createRecordRing(4096);
    Atomics.store(new Int32Array(sab), 0, 8192);
    expect(() => new RecordConsumer(sab, 1, 60).available()).toThrow(RingFault);
    expect(RECORD_HEADER).toBe(32);
  });
});

describe('the capture writer', () => {
  it('on a FIFO whose reader takes 1 KiB per 100 ms: never blocks the thread, refuses records and counts them, and the file end says so', async () => {
    const fifo = join(dir, 'slow.fifo');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const out = openOutFile('--pcap', fifo);
    expect(out.pipe).toBe(true);
    const stats = createStats();
    const cap = new Capture([{ out, nics: [0] }], [{ name: 'service', iface: 'tap0', mac: MAC, mtu: 1500, maxFrame: 1518 }], 1600, { mode: 'test' }, stats.tender, 64 << 10);
    const prod = new RecordProducer(cap.tap.ring, 1600, 1);
    const io = section(stats.io);
    const dropped = nicCounters(0).pcap_dropped;
    const chunks: Buffer[] = [];
    const readSome = (max: number) => {
      const b = Buffer.alloc(max);
      try {
        const n = readSync(rfd, b, 0, max, null);
        if (n > 0) chunks.push(b.subarray(0, n));
        return n;
      } catch {
        return -1; // EAGAIN: nothing yet
      }
    };
    // The reader runs on this very thread: if the writer ever blocked, it would never read again.
    const reader = setInterval(() => readSome(1024), 100);
    cap.start();
    const N = 3000;
    for (let seq = 0; seq < N; seq++) {
      const f = frame(200);
      new DataView(f.buffer).setUint32(14, seq);
      if (!prod.put(0, DIR.in, REASON.none, seq, f, 0, 200)) io[dropped]++;
      if (seq % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = Date.now();
    const lines = await cap.finish(() => totals(stats, 1).nics);
    expect(Date.now() - t0).toBeLessThan(6000); // bounded, however slow the reader
    closeSync(out.fd);
    clearInterval(reader);
    while (readSome(1 << 16) > 0);
    closeSync(rfd);

    const blocks = readBlocks(Buffer.concat(chunks));
    const epbs = blocks.filter((b) => b.type === 6);
    const isb = blocks.find((b) => b.type === 5)!;
    const total = totals(stats, 1).nics[0].pcap_dropped;
    console.log(`fifo: ${epbs.length} written, ${io[dropped]} refused by the ring, ${total - io[dropped]} dropped at exit; ${lines}`);
    expect(io[dropped]).toBeGreaterThan(0); // the ring filled while the reader dawdled
    expect(total).toBeGreaterThanOrEqual(io[dropped]); // plus what was still queued at exit
    expect(optU64(isb, 7)).toBe(total); // isb_osdrop: the file's end agrees with the counters
    expect(optU64(isb, 8)).toBe(epbs.length); // isb_usrdeliv
    expect(epbs.length + total).toBe(N); // every record offered is written or counted
    // epb_dropcount: exactly the gap in sequence numbers before each packet.
    let prev = -1;
    for (const e of epbs) {
      const seq = e.body.readUInt32BE(20 + 14);
      expect(seq - prev - 1).toBe(optU64(e, 4) ?? 0);
      prev = seq;
    }
    if (total > io[dropped]) expect(lines.join('\n')).toMatch(/reader was too slow at exit: \d+ records dropped/);
  }, 20_000);

  it.skipIf(process.getuid?.() !== 0)('a file that fills its disk part-way through a write (ENOSPC): the packets it took are in it, not counted lost; the rest are (root: mounts a 384 KiB tmpfs)', async () => {
    const mnt = mkdtempSync(join(dir, 'full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=384k', 'tmpfs', mnt]);
    try {
      const path = join(mnt, 'full.pcapng');
      const out = openOutFile('--pcap', path);
      const stats = createStats();
      const cap = new Capture([{ out, nics: [0] }], [{ name: 'service', iface: 'tap0', mac: MAC, mtu: 1500, maxFrame: 1518 }], 1600, { mode: 'test' }, stats.tender, 1 << 20);
      const prod = new RecordProducer(cap.tap.ring, 1600, 1);
      const io = section(stats.io);
      // Every record queued before the writer starts: it writes a full staging buffer (256 KiB)
      // at a time, and the disk fills half-way through the second, after many whole packets.
      const N = 1000; // ~1.5 MB of packets for a 384 KiB disk
      for (let seq = 0; seq < N; seq++) if (!prod.put(0, DIR.in, REASON.none, seq, frame(1400), 0, 1400)) io[nicCounters(0).pcap_dropped]++;
      cap.start();
      const lines = await cap.finish(() => totals(stats, 1).nics);
      closeSync(out.fd);
      expect(lines.join('\n')).toMatch(/capture stopped: ENOSPC/);
      // The file ends where the disk did: count the blocks it holds whole.
      const bytes = readFileSync(path);
      let end = 0;
      while (end + 8 <= bytes.length && bytes.readUInt32LE(end + 4) >= 12 && end + bytes.readUInt32LE(end + 4) <= bytes.length) end += bytes.readUInt32LE(end + 4);
      const epbs = readBlocks(bytes.subarray(0, end)).filter((b) => b.type === 6).length;
      const dropped = totals(stats, 1).nics[0].pcap_dropped;
      expect(epbs).toBeGreaterThan(0);
      expect(epbs + dropped).toBe(N); // each record in the file whole, or counted
    } finally {
      execFileSync('umount', [mnt]);
    }
  }, 20_000);

  it('a FIFO whose reader quits while the end of the file is written: the packet it left half-written is counted in pcap_dropped, as the line counts it', async () => {
    const fifo = join(dir, 'quits-late.fifo');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // never read: the pipe fills
    const out = openOutFile('--pcap', fifo);
    const stats = createStats();
    const cap = new Capture([{ out, nics: [0] }], [{ name: 'service', iface: 'tap0', mac: MAC, mtu: 1500, maxFrame: 1518 }], 1600, { mode: 'test' }, stats.tender, 64 << 10);
    const prod = new RecordProducer(cap.tap.ring, 1600, 1);
    const io = section(stats.io);
    cap.start();
    for (let seq = 0; seq < 600; seq++) {
      // 200-byte frames: 244-byte blocks, which do not divide the pipe's pages, so the write that
      // fills it ends mid-packet (211 bytes make 256-byte blocks, and no packet is cut).
      if (!prod.put(0, DIR.in, REASON.none, seq, frame(200), 0, 200)) io[nicCounters(0).pcap_dropped]++;
      if (seq % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    // finish writes for 2 s (the reader takes nothing), then the end of the file for up to 2 s
    // more: the reader quits in the middle of that.
    const quit = setTimeout(() => closeSync(rfd), 3000);
    const lines = await cap.finish(() => totals(stats, 1).nics);
    clearTimeout(quit);
    closeSync(out.fd);
    const m = /capture stopped: EPIPE \(broken pipe\); (\d+) records not written/.exec(lines.join('\n'));
    expect(m, lines.join('\n')).not.toBeNull();
    const total = totals(stats, 1).nics[0].pcap_dropped;
    expect(total - io[nicCounters(0).pcap_dropped]).toBe(Number(m![1])); // the writer's losses: the line's, all of them
  }, 20_000);

  it('a FIFO whose reader quits while the writer holds staged packets and nothing new comes: they are in pcap_dropped at the next pass, not at exit', async () => {
    const fifo = join(dir, 'quits-idle.fifo');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK); // never read: the pipe fills, the rest is staged
    const out = openOutFile('--pcap', fifo);
    const stats = createStats();
    const cap = new Capture([{ out, nics: [0] }], [{ name: 'service', iface: 'tap0', mac: MAC, mtu: 1500, maxFrame: 1518 }], 1600, { mode: 'test' }, stats.tender, 1 << 20);
    const prod = new RecordProducer(cap.tap.ring, 1600, 1);
    cap.start();
    for (let seq = 0; seq < 600; seq++) {
      expect(prod.put(0, DIR.in, REASON.none, seq, frame(200), 0, 200)).toBe(true);
      if (seq % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    const dropped = () => totals(stats, 1).nics[0].pcap_dropped;
    await new Promise((r) => setTimeout(r, 50)); // every record moved to the staging buffer
    expect(dropped()).toBe(0);
    closeSync(rfd); // the ring is empty from now on
    const t0 = Date.now();
    while (dropped() === 0 && Date.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 10));
    expect(dropped()).toBeGreaterThan(100); // the staged packets the pipe did not take
    const lines = await cap.finish(() => totals(stats, 1).nics);
    closeSync(out.fd);
    expect(lines.join('\n')).toMatch(new RegExp(`capture stopped: EPIPE \\(broken pipe\\); ${dropped()} records not written`));
  }, 20_000);

  it('a FIFO whose reader stops beside a file: the FIFO is cut short, the file still gets its end (statistics for every record)', async () => {
    const fifo = join(dir, 'slow2.fifo');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const slow = openOutFile('--pcap', fifo);
    const path = join(dir, 'beside.pcapng');
    const file = openOutFile('--pcap:service', path);
    const stats = createStats();
    // The FIFO first: flushing the files one after the other must not stop at the first behind.
    const cap = new Capture([{ out: slow, nics: [0] }, { out: file, nics: [0] }], [{ name: 'service', iface: 'tap0', mac: MAC, mtu: 1500, maxFrame: 1518 }], 1600, { mode: 'test' }, stats.tender, 64 << 10);
    const prod = new RecordProducer(cap.tap.ring, 1600, 1);
    const io = section(stats.io);
    const reader = setInterval(() => {
      try {
        readSync(rfd, Buffer.alloc(1024), 0, 1024, null);
      } catch {
        /* EAGAIN */
      }
    }, 100);
    cap.start();
    const N = 600;
    for (let seq = 0; seq < N; seq++) {
      if (!prod.put(0, DIR.in, REASON.none, seq, frame(200), 0, 200)) io[nicCounters(0).pcap_dropped]++;
      if (seq % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    clearInterval(reader); // and now it takes nothing more: the FIFO's end cannot be written
    const lines = await cap.finish(() => totals(stats, 1).nics);
    closeSync(slow.fd);
    closeSync(file.fd);
    closeSync(rfd);
    const blocks = readBlocks(readFileSync(path));
    const epbs = blocks.filter((b) => b.type === 6);
    const isb = blocks.find((b) => b.type === 5);
    expect(lines.join('\n')).toMatch(new RegExp(`${fifo}: the reader did not take the end`));
    expect(lines.join('\n')).not.toMatch(new RegExp(`${path}.*cut short`));
    expect(isb, 'the file ends with its interface statistics').toBeDefined();
    expect(optU64(isb!, 8)).toBe(epbs.length);
    expect(epbs.length + optU64(isb!, 7)!).toBe(N); // each record in the file, or counted as dropped for it
  }, 20_000);
});
