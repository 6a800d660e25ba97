// Runs test/harness/io-harness.js inside a namespace and parses its JSON line.
import { collect, DEV, type Netns } from '../../testbed/netns.js';

export async function harness(ns: Netns, args: string[], timeoutMs = 90_000): Promise<any> {
  const r = await collect(ns.spawn('node', [`${DEV}test/harness/io-harness.js`, ...args]), timeoutMs);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`harness ${args.join(' ')} failed (${r.code} ${r.signal}): ${r.stderr || r.stdout}`);
  return JSON.parse(line);
}
