// What top -H, ps -L and perf call the tender's threads (PR_SET_NAME; every thread of a Node
// process is "node" otherwise). The main thread keeps "node"; V8's and libuv's keep theirs.
export const THREAD_NAME = { io: 'shmt-io', guest: 'shmt-guest' } as const;
