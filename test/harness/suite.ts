// Set-up and tear-down that several test files share. These register vitest hooks, so they are
// called inside a describe (the tests' real-TAP suites), never by a harness process.
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { buildLimitPrograms } from '../../testbed/c/build.js';
import { createNetns, GUEST_MAC, type Netns } from '../../testbed/netns.js';
import { pidsIn } from '../../testbed/process.js';
import { relayTopology, type RelayTopology } from '../../testbed/relay.js';

type Ready = (ns: Netns, bin: Record<string, string>) => void;

/** One namespace with one TAP for the whole suite, and the C tools; `ready` gets both. */
export function netnsPerSuite(ready: Ready): void {
  let ns: Netns | undefined;
  beforeAll(() => {
    ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    ready(ns, buildLimitPrograms());
  });
  afterAll(() => ns?.destroy());
}

/**
 * A fresh namespace for each test (some tests delete or down the TAP); `ready` gets it before
 * the test. A tender, worker or peer still running in it afterwards fails the test.
 */
export function netnsPerTest(ready: Ready): void {
  let bin: Record<string, string>;
  beforeAll(() => {
    bin = buildLimitPrograms();
  });
  beforeEach(() => {
    const ns = createNetns({ taps: 1, guestMac: GUEST_MAC });
    ready(ns, bin);
    return () => {
      const left = pidsIn(ns);
      for (const pid of left) process.kill(pid, 'SIGKILL');
      ns.destroy(); // before the assertion, so a failure never leaks the namespace
      expect(left).toEqual([]);
    };
  });
}

/** The relay topology (testbed/relay.ts) for the whole suite: client 10.0.0.1, server 10.0.0.3, the TAPs in between. */
export function relayPerSuite(ready: (topo: RelayTopology) => void, tag?: string): void {
  let topo: RelayTopology | undefined;
  beforeAll(() => {
    topo = relayTopology(tag);
    ready(topo);
  });
  afterAll(() => topo?.destroy());
}

/** Kills with SIGKILL and awaits a child that still runs (nothing if null or gone). */
export async function killChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/** After each test, kills the child `current()` names if it still runs: a test that failed part-way must not leave its tender holding the TAPs for the next. */
export function killAfterEach(current: () => ChildProcess | null): void {
  afterEach(() => killChild(current()));
}
