// The guest's module resolution in-process (no root): what APP may import. The escape suite
// (test/escape.test.ts) shows the process-level boundary behind it.
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initialize, resolve } from '../host/guest-loader.js';

const tenderRoot = 'file:///opt/shmtender/dist/';
const guestApiUrl = `${tenderRoot}guest-api/index.js`;
const app = pathToFileURL('/home/me/app.js').href;
const next = async (specifier: string) => ({ url: specifier.startsWith('file:') ? specifier : specifier.startsWith('.') ? new URL(specifier, app).href : `node:${specifier.replace(/^node:/, '')}` });

describe('guest module resolution', () => {
  void initialize({ guestApiUrl, tenderRoot });

  it('shmtender/guest is the tender’s own guest API, wherever APP lives', async () => {
    expect(await resolve('shmtender/guest', { parentURL: app }, next)).toMatchObject({ url: guestApiUrl, shortCircuit: true });
  });

  it('APP’s own modules and harmless built-ins resolve as usual', async () => {
    expect((await resolve('./lib/ether.js', { parentURL: app }, next)).url).toBe(pathToFileURL('/home/me/lib/ether.js').href);
    expect((await resolve('node:buffer', { parentURL: app }, next)).url).toBe('node:buffer');
    expect((await resolve('util', { parentURL: app }, next)).url).toBe('node:util');
  });

  for (const m of ['fs', 'node:fs/promises', 'child_process', 'net', 'dgram', 'worker_threads', 'module', 'vm', 'inspector', 'os']) {
    it(`${m} is refused to APP`, async () => {
      await expect(resolve(m, { parentURL: app }, next)).rejects.toThrow(/the guest has no access to/);
    });
  }

  it('the tender’s own modules are refused to APP but not to the tender', async () => {
    await expect(resolve(`${tenderRoot}native/index.js`, { parentURL: app }, next)).rejects.toThrow(/tender's own module/);
    expect((await resolve(`${tenderRoot}native/index.js`, { parentURL: `${tenderRoot}host/guest-thread.js` }, next)).url).toBe(`${tenderRoot}native/index.js`);
    expect((await resolve('node:fs', { parentURL: guestApiUrl }, next)).url).toBe('node:fs');
  });
});
