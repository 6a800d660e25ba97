// Command-line parsing (yargs). Turns argv into TenderOptions or a UsageError with one line.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import yargs from 'yargs';
import { computeLayout, slotSizeFor } from '../guest-api/abi.js';
import { UsageError } from './endings.js';
import { BACKOFF_FRAMES, BACKOFF_MAX_NS, BACKOFF_NS, type Mode } from '../guest-api/notify.js';
import { STALL_SHARE, STALL_STREAK } from '../guest-api/spin-window.js';

export interface NicOption {
  name: string;
  iface: string;
  mac?: Uint8Array;
  /** --offload / --offload:NAME: open the TAP with a virtio-net header and checksum/TSO/USO offloads. */
  offload: boolean;
}

export interface TenderOptions {
  mode: Mode;
  nics: NicOption[];
  mtu: number;
  memMb: number;
  /** Slots per ring, every NIC; undefined: by slot size (defaultRingSlots). */
  ringSlots: number | undefined;
  pollBudget: number;
  pollIdleUs: number;
  /** hybrid: the most the IO thread's idle poll grows to; = pollIdleUs: fixed. */
  pollIdleMaxUs: number;
  guestSpinUs: number;
  /** The most the guest's spin window grows to (guest-api/spin-window.ts); = guestSpinUs: fixed. */
  guestSpinMaxUs: number;
  /** A guest its peer keeps spinning spins through a pause this long (guest-api/spin-window.ts); 0: never. */
  guestSpinStallUs: number;
  /** hybrid with the IO token: answers to a burst go out together (guest-api/shm-backend.ts, queued). */
  guestTxCoalesce: boolean;
  /** hybrid with the token: how long one spin round looks at an empty TAP inside the addon; 0: from JS, a look per round. */
  guestSpinSliceUs: number;
  /** hybrid with the token: the most the backed-off IO thread's sleep grows to beside a guest keeping up alone. */
  ioBackoffMaxUs: number;
  /** hybrid only: the IO token (guest-api/notify.ts); false in every other mode. */
  ioToken: boolean;
  /**
   * With the token, at a round-trip pace: the backed-off IO thread offers to poll beside the
   * guest (two pollers, --io-token=on), never does (one thread polls, as a C busy loop does:
   * --io-token=solo), or does whichever served more frames on this machine (--io-token=auto,
   * host/io-thread/poller-choice.ts). docs/tuning.md, the IO token.
   */
  tokenPollers: TokenPollers;
  /**
   * The CPUs the tender counts on: --cpus, else those it may run on (its affinity,
   * os.availableParallelism()). hybrid on one: one poller and no idle poll by default, and the
   * guest keeps the token (ONE_CPU; docs/tuning.md, "On one CPU").
   */
  cpus: number;
  /** How the IO thread reads its TAPs: through io_uring where the kernel allows it (auto), always, or read() per frame. */
  tapReads: TapReads;
  /** How the IO thread writes its TAPs: through io_uring where the kernel allows it (auto), always, or write() per frame. */
  tapWrites: TapWrites;
  suppress: boolean;
  stats: 'none' | 'summary' | 'live';
  statsJson?: string;
  /** With --stats-json: one JSON line per interval (the file becomes NDJSON). */
  statsIntervalS?: number;
  /** --pcap=FILE (nic null: every NIC) and --pcap:NAME=FILE. */
  pcap: { path: string; nic: string | null }[];
  pcapSnaplen: number;
  timeoutS?: number;
  /** Lock the process before the guest runs (issue 11); --sandbox=off only to debug a guest. */
  sandbox: boolean;
  app: string;
  appArgs: string[];
}

export const DEFAULTS = {
  mtu: 1500,
  memMb: 256,
  // At most: fewer where slots are large (defaultRingSlots).
  ringSlots: 512,
  pollBudget: 64,
  pollIdleUs: 50,
  pollIdleMaxUs: 500,
  pcapSnaplen: 65535,
  guestSpinUs: { poll: 50, event: 0, hybrid: 50, baseline: 0 } as Record<Mode, number>,
  // hybrid only: poll already keeps a core busy, event is the mode that never spins.
  guestSpinMaxUs: { poll: 0, event: 0, hybrid: 500, baseline: 0 } as Record<Mode, number>,
  guestSpinStallUs: 5000,
  guestTxCoalesce: true,
  guestSpinSliceUs: 20,
  ioBackoffMaxUs: BACKOFF_MAX_NS / 1000,
  /** hybrid: the IO token with one poller or two as measured (auto); off with --pcap (the capture has one writer, the IO thread). */
  ioToken: 'auto' as 'on' | 'solo' | 'auto' | 'off',
  tapReads: 'auto' as TapReads,
  tapWrites: 'auto' as TapWrites,
};

/**
 * hybrid's defaults where the tender may run on one CPU only (taskset, a one-vCPU machine):
 * two threads that poll there only take turns on it. The IO thread never polls beside the
 * guest (--io-token=solo: no trials of two pollers) nor after its own last frame (an idle poll
 * of 0: it gives the token back and sleeps at once). The guest's spin stays: its peer may run on
 * another CPU, where spinning saves the wake-up (docs/tuning.md, "On one CPU").
 */
export const ONE_CPU = { ioToken: 'solo' as const, pollIdleUs: 0, pollIdleMaxUs: 0 };

/** The most a ring's slots hold by default: see defaultRingSlots. */
export const RING_BYTES = 8 << 20;

/**
 * Slots per ring without --ring-slots: DEFAULTS.ringSlots, or fewer so the slots hold at most
 * RING_BYTES: --offload's 64 KiB slots get 64 (a relay of TCP super-frames through 512 of them
 * moved ~15% less, presumably each frame copied into a slot and out of it long after, out of
 * the cache: docs/tuning.md, "--ring-slots"); up to MTU 9000 without offloads it stays 512.
 */
export function defaultRingSlots(mtu: number, vnet: boolean): number {
  let slots = DEFAULTS.ringSlots;
  while (slots > 2 && slots * slotSizeFor(mtu, vnet) > RING_BYTES) slots /= 2;
  return slots;
}

/** native/uring_rx.cc; docs/tuning.md "Reading the TAP". */
export type TapReads = 'auto' | 'uring' | 'read';
/** With the IO token, who polls at a round-trip pace: --io-token=on (offer), solo, auto. */
export type TokenPollers = 'offer' | 'solo' | 'auto';
/** native/uring_rx.cc (the same ring per NIC); docs/tuning.md "Writing the TAP". */
export type TapWrites = 'auto' | 'uring' | 'write';

const NAME_RE = /^[A-Za-z0-9_]{1,31}$/;

export function parseMac(text: string): Uint8Array {
  const m = /^([0-9a-fA-F]{2})(?::([0-9a-fA-F]{2})){5}$/.test(text) ? text.split(':').map((x) => parseInt(x, 16)) : null;
  if (!m) throw new UsageError(`malformed MAC address '${text}' (expected six hex bytes like 02:00:00:00:00:01)`);
  if (m[0] & 1) throw new UsageError(`MAC address '${text}' is a multicast address`);
  return Uint8Array.from(m);
}

/** `--net:NAME=IFACE`, `--net-mac:NAME=MAC`, `--pcap:NAME=FILE` and `--offload:NAME` are taken out before yargs sees the rest. */
function extractNamed(argv: string[]): { rest: string[]; nets: Map<string, string>; macs: Map<string, string>; pcaps: Map<string, string>; offloads: Set<string> } {
  const nets = new Map<string, string>();
  const macs = new Map<string, string>();
  const pcaps = new Map<string, string>();
  const offloads = new Set<string>();
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--' || !a.startsWith('-')) break; // APP and its arguments follow
    const o = /^--offload:(.*)$/.exec(a);
    if (o) {
      if (!NAME_RE.test(o[1])) throw new UsageError(`malformed --offload:NAME: '${o[1]}' (letters, digits and _ only; no value)`);
      if (offloads.has(o[1])) throw new UsageError(`--offload:${o[1]} given twice`);
      offloads.add(o[1]);
      continue;
    }
    const m = /^--(net|net-mac|pcap):([^=]*)(?:=(.*))?$/.exec(a);
    if (!m) {
      // A bare --stats takes no value: it must not swallow the APP that follows it.
      rest.push(a === '--stats' ? '--stats=summary' : a);
      continue;
    }
    const [, kind, name] = m;
    let value = m[3];
    if (value === undefined) value = argv[++i];
    if (!NAME_RE.test(name)) throw new UsageError(`malformed --${kind}:NAME: '${name}' (letters, digits and _ only)`);
    if (!value) throw new UsageError(`--${kind}:${name} needs a value`);
    const map = kind === 'net' ? nets : kind === 'pcap' ? pcaps : macs;
    if (map.has(name)) throw new UsageError(`--${kind}:${name} given twice`);
    map.set(name, value);
  }
  return { rest: rest.concat(argv.slice(i)), nets, macs, pcaps, offloads };
}

export function buildParser(argv: string[]) {
  return yargs(argv)
    .scriptName('tender')
    .usage('Usage: $0 [--net=IFACE | --net:NAME=IFACE ...] [--shm=poll|event|hybrid] [options] [--] APP [APP_ARGS...]\n\nRuns APP (a JavaScript guest exporting main) with packet I/O on TAP interfaces.\nWithout --shm: the baseline, one synchronous trap per net call.')
    .parserConfiguration({ 'halt-at-non-option': true, 'camel-case-expansion': false })
    .option('net', { type: 'string', describe: 'TAP interface of the default NIC, named "service" (--net:NAME=IFACE for several)' })
    .option('net-mac', { type: 'string', describe: 'MAC of the default NIC (--net-mac:NAME=MAC for others); random, locally administered if unset' })
    .option('shm', { type: 'string', choices: ['poll', 'event', 'hybrid'], describe: 'drive I/O through shared-memory rings and an IO thread' })
    .option('mtu', { type: 'number', default: DEFAULTS.mtu, describe: 'MTU of every NIC' })
    .option('mem', { type: 'number', default: DEFAULTS.memMb, describe: 'guest memory limit in MB: its heap, and what the process may grow by for it (docs/reliability.md, Memory)' })
    .option('offload', { type: 'boolean', describe: 'virtio-net offloads on every NIC: checksum, TSO, USO, 64 KiB frames (--offload:NAME for one NIC)' })
    .option('ring-slots', { type: 'number', describe: 'slots per ring (a power of two; default 512, fewer where a slot is over 16 KiB: 64 with --offload)' })
    .option('poll-budget', { type: 'number', default: DEFAULTS.pollBudget, describe: 'frames moved per NIC per direction per IO round' })
    .option('poll-idle-us', { type: 'number', describe: `hybrid: keep polling this long after the last frame before sleeping (default ${DEFAULTS.pollIdleUs}; ${ONE_CPU.pollIdleUs} on one CPU)` })
    .option('poll-idle-max-us', { type: 'number', describe: `hybrid: the idle poll grows toward this while frames or kicks come within it, and drops back when they do not (default ${DEFAULTS.pollIdleMaxUs}; ${ONE_CPU.pollIdleMaxUs} on one CPU)` })
    .option('guest-spin-us', { type: 'number', describe: 'how long the guest spins before it sleeps in yield_until (default: poll 50, event 0, hybrid 50)' })
    .option('guest-spin-max-us', { type: 'number', describe: 'the guest spin grows toward this while wake-ups come within it, and drops back when one does not (default: hybrid 500; others: fixed at --guest-spin-us)' })
    .option('guest-spin-stall-us', { type: 'number', describe: `hybrid: a guest that has caught ${STALL_STREAK} waits spinning within the cap since it last slept spins through a pause up to this long instead of sleeping, for at most 1/${STALL_SHARE} of the time (default ${DEFAULTS.guestSpinStallUs}; 0: never)` })
    .option('guest-tx-coalesce', { type: 'string', choices: ['on', 'off'], describe: 'hybrid with the IO token: an answer (the first net_write after net_read_view) to a frame with more received frames behind it goes out with the answer to the last of them, one send per burst (default on)' })
    .option('guest-spin-slice-us', { type: 'number', describe: `hybrid with the IO token: a spinning guest looks at an empty TAP inside the addon for up to this long per round (default ${DEFAULTS.guestSpinSliceUs}; 0: one look per round, from JS)` })
    .option('io-backoff-max-us', { type: 'number', describe: `hybrid with the IO token: beside a guest that keeps up alone, the backed-off IO thread's sleep grows from ${BACKOFF_NS / 1000} µs toward this, no further than ${BACKOFF_FRAMES} frames take at its pace (default ${BACKOFF_MAX_NS / 1000}; ${BACKOFF_NS / 1000}: fixed); a guest that stops taking the token is taken over within it` })
    .option('io-token', { type: 'string', choices: ['on', 'solo', 'auto', 'off'], describe: `hybrid: a guest about to wait moves its own frames, holding the IO token, while the IO thread backs off; solo: and never polls beside it; auto: polls beside it only where that measured better, and leaves a relay without offloads to the IO thread (default ${DEFAULTS.ioToken}; ${ONE_CPU.ioToken} on one CPU; off with --pcap)` })
    .option('cpus', { type: 'number', describe: 'hybrid: the CPUs the tender counts on (default: those it may run on, its affinity; give 1 where a CPU quota allows one, e.g. docker --cpus=1): on one, one poller and no idle poll by default (docs/tuning.md, "On one CPU")' })
    .option('tap-reads', { type: 'string', choices: ['auto', 'uring', 'read'], default: DEFAULTS.tapReads, describe: 'shm modes: the IO thread reads the TAP in batches through io_uring (uring; auto: where the kernel allows it) or with one read() per frame' })
    .option('tap-writes', { type: 'string', choices: ['auto', 'uring', 'write'], default: DEFAULTS.tapWrites, describe: 'shm modes: the IO thread writes the TAP in batches through io_uring (uring; auto: where the kernel allows it) or with one write() per frame' })
    .option('suppress', { type: 'boolean', default: true, describe: 'notification suppression (--no-suppress: kick on every write/flush)' })
    .option('stats', { type: 'string', describe: 'print a summary at exit (--stats) or a live line each second (--stats=live)' })
    .option('stats-json', { type: 'string', describe: 'write the counters to FILE as JSON at exit' })
    .option('stats-interval', { type: 'number', describe: 'with --stats-json: also a JSON line every S seconds (the file becomes NDJSON)' })
    .option('pcap', { type: 'string', describe: 'capture every NIC to FILE (pcapng; a FIFO works); --pcap:NAME=FILE for one NIC' })
    .option('pcap-snaplen', { type: 'number', describe: `bytes of each frame kept in the capture (default ${DEFAULTS.pcapSnaplen})` })
    .option('timeout', { type: 'number', describe: 'stop the guest after this many seconds (exit 124)' })
    .option('sandbox', { type: 'string', choices: ['on', 'off'], default: 'on', describe: 'drop privileges and lock the process (seccomp) before the guest runs; off: to debug a guest only' })
    .example('$0 --net=tap100 --shm=poll examples/ping_serve.js --ip=10.0.0.2', 'answer ping on tap100 with a polling IO thread')
    .epilogue('Exit codes: the guest\'s status; 64 usage; 69 device unavailable; 77 permission; 71 guest crashed; 72 guest fault; 73 guest out of memory; 74 device fault; 124 timeout; 130/143 SIGINT/SIGTERM. See README.')
    .help()
    .version(false)
    .strict()
    .wrap(Math.min(110, process.stdout.columns || 100));
}

function intIn(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new UsageError(`--${name} must be an integer from ${lo} to ${hi} (got ${v})`);
  return v;
}

/**
 * Parses argv (without node and script); returns null when --help was printed. affinity: the
 * CPUs the tender may run on, what it counts on unless --cpus says otherwise (a parameter, so
 * that a test can ask for one).
 */
export async function parseArgs(argv: string[], affinity = availableParallelism()): Promise<TenderOptions | null> {
  const { rest, nets, macs, pcaps, offloads } = extractNamed(argv);
  let helped = false;
  let failure: string | undefined;
  const parser = buildParser(rest)
    .exitProcess(false)
    .fail((msg, err) => {
      failure = msg ?? err?.message ?? 'bad arguments';
    });
  const a = (await parser.parse(rest, {}, (err, _parsed, output) => {
    if (output && !err) {
      helped = true;
      process.stdout.write(output + '\n');
    }
  })) as Record<string, unknown>;
  if (helped) return null;
  if (failure) throw new UsageError(failure.replace(/\s*\n\s*/g, ' ').trim());

  if (typeof a.net === 'string') {
    if (nets.has('service')) throw new UsageError('--net and --net:service name the same NIC');
    nets.set('service', a.net);
  }
  if (typeof a['net-mac'] === 'string') macs.set('service', a['net-mac']);
  const nics: NicOption[] = [];
  for (const [name, iface] of nets) {
    if (!/^[^/\s]{1,15}$/.test(iface)) throw new UsageError(`malformed interface name '${iface}' for NIC ${name}`);
    nics.push({ name, iface, mac: macs.has(name) ? parseMac(macs.get(name)!) : undefined, offload: a.offload === true || offloads.has(name) });
  }
  for (const name of macs.keys()) if (!nets.has(name)) throw new UsageError(`--net-mac given for NIC '${name}', which has no --net`);
  for (const name of offloads) if (!nets.has(name)) throw new UsageError(`--offload given for NIC '${name}', which has no --net`);
  if (nics.length > 32) throw new UsageError('at most 32 NICs');

  const positional = (a._ as (string | number)[]).map(String);
  if (positional[0] === '--') positional.shift();
  const app = positional[0];
  if (!app) throw new UsageError('missing APP (the guest program to run)');

  const mode = (a.shm as Mode | undefined) ?? 'baseline';
  const slotsGiven = a['ring-slots'] as number | undefined;
  const ringSlots = slotsGiven === undefined ? undefined : intIn('ring-slots', slotsGiven, 2, 65536);
  if (ringSlots !== undefined && ringSlots & (ringSlots - 1)) throw new UsageError(`--ring-slots must be a power of two (got ${ringSlots})`);
  const mtu = intIn('mtu', a.mtu as number, 68, 65535);
  if (nics.length > 0) {
    try {
      computeLayout(nics.map((n) => ({ mtu, slotCount: ringSlots ?? defaultRingSlots(mtu, n.offload), vnet: n.offload })));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const statsArg = a.stats as string | undefined;
  let stats: TenderOptions['stats'] = 'none';
  if (statsArg !== undefined) {
    if (statsArg === '' || statsArg === 'summary') stats = 'summary';
    else if (statsArg === 'live') stats = 'live';
    else throw new UsageError(`--stats takes no value or 'live' (got '${statsArg}')`);
  }
  const pcap = parsePcap(a.pcap, pcaps, nets, a['stats-json'] as string | undefined);
  if (a['pcap-snaplen'] !== undefined && pcap.length === 0) throw new UsageError('--pcap-snaplen needs --pcap');
  const interval = a['stats-interval'] as number | undefined;
  if (interval !== undefined) {
    if (a['stats-json'] === undefined) throw new UsageError('--stats-interval needs --stats-json=FILE (the lines go there)');
    if (!(interval >= 0.1 && interval <= 86400)) throw new UsageError(`--stats-interval must be from 0.1 to 86400 seconds (got ${interval})`);
  }
  const ioTokenGiven = a['io-token'] as 'on' | 'solo' | 'auto' | 'off' | undefined;
  if (ioTokenGiven !== undefined && mode !== 'hybrid') throw new UsageError('--io-token applies to --shm=hybrid only');
  if (ioTokenGiven !== undefined && ioTokenGiven !== 'off' && pcap.length > 0) throw new UsageError(`--io-token=${ioTokenGiven} and --pcap cannot be combined (the capture has one writer, the IO thread)`);
  const cpusGiven = a.cpus as number | undefined;
  if (cpusGiven !== undefined && mode !== 'hybrid') throw new UsageError('--cpus applies to --shm=hybrid only');
  const cpus = cpusGiven === undefined ? affinity : intIn('cpus', cpusGiven, 1, 4096);
  const oneCpu = mode === 'hybrid' && cpus === 1;
  const ioTokenArg = ioTokenGiven ?? (pcap.length > 0 ? 'off' : oneCpu ? ONE_CPU.ioToken : DEFAULTS.ioToken);
  const idleArg = a['poll-idle-us'] as number | undefined;
  const pollIdleUs = idleArg === undefined ? (oneCpu ? ONE_CPU.pollIdleUs : DEFAULTS.pollIdleUs) : intIn('poll-idle-us', idleArg, 0, 10_000_000);
  const idleMaxArg = a['poll-idle-max-us'] as number | undefined;
  const pollIdleMaxUs = idleMaxArg === undefined ? Math.max(pollIdleUs, oneCpu ? ONE_CPU.pollIdleMaxUs : DEFAULTS.pollIdleMaxUs) : intIn('poll-idle-max-us', idleMaxArg, 0, 10_000_000);
  if (pollIdleMaxUs < pollIdleUs) throw new UsageError(`--poll-idle-max-us (${pollIdleMaxUs}) must be at least --poll-idle-us (${pollIdleUs})`);
  const guestSpinUs = a['guest-spin-us'] === undefined ? DEFAULTS.guestSpinUs[mode] : intIn('guest-spin-us', a['guest-spin-us'] as number, 0, 10_000_000);
  const spinMaxArg = a['guest-spin-max-us'] as number | undefined;
  const guestSpinMaxUs = spinMaxArg === undefined ? Math.max(guestSpinUs, DEFAULTS.guestSpinMaxUs[mode]) : intIn('guest-spin-max-us', spinMaxArg, 0, 10_000_000);
  if (guestSpinMaxUs < guestSpinUs) throw new UsageError(`--guest-spin-max-us (${guestSpinMaxUs}) must be at least --guest-spin-us (${guestSpinUs})`);
  const stallGiven = a['guest-spin-stall-us'] as number | undefined;
  if (stallGiven !== undefined && mode !== 'hybrid') throw new UsageError('--guest-spin-stall-us applies to --shm=hybrid only');
  const guestSpinStallUs = mode !== 'hybrid' ? 0 : stallGiven === undefined ? DEFAULTS.guestSpinStallUs : intIn('guest-spin-stall-us', stallGiven, 0, 1_000_000);
  const coalesceGiven = a['guest-tx-coalesce'] as 'on' | 'off' | undefined;
  if (coalesceGiven !== undefined && mode !== 'hybrid') throw new UsageError('--guest-tx-coalesce applies to --shm=hybrid only');
  const guestTxCoalesce = mode === 'hybrid' && (coalesceGiven === undefined ? DEFAULTS.guestTxCoalesce : coalesceGiven === 'on');
  const sliceGiven = a['guest-spin-slice-us'] as number | undefined;
  if (sliceGiven !== undefined && mode !== 'hybrid') throw new UsageError('--guest-spin-slice-us applies to --shm=hybrid only');
  const guestSpinSliceUs = sliceGiven === undefined ? DEFAULTS.guestSpinSliceUs : intIn('guest-spin-slice-us', sliceGiven, 0, 1000);
  const backoffGiven = a['io-backoff-max-us'] as number | undefined;
  if (backoffGiven !== undefined && mode !== 'hybrid') throw new UsageError('--io-backoff-max-us applies to --shm=hybrid only');
  const ioBackoffMaxUs = backoffGiven === undefined ? DEFAULTS.ioBackoffMaxUs : intIn('io-backoff-max-us', backoffGiven, BACKOFF_NS / 1000, 1_000_000);
  const timeout = a.timeout as number | undefined;
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  return {
    mode,
    nics,
    mtu,
    memMb: intIn('mem', a.mem as number, 16, 65536),
    ringSlots,
    pollBudget: intIn('poll-budget', a['poll-budget'] as number, 1, 65536),
    pollIdleUs,
    pollIdleMaxUs,
    guestSpinUs,
    guestSpinMaxUs,
    guestSpinStallUs,
    guestTxCoalesce,
    guestSpinSliceUs,
    ioBackoffMaxUs,
    ioToken: mode === 'hybrid' && ioTokenArg !== 'off',
    tokenPollers: ioTokenArg === 'solo' || ioTokenArg === 'auto' ? ioTokenArg : 'offer',
    cpus,
    tapReads: a['tap-reads'] as TapReads,
    tapWrites: a['tap-writes'] as TapWrites,
    suppress: a.suppress as boolean,
    stats,
    statsJson: a['stats-json'] as string | undefined,
    statsIntervalS: interval,
    pcap,
    pcapSnaplen: a['pcap-snaplen'] === undefined ? DEFAULTS.pcapSnaplen : intIn('pcap-snaplen', a['pcap-snaplen'] as number, 14, 262144),
    timeoutS: timeout,
    sandbox: a.sandbox !== 'off',
    app,
    appArgs: positional.slice(1),
  };
}

/** --pcap=FILE and --pcap:NAME=FILE: each NAME a NIC, no file named twice (nor the stats file). */
function parsePcap(all: unknown, named: Map<string, string>, nets: Map<string, string>, statsJson: string | undefined): TenderOptions['pcap'] {
  if (Array.isArray(all)) throw new UsageError('--pcap given twice (use --pcap:NAME=FILE for one NIC)');
  const out: TenderOptions['pcap'] = [];
  if (typeof all === 'string') {
    if (!all) throw new UsageError('--pcap needs a FILE');
    out.push({ path: all, nic: null });
  }
  for (const [name, path] of named) {
    if (!nets.has(name)) throw new UsageError(`--pcap given for NIC '${name}', which has no --net`);
    out.push({ path, nic: name });
  }
  const seen = new Set(statsJson ? [resolve(statsJson)] : []);
  for (const p of out) {
    if (seen.has(resolve(p.path))) throw new UsageError(`${p.path} is named by two output options`);
    seen.add(resolve(p.path));
  }
  return out;
}
