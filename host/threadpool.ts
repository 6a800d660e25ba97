// libuv's threadpool, which the guest filter must cover thread by thread (native/seccomp.cc).

/**
 * The size of libuv's threadpool, worked out from UV_THREADPOOL_SIZE as libuv does (atoi;
 * 0 means 1; at most 1024; 4 when unset). The pool started with Node, before any of our code.
 */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.UV_THREADPOOL_SIZE;
  if (v === undefined) return 4;
  const n = Number.parseInt(v.trim(), 10);
  if (Number.isNaN(n) || n === 0) return 1;
  return n < 0 || n > 1024 ? 1024 : n;
}
