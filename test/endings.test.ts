// Which ending a run reports when the guest's side and the IO thread both have one: the IO
// thread's fault or failure wins over a guest that ended on its own (its status, a closed
// console), and over nothing else. No TAPs needed; test/robustness.test.ts has it end to end.
import { describe, expect, it } from 'vitest';
import { describeEnding, finalEnding, type Ending } from '../host/endings.js';

const stopped = { kind: 'stopped' } as const;
const guestFault = { kind: 'guest-fault', detail: 'nic 0 tx ring: producer index 600 is not within 512 slots of consumer index 0 (seen by the IO thread)' } as const;
const deviceFault: Ending = { kind: 'device-fault', detail: 'tap0: deleted' };
const internal: Ending = { kind: 'internal', detail: 'the IO thread did not stop' };

describe('the ending of a run', () => {
  const onItsOwn: Ending[] = [{ kind: 'guest-status', status: 0 }, { kind: 'guest-status', status: 3 }, { kind: 'console-closed', why: 'EPIPE' }, { kind: 'console-closed', why: 'ECONNRESET' }];
  const theReason: Ending[] = [
    { kind: 'guest-crash', detail: 'boom' }, { kind: 'guest-fault', detail: 'nic 0 rx ring: …' }, { kind: 'guest-oom' },
    { kind: 'timeout', seconds: 5 }, { kind: 'signal', signal: 'SIGTERM' }, deviceFault, internal,
  ];

  it('a guest that ended on its own ends as the IO thread\'s fault or failure, if it had one', () => {
    for (const g of onItsOwn) {
      expect(finalEnding(g, stopped)).toBe(g);
      for (const io of [guestFault, deviceFault, internal]) expect(finalEnding(g, io)).toBe(io);
    }
    const r = finalEnding({ kind: 'console-closed', why: 'EPIPE' }, guestFault);
    expect(describeEnding(r)).toEqual({ code: 72, line: `guest fault: ${guestFault.detail}` });
    expect(describeEnding(finalEnding({ kind: 'console-closed', why: 'EPIPE' }, deviceFault)).code).toBe(74);
    expect(describeEnding(finalEnding({ kind: 'console-closed', why: 'EPIPE' }, stopped)).code).toBe(141);
  });

  it('any other ending of the guest is why the run ended, and stands', () => {
    for (const g of theReason) for (const io of [stopped, guestFault, deviceFault, internal]) expect(finalEnding(g, io)).toBe(g);
  });
});
