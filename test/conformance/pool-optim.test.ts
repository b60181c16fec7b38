// Conformance: pooling and the Adam update on every backend. These kernels do the same
// arithmetic as the js reference (max picks, f64 window sums, float32 Adam in PyTorch's order),
// so float32 results must agree bit for bit, including NaN and -Infinity handling and max-pool
// indices.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { AdamHyper, Pool2dGeometry } from '../../src/backend/backend.js';
import { BACKENDS, BACKEND_NAMES, expectExact, oracle, randomF32, rng } from './backends.js';

const poolGeometry = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 9 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    strideH: fc.integer({ min: 1, max: 3 }),
    strideW: fc.integer({ min: 1, max: 3 }),
    padH: fc.integer({ min: 0, max: 2 }),
    padW: fc.integer({ min: 0, max: 2 }),
    countIncludePad: fc.boolean(),
  })
  .map((r): Pool2dGeometry | null => {
    // PyTorch: padding at most half the kernel
    if (2 * r.padH > r.kh || 2 * r.padW > r.kw) return null;
    const oh = Math.floor((r.h + 2 * r.padH - r.kh) / r.strideH) + 1;
    const ow = Math.floor((r.w + 2 * r.padW - r.kw) / r.strideW) + 1;
    if (oh < 1 || ow < 1) return null;
    return { ...r, oh, ow };
  })
  .filter((g): g is Pool2dGeometry => g !== null);

/** Random input with some NaN, -Infinity and repeated values (ties) sprinkled in. */
function poolInput(size: number, seed: number, specials: boolean): Float32Array {
  const x = randomF32(size, seed);
  if (!specials) return x;
  const r = rng(seed + 7);
  for (let i = 0; i < size; i++) {
    const u = r();
    if (u < 0.05) x[i] = NaN;
    else if (u < 0.1) x[i] = -Infinity;
    else if (u < 0.2) x[i] = 0.5;
  }
  return x;
}

describe.each(BACKEND_NAMES)('pooling and optimiser conformance [%s]', (name) => {
  const b = BACKENDS[name]!();

  it('max / avg pooling forward and backward match the reference exactly', () => {
    fc.assert(
      fc.property(poolGeometry, fc.integer({ min: 1, max: 1e9 }), fc.boolean(), (g, seed, specials) => {
        const x = poolInput(g.n * g.c * g.h * g.w, seed, specials);
        const dy = randomF32(g.n * g.c * g.oh * g.ow, seed + 1);
        const got = b.maxPool2d(b.fromArray(x), g);
        const want = oracle.maxPool2d(oracle.fromArray(x), g);
        expectExact(b.readSync(got.out)!, oracle.readSync(want.out));
        expectExact(b.readSync(got.indices)!, oracle.readSync(want.indices));
        expect(b.readSync(got.indices)).toBeInstanceOf(Int32Array);
        expectExact(b.readSync(b.maxPool2dBackward(b.fromArray(dy), got.indices, g))!, oracle.readSync(oracle.maxPool2dBackward(oracle.fromArray(dy), want.indices, g)));
        expectExact(b.readSync(b.avgPool2d(b.fromArray(x), g))!, oracle.readSync(oracle.avgPool2d(oracle.fromArray(x), g)));
        expectExact(b.readSync(b.avgPool2dBackward(b.fromArray(dy), g))!, oracle.readSync(oracle.avgPool2dBackward(oracle.fromArray(dy), g)));
      }),
      { numRuns: 80 },
    );
  });

  it('the model pooling (2x2, stride 2) on a batch', () => {
    const g: Pool2dGeometry = { n: 4, c: 32, h: 28, w: 28, oh: 14, ow: 14, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
    const x = poolInput(4 * 32 * 28 * 28, 3, false);
    const got = b.maxPool2d(b.fromArray(x), g);
    const want = oracle.maxPool2d(oracle.fromArray(x), g);
    expectExact(b.readSync(got.out)!, oracle.readSync(want.out));
    expectExact(b.readSync(got.indices)!, oracle.readSync(want.indices));
  });

  it('adam / adamw update in place matches the reference exactly', () => {
    const cases: Partial<AdamHyper>[] = [
      { weightDecay: 0, decoupled: false },
      { weightDecay: 0.01, decoupled: false },
      { weightDecay: 0.05, decoupled: true },
      { lr: 0.3, beta1: 0.5, beta2: 0.9, eps: 1e-6, weightDecay: 0.5, decoupled: true },
    ];
    /** Gradients with zeros, tiny values (squares underflow) and huge ones (squares overflow to inf). */
    const grad = (n: number, seed: number): Float32Array => randomF32(n, seed).map((x, i) => (i % 7 === 3 ? 0 : i % 11 === 5 ? x * 1e-22 : i % 13 === 6 ? x * 1e21 : x));
    // every lane position and tail length of f32x4, and a tail after the driver's 2^15-element chunks
    for (const [ci, c] of cases.entries()) {
      for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 1001, (1 << 15) + 5]) {
        const p = randomF32(n, 10 * n + ci).map((x, i) => (i % 17 === 2 ? x * 1e-38 : i % 19 === 4 ? 0 : x));
        const m = randomF32(n, 11 * n).map((v) => v * 0.1);
        const v = randomF32(n, 12 * n).map((v) => v * v * 0.01);
        const h: AdamHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1, ...c };
        const [P, M, V] = [p.slice(), m.slice(), v.slice()];
        const [P2, M2, V2] = [p.slice(), m.slice(), v.slice()];
        const sP = b.fromArray(P), sM = b.fromArray(M), sV = b.fromArray(V);
        const oP = oracle.fromArray(P2), oM = oracle.fromArray(M2), oV = oracle.fromArray(V2);
        for (let step = 1; step <= 3; step++) {
          const g = grad(n, 13 * n + step);
          b.adamUpdate(sP, b.fromArray(g), sM, sV, { ...h, step });
          oracle.adamUpdate(oP, oracle.fromArray(g.slice()), oM, oV, { ...h, step });
        }
        // in place: the same storages were updated (fromArray may copy, so the arrays handed over are not checked)
        expectExact(b.readSync(sP)!, P2);
        expectExact(b.readSync(sM)!, M2);
        expectExact(b.readSync(sV)!, V2);
      }
    }
  });
});
