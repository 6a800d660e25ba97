#!/usr/bin/env node
// `tender`: parse, run, exit with the code host/endings.ts gives.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from './cli-options.js';
import { describeEnding, EndingError, UsageError, type Ending } from './endings.js';
import { lockAddon } from '../native/index.js';
import { guestLeftBehind, runTender } from './tender.js';

function end(ending: Ending): number {
  const { code, line } = describeEnding(ending);
  if (line) process.stderr.write(`tender: ${line}\n`);
  return code;
}

async function main(): Promise<number> {
  try {
    const opts = await parseArgs(process.argv.slice(2));
    if (!opts) return 0; // --help
    opts.app = resolve(opts.app);
    if (!existsSync(opts.app) || !statSync(opts.app).isFile()) throw new UsageError(`APP not found: ${opts.app}`);
    return await runTender(opts);
  } catch (err) {
    if (err instanceof EndingError) return end(err.ending);
    return end({ kind: 'internal', detail: String((err as Error)?.stack ?? err) });
  }
}

const code = await main();
// A guest's thread blocked where no stop reaches it: process.exit() would wait to join it.
if (guestLeftBehind()) lockAddon().exitNow(code);
process.exit(code);
