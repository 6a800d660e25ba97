// Every way a tender run can end, and for each its exit code and the one line it prints:
// the one table (README "Exit codes" is this table in prose). Everything that ends a run,
// at start-up or while running, is an Ending; only this module turns one into a code.

export type Ending =
  | { kind: 'guest-status'; status: number } // main returned, or the guest called exit()
  | { kind: 'usage'; detail: string }
  | { kind: 'output-file'; detail: string } // a --pcap/--stats-json file that cannot be opened
  | { kind: 'device-unavailable'; detail: string }
  | { kind: 'permission'; detail: string }
  | { kind: 'internal'; detail: string }
  | { kind: 'guest-crash'; detail: string }
  | { kind: 'guest-bad-app'; detail: string }
  | { kind: 'guest-fault'; detail: string }
  | { kind: 'guest-oom' }
  | { kind: 'console-closed'; why: 'EPIPE' | 'ECONNRESET' } // the guest wrote to a stdout or stderr whose reader had gone: the error its write met
  | { kind: 'device-fault'; detail: string }
  | { kind: 'timeout'; seconds: number }
  | { kind: 'signal'; signal: StopSignal };

/** The signals that stop a run the orderly way (guest stopped, TX drained, stats written). SIGHUP
 * too: a closed terminal or ssh session must not cut a run short and lose what it had queued. */
export const STOP_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];
/** 128 + the signal's number, as a shell reports a process killed by it. */
export const SIGNAL_CODE: Record<StopSignal, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

type Kind = Ending['kind'];
type Of<K extends Kind> = Extract<Ending, { kind: K }>;

const TABLE: { [K in Kind]: { code: number | ((e: Of<K>) => number); line: (e: Of<K>) => string | undefined } } = {
  'guest-status': { code: (e) => e.status, line: () => undefined },
  usage: { code: 64, line: (e) => `${e.detail} (see tender --help)` },
  'output-file': { code: 64, line: (e) => e.detail }, // a usage error, but --help would not help
  'device-unavailable': { code: 69, line: (e) => e.detail },
  permission: { code: 77, line: (e) => e.detail },
  internal: { code: 70, line: (e) => `internal error: ${e.detail}` },
  'guest-crash': { code: 71, line: (e) => `guest crashed: ${e.detail}` },
  'guest-bad-app': { code: 71, line: (e) => e.detail },
  'guest-fault': { code: 72, line: (e) => `guest fault: ${e.detail}` },
  'guest-oom': { code: 73, line: () => 'guest out of memory (raise --mem)' },
  // 128 + SIGPIPE, what a shell reports for a program that wrote to a pipe nobody reads.
  'console-closed': { code: 141, line: (e) => `console closed (${e.why}): its reader has gone; the guest was stopped, as SIGPIPE stops a program` },
  'device-fault': { code: 74, line: (e) => `device fault: ${e.detail}` },
  timeout: { code: 124, line: (e) => `guest stopped after --timeout=${e.seconds} s` },
  signal: { code: (e) => SIGNAL_CODE[e.signal], line: (e) => `stopped by ${e.signal}` },
};

/** The exit code of an ending and the line (without the `tender: ` prefix) it prints, if any. */
export function describeEnding(e: Ending): { code: number; line?: string } {
  const row = TABLE[e.kind] as { code: number | ((e: Ending) => number); line: (e: Ending) => string | undefined };
  return { code: typeof row.code === 'number' ? row.code : row.code(e), line: row.line(e) };
}

/**
 * How the run ends once the guest and then the IO thread have stopped. A guest that ended on
 * its own (its status, or stopped at a closed console) while the IO thread faulted or failed,
 * on frames the guest left behind and it met as it sent them at the stop, ends as that: the
 * exit code must not hide a broken ring or a lost TAP. Any other ending of the guest (a crash,
 * a fault, a signal, the timeout) is why the run ended, and stands.
 */
export function finalEnding(guest: Ending, io: { kind: 'stopped' } | Ending): Ending {
  const onItsOwn = guest.kind === 'guest-status' || guest.kind === 'console-closed';
  return onItsOwn && io.kind !== 'stopped' ? io : guest;
}

/** An ending raised as an error, at start-up (bad usage, a TAP that cannot be attached, ...). */
export class EndingError extends Error {
  constructor(readonly ending: Exclude<Ending, { kind: 'guest-status' | 'guest-oom' | 'console-closed' | 'timeout' | 'signal' }>) {
    super(ending.detail);
  }
}

/** Bad command line: exit 64 with one line. */
export class UsageError extends EndingError {
  constructor(detail: string) {
    super({ kind: 'usage', detail });
  }
}

/** How a TAP went away under a running tender, worded once. */
export function tapGone(iface: string, how: 'deleted' | 'down'): string {
  return how === 'deleted' ? `${iface}: the TAP device was deleted` : `${iface}: the TAP device was set down`;
}
