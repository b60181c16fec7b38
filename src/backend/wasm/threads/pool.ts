// The worker pool: n - 1 workers plus the calling thread, each with its own instance of the
// threads build of the kernels over the one shared WebAssembly.Memory. A job (./job.ts) is
// written into that memory; the caller publishes it through a few Int32 control words, and every
// thread claims chunks from an atomic counter until none is left. Workers spin briefly after a
// job, then sleep in Atomics.wait; no message is posted on the hot path. publish() returns at
// once, so the caller goes on while the workers compute (WasmContext.launch); wait() joins the
// job, claiming what is left, and returns when every chunk is done. One job is out at a time.
//
// Control words (Int32 at `ctrl`, a region below the allocator's heap that no kernel touches):
//   EPOCH   job number; workers wait on it
//   CLAIM   (job tag << 20) | next chunk: a claim is a compare-exchange on the whole word, so a
//           worker still holding an old job's tag can never take a chunk of the next job
//   DONE    chunks finished; the thread that finishes the last one notifies the caller
//   NCHUNKS, PROG, SCRATCH, STRIDE: the job (see run); ACTIVE: how many workers take part
//   ERR     0, or 2 + the index of the worker whose chunk threw (its message at MSG)
//   STOP    set when the pool closes
//   DEAD    0, or 1 + the index of a worker that exited while the pool was open
// Workers are unref'd: a process exits without waiting for them. A chunk that throws in a worker
// is reported to the caller, which throws once every chunk is finished (no hang, no half-written
// job left running). The browser's main thread cannot Atomics.wait: there the caller spins.

import { chunkKernels, execChunk, FN_NAMES, type KernelTable } from './job.js';
import { C, workerMain, type WorkerData } from './worker.js';

/** Bytes of the control region (the allocator's heap starts above it). */
export const CONTROL_BYTES = C.WORDS * 4;
/** Most chunks in one job (the CLAIM word's low 20 bits). */
export const MAX_CHUNKS = (1 << 20) - 1;

// (__name: some TypeScript runners, tsx and vitest among them, wrap functions in it to keep their names)
const prelude = 'var __name = (f) => f;\n';
const nodeSource = `${prelude}const { workerData } = require('node:worker_threads');\n(${workerMain.toString()})(workerData, ${execChunk.toString()});\n`;

interface AnyWorker {
  terminate(): unknown;
}

type WorkerThreads = { Worker: new (src: string, o: { eval: boolean; workerData: unknown }) => AnyWorker & { unref(): void; on(ev: string, f: (e: unknown) => void): void } };

function nodeWorkerThreads(): WorkerThreads | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown; versions?: { node?: string } } }).process;
  return p?.versions?.node ? ((p.getBuiltinModule?.('node:worker_threads') as WorkerThreads | undefined) ?? null) : null;
}

/** Whether this engine can run workers over a shared memory (Node worker_threads, or a cross-origin isolated browser). */
export function workersSupported(): boolean {
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  if (nodeWorkerThreads()) return true;
  const g = globalThis as { Worker?: unknown; crossOriginIsolated?: boolean };
  return typeof g.Worker === 'function' && g.crossOriginIsolated === true;
}

export class Pool {
  /** How long a job may go with no chunk finished before its caller gives up on a worker (tests lower it). */
  static stallMs = 60_000;
  private readonly workers: AnyWorker[] = [];
  private readonly c: Int32Array;
  /** False on a browser's main thread, which must spin instead of Atomics.wait. */
  readonly canWait: boolean;
  private closed = false;

  constructor(private readonly module: WebAssembly.Module, private readonly memory: WebAssembly.Memory, private readonly ctrl: number) {
    this.c = new Int32Array(memory.buffer, ctrl, C.WORDS);
    this.c.fill(0);
    let canWait = true;
    try {
      Atomics.wait(this.c, C.PROBE, 1, 0); // 'not-equal' where blocking is allowed; throws where not
    } catch {
      canWait = false;
    }
    this.canWait = canWait;
  }

  /** True once close() ran (a failed job closes its pool). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Workers started so far. */
  get size(): number {
    return this.workers.length;
  }

  /** Start workers until `threads - 1` exist (they join jobs as soon as they are up). */
  private ensure(threads: number): void {
    while (this.workers.length < threads - 1) {
      const data: WorkerData = { module: this.module, memory: this.memory, ctrl: this.ctrl, index: this.workers.length, names: FN_NAMES, C };
      const wt = nodeWorkerThreads();
      if (wt) {
        const w = new wt.Worker(nodeSource, { eval: true, workerData: data });
        w.unref();
        w.on('error', (e) => { if ((globalThis as any).process?.env?.VAEGRAD_POOL_DEBUG) console.error('worker error', e); }); // a worker that dies takes no more chunks; the caller runs them
        this.workers.push(w);
      } else {
        // a module worker from a file next to this one (a blob: URL would need a looser CSP)
        const Ctor = (globalThis as unknown as { Worker: new (u: URL, o: { type: 'module' }) => AnyWorker & { postMessage(d: unknown): void } }).Worker;
        const w = new Ctor(new URL('./browser-worker.js', import.meta.url), { type: 'module' });
        w.postMessage(data);
        this.workers.push(w);
      }
    }
  }

  /** The job published and not yet waited for (see publish), or null. */
  private inflight: { n: number; prog: number; scratch: number; k: KernelTable } | null = null;

  /** Whether a published job has not been waited for yet (its chunks may still be running). */
  get busy(): boolean {
    return this.inflight !== null;
  }

  /**
   * Hand the program at `prog` (float64: n chunk starts, then the call words; see job.ts) to the
   * workers and return at once: they run its chunks while this thread goes on, and wait() joins
   * them. Thread t's scratch is scratch + t * stride. One job at a time: a job still published
   * is waited for first.
   */
  publish(prog: number, n: number, scratch: number, stride: number, threads: number, k: KernelTable): void {
    if (this.inflight) this.wait();
    if (this.closed) throw new Error('internal: wasm thread pool used after close');
    if (n > MAX_CHUNKS) throw new Error(`internal: a job of ${n} chunks (at most ${MAX_CHUNKS})`);
    this.ensure(threads);
    const c = this.c;
    const e = (Atomics.load(c, C.EPOCH) + 1) | 0;
    const tag = (e & 0x7ff) << 20;
    Atomics.store(c, C.CLAIM, tag | 0xfffff); // closed: no thread takes a chunk while the job is written
    Atomics.store(c, C.NCHUNKS, n);
    Atomics.store(c, C.PROG, prog);
    Atomics.store(c, C.SCRATCH, scratch);
    Atomics.store(c, C.STRIDE, stride);
    Atomics.store(c, C.ACTIVE, threads - 1);
    Atomics.store(c, C.DONE, 0);
    Atomics.store(c, C.ERR, 0);
    Atomics.store(c, C.CLAIM, tag);
    Atomics.store(c, C.EPOCH, e);
    Atomics.notify(c, C.EPOCH);
    this.inflight = { n, prog, scratch, k };
  }

  /**
   * Join the published job: take its unclaimed chunks here, then wait until every chunk is done.
   * Throws the first chunk's error (after all chunks finished). Returns at once when none is published.
   */
  wait(): void {
    const job = this.inflight;
    if (!job) return;
    this.inflight = null;
    const { n, prog, scratch, k } = job;
    const c = this.c;
    const f = new Float64Array(this.memory.buffer, prog);
    let error: unknown = null;
    for (;;) {
      const w = Atomics.load(c, C.CLAIM);
      if ((w & 0xfffff) >= n) break;
      if (Atomics.compareExchange(c, C.CLAIM, w, w + 1) !== w) continue;
      try {
        execChunk(k, FN_NAMES, this.memory, f, f[w & 0xfffff]!, scratch, false);
      } catch (err) {
        error ??= err;
      }
      Atomics.add(c, C.DONE, 1);
    }
    // A worker that died with a chunk claimed never finishes it: fail instead of waiting forever,
    // on its exit notice (./worker.ts) or, where it could send none (killed, out of memory), once
    // no chunk has finished for stallMs.
    let last = -1;
    let since = 0;
    for (let s = 0; ; s++) {
      const d = Atomics.load(c, C.DONE);
      if (d >= n) break;
      if (s > C.SPIN || (s & 1023) === 0) {
        const now = Date.now();
        if (d !== last) {
          last = d;
          since = now;
        }
        const dead = Atomics.load(c, C.DEAD);
        if (dead || now - since > Pool.stallMs) {
          const what = `; its chunks call ${chunkKernels(f, f[0]!)}`;
          this.close();
          throw new Error(dead
            ? `wasm thread pool: worker ${dead - 1} exited during a job (${n - d} of ${n} chunks unfinished); the pool is closed and the next call starts a new one${what}`
            : `wasm thread pool: no chunk finished for ${Pool.stallMs} ms (${n - d} of ${n} unfinished): a worker stopped (killed, or out of memory?); the pool is closed and the next call starts a new one${what}`);
        }
      }
      if (this.canWait && s > C.SPIN) Atomics.wait(c, C.DONE, d, 100);
    }
    if (error) throw error;
    const failed = Atomics.load(c, C.ERR);
    if (failed) {
      const len = c[C.MSG + C.MSG_LEN]!;
      const msg = String.fromCharCode(...c.subarray(C.MSG, C.MSG + len));
      throw new Error(`wasm thread pool: a chunk failed in worker ${failed - 2}: ${msg} (in a job of ${n} chunks calling ${chunkKernels(f, f[0]!)})`);
    }
  }

  /** Stop and drop every worker (a renewed memory gets a new pool). */
  close(): void {
    if (this.closed) return;
    this.inflight = null;
    this.closed = true;
    Atomics.store(this.c, C.STOP, 1);
    Atomics.store(this.c, C.EPOCH, (Atomics.load(this.c, C.EPOCH) + 1) | 0);
    Atomics.notify(this.c, C.EPOCH);
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
