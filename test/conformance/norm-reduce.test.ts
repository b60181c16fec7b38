// Conformance: batch-norm kernels, sum reductions, the fused ReLU gradient (binary 'mulStep')
// and the 2x2 max-pool fast path, on every backend against the js reference.
//
// Tolerance: the reference accumulates sums in float64 and rounds once to float32. A backend
// that also accumulates in float64 (in another order: SIMD lanes, blocks) differs from it by
// about n * 2^-53 * sum|x| before the final rounding, so for the sizes here (n <= 2^20) its
// float32 results are equal to the reference's or 1 ulp away (when the f64 value lies next to a
// rounding boundary). We allow 1 ulp, plus an absolute slack of 2^-40 * sum|terms| for sums
// that cancel to (nearly) zero, where ulp distance is meaningless. Batch norm's elementwise
// passes are float32 steps that every backend performs exactly as the reference does: the
// forward must match bit for bit; dx depends on per-channel coefficients from the sums, which
// round to the same float32 values unless a sum lies next to a rounding boundary (exactness on
// data whose sums are exact in any order: bn-float32.test.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ChannelGeometry, Pool2dGeometry, View } from '../../src/backend/backend.js';
import { BACKENDS, BACKEND_NAMES, contiguousStrides, expectExact, oracle, randomF32, rng } from './backends.js';

function close(got: ArrayLike<number>, want: ArrayLike<number>, slack: ArrayLike<number> | number = 0): void {
  expect(got.length).toBe(want.length);
  const g32 = Float32Array.from(got);
  const w32 = Float32Array.from(want);
  const gb = new Int32Array(g32.buffer);
  const wb = new Int32Array(w32.buffer);
  for (let i = 0; i < w32.length; i++) {
    const g = g32[i]!, w = w32[i]!;
    if (g === w || (g !== g && w !== w)) continue;
    const s = typeof slack === 'number' ? slack : slack[i]!;
    if (Math.abs(g - w) <= s) continue;
    if (Math.sign(g) === Math.sign(w) && Math.abs(gb[i]! - wb[i]!) <= 1) continue;
    throw new Error(`element ${i}: got ${g}, want ${w} (more than 1 ulp)`);
  }
}

/** Data with a per-channel offset (so that mean removal matters) and some spread. */
function bnInput(g: ChannelGeometry, seed: number, offset: number): Float32Array {
  const x = randomF32(g.n * g.c * g.s, seed);
  for (let i = 0; i < g.n; i++) for (let ch = 0; ch < g.c; ch++) for (let j = 0; j < g.s; j++) x[(i * g.c + ch) * g.s + j] = x[(i * g.c + ch) * g.s + j]! * (1 + ch) + offset * ch;
  return x;
}

const bnGeometry = fc.record({ n: fc.integer({ min: 1, max: 6 }), c: fc.integer({ min: 1, max: 9 }), s: fc.integer({ min: 1, max: 40 }) }).filter((g) => g.n * g.s > 1);

describe.each(BACKEND_NAMES)('batch norm, reductions, mulStep, pool fast path [%s]', (name) => {
  const b = BACKENDS[name]!();
  const st = (a: Float32Array): View['storage'] => b.fromArray(a);
  const so = (a: Float32Array): View['storage'] => oracle.fromArray(a);

  function checkBn(g: ChannelGeometry, seed: number, offset: number): void {
    const x = bnInput(g, seed, offset);
    const dy = randomF32(x.length, seed + 1);
    const w = randomF32(g.c, seed + 2).map((v) => v + 1.5);
    const bias = randomF32(g.c, seed + 3);
    const sg = b.batchNormStats(st(x), g);
    const so_ = oracle.batchNormStats(so(x), g);
    // sums cancel: allow 2^-40 * sum|x| / count absolute slack per channel on the mean
    close(b.readSync(sg.mean)!, oracle.readSync(so_.mean), 1e-12 * (1 + offset * g.c));
    close(b.readSync(sg.variance)!, oracle.readSync(so_.variance));
    const mean = oracle.readSync(so_.mean) as Float32Array;
    const invstd = Float32Array.from(oracle.readSync(so_.variance) as Float32Array, (v) => 1 / Math.sqrt(v + 1e-5));
    expectExact(
      b.readSync(b.batchNormForward(st(x), st(mean), st(invstd), st(w), st(bias), g))!,
      oracle.readSync(oracle.batchNormForward(so(x), so(mean), so(invstd), so(w), so(bias), g)),
    );
    for (const batchStats of [true, false]) {
      const r = b.batchNormBackward(st(dy), st(x), st(mean), st(invstd), st(w), g, batchStats);
      const o = oracle.batchNormBackward(so(dy), so(x), so(mean), so(invstd), so(w), g, batchStats);
      const count = g.n * g.s;
      close(b.readSync(r.dx)!, oracle.readSync(o.dx), 1e-9 * count);
      close(b.readSync(r.dweight)!, oracle.readSync(o.dweight), 1e-9 * count);
      close(b.readSync(r.dbias)!, oracle.readSync(o.dbias), 1e-9 * count);
    }
  }

  it('batch norm stats / forward / backward over random [n, c, s]', () => {
    fc.assert(fc.property(bnGeometry, fc.integer({ min: 1, max: 1e9 }), fc.constantFrom(0, 3, 100), (g, seed, off) => checkBn(g, seed, off)), { numRuns: 60 });
  });

  it('batch norm on the model shapes (conv planes and BatchNorm1d)', () => {
    for (const g of [{ n: 16, c: 32, s: 784 }, { n: 16, c: 64, s: 196 }, { n: 128, c: 256, s: 1 }, { n: 8, c: 3136, s: 1 }, { n: 4, c: 2, s: 49 }]) checkBn(g, 11, 2);
  });

  const reduceCases: [number[], number[]][] = [
    [[4, 5, 6, 7], [0, 2, 3]], // conv bias gradient
    [[9, 13], [0]], // linear bias gradient
    [[9, 13], [1]], // per-row sums
    [[3, 4, 5], [1]], // K R K
    [[3, 4, 5], [0, 2]],
    [[17], [0]],
    [[2, 1, 3, 1], [0, 1]],
    [[2, 3, 4], [0, 1, 2]],
    [[3, 4, 5, 2], [0, 2]], // R K R K: the reference path
  ];

  it('sum reductions over kept/reduced patterns, contiguous and strided', () => {
    for (const [shape, axes] of reduceCases) {
      for (const layout of ['contig', 'transposed'] as const) {
        const n = shape.reduce((p, q) => p * q, 1);
        const data = randomF32(n, n + axes.length).map((v) => v * 100);
        let strides = contiguousStrides(shape);
        if (layout === 'transposed' && shape.length >= 2) {
          // same storage, the last two dims swapped in memory
          const s2 = [...shape];
          [s2[s2.length - 1], s2[s2.length - 2]] = [s2[s2.length - 2]!, s2[s2.length - 1]!];
          const cs = contiguousStrides(s2);
          strides = [...cs];
          [strides[strides.length - 1], strides[strides.length - 2]] = [cs[cs.length - 2]!, cs[cs.length - 1]!];
        }
        const v: View = { storage: b.fromArray(data), shape, strides, offset: 0 };
        const vo: View = { storage: oracle.fromArray(data), shape, strides, offset: 0 };
        const got = b.readSync(b.reduce('sum', v, axes))!;
        const want = oracle.readSync(oracle.reduce('sum', vo, axes));
        close(got, want, 1e-9 * n * 100);
        expect(got).toBeInstanceOf(Float32Array);
      }
    }
  });

  it("mulStep (a * (b > 0)) equals a.mul(b.gt(0)) bit for bit, specials included", () => {
    const r = rng(5);
    const sp = [NaN, 0, -0, Infinity, -Infinity, 1e-40, -1e-40, 2, -2];
    const mk = (n: number): Float32Array => Float32Array.from({ length: n }, () => (r() < 0.3 ? sp[Math.floor(r() * sp.length)]! : r() * 4 - 2));
    for (const n of [1, 3, 4, 7, 64, 1001]) {
      const a = mk(n), c = mk(n);
      const va: View = { storage: b.fromArray(a), shape: [n], strides: [1], offset: 0 };
      const vc: View = { storage: b.fromArray(c), shape: [n], strides: [1], offset: 0 };
      const got = b.readSync(b.binary('mulStep', va, vc))!;
      const mask = b.binary('gt', vc, { storage: b.fromArray(new Float32Array([0])), shape: [n], strides: [0], offset: 0 });
      const want = b.readSync(b.binary('mul', va, { storage: mask, shape: [n], strides: [1], offset: 0 }))!;
      expectExact(got, want);
      // and the reference agrees
      const oa: View = { ...va, storage: oracle.fromArray(a) };
      const oc: View = { ...vc, storage: oracle.fromArray(c) };
      expectExact(got, oracle.readSync(oracle.binary('mulStep', oa, oc)));
      // -0 where a < 0 and b <= 0, exactly as the two-kernel form gives
      for (let i = 0; i < n; i++) expect(Object.is(got[i], want[i]) || (got[i] !== got[i] && want[i] !== want[i])).toBe(true);
    }
  });

  it('2x2 stride-2 max pooling with NaN, -Infinity and ties, odd sizes', () => {
    for (const [h, w] of [[28, 28], [14, 14], [7, 9], [5, 16], [2, 2], [3, 11], [9, 3]] as const) {
      const oh = Math.floor(h / 2), ow = Math.floor(w / 2);
      const g: Pool2dGeometry = { n: 2, c: 3, h, w, oh, ow, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
      const x = randomF32(2 * 3 * h * w, h * 31 + w);
      const r = rng(h + w);
      for (let i = 0; i < x.length; i++) {
        const u = r();
        if (u < 0.08) x[i] = NaN;
        else if (u < 0.16) x[i] = -Infinity;
        else if (u < 0.3) x[i] = 0.5;
      }
      const got = b.maxPool2d(b.fromArray(x), g);
      const want = oracle.maxPool2d(oracle.fromArray(x), g);
      expectExact(b.readSync(got.out)!, oracle.readSync(want.out));
      expectExact(b.readSync(got.indices)!, oracle.readSync(want.indices));
    }
  });
});

describe('wasm bnStats: the float64 sums in the documented order (so that the bits never move)', () => {
  // Each (image, channel) run of s floats is summed in four lanes by position mod 4, the lanes
  // added as (L0 + L2) + (L1 + L3), then the tail; the runs' sums are added in image order. The
  // kernel sums eight images at a time (the rest one by one); this pins that it still gives exactly that order.
  const runOrder = (v: ArrayLike<number>, f: (t: number) => number): number => {
    const lanes = [0, 0, 0, 0];
    let j = 0;
    for (; j + 4 <= v.length; j += 4) for (let l = 0; l < 4; l++) lanes[l] = lanes[l]! + f(v[j + l]!);
    let r = (lanes[0]! + lanes[2]!) + (lanes[1]! + lanes[3]!);
    for (; j < v.length; j++) r += f(v[j]!);
    return r;
  };
  it.each([[1, 2, 5], [2, 3, 4], [3, 2, 13], [5, 1, 9], [7, 3, 30], [4, 2, 2], [16, 4, 36], [33, 3, 17], [64, 2, 49]])('n %i c %i s %i', async (n, c, s) => {
    const { createWasmBackendSync } = await import('../../src/backend/wasm/index.js');
    const ctx = createWasmBackendSync().ctx, ar = ctx.arena;
    ar.reset();
    const r = rng(n * 100 + c * 10 + s);
    const x = Float32Array.from({ length: n * c * s }, () => (r() * 2 - 1) * 2 ** Math.round(r() * 60 - 30));
    const xp = ar.allocF32(x.length + 8), mp = ar.alloc(c * 8), vp = ar.alloc(c * 8);
    ar.f32.set(x, xp / 4);
    ctx.k.bnStats(xp, n, c, s, mp, vp, c);
    const mean = new Float64Array(ar.memory.buffer, mp, c).slice(), variance = new Float64Array(ar.memory.buffer, vp, c).slice();
    for (let ch = 0; ch < c; ch++) {
      const run = (i: number): Float32Array => x.subarray((i * c + ch) * s, (i * c + ch + 1) * s);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += runOrder(run(i), (t) => t);
      const mu = sum / (n * s);
      let sq = 0;
      for (let i = 0; i < n; i++) sq += runOrder(run(i), (t) => (t - mu) * (t - mu));
      expect(mean[ch]).toBe(mu);
      expect(variance[ch]).toBe(sq / (n * s));
    }
  });
});
