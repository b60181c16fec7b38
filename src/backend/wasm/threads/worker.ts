// What a worker of the pool runs (./pool.ts): instantiate the threads build over the shared
// memory, then wait for jobs and run chunks of them until the pool closes. workerMain is
// self-contained: in Node the pool runs its text (with execChunk's) as the worker's source; in
// browsers ./browser-worker.ts imports it.

import type { execChunk, KernelTable } from './job.js';

/**
 * Control word indices and sizes (see pool.ts). SPIN: loads of EPOCH a worker makes before it
 * sleeps (some tens of us). Measured in training at 2 threads on a shared 2-vCPU host: 150,000 (~1 ms,
 * which would cover most gaps between jobs) made a step 186 -> 217 ms while another process ran.
 */
export const C = {
  EPOCH: 0, CLAIM: 1, DONE: 2, NCHUNKS: 3, PROG: 4, SCRATCH: 5, STRIDE: 6, ACTIVE: 7, ERR: 8, STOP: 9, PROBE: 10, DEAD: 11,
  MSG: 64, MSG_LEN: 255, WORDS: 320, SPIN: 4000,
} as const;


export interface WorkerData {
  module: WebAssembly.Module; memory: WebAssembly.Memory; ctrl: number; index: number; names: readonly string[]; C: typeof C;
}

/** A worker's whole life: instantiate, then wait for jobs and run chunks of them. Self-contained (its text runs in the worker). */
export function workerMain(d: WorkerData, exec: typeof execChunk): void {
  const { module, memory, ctrl, index, names, C } = d;
  const inst = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error('wasm kernel abort'); } } });
  const k = inst.exports as unknown as KernelTable;
  const c = new Int32Array(memory.buffer, ctrl, C.WORDS);
  // A Node worker that exits (process.exit in a kernel's host code, a fatal error) says so before
  // it goes, so that a caller waiting for its chunk throws instead of waiting forever.
  const proc = (globalThis as { process?: { on?(ev: string, f: () => void): void } }).process;
  proc?.on?.('exit', () => {
    if (Atomics.load(c, C.STOP)) return;
    Atomics.store(c, C.DEAD, index + 1);
    Atomics.notify(c, C.DONE);
  });
  let seen = Atomics.load(c, C.EPOCH);
  for (;;) {
    let e = Atomics.load(c, C.EPOCH);
    for (let s = 0; e === seen && s < C.SPIN; s++) e = Atomics.load(c, C.EPOCH);
    if (e === seen) {
      Atomics.wait(c, C.EPOCH, seen);
      continue;
    }
    seen = e;
    if (Atomics.load(c, C.STOP)) return;
    if (index >= Atomics.load(c, C.ACTIVE)) continue;
    const n = Atomics.load(c, C.NCHUNKS), prog = Atomics.load(c, C.PROG);
    const scratch = Atomics.load(c, C.SCRATCH) + (index + 1) * Atomics.load(c, C.STRIDE);
    const tag = (e & 0x7ff) << 20;
    for (;;) {
      const w = Atomics.load(c, C.CLAIM);
      if ((w & ~0xfffff) !== tag || (w & 0xfffff) >= n) break;
      if (Atomics.compareExchange(c, C.CLAIM, w, w + 1) !== w) continue;
      try {
        const f = new Float64Array(memory.buffer, prog);
        exec(k, names, memory, f, f[w & 0xfffff]!, scratch, true);
      } catch (err) {
        if (Atomics.compareExchange(c, C.ERR, 0, index + 2) === 0) {
          const msg = String(err instanceof Error ? err.message : err).slice(0, C.MSG_LEN);
          for (let j = 0; j < msg.length; j++) c[C.MSG + j] = msg.charCodeAt(j);
          c[C.MSG + C.MSG_LEN] = msg.length;
        }
      }
      if (Atomics.add(c, C.DONE, 1) + 1 === n) Atomics.notify(c, C.DONE);
    }
  }
}

