// A small pcapng reader for the tests, written from the format's description and apart from
// host/pcapng.ts, so a test reads what the tender wrote instead of trusting the encoder twice.
// It checks the framing (lengths at both ends, padding) and returns every block.
import { execFileSync } from 'node:child_process';

export interface Block {
  type: number;
  body: Buffer; // the fixed part, before the options
  options: { code: number; value: Buffer }[];
}

const FIXED: Record<number, number> = { 0x0a0d0d0a: 16, 1: 8, 5: 12 };

export function readBlocks(file: Buffer): Block[] {
  const out: Block[] = [];
  let off = 0;
  while (off < file.length) {
    if (file.length - off < 12) throw new Error(`pcapng: ${file.length - off} trailing bytes at ${off}`);
    const type = file.readUInt32LE(off);
    const len = file.readUInt32LE(off + 4);
    if (len % 4 || len < 12 || off + len > file.length) throw new Error(`pcapng: block at ${off} has length ${len}`);
    if (file.readUInt32LE(off + len - 4) !== len) throw new Error(`pcapng: block at ${off}: trailing length differs`);
    const inner = file.subarray(off + 8, off + len - 4);
    let fixed = FIXED[type] ?? 0;
    if (type === 6) fixed = 20 + ((inner.readUInt32LE(12) + 3) & ~3);
    const options: Block['options'] = [];
    let o = fixed;
    while (o + 4 <= inner.length) {
      const code = inner.readUInt16LE(o);
      const n = inner.readUInt16LE(o + 2);
      if (code === 0) break;
      options.push({ code, value: inner.subarray(o + 4, o + 4 + n) });
      o += 4 + ((n + 3) & ~3);
    }
    out.push({ type, body: inner.subarray(0, fixed), options });
    off += len;
  }
  return out;
}

export const opt = (b: Block, code: number) => b.options.find((o) => o.code === code)?.value;
export const optU64 = (b: Block, code: number) => {
  const v = opt(b, code);
  return v ? Number(v.readBigUInt64LE(0)) : undefined;
};

/** tshark -T fields: one array of strings per packet. */
export function tshark(file: string, fields: string[], filter?: string): string[][] {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f'];
  if (filter) args.push('-Y', filter);
  for (const f of fields) args.push('-e', f);
  const text = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  return text.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

/** Packets tcpdump reads from the file (one line each with -q). */
export function tcpdumpCount(file: string): number {
  const text = execFileSync('tcpdump', ['-nqr', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  return text.split('\n').filter((l) => l.length > 0).length;
}
