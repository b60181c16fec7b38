// wasm-only: the direct convolution (assembly/conv.ts convDirect) that runs stride-1 convs with
// a small K = (c / groups) * kh * kw. It claims the bits of the im2col + GEMM path it replaces,
// so every case here runs both (directMaxK = 0 turns it off) and compares bits: random
// geometries in its domain (widths under 4 and off the 4/8/16 blocks, padding 0..2, dilation,
// groups, output channels off the 4-channel blocks, batch 1 and odd), conv2d, conv2dBias and the
// fused inference epilogue (BN + ReLU, with and without max pooling), special values (inf and
// NaN weights times padding, -0, NaN and inf inputs); against the float64 oracle too; and which
// convolutions take it.
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { BatchNormParams, Conv2dGeometry, Pool2dGeometry, Storage } from '../../src/backend/backend.js';
import type { WasmBackend } from '../../src/backend/wasm/backend.js';
import type { KernelExports } from '../../src/backend/wasm/loader.js';
import { spiedWasmBackend as backend, strideOneGeo as geo, strideOneGeos } from './spied-wasm.js';
import { abs64, expectClose, oracle, randomF32, to64 } from './backends.js';


const bitsOf = (a: ArrayLike<number>): Uint32Array => new Uint32Array(Float32Array.from(a).buffer);

function expectSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const g = bitsOf(got), w = bitsOf(want);
  expect(g.length, what).toBe(w.length);
  for (let i = 0; i < w.length; i++) {
    if (g[i] !== w[i]) throw new Error(`${what}: element ${i}: got ${got[i]} (0x${g[i]!.toString(16)}), want ${want[i]} (0x${w[i]!.toString(16)})`);
  }
}

/**
 * Run `f` on the direct path and on im2col + GEMM; a direct kernel (convDirect, or the one that
 * also pools) must have run (or not, as `direct` says) and the bits agree.
 */
function bothPaths(b: WasmBackend, k: KernelExports, direct: boolean, what: string, f: () => Storage): Float32Array {
  const spy = vi.spyOn(k, 'convDirect');
  const spyPool = vi.spyOn(k, 'convDirectBnReluPool2x2');
  const limit = b.directMaxK;
  try {
    spy.mockClear();
    spyPool.mockClear();
    const got = b.readSync(f()) as Float32Array;
    expect(spy.mock.calls.length + spyPool.mock.calls.length > 0, `${what}: direct kernel ran`).toBe(direct);
    b.directMaxK = 0;
    const want = b.readSync(f()) as Float32Array;
    expectSameBits(got, want, what);
    return got;
  } finally {
    b.directMaxK = limit;
    spy.mockRestore();
    spyPool.mockRestore();
  }
}

/** conv2d and conv2dBias on both paths, and conv2d against the float64 oracle. */
function checkConv(b: WasmBackend, k: KernelExports, g: Conv2dGeometry, seed: number, direct = true, x = randomF32(g.n * g.c * g.h * g.w, seed), w = randomF32(g.o * (g.c / g.groups) * g.kh * g.kw, seed + 1)): void {
  const bias = randomF32(g.o, seed + 2);
  const s = (a: Float32Array): Storage => b.fromArray(a.slice());
  const tag = JSON.stringify(g);
  const y = bothPaths(b, k, direct, `conv2d ${tag}`, () => b.conv2d(s(x), s(w), g));
  bothPaths(b, k, direct, `conv2dBias ${tag}`, () => b.conv2dBias(s(x), s(w), s(bias), g));
  if (x.every(Number.isFinite) && w.every(Number.isFinite)) {
    const O = (a: Float64Array): Storage => oracle.fromArray(a);
    expectClose(y, oracle.readSync(oracle.conv2d(O(to64(x)), O(to64(w)), g))!, oracle.readSync(oracle.conv2d(O(abs64(x)), O(abs64(w)), g))!, (g.c / g.groups) * g.kh * g.kw);
  }
}

describe('direct convolution (wasm)', () => {
  it('random geometries in its domain give the bits of im2col + GEMM (1x1 ones keep the GEMM)', () => {
    const { b, k } = backend();
    const arb = strideOneGeos({ maxCg: 3, maxH: 12, maxW: 21 });
    fc.assert(fc.property(arb, fc.integer({ min: 1, max: 1e9 }), (g, seed) => checkConv(b, k, g, seed, g.kh * g.kw > 1)), { numRuns: 80 });
  });

  it('kernels 3x3, 5x5 and 1x3, widths 1 to 35, padding 0 to 2, batch 1 and odd (and 1x1, which keeps the GEMM)', () => {
    const { b, k } = backend();
    let seed = 1;
    for (const [kh, kw, c] of [[1, 1, 3], [3, 3, 1], [3, 3, 3], [5, 5, 1], [1, 3, 2]] as const) {
      for (const w of [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 28, 35]) {
        for (const pad of [0, 1, 2]) {
          const g = geo(w % 2 ? 3 : 1, c, 5, w, w % 3 ? 6 : 9, kh, kw, pad, pad);
          if (g.oh >= 1 && g.ow >= 1) checkConv(b, k, g, (seed += 3), kh * kw > 1);
        }
      }
    }
  });

  it('the reference model first layer (1 -> 32, 3x3, padding 1, 28x28) over several image chunks', () => {
    const { b, k } = backend();
    checkConv(b, k, geo(37, 1, 28, 28, 32, 3, 3, 1, 1), 5);
  });

  it('special values: inf and NaN weights meet the padding, -0, NaN and inf inputs', () => {
    const { b, k } = backend();
    const g = geo(2, 2, 6, 7, 5, 3, 3, 1, 2);
    const x = randomF32(g.n * g.c * g.h * g.w, 41);
    const w = randomF32(g.o * g.c * 9, 42);
    x[0] = -0; x[5] = NaN; x[13] = Infinity; x[30] = -Infinity; x.fill(-0, 50, 60);
    w[0] = Infinity; w[10] = NaN; w[20] = -Infinity; w[31] = -0;
    checkConv(b, k, g, 43, true, x, w);
    // all -0 inputs and weights: every product is +0 or -0, and a sum from +0 stays +0
    checkConv(b, k, g, 44, true, new Float32Array(x.length).fill(-0), new Float32Array(w.length).fill(-0));
  });

  it('the fused inference epilogue (bias, BN + ReLU, max pooling) gives the bits of the GEMM path', () => {
    const { b, k } = backend();
    for (const [i, g] of [geo(19, 1, 28, 28, 32, 3, 3, 1, 1), geo(3, 2, 9, 11, 6, 3, 3, 1, 1), geo(2, 1, 3, 3, 5, 3, 3, 1, 1)].entries()) {
      const s = (a: Float32Array): Storage => b.fromArray(a.slice());
      const x = randomF32(g.n * g.c * g.h * g.w, 60 + i), w = randomF32(g.o * g.c * g.kh * g.kw, 70 + i), bias = randomF32(g.o, 80 + i);
      const bn: BatchNormParams = {
        mean: s(randomF32(g.o, 90 + i).map((v) => v * 0.3)), invstd: s(randomF32(g.o, 100 + i).map((v) => Math.abs(v) + 0.5)),
        weight: s(randomF32(g.o, 110 + i)), bias: s(randomF32(g.o, 120 + i)),
      };
      const pool: Pool2dGeometry = { n: g.n, c: g.o, h: g.oh, w: g.ow, oh: Math.floor(g.oh / 2), ow: Math.floor(g.ow / 2), kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
      for (const p of [null, pool]) {
        for (const withBias of [true, false]) {
          bothPaths(b, k, true, `conv2dBnRelu ${JSON.stringify(g)} pool ${!!p} bias ${withBias}`, () => b.conv2dBnRelu(s(x), s(w), withBias ? s(bias) : null, bn, g, p));
        }
      }
    }
  });

  it('runs only where it fits: stride 1, larger than 1x1, K <= directMaxK; just outside it the GEMM path is still right', () => {
    const { b, k } = backend();
    expect(b.directMaxK).toBeGreaterThanOrEqual(9); // the reference model's first layer takes it
    const K = b.directMaxK;
    checkConv(b, k, geo(2, 1, 9, 10, 4, 3, 3, 1, 1), 1);
    checkConv(b, k, geo(2, 1, 3, K + 4, 3, 1, K, 0, 0), 2); // a 1 x K kernel, K = directMaxK: direct
    checkConv(b, k, geo(2, 1, 3, K + 4, 3, 1, K + 1, 0, 0), 3, false); // one more: GEMM
    checkConv(b, k, geo(2, 5, 6, 7, 3, 1, 1, 0, 0), 9, false); // 1x1: GEMM
    checkConv(b, k, geo(3, 2, 7, 9, 5, 4, 4, 1, 1), 4, K >= 32); // K = 32
    // stride 2: GEMM
    const s2 = geo(2, 1, 9, 9, 4, 3, 3, 1, 1);
    checkConv(b, k, { ...s2, strideH: 2, strideW: 2, oh: 5, ow: 5 }, 5, false);
    checkConv(b, k, { ...s2, strideW: 2, ow: 5 }, 6, false);
    // 3x3 with 4+ channels in and out: Winograd, not direct (nor GEMM), so only the oracle applies
    b.directMaxK = 64;
    const spy = vi.spyOn(k, 'convDirect');
    const g = geo(2, 4, 8, 8, 4, 3, 3, 1, 1);
    b.conv2d(b.fromArray(randomF32(2 * 4 * 64, 7)), b.fromArray(randomF32(4 * 4 * 9, 8)), g);
    expect(spy).not.toHaveBeenCalled();
  });
});
