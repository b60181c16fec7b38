// Conformance: float32 elementwise kernels (unary, binary, copy) on every backend against the
// js reference, over contiguous, strided, transposed and broadcast views, with NaN, +-0,
// +-Infinity and large values mixed in. Exactly rounded ops must agree bit for bit; the
// transcendental ones (f64 libm differs between engines in the last bit) within 1 f32 ulp. The
// wasm sigmoid's and softplus' vector lanes give their scalar path's bits.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { BinaryOp, UnaryOp, View } from '../../src/backend/backend.js';
import { BACKENDS, BACKEND_NAMES, contiguousStrides, expectExact, oracle, randomF32, rng } from './backends.js';
import { createWasmBackendSync } from '../../src/backend/wasm/index.js';

const TRANSCENDENTAL = new Set<UnaryOp>(['exp', 'log', 'log1p', 'sigmoid', 'tanh', 'softplus', 'powScalar', 'erf']);
const UNARY: [UnaryOp, number?, number?][] = [
  ['neg'], ['exp'], ['log'], ['log1p'], ['sqrt'], ['abs'], ['sign'], ['relu'], ['sigmoid'], ['tanh'], ['softplus'], ['erf'],
  ['reciprocal'], ['square'], ['step'], ['leakyRelu', 0.01], ['clamp', -0.3, 0.7], ['clamp', -Infinity, 0.1], ['powScalar', 2.5],
  ['powScalar', 2], ['addScalar', 0.1], ['mulScalar', 1 / 3], ['inRange', -0.25, 0.5],
];
const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'mulStep'];

function specials(n: number, seed: number): Float32Array {
  const x = randomF32(n, seed).map((v) => v * 4);
  const r = rng(seed + 3);
  const sp = [NaN, 0, -0, Infinity, -Infinity, 1e30, -1e30, 1e-40, 100, -100];
  for (let i = 0; i < n; i++) if (r() < 0.15) x[i] = sp[Math.floor(r() * sp.length)]!;
  return x;
}

function ulpClose(got: Float32Array, want: Float32Array): void {
  const gb = new Int32Array(got.buffer, got.byteOffset, got.length);
  const wb = new Int32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g === w || (g !== g && w !== w)) continue;
    if (Math.abs(gb[i]! - wb[i]!) > 1) throw new Error(`element ${i}: got ${g}, want ${w} (more than 1 ulp)`);
  }
}

function absClose(got: Float32Array, want: Float32Array, tol: number): void {
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g === w || (g !== g && w !== w)) continue;
    if (!(Math.abs(g - w) <= tol)) throw new Error(`element ${i}: got ${g}, want ${w} (more than ${tol} apart)`);
  }
}

type Layout = 'contig' | 'offset' | 'transposed' | 'bcast' | 'step';

/** A view of shape [d0, d1, d2] over fresh data in one of several layouts. */
function makeView(b: { fromArray(a: Float32Array): View['storage'] }, shape: number[], layout: Layout, seed: number): View {
  const [d0, d1, d2] = shape as [number, number, number];
  switch (layout) {
    case 'contig': return { storage: b.fromArray(specials(d0 * d1 * d2, seed)), shape, strides: contiguousStrides(shape), offset: 0 };
    case 'offset': return { storage: b.fromArray(specials(d0 * d1 * d2 + 3, seed)), shape, strides: contiguousStrides(shape), offset: 3 };
    case 'transposed': return { storage: b.fromArray(specials(d0 * d1 * d2, seed)), shape, strides: [d1 * d2, 1, d1], offset: 0 };
    case 'bcast': return { storage: b.fromArray(specials(d1, seed)), shape, strides: [0, 1, 0], offset: 0 };
    case 'step': return { storage: b.fromArray(specials(d0 * d1 * d2 * 2, seed)), shape, strides: [d1 * d2 * 2, d2 * 2, 2], offset: 0 };
  }
}

const shapeArb = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 11 }));
const layoutArb = fc.constantFrom<Layout>('contig', 'offset', 'transposed', 'bcast', 'step');

describe.each(BACKEND_NAMES)('elementwise conformance [%s]', (name) => {
  const b = BACKENDS[name]!();

  it('unary ops over strided views', () => {
    fc.assert(
      fc.property(shapeArb, layoutArb, fc.integer({ min: 1, max: 1e9 }), (shape, layout, seed) => {
        const v = makeView(b, shape, layout, seed);
        const vo: View = { ...v, storage: oracle.fromArray(b.readSync(v.storage)!) };
        for (const [op, a, c] of UNARY) {
          const got = b.readSync(b.unary(op, v, a, c))! as Float32Array;
          const want = oracle.readSync(oracle.unary(op, vo, a, c)) as Float32Array;
          expect(got).toBeInstanceOf(Float32Array);
          // The GPU backend's erf is an approximation (A&S 7.1.26, 1.5e-7) evaluated in float32: 4e-7 in all.
          if (op === 'erf' && name === 'gpu') absClose(got, want, 4e-7);
          else if (TRANSCENDENTAL.has(op)) ulpClose(got, want);
          else expectExact(got, want);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('binary ops over strided and broadcast views', () => {
    fc.assert(
      fc.property(shapeArb, layoutArb, layoutArb, fc.integer({ min: 1, max: 1e9 }), (shape, la, lb, seed) => {
        const x = makeView(b, shape, la, seed);
        const y = makeView(b, shape, lb, seed + 1);
        const xo: View = { ...x, storage: oracle.fromArray(b.readSync(x.storage)!) };
        const yo: View = { ...y, storage: oracle.fromArray(b.readSync(y.storage)!) };
        for (const op of BINARY) {
          const got = b.readSync(b.binary(op, x, y))! as Float32Array;
          const want = oracle.readSync(oracle.binary(op, xo, yo)) as Float32Array;
          if (op === 'pow') ulpClose(got, want);
          else expectExact(got, want);
        }
        expectExact(b.readSync(b.copy(x))!, oracle.readSync(oracle.copy(xo)));
      }),
      { numRuns: 40 },
    );
  });

  it('rank 0, rank 6 (not coalescible) and empty views', () => {
    const s = b.fromArray(new Float32Array([-2.5]));
    expectExact(b.readSync(b.unary('relu', { storage: s, shape: [], strides: [], offset: 0 }))!, [0]);
    const shape = [2, 1, 3, 2, 2, 3];
    const data = randomF32(2 * 3 * 2 * 2 * 3 * 2, 5);
    const strides = [72, 72, 2, 36, 6, 12]; // scrambled, with a step of 2: no dims merge
    const v: View = { storage: b.fromArray(data), shape, strides, offset: 0 };
    const vo: View = { storage: oracle.fromArray(data), shape, strides, offset: 0 };
    expectExact(b.readSync(b.unary('abs', v))!, oracle.readSync(oracle.unary('abs', vo)));
    expectExact(b.readSync(b.binary('mul', v, v))!, oracle.readSync(oracle.binary('mul', vo, vo)));
    expectExact(b.readSync(b.copy(v))!, oracle.readSync(oracle.copy(vo)));
    expect(b.readSync(b.unary('exp', { storage: b.fromArray(new Float32Array(0)), shape: [0, 3], strides: [3, 1], offset: 0 }))!.length).toBe(0);
  });
});

describe('wasm scaledAddInPlace (batch norm\'s running statistics)', () => {
  it('writes add(mul(dst, a), mul(src, b))\'s bits into dst\'s storage, specials included', () => {
    const b = BACKENDS.wasm!();
    const coefs: [number, number][] = [[0.9, 0.1], [0.9, (0.1 * 784) / 783], [1 / 3, -2.5e-5], [0.5, 1e30], [1, 0], [0, -1]];
    const finiteOnly = (n: number, seed: number): Float32Array => specials(n, seed).map((v) => (Number.isFinite(v) ? v : 0.5));
    for (const n of [0, 1, 3, 5, 32, 33, 3136]) {
      for (const [k, [a, c]] of coefs.entries()) {
        // specials (NaN, +-Infinity, 1e30: some products overflow), or finite values only
        const gen = k % 2 ? finiteOnly : specials;
        const d = gen(n, 7 * n + k), x = gen(n, 11 * n + k);
        const dst = b.fromArray(d.slice());
        b.scaledAddInPlace!(dst, a, b.fromArray(x.slice()), c);
        const dv = (s: View['storage']): View => ({ storage: s, shape: [n], strides: [1], offset: 0 });
        const want = oracle.binary('add', dv(oracle.unary('mulScalar', dv(oracle.fromArray(d)), a)), dv(oracle.unary('mulScalar', dv(oracle.fromArray(x)), c)));
        expectExact(b.readSync(dst)!, oracle.readSync(want));
      }
    }
  });
});

describe('wasm: the vectorised sigmoid and softplus (assembly/exp.ts) give the scalar path\'s bits', () => {
  // unaryF32 runs four lanes at a time and the tail (n % 4) one by one through the scalar f64
  // forms on AssemblyScript's Math.exp and Math.log1p; calls of one element take the scalar path
  // only. Values span every magnitude, both signs, the ends of exp's vector range (2^-54 and 512:
  // the lanes beyond go scalar), log1p's reduction boundary (exp(-|x|) = sqrt(2) - 1 near |x| =
  // 0.8814) and the specials; the fused BCE with logits and its gradient use the same lanes.
  // (All 2^32 float32 inputs were compared with the scalar build once: no difference.)
  const be = createWasmBackendSync();
  const { k, arena: ar } = be.ctx;
  const [SIGMOID, SOFTPLUS] = [8, 10];
  const r = rng(77);
  const edges = [2 ** -54, 512, 88.72, 103.9, 17.33, 36.7, 1e-8, 0.8813735870195430].flatMap((e) => [e, Math.fround(e * (1 + 2 ** -23)), Math.fround(e * (1 - 2 ** -24))]);
  const nearLog1pBoundary = Array.from({ length: 2000 }, (_, i) => Math.fround(0.88137 + (i - 1000) * 2 ** -24));
  const x = Float32Array.from([
    NaN, 0, -0, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, ...edges, ...edges.map((e) => -e), ...nearLog1pBoundary, ...nearLog1pBoundary.map((e) => -e),
    ...Array.from({ length: 40000 }, () => (r() < 0.5 ? -1 : 1) * 2 ** (r() * 80 - 60) * (1 + r())),
  ]);
  const n = x.length;
  const lanesVsOne = (run: (x: number, out: number, n: number, t: number, g: number) => void): void => {
    ar.reset();
    const [xp, tp, gp, o, o1] = [0, 1, 2, 3, 4].map(() => ar.allocF32(n)) as [number, number, number, number, number];
    ar.f32.set(x, xp / 4);
    ar.f32.set(randomF32(n, 78).map((v, i) => (i % 5 === 0 ? 0 : i % 5 === 1 ? 1 : Math.abs(v) % 1)), tp / 4);
    ar.f32.set(randomF32(n, 79), gp / 4);
    run(xp, o, n, tp, gp);
    for (let i = 0; i < n; i++) run(xp + 4 * i, o1 + 4 * i, 1, tp + 4 * i, gp + 4 * i);
    expectExact(ar.f32.slice(o / 4, o / 4 + n), ar.f32.slice(o1 / 4, o1 / 4 + n));
  };
  it('unaryF32 sigmoid', () => lanesVsOne((xp, o, m) => k.unaryF32(SIGMOID, xp, o, m, 0, 0)));
  it('unaryF32 softplus', () => lanesVsOne((xp, o, m) => k.unaryF32(SOFTPLUS, xp, o, m, 0, 0)));
  it('bceWithLogits and bceWithLogitsGrad', () => {
    lanesVsOne((xp, o, m, tp) => k.bceWithLogits(xp, tp, o, m));
    lanesVsOne((xp, o, m, tp, gp) => k.bceWithLogitsGrad(xp, tp, gp, o, m));
  });
});
