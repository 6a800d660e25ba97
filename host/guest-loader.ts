// Module hooks for the guest thread: `shmtender/guest` resolves to the tender's own guest
// API module (the instance whose backend is installed) wherever APP lives; APP gets no Node
// built-ins that reach files, processes or the network, and none of the tender's own modules
// (the native addon among them) but the guest API.
//
// These hooks run on a thread of their own, where the guest can run code too (it may
// register hooks of its own): when the guest thread asks, after the lock, this thread stacks
// the guest filter on itself (native/seccomp.cc), as the guest's own thread does.
import type { MessagePort } from 'node:worker_threads';

interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<{ url: string; format?: string }>;

let guestApiUrl = '';
let tenderRoot = '';

const ALLOWED_BUILTINS = new Set(['buffer', 'util', 'crypto', 'events', 'string_decoder', 'timers', 'perf_hooks', 'assert']);

export interface LoaderData {
  guestApiUrl: string;
  tenderRoot: string;
  /** The guest thread's: answered 'locked', or why not, when it sends 'lock'. */
  lockPort?: MessagePort;
}

export async function initialize(data: LoaderData): Promise<void> {
  guestApiUrl = data.guestApiUrl;
  tenderRoot = data.tenderRoot;
  const port = data.lockPort;
  if (!port) return;
  const { addon } = await import('../native/index.js'); // now, while files can still be read
  port.once('message', () => {
    try {
      addon.guestFilter();
      port.postMessage('locked');
    } catch (err) {
      port.postMessage(`the module hooks thread: ${(err as Error).message}`);
    }
    port.close();
  });
}

// What was resolved while APP was loaded, before the lock: resolving a file again needs the
// file system, which the lock takes away, and the guest thread imports APP once more to run it.
const resolved = new Map<string, { url: string; format?: string }>();

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve) {
  if (specifier === 'shmtender/guest') return { url: guestApiUrl, shortCircuit: true };
  const key = /^(file|data):/.test(specifier) ? specifier : `${specifier}\0${context.parentURL ?? ''}`;
  const known = resolved.get(key);
  if (known) return { ...known, shortCircuit: true };
  const result = await check(specifier, context, next);
  resolved.set(key, result);
  return result;
}

async function check(specifier: string, context: ResolveContext, next: NextResolve): Promise<{ url: string; format?: string }> {
  const fromTender = context.parentURL?.startsWith(tenderRoot) ?? false;
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (!fromTender && (specifier.startsWith('node:') || isBuiltin(bare)) && !ALLOWED_BUILTINS.has(bare.split('/')[0])) {
    throw new Error(`the guest has no access to '${specifier}': it talks to the world through shmtender/guest only`);
  }
  const tenderOwn = (url: string) => !fromTender && url.startsWith(tenderRoot) && url !== guestApiUrl;
  const refuse = () => new Error(`the guest has no access to the tender's own module '${specifier}': import shmtender/guest`);
  // A path or URL is judged before it is looked up (after the lock the lookup itself fails).
  if (/^(\.{0,2}\/|file:)/.test(specifier) && context.parentURL && tenderOwn(new URL(specifier, context.parentURL).href)) throw refuse();
  const result = await next(specifier, context);
  if (tenderOwn(result.url)) throw refuse();
  return result;
}

const BUILTINS = new Set(['fs', 'fs/promises', 'child_process', 'net', 'dgram', 'http', 'https', 'http2', 'tls', 'os', 'worker_threads', 'cluster', 'module', 'vm', 'process', 'dns', 'inspector', 'v8', 'repl', 'readline', 'tty', 'wasi', 'path', 'url', 'stream', 'zlib']);
function isBuiltin(name: string): boolean {
  return BUILTINS.has(name) || BUILTINS.has(name.split('/')[0]);
}
