// Loads the embedded kernel module: decode the base64 bytes, let WebAssembly.validate pick the
// build this engine runs, compile, and instantiate over a memory that TypeScript creates.
//
// Builds: the SIMD build over a shared memory (the threads build: the worker pool of threads/
// runs it; the default wherever SharedArrayBuffer and workers exist), the same SIMD build over a
// plain memory (browsers without cross-origin isolation; one thread, same chunking, same bits)
// and, opt-in only, a relaxed-SIMD build (one thread)
// (fused multiply-add in the GEMM micro-kernel: faster where the engine fuses, but rounding may
// differ between engines). Opt in with the environment variable VAEGRAD_WASM_RELAXED=1 (Node)
// or `globalThis.VAEGRAD_WASM_RELAXED = true` before the first use. An engine without SIMD gets
// no wasm backend: the registry falls back to the js reference backend.

import { RELAXED_WASM_BASE64, SIMD_WASM_BASE64, THREADS_WASM_BASE64 } from './generated/kernels.js';
import { workersSupported } from './threads/pool.js';

/** The kernel module's exports (see assembly/index.ts). Pointers are byte offsets into memory. */
export interface KernelExports {
  sgemm(m: number, n: number, k: number, a: number, rsa: number, csa: number, b: number, rsb: number, csb: number,
    c: number, ldc: number, accumulate: number, packA: number, packB: number, tmp: number): void;
  sgemmPackA(pa: number, mPad: number, i0: number, a: number, rs: number, cs: number, mc: number, k: number): void;
  sgemmPackB(pb: number, nPad: number, j0: number, b: number, rs: number, cs: number, nc: number, k: number): void;
  sgemmPacked(m: number, n: number, k: number, pa: number, mPad: number, i0: number, pb: number, nPad: number, j0: number, c: number, ldc: number, tmp: number): void;
  addRowBias(c: number, m: number, n: number, ldc: number, bias: number): void;
  gemmBlocking(which: number): number;
  im2col(geo: number, x: number, col: number, g: number): void;
  col2im(geo: number, col: number, dx: number, g: number, tmp: number): void;
  gatherChannels(src: number, dst: number, nb: number, chanTotal: number, c0: number, cnt: number, s: number): void;
  scatterChannels(src: number, dst: number, nb: number, chanTotal: number, c0: number, cnt: number, s: number): void;
  maxPool2d(geo: number, x: number, out: number, indices: number): void;
  maxPool2dBackward(geo: number, dy: number, indices: number, dx: number): void;
  avgPool2d(geo: number, x: number, out: number): void;
  avgPool2dBackward(geo: number, dy: number, dx: number): void;
  adamUpdate(p: number, g: number, m: number, v: number, n: number, beta1: number, oneMinusBeta1: number, beta2: number,
    oneMinusBeta2: number, negStepSize: number, sqrtBc2: number, eps: number, mode: number, decay: number, flag: number): void;
  gather4(src: number, dst: number, geo: number): void;
  unaryF32(op: number, x: number, out: number, n: number, a: number, b: number): void;
  binaryF32(op: number, x: number, y: number, out: number, n: number): void;
  bceWithLogits(l: number, t: number, out: number, n: number): void;
  bceWithLogitsGrad(l: number, t: number, g: number, out: number, n: number): void;
  nonFinite(x: number, n: number, flag: number): void;
  bnStats(x: number, n: number, c: number, s: number, mean: number, variance: number, ct: number): void;
  bnForward(x: number, y: number, n: number, c: number, s: number, mean: number, invstd: number, w: number, b: number, relu: number, ct: number): void;
  bnBackward(dy: number, x: number, dx: number, n: number, c: number, s: number, mean: number, invstd: number, w: number,
    batchStats: number, sumDy: number, sumDyXhat: number, reluBias: number, ct: number, coef: number, dxSum: number): void;
  bnReluMaxPool2x2(x: number, out: number, indices: number, n: number, c: number, h: number, w: number,
    mean: number, invstd: number, wt: number, b: number, ct: number): void;
  bnReluMaxPool2x2Backward(dy: number, indices: number, x: number, dx: number, d: number, n: number, c: number, h: number, w: number,
    mean: number, invstd: number, wt: number, bias: number, batchStats: number, sumDy: number, sumDyXhat: number, bad: number, ct: number, dxSum: number): void;
  bnPoolBackwardScratch(n: number, c: number, h: number, w: number): number;
  sumRows(x: number, rows: number, len: number, acc: number): void;
  sumCols(x: number, rows: number, cols: number, acc: number): void;
  f64ToF32(acc: number, out: number, n: number): void;
  gemmNT(m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number,
    bias: number, mean: number, invstd: number, w: number, bb: number): void;
  addChannelBias(y: number, nb: number, c: number, s: number, bias: number): void;
  padPlanes(x: number, xp: number, planes: number, h: number, w: number, hp: number, wp: number, ph: number, pw: number): void;
  convDirect(geo: number, xp: number, hp: number, wp: number, w: number, bias: number, y: number, tmp: number): void;
  convDirectBnReluPool2x2(geo: number, xp: number, hp: number, wp: number, w: number, bias: number, mean: number, invstd: number, bw: number, bb: number, out: number, ph: number, pw: number, tmp: number): void;
  winogradFilter(w: number, u: number, m: number, k: number, flip: number): void;
  winogradConv(geo: number, xp: number, u: number, y: number, v: number, mm: number, bias: number): void;
  winogradConvBnReluPool(geo: number, xp: number, u: number, out: number, v: number, mm: number, bias: number, mean: number, invstd: number, w: number, b: number): void;
  winogradGradSums(geo: number, xp: number, dyp: number, du: number, v: number, z: number): void;
  winogradFilterGrad(du: number, dw: number, m: number, k: number): void;
  winogradS2Filter(w: number, u: number, m: number, k: number): void;
  winogradS2(geo: number, xp: number, u: number, y: number, v: number, mm: number, bias: number): void;
  phaseSplit(x: number, xp: number, planes: number, h: number, w: number, hp: number, wp: number): void;
  winogradS2ConvFilter(w: number, u: number, m: number, c: number): void;
  winogradS2Conv(geo: number, xp: number, u: number, y: number, v: number, mm: number, bias: number): void;
  winogradS2GradSums(geo: number, xp: number, dyp: number, du: number, v: number, z: number): void;
  winogradS2FilterGrad(du: number, dw: number, m: number, c: number): void;
  heapBase(): number;
}

export interface LoadedKernels {
  exports: KernelExports;
  memory: WebAssembly.Memory;
  /** 'simd' or 'relaxed-simd' */
  flavor: string;
  /** Whether this is the threads build over a shared memory (else one thread runs every kernel). */
  shared: boolean;
  /** Why there is no shared memory, when there is none. */
  sharedNote?: string;
  /** The compiled module, to instantiate again over a fresh memory (WasmContext.renew). */
  module: WebAssembly.Module;
}

/** Maximum pages the module declares (asconfig.json "maximumMemory"): 2 GiB. */
const MAX_PAGES = 32768;
/** The most linear memory one kernel call can use (inputs, packing buffers and outputs together). */
export const WASM_MAX_MEMORY_BYTES = MAX_PAGES * 65536;

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function relaxedWanted(): boolean {
  const g = globalThis as { VAEGRAD_WASM_RELAXED?: unknown; process?: { env?: Record<string, string | undefined> } };
  return g.VAEGRAD_WASM_RELAXED === true || g.process?.env?.VAEGRAD_WASM_RELAXED === '1';
}

interface Picked { bytes: Uint8Array<ArrayBuffer>; flavor: string; shared: boolean; sharedNote?: string }
let picked: Picked | null = null;

/** Why the threads build cannot run here, or null when it can. */
function noThreadsReason(): string | null {
  if (!workersSupported()) return 'no SharedArrayBuffer and workers here (a browser page needs cross-origin isolation)';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return 'this engine cannot create a shared WebAssembly.Memory';
  }
  return null;
}

/** The bytes of the build this engine can run; throws when it has no WebAssembly SIMD. */
function pickBytes(): Picked {
  if (picked) return picked;
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') {
    throw new Error('wasm backend: this engine has no WebAssembly');
  }
  if (relaxedWanted() && RELAXED_WASM_BASE64) {
    const bytes = decodeBase64(RELAXED_WASM_BASE64);
    if (WebAssembly.validate(bytes)) return (picked = { bytes, flavor: 'relaxed-simd', shared: false, sharedNote: 'the relaxed-SIMD build runs on one thread' });
  }
  const why = noThreadsReason();
  if (why === null) {
    const bytes = decodeBase64(THREADS_WASM_BASE64);
    if (WebAssembly.validate(bytes)) return (picked = { bytes, flavor: 'simd', shared: true });
  }
  const bytes = decodeBase64(SIMD_WASM_BASE64);
  if (!WebAssembly.validate(bytes)) throw new Error('wasm backend: this engine has no WebAssembly SIMD');
  return (picked = { bytes, flavor: 'simd', shared: false, sharedNote: why ?? 'this engine rejects the threads build' });
}

/** An instance over a fresh memory of one page; its exports as a plain object (so a renewed instance can replace them in place). */
export function instantiate(module: WebAssembly.Module, flavor: string, shared: boolean, sharedNote?: string): LoadedKernels {
  // The module is built with --importMemory, so the memory is ours to create and grow; the
  // threads build needs it shared (the pool's workers instantiate the module over it too).
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared });
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => { throw new Error('wasm backend: kernel abort'); },
    },
  });
  return { exports: { ...instance.exports } as unknown as KernelExports, memory, flavor, module, shared, ...(sharedNote ? { sharedNote } : {}) };
}

/**
 * Compile and instantiate synchronously. Works in Node and in workers; a browser's main thread
 * refuses to compile large modules synchronously and this throws there (use loadKernelsAsync).
 */
export function loadKernelsSync(): LoadedKernels {
  const { bytes, flavor, shared, sharedNote } = pickBytes();
  return instantiate(new WebAssembly.Module(bytes), flavor, shared, sharedNote);
}

export async function loadKernelsAsync(): Promise<LoadedKernels> {
  const { bytes, flavor, shared, sharedNote } = pickBytes();
  return instantiate(await WebAssembly.compile(bytes), flavor, shared, sharedNote);
}

/** True when this engine can run the kernels at all (WebAssembly with SIMD). */
export function wasmSupported(): boolean {
  try {
    pickBytes();
    return true;
  } catch {
    return false;
  }
}

/** The one-thread build over a plain memory, whatever the engine offers (tests compare it with the threads build). */
export function loadSingleThreadKernelsSync(): LoadedKernels {
  const bytes = decodeBase64(SIMD_WASM_BASE64);
  return instantiate(new WebAssembly.Module(bytes), 'simd', false, 'asked for the one-thread build');
}
