// The backends the conformance suite runs against, and helpers to call kernels directly.
// Add a backend here (e.g. 'gpu') and every test in test/conformance/ runs on it too.

import type { Backend, View } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js/index.js';
import { createWasmBackendSync } from '../../src/backend/wasm/index.js';
import { gpuCpuBackend } from '../gpu/helpers.js';

export const BACKENDS: Record<string, () => Backend> = {
  js: () => new JsBackend(),
  wasm: () => createWasmBackendSync(),
  gpu: gpuCpuBackend, // GPU.js in cpu mode (test/gpu/ runs headlessgl where it can)
};
export const BACKEND_NAMES = Object.keys(BACKENDS);

/** The float64 oracle: the js reference backend run on float64 copies of the inputs. */
export const oracle = new JsBackend();

/** float32 unit roundoff */
export const U32 = 2 ** -24;

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

export function view(b: Backend, data: Float32Array | Float64Array | Int32Array, shape: number[], strides = contiguousStrides(shape), offset = 0): View {
  return { storage: b.fromArray(data), shape, strides, offset };
}

/** A deterministic PRNG (mulberry32) so failures reproduce from the fast-check seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() * 2 - 1;
  return a;
}

export const abs64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, Math.abs);
export const to64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);

/**
 * Checks |got - want| <= c * terms * U32 * bound + tiny, elementwise.
 * `want` is the float64 result, `bound` the float64 result on |inputs| (sum of |a||b|), and
 * `terms` the number of products in the longest sum. A float32 dot product of `terms` products
 * accumulated in any order has error at most ~terms * U32 * sum|a||b| (Higham, gamma_n); c = 2
 * leaves room for the final rounding and for blocked/im2col orders that add partial sums.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, terms: number, c = 2): void {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const tol = c * (terms + 1) * U32 * bound[i]! + 1e-30;
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol)) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (|err| ${err} > tol ${tol})`);
  }
}

/** Same bits, or both NaN (Object.is tells -0 from +0). */
export function expectBits(got: ArrayLike<number>, want: ArrayLike<number>, what = ''): void {
  const at = what ? `${what}, ` : '';
  if (got.length !== want.length) throw new Error(`${at}length ${got.length} != ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!(Object.is(g, w) || (g !== g && w !== w))) throw new Error(`${at}element ${i}: got ${g}, want ${w}`);
  }
}

export function expectExact(got: ArrayLike<number>, want: ArrayLike<number>): void {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!(g === w || (g !== g && w !== w))) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

/** The raw bits of a float32 result (NaN payloads and signs kept: no copy through JS numbers). */
export const rawBits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** Same raw bits (NaN payloads included). */
export function expectRawBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = rawBits(got), w = rawBits(want);
  if (g.length !== w.length) throw new Error(`${what}: length ${g.length} != ${w.length}`);
  for (let i = 0; i < w.length; i++) {
    if (g[i] !== w[i]) throw new Error(`${what}: element ${i}: got ${got[i]} (0x${g[i]!.toString(16)}), want ${want[i]} (0x${w[i]!.toString(16)})`);
  }
}

/** Specials: NaN of several payloads and both signs, infinities, -0, tiny values. */
export function sprinkle(a: Float32Array, seed: number, p: number): Float32Array {
  const r = rng(seed);
  const nans = new Float32Array(new Uint32Array([0x7fc00000, 0xffc00000, 0x7fc12345, 0xffd00001, 0x7fe00000]).buffer);
  const sp = [Infinity, -Infinity, -0, 0, 1e-40, -1e-40];
  const out = a.slice();
  const bits = rawBits(out), nanBits = rawBits(nans);
  for (let i = 0; i < out.length; i++) {
    const u = r();
    if (u < p / 2) bits[i] = nanBits[Math.floor(r() * nanBits.length)]!; // set as bits: a JS number would lose the payload
    else if (u < p) out[i] = sp[Math.floor(r() * sp.length)]!;
  }
  return out;
}
