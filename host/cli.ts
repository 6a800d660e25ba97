#!/usr/bin/env node
// `tender`: parse, run, exit with the documented code.
import { parseArgs } from './cli-options.js';
import { EXIT, UsageError } from './exit-codes.js';
import { runTender, TenderError } from './tender.js';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

async function main(): Promise<number> {
  let opts;
  try {
    opts = await parseArgs(process.argv.slice(2));
    if (!opts) return 0;
    opts.app = resolve(opts.app);
    if (!existsSync(opts.app) || !statSync(opts.app).isFile()) throw new UsageError(`APP not found: ${opts.app}`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tender: ${err.message} (see tender --help)\n`);
      return EXIT.usage;
    }
    throw err;
  }
  try {
    return await runTender(opts);
  } catch (err) {
    if (err instanceof TenderError) {
      process.stderr.write(`tender: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`tender: internal error: ${(err as Error)?.stack ?? err}\n`);
    return EXIT.internal;
  }
}

process.exit(await main());
