// `npm run demo` (root): a scratch namespace and TAP, ping_serve under every mode while
// `ping -f -c 20000` floods it, one table, and everything removed again (also on Ctrl-C).
import { command } from '../testbed/args.js';
import { cleanUpOnSignals, GUEST_MAC, createNetns, whyNoTap } from '../testbed/netns.js';
import { pingFlood, type PingResult } from '../testbed/workloads.js';

const { count } = command('npm run demo -- [--count=N]')
  .option('count', { type: 'number', default: 20000, describe: 'ping -f -c N per mode' })
  .parseSync();
const why = whyNoTap();
if (why) {
  console.error(`demo: ${why}`);
  process.exit(77);
}

const ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
cleanUpOnSignals(() => ns.destroy());

const rows: PingResult[] = [];
try {
  for (const mode of ['baseline', 'poll', 'event', 'hybrid']) {
    process.stderr.write(`demo: ${mode} ...\n`);
    rows.push(await pingFlood(ns, mode, count));
  }
} catch (err) {
  // A hang-up reaches the whole process group: a tool a step was running synchronously dies
  // with it and its step throws here before the event loop has run the signal's handler
  // (cleanUpOnSignals, which exits 129). Seen once in a full test run. Give the handler its turn.
  await new Promise((r) => setTimeout(r, 200));
  throw err;
} finally {
  ns.destroy();
}

const head = ['mode', 'echoes/s', 'rtt avg ms', 'loss', 'notif/frame', 'traps', 'kicks', 'interrupts', 'tap wake-ups', 'cpu s tender', 'cpu s io', 'cpu s guest'];
const body = rows.map((r) => {
  const n = r.stats.notifications;
  const c = r.stats.cpu_s;
  return [r.mode, r.echoesPerS.toFixed(0), r.rtt.avg.toFixed(3), `${r.lossPct}%`, n.per_frame.toFixed(3), n.traps, n.kicks, n.interrupts, n.tap_wakeups, c.tender.toFixed(2), c.io.toFixed(2), c.guest.toFixed(2)].map(String);
});
console.log(`ping -f -c ${count} against examples/ping_serve.js\n`);
console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|\n${body.map((b) => `| ${b.join(' | ')} |`).join('\n')}`);
