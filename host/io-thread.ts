// Entry point of the IO thread (a worker_threads worker): runs the loop, reports how it ended.
import { parentPort, workerData } from 'node:worker_threads';
import { IoLoop, type IoConfig } from './io-loop.js';

const loop = new IoLoop(workerData as IoConfig);
parentPort!.postMessage({ type: 'ready' });
const exit = loop.run();
parentPort!.postMessage({ type: 'exit', exit });
