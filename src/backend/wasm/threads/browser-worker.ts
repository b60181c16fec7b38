// The pool's worker in browsers (a module worker; Node runs workerMain's text instead): the
// first message carries the module, the shared memory and the worker's index.

import { execChunk } from './job.js';
import { workerMain, type WorkerData } from './worker.js';

const scope = globalThis as unknown as { onmessage: ((e: { data: WorkerData }) => void) | null };
scope.onmessage = (e) => {
  scope.onmessage = null;
  workerMain(e.data, execChunk);
};
