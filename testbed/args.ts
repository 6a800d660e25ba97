// Argument parsing for the bench's and the test harness's programs: yargs, strict, and on bad
// input one line naming the program and exit 64 (usage), as the tender does.
import { basename } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

export const EXIT_USAGE = 64;

export function command(usage: string, name = basename(process.argv[1] ?? 'bench', '.js')) {
  return yargs(hideBin(process.argv))
    .scriptName(name)
    .usage(usage)
    .strict()
    .version(false)
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      console.error(`${name}: ${msg ?? err?.message}`);
      process.exit(EXIT_USAGE);
    });
}
