// A job: the kernel calls of one wasm backend call, split into chunks that any thread may run
// in any order. Drivers build it (which calls, on which pointers, split where); the pool runs
// it. How a job is split depends only on shapes and constants, never on the thread count, so the
// result is the same at any count (and chunks write disjoint outputs, or partial sums that the
// driver adds in chunk order afterwards).
//
// Encoding (float64, so that pointers, ints and the float arguments of kernels all fit): per chunk a
// list of calls [fn, argc, scratchMask, args...] ending with END. An argument whose bit is set
// in scratchMask is an offset into the running thread's own scratch (packing buffers, im2col
// matrices), which the pool places per thread. The same words run on the calling thread (the
// single-thread path) and in the workers (from shared memory), through execChunk.

/** Kernels a job can call: exports of assembly/index.ts, by index. Keep in step with FN. */
export const FN_NAMES = [
  'sgemm', 'gemmNT', 'im2col', 'col2im', 'gatherChannels', 'scatterChannels', 'addChannelBias', 'bnForward',
  'maxPool2d', 'padPlanes', 'winogradConv', 'winogradGradSums', 'binaryF32', 'bnStats', 'bnBackward',
  'maxPool2dBackward', 'avgPool2d', 'avgPool2dBackward', 'adamUpdate', 'unaryF32', 'sumRows',
  'bceWithLogits', 'bceWithLogitsGrad', 'convDirect', 'sgemmPackA', 'sgemmPackB', 'sgemmPacked',
  'bnReluMaxPool2x2', 'bnReluMaxPool2x2Backward', 'nonFinite', 'addRowBias', 'convDirectBnReluPool2x2', 'winogradConvBnReluPool',
  'winogradS2', 'phaseSplit', 'winogradS2Conv', 'winogradS2GradSums', 'f64ToF32',
  'gather4', 'sumCols', 'winogradFilter', 'winogradFilterGrad', 'winogradS2Filter', 'winogradS2ConvFilter', 'winogradS2FilterGrad',
] as const;

/** Call codes: kernels by name, and the three that execChunk runs itself. */
export const FN = {
  ...(Object.fromEntries(FN_NAMES.map((n, i) => [n, i])) as { [K in (typeof FN_NAMES)[number]]: number }),
  /** zero(ptr, floats) */
  zero: 100,
  /** copy(dst, src, bytes) */
  copy: 101,
  /** throwInWorker(): throws when a worker (not the calling thread) runs it (test hook). */
  throwInWorker: 102,
  /** exitInWorker(): ends the worker thread that runs it (Node; test hook for a worker that dies). */
  exitInWorker: 103,
  /** hangInWorker(): blocks the worker thread that runs it forever (test hook for a worker that stops without a word). */
  hangInWorker: 104,
} as const;

export const END = -1;

/** The kernels a job can call, by code: FN inverted. */
const NAME_OF = new Map(Object.entries(FN).map(([name, code]) => [code, name]));

/** The kernels one chunk's calls (from `at` in `w`) run, for messages: 'padPlanes, winogradConv'. */
export function chunkKernels(w: ArrayLike<number>, at: number): string {
  const names: string[] = [];
  for (let guard = 0; at < w.length && w[at]! >= 0 && guard < 64; guard++) {
    const fn = w[at]!;
    const name = NAME_OF.get(fn) ?? `#${fn}`;
    if (!names.includes(name)) names.push(name);
    at += 3 + w[at + 1]!;
  }
  return names.join(', ');
}

/** The kernels as jobs call them (the module's exports, by name). */
export type KernelTable = Record<string, (...a: number[]) => void>;

/** Job.work per element of a memory-bound kernel: about what a GEMM does in the time it takes. */
export const WORK_PER_ELEMENT = 40;

/** The most arguments a call may have (execChunk's cases). */
export const MAX_ARGS = 20;

export class Job {
  /** Call words of every chunk, END after each. */
  readonly words: number[] = [];
  /** Where each chunk's calls start in words. */
  readonly starts: number[] = [];
  /** Bytes of per-thread scratch the chunks use (see scratch()). */
  scratchBytes = 0;

  /** @param work about how many flops (or element visits) the job does: small jobs stay on the calling thread */
  constructor(readonly work: number) {}

  /** Reserve `bytes` of each thread's scratch (64-byte aligned); its offset, for scratch-relative arguments. */
  scratch(bytes: number): number {
    const at = this.scratchBytes;
    this.scratchBytes += Math.ceil(Math.max(bytes, 0) / 64) * 64;
    return at;
  }

  get chunks(): number {
    return this.starts.length;
  }

  /** Start the next chunk. */
  chunk(): this {
    if (this.starts.length > 0) this.words.push(END);
    this.starts.push(this.words.length);
    return this;
  }

  /** Add a call to the current chunk; `scratch` lists the argument positions that are scratch offsets. */
  call(fn: number, args: readonly number[], scratch: readonly number[] = []): this {
    if (args.length > MAX_ARGS) throw new Error(`internal: a kernel call with ${args.length} arguments (execChunk passes at most ${MAX_ARGS})`);
    let mask = 0;
    for (let i = 0; i < scratch.length; i++) mask |= 1 << scratch[i]!;
    const w = this.words;
    w.push(fn, args.length, mask);
    for (let i = 0; i < args.length; i++) w.push(args[i]!);
    return this;
  }

  /** Close the last chunk (the pool calls this once). */
  seal(): void {
    if (this.words[this.words.length - 1] !== END || this.starts.length === 0) this.words.push(END);
  }
}

/**
 * Run one chunk's calls from `at` in `w` (an array, or a Float64Array over shared memory). `k`
 * holds the kernel exports, `names` FN_NAMES; `scratch` is this thread's scratch base and
 * `worker` whether a worker runs it. Self-contained (the pool's worker source embeds its text).
 */
export function execChunk(k: KernelTable, names: readonly string[], memory: WebAssembly.Memory, w: ArrayLike<number>, at: number, scratch: number, worker: boolean): void {
  for (;;) {
    const fn = w[at]!;
    if (fn < 0) return;
    const argc = w[at + 1]!, mask = w[at + 2]!, a0 = at + 3;
    at = a0 + argc;
    /** Argument j: its word, offset by this thread's scratch where the mask says so. */
    const a = (j: number): number => w[a0 + j]! + ((mask >> j) & 1 ? scratch : 0);
    if (fn === 100) new Float32Array(memory.buffer, a(0), a(1)).fill(0);
    else if (fn === 101) new Uint8Array(memory.buffer).copyWithin(a(0), a(1), a(1) + a(2));
    else if (fn === 102) { if (worker) throw new Error('a chunk that throws in a worker (test hook)'); }
    else if (fn === 103) { if (worker) (globalThis as { process?: { exit(code: number): void } }).process?.exit(3); }
    else if (fn === 104) { if (worker) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); }
    else {
      // Arguments passed one by one, by count: spreading an array into the call cost ~1-2 us a
      // call (a training step makes ~1,600 on its threads), this ~0.3. Job.call allows up to 20.
      const f = k[names[fn]!]!;
      switch (argc) {
        case 0: f(); break;
        case 1: f(a(0)); break;
        case 2: f(a(0), a(1)); break;
        case 3: f(a(0), a(1), a(2)); break;
        case 4: f(a(0), a(1), a(2), a(3)); break;
        case 5: f(a(0), a(1), a(2), a(3), a(4)); break;
        case 6: f(a(0), a(1), a(2), a(3), a(4), a(5)); break;
        case 7: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6)); break;
        case 8: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7)); break;
        case 9: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8)); break;
        case 10: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9)); break;
        case 11: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10)); break;
        case 12: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11)); break;
        case 13: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12)); break;
        case 14: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13)); break;
        case 15: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14)); break;
        case 16: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15)); break;
        case 17: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15), a(16)); break;
        case 18: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15), a(16), a(17)); break;
        case 19: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15), a(16), a(17), a(18)); break;
        case 20: f(a(0), a(1), a(2), a(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13), a(14), a(15), a(16), a(17), a(18), a(19)); break;
        default: throw new Error(`internal: a kernel call with ${argc} arguments`);
      }
    }
  }
}
