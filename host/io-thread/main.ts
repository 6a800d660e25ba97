// Entry point of the IO thread (a worker_threads worker): runs the loop, reports how it ended.
import { parentPort, workerData } from 'node:worker_threads';
import { Pump, type IoConfig } from './pump.js';

const loop = new Pump(workerData as IoConfig);
parentPort!.postMessage({ type: 'ready' });
const exit = loop.run();
parentPort!.postMessage({ type: 'exit', exit });
