// Conformance: the wasm dot-product GEMM gemmNT (assembly/gemmnt.ts), which runs a Linear
// layer's forward x @ W^T (with its bias, and in inference the eval BatchNorm1d + ReLU) and the
// weight gradients of convolutions, called directly and through the backend. Its result is
// pinned bit for bit to a model of the float32 operations that every C element must take,
// whatever the register tile and tiling (so that a faster kernel can change no number): four
// lane sums over k in steps of 4, (l0 + l1) + (l2 + l3), the scalar tail, +0 + r (what C += r
// on a zeroed C gave), then + bias[j], then y * (invstd * w) + (b - mean * (invstd * w)) and the
// ReLU. The model is also held to the float64 product (a float32 dot product's error bound).
import { describe, expect, it } from 'vitest';
import type { Storage, View } from '../../src/backend/backend.js';
import { createWasmBackendSync } from '../../src/backend/wasm/index.js';
import { expectBits, expectClose, randomF32, rng } from './backends.js';

const f = Math.fround;

/** Floats from randomF32, a fraction p of them NaN, +-0, +-Infinity or subnormal. */
function withSpecials(n: number, seed: number, p: number): Float32Array {
  const r = rng(seed);
  const sp = [NaN, 0, -0, Infinity, -Infinity, 1e-40, -1e-40];
  return Float32Array.from(randomF32(n, seed), (v) => (r() < p ? sp[Math.floor(r() * sp.length)]! : v));
}

/** The dot product of k floats at a[ao..] and b[bo..] as gemmNT must add them (then +0 + r). */
function dotModel(a: Float32Array, ao: number, b: Float32Array, bo: number, k: number): number {
  const l = [0, 0, 0, 0];
  let p = 0;
  for (; p + 4 <= k; p += 4) for (let q = 0; q < 4; q++) l[q] = f(l[q]! + f(a[ao + p + q]! * b[bo + p + q]!));
  let r = f(f(l[0]! + l[1]!) + f(l[2]! + l[3]!));
  for (; p < k; p++) r = f(r + f(a[ao + p]! * b[bo + p]!));
  return f(0 + r);
}

interface Epilogue { bias: Float32Array | null; bn: { mean: Float32Array; invstd: Float32Array; w: Float32Array; b: Float32Array } | null }

/** The epilogue of column j on v: addRowBias's f32 sum, then bnForward's affine map and the ReLU. */
function epilogueModel(v: number, j: number, e: Epilogue): number {
  if (e.bias) v = f(v + e.bias[j]!);
  if (e.bn) {
    const sc = f(e.bn.invstd[j]! * e.bn.w[j]!);
    v = f(f(v * sc) + f(e.bn.b[j]! - f(e.bn.mean[j]! * sc)));
    v = v > 0 ? v : v !== v ? v : 0;
  }
  return v;
}

function epilogueFor(n: number, seed: number, bias: boolean, bn: boolean): Epilogue {
  return {
    bias: bias ? withSpecials(n, seed, 0.1) : null,
    bn: bn
      ? {
          mean: randomF32(n, seed + 1).map((v) => v * 0.3), invstd: randomF32(n, seed + 2).map((v) => Math.abs(v) + 0.5),
          w: randomF32(n, seed + 3).map((v) => v * 2), b: withSpecials(n, seed + 4, 0.1),
        }
      : null,
  };
}

const EPILOGUES: [string, boolean, boolean][] = [['none', false, false], ['bias', true, false], ['bn', false, true], ['bias + bn', true, true]];

describe('wasm gemmNT: each C element is the specified float32 dot product and epilogue', () => {
  const be = createWasmBackendSync();
  const k = be.ctx.k, ar = be.ctx.arena;
  const put = (a: Float32Array): number => {
    const p = ar.allocF32(a.length + 4);
    ar.f32.set(a, p / 4);
    return p;
  };

  /**
   * gemmNT on A [m, lda], B [n, ldb] (k of each row used), C [m, ldc] prefilled with a sentinel;
   * checks C against the model and that nothing outside C's m x n block was written.
   */
  function check(m: number, n: number, kk: number, lda: number, ldb: number, ldc: number, a: Float32Array, b: Float32Array, e: Epilogue, what: string): void {
    ar.reset();
    const ap = put(a), bp = put(b);
    const sentinel = -1234.5;
    const cp = put(new Float32Array(m * ldc + 8).fill(sentinel));
    const ep = (x: Float32Array | null | undefined): number => (x ? put(x) : 0);
    const bias = ep(e.bias), mean = ep(e.bn?.mean), invstd = ep(e.bn?.invstd), w = ep(e.bn?.w), bb = ep(e.bn?.b);
    k.gemmNT(m, n, kk, ap, lda, bp, ldb, cp, ldc, bias, mean, invstd, w, bb);
    const c = ar.f32.slice(cp / 4, cp / 4 + m * ldc + 8);
    const got: number[] = [], want: number[] = [];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        got.push(c[i * ldc + j]!);
        want.push(epilogueModel(dotModel(a, i * lda, b, j * ldb, kk), j, e));
      }
      for (let j = n; j < ldc; j++) expect(c[i * ldc + j], `${what}: C[${i}, ${j}] outside the product`).toBe(sentinel);
    }
    for (let j = m * ldc; j < c.length; j++) expect(c[j], `${what}: after C`).toBe(sentinel);
    expectBits(got, want, what);
  }

  it('small and odd shapes (m, n 1..13, k 0..13 and 67: no full tile, partial tiles, k < 4, k not a multiple of 4), every epilogue', () => {
    let seed = 1;
    for (const m of [1, 2, 3, 4, 5, 7, 13]) {
      for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 13]) {
        for (const kk of [0, 1, 2, 3, 4, 5, 7, 8, 13, 67]) {
          const [name, bias, bn] = EPILOGUES[seed % 4]!;
          seed++;
          const a = withSpecials(m * kk, seed * 7, 0.03), b = withSpecials(n * kk, seed * 7 + 1, 0.03);
          check(m, n, kk, kk, kk, n, a, b, epilogueFor(n, seed * 7 + 2, bias, bn), `m ${m} n ${n} k ${kk} (${name})`);
        }
      }
    }
  });

  it('leading dimensions beyond k and n, a long k (3137), NaN / Infinity / -0 / subnormal inputs', () => {
    for (const [i, [name, bias, bn]] of EPILOGUES.entries()) {
      // rows of A and B with gaps, C a block of a wider matrix
      check(9, 11, 70, 75, 73, 14, withSpecials(9 * 75, 10 + i, 0.02), withSpecials(11 * 73, 20 + i, 0.02), epilogueFor(11, 30 + i, bias, bn), `strided (${name})`);
      // a long k, clean and with a few specials (an Infinity times a zero: NaN; infinities of both signs)
      check(6, 10, 3137, 3137, 3137, 10, randomF32(6 * 3137, 40 + i), randomF32(10 * 3137, 50 + i), epilogueFor(10, 60 + i, bias, bn), `k 3137 (${name})`);
      check(6, 10, 3137, 3137, 3137, 10, withSpecials(6 * 3137, 70 + i, 0.0003), withSpecials(10 * 3137, 80 + i, 0.0003), epilogueFor(10, 90 + i, bias, bn), `k 3137 with specials (${name})`);
    }
    // exact cancellations (sums of +0), -0 products, -0 biases: +0 + -0 is +0
    const kk = 9, m = 3, n = 5;
    const a = Float32Array.from({ length: m * kk }, (_, i) => (i % 3 === 0 ? -0 : i % 2 ? 1 : -1));
    const b = Float32Array.from({ length: n * kk }, (_, i) => (i % 4 === 0 ? 0 : 2));
    const e: Epilogue = { bias: Float32Array.of(-0, 0, -0, 1, -1), bn: null };
    check(m, n, kk, kk, kk, n, a, b, e, 'zeros');
    check(m, n, kk, kk, kk, n, a, b, { bias: null, bn: null }, 'zeros, no epilogue');
  });

  it('the model is within a float32 dot product\'s error of the float64 product (no-epilogue path)', () => {
    ar.reset();
    const m = 5, n = 7, kk = 1001;
    const a = randomF32(m * kk, 5), b = randomF32(n * kk, 6);
    const got: number[] = [], want: number[] = [], bound: number[] = [];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, t = 0;
        for (let p = 0; p < kk; p++) { s += a[i * kk + p]! * b[j * kk + p]!; t += Math.abs(a[i * kk + p]! * b[j * kk + p]!); }
        got.push(dotModel(a, i * kk, b, j * kk, kk));
        want.push(s);
        bound.push(t);
      }
    }
    expectClose(got, want, bound, kk);
  });

  it('through the backend: linear (gemmNT tiles, odd m and n, a strided x) and matmul x @ W^T give the model\'s bits', () => {
    const st = (a: Float32Array): Storage => be.fromArray(a.slice());
    for (const [idx, [m, kk, n, rowStride]] of ([[37, 67, 23, 67], [130, 300, 517, 300], [3, 64, 5, 70], [128, 256, 259, 256]] as const).entries()) {
      const xs = withSpecials(m * rowStride, 100 + idx, 0.001), ws = randomF32(n * kk, 110 + idx);
      const x: View = { storage: st(xs), shape: [m, kk], strides: [rowStride, 1], offset: 0 };
      const wt: View = { storage: st(ws), shape: [kk, n], strides: [1, kk], offset: 0 };
      for (const [name, bias, bn] of EPILOGUES) {
        const e = epilogueFor(n, 120 + idx, bias, bn);
        const want: number[] = [];
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) want.push(epilogueModel(dotModel(xs, i * rowStride, ws, j * kk, kk), j, e));
        const bnp = e.bn ? { mean: st(e.bn.mean), invstd: st(e.bn.invstd), weight: st(e.bn.w), bias: st(e.bn.b) } : null;
        expectBits(be.readSync(be.linear!(x, wt, e.bias ? st(e.bias) : null, bnp))!, want, `linear ${m} x ${kk} x ${n} (${name})`);
        if (!bias && !bn) {
          const as3 = (v: View): View => ({ ...v, shape: [1, ...v.shape], strides: [0, ...v.strides] });
          expectBits(be.readSync(be.matmul(as3(x), as3(wt)))!, want, `matmul ${m} x ${kk} x ${n}`);
        }
      }
    }
  });
});
