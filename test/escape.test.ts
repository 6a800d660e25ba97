// Containment (issue 11): the tender runs as root, the guest tries every way out, and each try
// gets its own specific refusal; the tender stays up and exits with the guest's own status;
// the file system, the process table and the network show nothing done. Every mode.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, createNetns, netnsExists, skipReal, TENDER, type Netns } from '../testbed/netns.js';
import { threadpoolSize } from '../host/threadpool.js';
import { pidsIn } from '../testbed/process.js';
import { EXAMPLE, FIXTURE, modeArgs, readStats, runTender, startTender, statsPath, waitForLine } from '../testbed/tender.js';

const MODES = ['baseline', 'poll', 'event', 'hybrid'] as const;
const PORT = 9911;
const NOBODY = () => Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));

type Want = { refused: string; message?: RegExp };
const eperm = (message?: RegExp): Want => ({ refused: 'EPERM', message });
const js = (message: RegExp): Want => ({ refused: 'no code', message }); // the in-process layer
/** What each try in test/fixtures/escape_all.js must get, line by line. */
const EXPECTED = (uid: number): Record<string, Want> => ({
  'top-level: fs.writeFileSync': eperm(/^EPERM: operation not permitted, open '\/tmp\/shmtender-escape-top-\d+'$/),
  'fs: write under /tmp': eperm(/^EPERM: operation not permitted, open '\/tmp\/shmtender-escape-/),
  'fs: read /etc/shadow': eperm(/^EPERM: operation not permitted, open '\/etc\/shadow'$/),
  'fs: read /proc/self/mem': eperm(/^EPERM: operation not permitted, open '\/proc\/self\/mem'$/),
  'fs: read /proc/self/environ': eperm(/^EPERM: operation not permitted, open '\/proc\/self\/environ'$/),
  'fs: stat /etc/shadow': eperm(/^EPERM: operation not permitted, stat '\/etc\/shadow'$/),
  'fs: readdir /': eperm(/^EPERM: operation not permitted, scandir '\/'$/),
  'fs/promises: read /etc/passwd (threadpool)': eperm(/^EPERM: operation not permitted, open '\/etc\/passwd'$/),
  'fs: write to every open regular file (the output files and the memory watch file)': eperm(/^3 fds: EPERM 3$/), // --stats-json, --pcap, /proc/self/status (host/memory-watch.ts)
  'fs: write into every pipe (libuv signal pipes)': eperm(/^\d+ fds: EPERM \d+$/),
  'fs: read from every pipe': eperm(/^\d+ fds: EPERM \d+$/),
  'fs (threadpool): write into every pipe': eperm(/^\d+ fds: EPERM \d+$/),
  // Its own loop's wake-up it may read (EAGAIN, or 'read' when one was pending); epolls and rings
  // give EINVAL; every other thread's eventfd (the main loop's, the IO thread's, the kicks, the
  // tender's stop) is refused. Before, those gave EAGAIN, or a count swallowed.
  "fs: read every eventfd (all but its own loop's)": { refused: 'tally', message: /^(EAGAIN 1, EINVAL \d+, EPERM [1-9]\d*|EINVAL \d+, EPERM [1-9]\d*, read 1)$/ },
  // A threadpool thread has no loop: every eventfd refused.
  'fs (threadpool): read every eventfd': { refused: 'tally', message: /^EINVAL \d+, EPERM [1-9]\d*$/ },
  'fs: close every fd': eperm(/^\d+ fds: EPERM \d+$/),
  'module hooks of its own (another thread): write into every pipe': eperm(/^EPERM: operation not permitted, write$/),
  'addon: epoll_ctl on every epoll and eventfd': { refused: 'ENOENT+EPERM', message: /^\d+ fds: ENOENT 1, EPERM \d+$/ }, // ENOENT: its own loop
  'addon: protectedWrite to every open regular file': eperm(/^3 fds: EPERM 3$/), // the same three
  'addon: make every fd blocking (fcntl)': eperm(/^\d+ fds: EPERM \d+$/),
  'child_process: execSync': eperm(/^spawnSync \/bin\/sh EPERM$/),
  'child_process: spawn': eperm(/^spawn EPERM$/),
  'worker_threads: new Worker (eval)': { refused: 'ERR_WORKER_INIT_FAILED', message: /^EPERM$/ },
  'worker_threads: new Worker (data: URL)': { refused: 'ERR_WORKER_INIT_FAILED', message: /^EPERM$/ },
  'process.kill the parent': js(/^the guest has no access to process\.kill$/),
  'process._kill the parent (below the JS layer)': eperm(/^errno -1$/),
  'process._kill the tender itself (SIGKILL)': eperm(/^errno -1$/),
  'process.setuid(0)': js(/^the guest has no access to process\.setuid$/),
  'process.getuid()': { refused: 'not asked', message: new RegExp(`^uid ${uid}$`) },
  'process.env': { refused: 'not asked', message: /^0 variables$/ },
  'net: connect 127.0.0.1': eperm(new RegExp(`^connect EPERM 127\\.0\\.0\\.1:${PORT}`)),
  'dgram: send to 127.0.0.1': eperm(/^bind EPERM 0\.0\.0\.0$/),
  'http: get 127.0.0.1': eperm(new RegExp(`^connect EPERM 127\\.0\\.0\\.1:${PORT}`)),
  'fetch 127.0.0.1': eperm(/^fetch failed$/),
  'os.networkInterfaces': { refused: 'ERR_SYSTEM_ERROR', message: /uv_interface_addresses returned Unknown system error 1 / },
  'module: createRequire, require fs, write': eperm(/^EPERM: operation not permitted, open '\/tmp\/shmtender-escape-/),
  'module: createRequire, require the addon': { refused: 'no lock functions', message: /none of the lock's$/ },
  'import node:fs': js(/^the guest has no access to 'node:fs'/),
  "import the tender's addon wrapper": js(/^the guest has no access to the tender's own module '..\/..\/dist\/native\/index.js'/),
  "import the tender's IO thread": js(/^the guest has no access to the tender's own module/),
  'import() of a data: URL importing node:fs': js(/^the guest has no access to 'node:fs'/),
  'import() of a data: URL using getBuiltinModule': eperm(/^EPERM: operation not permitted, open '\/tmp\/shmtender-escape-/),
  'process.binding': js(/^the guest has no access to process\.binding$/),
  'process.dlopen': js(/^the guest has no access to process\.dlopen$/),
  'inspector: connectToMainThread': js(/^the guest has no access to the inspector$/),
  'inspector: open': js(/^the guest has no access to the inspector$/),
  'vm: runInThisContext reaching fs': eperm(/^EPERM: operation not permitted, open '\/tmp\/shmtender-escape-/),
  'vm: a timeout (a watchdog thread)': js(/^vm timeouts are not available to the guest/),
});

const LISTENER = `
const net = require('net'), dgram = require('dgram');
net.createServer((c) => { console.log('tcp connection'); c.destroy(); }).listen(${PORT}, '127.0.0.1', () => console.log('listening tcp'));
dgram.createSocket('udp4').on('message', () => console.log('udp datagram')).bind(${PORT}, '127.0.0.1', () => console.log('listening udp'));
`;

const topMarks = () => readdirSync('/tmp').filter((f) => f.startsWith('shmtender-escape-top-'));

describe.skipIf(skipReal())('containment: a guest trying every way out, the tender as root', () => {
  let ns: Netns;
  let listener: ReturnType<Netns['spawn']>;
  let heard = '';
  beforeAll(async () => {
    ns = createNetns({ taps: 1 });
    // Whatever reaches 127.0.0.1 in the tender's namespace is printed here.
    listener = ns.spawn('node', ['-e', LISTENER]);
    listener.stdout!.on('data', (d) => (heard += d));
    for (let i = 0; i < 100 && !/listening tcp[\s\S]*listening udp|listening udp[\s\S]*listening tcp/.test(heard); i++) await new Promise((r) => setTimeout(r, 50));
    expect(heard).toMatch(/listening udp/);
  });
  afterAll(() => {
    listener?.kill('SIGKILL');
    ns?.destroy();
    expect(netnsExists(ns.name)).toBe(false);
  });

  for (const mode of MODES) {
    it(`${mode}: every try is refused with its own error; the tender exits 5 (the guest's status), nothing was done, its files are intact`, async () => {
      const mark = `/tmp/shmtender-escape-${process.pid}-${mode}`;
      const stats = statsPath();
      const pcap = `${stats}.pcapng`;
      const before = topMarks();
      // The tender's parent is a shell, which the guest tries to kill: it must live to pass on the 5.
      const r = await collect(ns.spawn('sh', ['-c', 'node "$@"; exit $?', 'sh', TENDER, '--net=tap0', ...modeArgs(mode), `--stats-json=${stats}`, `--pcap=${pcap}`,
        FIXTURE('escape_all.js'), `--mark=${mark}`, `--port=${PORT}`]), 60_000);
      expect(r.signal).toBeNull();
      expect(r.code, r.stderr).toBe(5);
      const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, { refused?: string; message?: string; allowed?: string }>;
      const want = EXPECTED(NOBODY());
      for (const [what, w] of Object.entries(want)) {
        expect(got[what], what).toBeDefined();
        expect(got[what].allowed, `${what} was allowed`).toBeUndefined();
        expect(got[what].refused, what).toBe(w.refused);
        if (w.message) expect(got[what].message, what).toMatch(w.message);
      }
      expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());

      // Nothing done: no file, no process, nothing heard on 127.0.0.1.
      for (const f of [mark, `${mark}.exec`, `${mark}.spawn`, `${mark}.data`]) expect(existsSync(f), f).toBe(false);
      expect(topMarks()).toEqual(before);
      expect(pidsIn(ns)).toEqual([listener.pid]);
      expect(heard).not.toMatch(/tcp connection|udp datagram/);
      // The stats file, which the guest tried to write over and close, holds the tender's JSON.
      const s = readStats(stats);
      expect(s.mode).toBe(mode);
      expect(s.exit_code).toBe(5);
      // So does the capture: a pcapng file (section header block first) that tshark reads.
      expect(readFileSync(pcap).readUInt32LE(0)).toBe(0x0a0d0d0a);
      execFileSync('tshark', ['-r', pcap], { stdio: 'ignore' });
      rmSync(pcap);
    });
  }

  for (const mode of MODES) {
    it(`${mode}: while the guest runs, every thread of the tender is nobody, without capabilities, under the filter`, async () => {
      const t = startTender(ns, ['--net=tap0', ...modeArgs(mode), EXAMPLE('ping_serve.js')]);
      const done = collect(t, 30_000);
      try {
        await waitForLine(t, /ping_serve: answering/);
        checkThreads(t.pid!, mode);
      } finally {
        t.kill('SIGTERM');
      }
      const r = await done;
      expect(r.code).toBe(143);
    });
  }

  /**
   * From /proc, as the kernel sees them: every thread of the tender locked, as `uid`, without
   * capabilities. `deaf` threads (blocking every signal, so a non-root tender cannot ask them
   * to drop capabilities) may keep them: at most one, Node's SIGUSR1 watcher.
   */
  function checkThreads(pid: number, mode: string, uid = NOBODY(), deafMayKeepCaps = false): void {
    const tasks = readdirSync(`/proc/${pid}/task`);
    expect(tasks.length).toBeGreaterThanOrEqual(mode === 'baseline' ? 8 : 9); // main, V8's, libuv's, guest (+ IO)
    const stacked: number[] = [];
    let deafWithCaps = 0;
    for (const tid of tasks) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)![1];
      expect(field('Seccomp'), `thread ${tid}`).toBe('2'); // filter mode
      expect(field('NoNewPrivs'), `thread ${tid}`).toBe('1');
      expect(field('Uid').split(/\s+/).map(Number), `thread ${tid}`).toEqual([uid, uid, uid, uid]);
      expect(field('Groups'), `thread ${tid}`).toBe('');
      const caps = ['CapInh', 'CapPrm', 'CapEff', 'CapAmb'].map((c) => BigInt(`0x${field(c)}`));
      const deaf = BigInt(`0x${field('SigBlk')}`) >= 0xfffffffe7ffbfeffn;
      if (deafMayKeepCaps && deaf && caps.some((c) => c !== 0n)) deafWithCaps++;
      else expect(caps, `thread ${tid} capabilities`).toEqual([0n, 0n, 0n, 0n]);
      stacked.push(Number(/^Seccomp_filters:[ \t]*(\d+)$/m.exec(status)?.[1] ?? NaN));
    }
    expect(deafWithCaps).toBeLessThanOrEqual(1);
    // The guest's thread, the module hooks thread and libuv's threadpool threads carry the
    // guest filter on top of the process filter (the field is there from Linux 5.9).
    if (!stacked.some(Number.isNaN)) expect(stacked.filter((n) => n === 2).length).toBe(2 + threadpoolSize());
  }

  /** ping_serve in hybrid started through `setpriv` with `privs`: every thread checked while it answers, then SIGTERM (143). */
  async function checkedUnder(privs: string[]): Promise<void> {
    const t = ns.spawn('setpriv', [...privs, 'node', TENDER, '--net=tap0', '--shm=hybrid', EXAMPLE('ping_serve.js')]);
    const done = collect(t, 30_000);
    try {
      await waitForLine(t, /ping_serve: answering/);
      checkThreads(t.pid!, 'hybrid', NOBODY(), true);
    } finally {
      t.kill('SIGTERM');
    }
    expect((await done).code).toBe(143);
  }

  it('started as root with an inheritable capability (as some container runtimes start a process), the tender clears it too and runs the guest as nobody', async () => {
    // Leaving uid 0 clears the permitted, effective and ambient sets, not the inheritable one:
    // the check after the drop refused it, and the run ended 70.
    await checkedUnder(['--inh-caps=+net_admin']);
  });

  it('started without root but with capabilities, the tender drops them on every thread it can ask', async () => {
    // CAP_DAC_OVERRIDE as well, for a /dev/net/tun that only root may open.
    await checkedUnder(['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=+net_admin,+dac_override', '--ambient-caps=+net_admin,+dac_override']);
  });

  // The io_uring rings (docs/reliability.md, containment 4): the guest's thread may enter the
  // ring it opened for the IO token and no other, the IO thread's least of all.
  for (const token of ['auto', 'off']) {
    it(`hybrid --io-token=${token}: the guest's thread may enter ${token === 'off' ? 'no io_uring ring (it has none)' : 'its own io_uring ring'}; the IO thread's ring and every other fd refuse it (EPERM)`, async () => {
      const t = startTender(ns, ['--net=tap0', '--shm=hybrid', `--io-token=${token}`, '--tap-reads=uring', '--tap-writes=uring', FIXTURE('uring_probe.js')]);
      let out = '';
      t.stdout!.on('data', (d) => (out += d));
      const done = collect(t, 30_000);
      try {
        await waitForLine(t, /uring_probe: \{.*\}\n/);
        const probe = JSON.parse(/uring_probe: (\{.*\})/.exec(out)![1]) as Record<string, number>;
        const rings = readdirSync(`/proc/${t.pid}/fd`).filter((fd) => {
          try {
            return readlinkSync(`/proc/${t.pid}/fd/${fd}`) === 'anon_inode:[io_uring]';
          } catch {
            return false;
          }
        });
        console.log(`--io-token=${token}: rings ${rings.join()}, probe ${JSON.stringify(probe)}`);
        // One ring per NIC for the IO thread, and one more for the guest's thread with the token.
        expect(rings.length).toBe(token === 'off' ? 1 : 2);
        const entered = Object.keys(probe).filter((fd) => probe[fd] === 0);
        expect(entered.length).toBe(token === 'off' ? 0 : 1);
        for (const fd of entered) expect(rings).toContain(fd);
        // Every other fd the filter answers, before the kernel could say it is no ring (EOPNOTSUPP).
        for (const [fd, rc] of Object.entries(probe)) if (!entered.includes(fd)) expect(rc, `fd ${fd}`).toBe(-1);
        for (const fd of rings) if (!entered.includes(fd)) expect(probe[fd], `the IO thread's ring, fd ${fd}`).toBe(-1);
      } finally {
        t.kill('SIGTERM');
      }
      expect((await done).code).toBe(143);
    });
  }

  it('a guest runs as nobody with an empty environment; --sandbox=off says so loudly first and runs it as root', async () => {
    const on = await runTender(ns, ['--net=tap0', FIXTURE('whoami.js')]);
    expect(on.code).toBe(0);
    expect(on.stdout.trim()).toBe(`uid ${NOBODY()} gid ${Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }))} env 0`);
    expect(on.stderr).toBe('');
    const off = await runTender(ns, ['--net=tap0', '--sandbox=off', '--shm=event', FIXTURE('whoami.js')]);
    expect(off.code).toBe(0);
    expect(off.stderr.split('\n')[0]).toMatch(/^tender: WARNING: --sandbox=off: the guest runs unconfined/);
    expect(off.stdout.trim()).toBe('uid 0 gid 0 env 0');
  });

  it('a file the tender inherited from whoever started it (fd 3) is closed before the guest runs: the guest cannot write it', async () => {
    const path = join(tmpdir(), `shmtender-inherited-${process.pid}`);
    const fd = openSync(path, 'w');
    try {
      const t = ns.spawn('node', [TENDER, '--net=tap0', FIXTURE('writes_every_file.js')], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      const r = await collect(t, 30_000);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('writes through: 0');
      expect(readFileSync(path, 'utf8')).toBe(''); // before: "guest was here"
    } finally {
      closeSync(fd);
      rmSync(path, { force: true });
    }
  });

  it('counters the guest writes in its own thread\'s section (a fraction, NaN, a negative, 1e300) read as 0: the run ends 0, the report and the capture file are whole', async () => {
    // Before: the capture's end (64-bit fields) threw on 0.5 frames, and the run ended 70.
    const stats = statsPath();
    const pcap = join(tmpdir(), `shmtender-counters-${process.pid}.pcapng`);
    try {
      const r = await runTender(ns, ['--net=tap0', '--shm=event', `--stats-json=${stats}`, `--pcap=${pcap}`, FIXTURE('writes_own_counters.js')]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('written');
      const s = readStats(stats);
      for (const v of [s.notifications.traps, s.nics[0].rx_frames, s.nics[0].rx_bytes, s.nics[0].tx_frames, s.nics[0].tx_bytes]) expect(Number.isSafeInteger(v) && v >= 0, String(v)).toBe(true);
      expect(readFileSync(pcap).readUInt32LE(0)).toBe(0x0a0d0d0a);
    } finally {
      rmSync(pcap, { force: true });
    }
  });

  it('messages the guest posts to the tender change nothing but how the guest ends', async () => {
    const run = (how: string) => runTender(ns, ['--net=tap0', '--shm=event', FIXTURE('forges_messages.js'), `--how=${how}`]);
    const unknown = await run('unknown');
    expect(unknown.code).toBe(72);
    expect(unknown.stderr.trim()).toBe('tender: guest fault: a message the tender does not take (write-stats)');
    const escapes = await run('escapes');
    expect(escapes.code).toBe(71);
    expect(escapes.stderr.trim()).toBe('tender: guest crashed: boom?[2J?]0;owned???31m?end'); // no control character reaches the terminal
    const status = await run('status');
    expect(status.code).toBe(72);
    expect(status.stderr.trim()).toBe('tender: guest fault: a message the tender does not take (exit)');
    const started = await run('started');
    expect(started.code).toBe(72);
    expect(started.stderr.trim()).toBe('tender: guest fault: a message the tender does not take (started)');
    const device = await run('device'); // before: exit 74, "device fault: tap0 deleted while in use"
    expect(device.code).toBe(72);
    expect(device.stderr.trim()).toBe('tender: guest fault: a device fault no TAP shows (tap0 deleted while in use)');
    const flood = await run('flood');
    expect(flood.code).toBe(72);
    expect(flood.stderr.trim()).toBe('tender: guest fault: more than 16 messages from the guest thread');
    const exit = await run('exit');
    expect(exit.code).toBe(9);
    expect(exit.stderr).toBe('');
  });
});
