// What every kernel driver needs: the kernel module's exports, the allocator over its linear
// memory and the per-call scratch arena carved from it, the GEMM's register and cache blocking
// (read from the module, so TypeScript sizes the packing buffers as the kernels use them), and
// the tunables that tests and benches adjust.
//
// It also owns the tensor store (float32 tensor storage in the same memory, memory/storage.ts)
// and its budget.
//
// With threads, drivers launch() their jobs: the call returns once the workers have the job, and
// this thread's JavaScript (autograd, the next op's setup) overlaps their kernels. sync() joins
// the job; everything that touches linear memory from this thread calls it first: the kernels
// called directly (k), the arena's views, the store's reads and moves, the next launch. Blocks
// given back meanwhile stay out of reuse until then (Allocator.hold).
//
// WebAssembly memory can grow but never shrink. When the memory has become far larger than the
// last few thousand kernel calls used at their peak (scratch plus resident tensor data: after one
// oversize temporary, or an op that failed for lack of memory), the context moves the resident
// tensors to the JS heap (they move back in on next use), instantiates the compiled module again
// over a fresh, small memory and drops the old one, which the engine then frees. With the threads
// build the worker pool belongs to the memory: a renewal closes it, and the next threaded call
// starts one over the new memory.

import { Allocator, type AllocatorStats } from './memory/allocator.js';
import { Arena } from './memory/arena.js';
import { TensorStore } from './memory/storage.js';
import { WASM_MAX_MEMORY_BYTES, instantiate, type KernelExports, type LoadedKernels } from './loader.js';
import { getNumThreads } from './threads/config.js';
import { CONTROL_BYTES, Pool } from './threads/pool.js';
import { runJob } from './threads/run.js';
import { Job, type KernelTable } from './threads/job.js';

/** sgemm's micro-tile (MR x NR) and cache blocks (KC, MC, NC), as assembly/gemm.ts defines them. */
export interface GemmBlocking {
  MR: number; NR: number; KC: number; MC: number; NC: number;
}

/**
 * The kernels as this thread calls them directly: each call first waits for a launched job
 * (sync), since it may read what the job writes. (The same functions, unwrapped, run jobs.)
 */
function syncedExports(raw: KernelExports, sync: () => void): KernelExports {
  const fns = raw as unknown as Record<string, (...a: number[]) => unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const name of Object.keys(raw)) {
    if (typeof fns[name] !== 'function') continue;
    // looked up at each call: a renewed memory's instance replaces raw's functions in place
    wrapped[name] = function (this: unknown) {
      sync();
      // eslint-disable-next-line prefer-rest-params
      return fns[name]!.apply(undefined, arguments as unknown as number[]);
    };
  }
  return wrapped as unknown as KernelExports;
}

/** A memory at most this large is never replaced. */
export const RENEW_MIN_BYTES = 256 << 20;
/**
 * Kernel calls per half of the window over which the bytes in use are measured. Long enough to
 * span a garbage-collection cycle of a training loop: the tensors it drops stay resident until
 * the collector finds them, so the resident bytes climb for many steps and then fall at once; a
 * window shorter than that (it was 64 calls) saw only the fall, and replaced a memory the next
 * steps grew back (a reference-model step is ~270 calls).
 */
const WINDOW = 2048;

type Env = { VAEGRAD_WASM_DEBUG?: unknown; VAEGRAD_WASM_BUDGET?: unknown; process?: { env?: Record<string, string | undefined> } };

function debugWanted(): boolean {
  const g = globalThis as Env;
  return g.VAEGRAD_WASM_DEBUG === true || g.process?.env?.VAEGRAD_WASM_DEBUG === '1';
}

/** Default budget of resident tensor bytes: half the memory's maximum, leaving the rest for scratch. */
export const DEFAULT_BUDGET_BYTES = Math.floor(WASM_MAX_MEMORY_BYTES / 2);

/** Bytes from a budget setting: a number of bytes, or with a K, M or G suffix (powers of 1024). */
export function parseBudget(v: unknown, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$/i.exec(String(v));
  const bytes = m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new Error(`${what}: expected a number of bytes (optionally with K, M or G), got '${String(v)}'`);
  return Math.floor(bytes);
}

function budgetWanted(): number {
  const g = globalThis as Env;
  const v = g.VAEGRAD_WASM_BUDGET ?? g.process?.env?.VAEGRAD_WASM_BUDGET;
  return v === undefined || v === '' ? DEFAULT_BUDGET_BYTES : parseBudget(v, 'VAEGRAD_WASM_BUDGET');
}

export class WasmContext {
  /** The kernels (a plain object: a renewed instance's exports replace these in place). */
  readonly k: KernelExports;
  readonly allocator: Allocator;
  readonly arena: Arena;
  /** Float32 tensor storage in linear memory. */
  readonly store: TensorStore;
  readonly blocking: GemmBlocking;
  /** Target size (floats) of one conv chunk's im2col matrix: about L2-sized (1 MiB), so it stays cached. */
  colTarget = 1 << 18;
  /**
   * Fewest input and output channels for which a 3x3 stride-1 convolution runs by Winograd
   * F(2x2, 3x3) instead of im2col + GEMM. Measured (forward / input gradient / weight gradient,
   * im2col time over Winograd time, batch 16-64, this machine): 4 -> 4 at 28x28 1.5 / 1.4 / 1.7,
   * 8 -> 64 at 14x14 2.0 / 1.5 / 1.9, 32 -> 64 at 14x14 2.1 / 2.0 / 2.1, 128 -> 128 at 14x14
   * 2.2 / 2.1 / 2.0; but 3 -> 16 at 32x32 1.7 / 1.2 / 0.8 (an RGB input layer's weight gradient).
   */
  winogradMinChannels = 4;
  /**
   * Fewest input and output channels for which the input gradient of a 4x4 stride-2 padding-1
   * convolution (ConvTranspose2d(4, 2, 1)'s forward) runs by phase Winograd
   * (drivers/winograd-stride2.ts) instead of GEMM + col2im; Infinity turns it off. Measured
   * (GEMM + col2im time over Winograd time, one thread, shared machine): 64 -> 32 at 7x7 -> 14x14
   * (decoder.0), batch 128, 1.3; batch 64 at 14x14 -> 28x28: 32 -> 8 1.2, 32 -> 4 1.1, 32 -> 2 1.0,
   * 32 -> 1 (decoder.3, batch 128) 0.75: with one output channel the input transform outweighs
   * the smaller product.
   */
  winogradS2MinChannels = 4;
  /**
   * Largest K = (c / groups) * kh * kw for which a stride-1 convolution's forward (kernels larger
   * than 1x1) runs by the direct kernel (assembly/conv.ts convDirect, same bits as im2col + GEMM)
   * instead of im2col + GEMM; 0 turns it off (tests compare the two). Measured at batch 128, one
   * thread (GEMM time over direct time, shared machine): 1 -> 32 3x3 at 28x28 1.46, 1 -> 32 5x5
   * 1.2-1.3, 3 -> 16 3x3 at 32x32 1.5, 2 -> 32 3x3 at 14x14 1.15, 3 -> 64 3x3 at 14x14 0.98;
   * 1x1 kernels 0.9 (so they keep the GEMM).
   */
  directMaxK = 27;
  /** How many times the memory was replaced by a fresh one. */
  renewals = 0;
  /**
   * Least work (about flops, see Job.work) for which a job wakes the pool; smaller jobs run on
   * the calling thread (same chunks, same bits). Measured on this project's 2-vCPU host: a
   * 4-chunk job of trivial chunks took ~35 us more on 2 threads than on 1 with the workers
   * asleep (~3 us while they spin), and a GEMM does ~40 flops/ns on one core, so 2 threads win
   * above ~2.8 MFLOP, more threads earlier.
   */
  minParallelWork = 1 << 21;
  private readonly loaded: LoadedKernels;
  private pool: Pool | null = null;
  private calls = 0;
  /** Most bytes in use at a call (its scratch plus the resident tensors) in the current and the previous window of WINDOW calls. */
  private useCur = 0;
  private usePrev = 0;

  constructor(loaded: LoadedKernels, opts: { debug?: boolean } = {}) {
    this.loaded = loaded;
    const sync = (): void => this.sync();
    this.k = syncedExports(loaded.exports, sync);
    // the pool's control words sit between the module's static data and the heap
    this.allocator = new Allocator(loaded.memory, this.k.heapBase() + CONTROL_BYTES, opts.debug ?? debugWanted());
    this.store = new TensorStore(this.allocator, budgetWanted(), sync);
    this.arena = new Arena(this.allocator, (need) => this.afterReset(need), () => this.store.spillAll(), sync);
    const [MR, NR, KC, MC, NC] = [0, 1, 2, 3, 4].map((i) => this.k.gemmBlocking(i)) as [number, number, number, number, number];
    this.blocking = { MR, NR, KC, MC, NC };
  }

  /** The kernels unwrapped, as jobs call them: from this thread only once no launched job runs (sync), or pure ones (sizes). */
  get kernels(): KernelExports {
    return this.loaded.exports;
  }

  /** Whether kernels can run on several threads (the threads build over a shared memory). */
  get shared(): boolean {
    return this.loaded.shared;
  }

  /** Why kernels run on one thread only, where they do. */
  get sharedNote(): string | undefined {
    return this.loaded.sharedNote;
  }

  /** Threads a job runs on now: getNumThreads(), or 1 without the threads build. */
  get threads(): number {
    return this.loaded.shared ? getNumThreads() : 1;
  }

  /** Workers the pool has started (0 before the first threaded call). */
  get workers(): number {
    return this.pool?.size ?? 0;
  }

  /** Run a job's chunks: on the pool when it is big enough and threads are on, else here, in the same chunks; returns when they are done. */
  run(job: Job): void {
    runJob(this, job, true);
  }

  /**
   * Run a job as run() does, but where it goes to the pool, return once the workers have it:
   * this thread goes on with the JavaScript that follows (autograd, the next op's setup) while
   * they compute. Everything that touches linear memory from this thread waits for the job
   * first (sync): the kernels called directly (k), the arena's views, values read or moved out
   * of the store, the next job; and blocks given back meanwhile are not reused until then. A
   * chunk's error is thrown by whatever waits.
   */
  launch(job: Job): void {
    runJob(this, job, !this.overlap);
  }

  /** launch() a job of one call (fn, args): a kernel whose result the next jobs read. */
  launchCall(fn: number, args: readonly number[]): void {
    this.launch(new Job(0).chunk().call(fn, args));
  }

  /** Whether launch() returns before its job is done (tests and benches compare both). */
  overlap = true;

  /** Whether a launched job may still be running (it has not been waited for). */
  get inFlight(): boolean {
    return this.pool?.busy ?? false;
  }

  /** Wait for the launched job, if one runs; then the blocks given back meanwhile are reusable. */
  sync(): void {
    const pool = this.pool;
    if (!pool?.busy) return;
    try {
      pool.wait();
    } finally {
      this.arena.idle();
      this.allocator.unhold();
    }
  }

  /** Hand a job to the pool (see launch): nothing it reads is freed for reuse until sync(). */
  publish(prog: number, n: number, scratch: number, stride: number, threads: number): void {
    this.sync();
    this.poolFor().publish(prog, n, scratch, stride, threads, this.kernels as unknown as KernelTable);
    this.arena.markBusy();
    this.allocator.hold();
  }

  /** The pool over the current memory (started on first use, and again after a job closed it). */
  poolFor(): Pool {
    if (this.pool?.isClosed) this.pool = null;
    return (this.pool ??= new Pool(this.loaded.module, this.allocator.memory, this.k.heapBase()));
  }

  /** What the allocator holds (the scratch arena's blocks count as live). */
  stats(): AllocatorStats {
    return this.allocator.stats();
  }

  /** Called by the arena at each reset (a kernel call begins) with the bytes the previous call reserved (0 after a failed call). */
  private afterReset(need: number): void {
    this.store.beginCall();
    const resident = this.store.bytesResident; // at every kernel call: no stats record
    this.useCur = Math.max(this.useCur, need + resident);
    if (++this.calls % WINDOW === 0) {
      this.usePrev = this.useCur;
      this.useCur = 0;
    }
    const bytes = this.allocator.memory.buffer.byteLength;
    if (bytes <= RENEW_MIN_BYTES || bytes <= 4 * Math.max(this.useCur, this.usePrev, this.arena.heldBytes + resident)) return;
    this.renew();
  }

  /**
   * Instantiate the module again over a fresh memory, between kernel calls: the resident tensors
   * move to the JS heap (and back in on next use), the scratch arena starts over.
   */
  renew(): void {
    this.sync();
    this.store.beginCall(); // no block belongs to a call in progress
    this.store.spillAll();
    this.arena.releaseBlocks();
    this.pool?.close();
    this.pool = null;
    const fresh = instantiate(this.loaded.module, this.loaded.flavor, this.loaded.shared, this.loaded.sharedNote);
    this.allocator.rebind(fresh.memory);
    Object.assign(this.loaded.exports, fresh.exports);
    this.renewals++;
  }
}
