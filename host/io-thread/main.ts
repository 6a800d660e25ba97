// Entry point of the IO thread (a worker_threads worker): runs the loop, reports how it ended.
import { parentPort, workerData } from 'node:worker_threads';
import { addon } from '../../native/index.js';
import { THREAD_NAME } from '../thread-names.js';
import { Pump, type IoConfig } from './pump.js';

addon.setThreadName(THREAD_NAME.io);
const loop = new Pump(workerData as IoConfig);
parentPort!.postMessage({ type: 'ready' });
const exit = loop.run();
parentPort!.postMessage({ type: 'exit', exit });
