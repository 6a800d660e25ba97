// Builds the C programs (testbed/c/*.c: the limit rows and the traffic tools) into testbed/bin/,
// when missing or older than their source.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../netns.js';

export const BIN = join(ROOT, 'testbed', 'bin');

/** Libraries a program links beyond libc (the README's set-up installs them). */
const LIBS: Record<string, string[]> = { tap_reader: ['-luring'], tap_writer: ['-luring'], tap_relay: ['-luring'], no_uring: ['-lseccomp'] };

export function buildLimitPrograms(): Record<string, string> {
  const src = join(ROOT, 'testbed', 'c');
  mkdirSync(BIN, { recursive: true });
  const out: Record<string, string> = {};
  for (const file of readdirSync(src).filter((f) => f.endsWith('.c'))) {
    const name = file.slice(0, -2);
    const exe = join(BIN, name);
    const newest = Math.max(statSync(join(src, file)).mtimeMs, statSync(join(src, 'common.h')).mtimeMs);
    if (!existsSync(exe) || statSync(exe).mtimeMs < newest) {
      execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', exe, join(src, file), ...(LIBS[name] ?? [])], { stdio: 'inherit' });
    }
    out[name] = exe;
  }
  return out;
}
