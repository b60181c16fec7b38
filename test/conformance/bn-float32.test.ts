// Conformance: batch norm's precision contract (stated in src/backend/js/norm.ts): float64
// reductions, float32 elementwise passes (PyTorch's CPU choice).
//  1. The js reference computes exactly the documented float32 steps, written out here one
//     Math.fround at a time (and for float64 tensors the same steps unrounded), and its results
//     are the textbook float64 formulas to float32 accuracy.
//  2. Every backend's elementwise passes are the reference's bit for bit: the forward (and the
//     ReLU fused into it) on any data, having no sums; the backward (plain, with the ReLU, after a
//     2x2 max pool) on dyadic data, whose float64 sums are exact in any order of addition, so
//     that the per-channel coefficients are equal too. Shapes with odd sizes, vector tails,
//     BatchNorm1d's [n, c] layout (s = 1) and channel counts that are not a multiple of 4.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ChannelGeometry, Pool2dGeometry, Storage } from '../../src/backend/backend.js';
import { flat } from '../../src/backend/composite.js';
import { JsBackend } from '../../src/backend/js/index.js';
import { BACKENDS, BACKEND_NAMES, expectBits, rng } from './backends.js';

const ref = new JsBackend();
const f = Math.fround;
const id = (v: number): number => v;

interface BnCase { g: ChannelGeometry; x: Float32Array; dy: Float32Array; mean: Float32Array; invstd: Float32Array; w: Float32Array; b: Float32Array }

/** Random data with per-channel offsets; `dyadic`: x, mean on a grid of 1/64, dy of 1/256 (exact float64 sums). */
function bnCase(g: ChannelGeometry, seed: number, dyadic: boolean): BnCase {
  const r = rng(seed);
  const size = g.n * g.c * g.s;
  const grid = (k: number, step: number): number => Math.round((r() * 2 - 1) * k) * step;
  const x = Float32Array.from({ length: size }, (_, i) => (dyadic ? grid(256, 1 / 64) : (r() * 2 - 1) * 3) + (Math.floor(i / g.s) % g.c) * 0.5);
  const dy = Float32Array.from({ length: size }, () => (dyadic ? grid(512, 1 / 256) : r() * 2 - 1));
  const mean = Float32Array.from({ length: g.c }, (_, ch) => (dyadic ? grid(64, 1 / 64) : r() - 0.5) + ch * 0.5);
  const invstd = Float32Array.from({ length: g.c }, () => r() * 2 + 0.25);
  const w = Float32Array.from({ length: g.c }, () => (r() * 2 - 1) * 2);
  const b = Float32Array.from({ length: g.c }, () => r() * 2 - 1);
  return { g, x, dy, mean, invstd, w, b };
}

/** The documented steps (rounding each by rd): y, and the gradients with batch or running statistics. */
function documented(t: BnCase, rd: (v: number) => number, batchStats: boolean): { y: number[]; dx: number[]; dweight: number[]; dbias: number[] } {
  const { g, x, dy, mean, invstd, w, b } = t;
  const N = g.n * g.s;
  const y: number[] = [], dx: number[] = [];
  const sd = new Array<number>(g.c).fill(0), sxc = new Array<number>(g.c).fill(0);
  // the sums in the reference's order: each (image, channel) run, then the runs in image order
  for (let i = 0; i < g.n; i++) for (let ch = 0; ch < g.c; ch++) {
    let p = 0, q = 0;
    for (let j = 0; j < g.s; j++) {
      const e = (i * g.c + ch) * g.s + j;
      p += dy[e]!;
      q += dy[e]! * (x[e]! - mean[ch]!);
    }
    sd[ch]! += p;
    sxc[ch]! += q;
  }
  const sxhat = sxc.map((v, ch) => v * invstd[ch]!);
  for (let e = 0; e < x.length; e++) {
    const ch = Math.floor(e / g.s) % g.c;
    const scale = rd(invstd[ch]! * w[ch]!);
    const shift = rd(b[ch]! - rd(mean[ch]! * scale));
    y.push(rd(rd(x[e]! * scale) + shift));
    const k = rd(invstd[ch]! * w[ch]!);
    const a = rd(-(invstd[ch]! * w[ch]!) * invstd[ch]! * (sxhat[ch]! / N));
    const c = rd(-(invstd[ch]! * w[ch]!) * (sd[ch]! / N));
    dx.push(batchStats ? rd(rd(dy[e]! * k) + rd(rd(rd(x[e]! - mean[ch]!) * a) + c)) : rd(dy[e]! * k));
  }
  return { y, dx, dweight: sxhat, dbias: sd };
}

const geometry = fc.record({ n: fc.integer({ min: 1, max: 5 }), c: fc.integer({ min: 1, max: 11 }), s: fc.integer({ min: 1, max: 37 }) }).filter((g) => g.n * g.s > 1);

describe('the js reference computes the documented steps', () => {
  it('float32: every step rounded, bit for bit (forward, backward with batch and running statistics)', () => {
    fc.assert(fc.property(geometry, fc.integer({ min: 1, max: 1e9 }), fc.boolean(), (g, seed, batchStats) => {
      const t = bnCase(g, seed, false);
      const want = documented(t, f, batchStats);
      const st = (a: Float32Array): Storage => ref.fromArray(a);
      expectBits(ref.readSync(ref.batchNormForward(st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g)), want.y);
      const r = ref.batchNormBackward(st(t.dy), st(t.x), st(t.mean), st(t.invstd), st(t.w), g, batchStats);
      expectBits(ref.readSync(r.dx), want.dx);
      expectBits(ref.readSync(r.dweight), Float32Array.from(want.dweight));
      expectBits(ref.readSync(r.dbias), Float32Array.from(want.dbias));
    }), { numRuns: 40 });
  });

  it('float64 tensors: the same steps, unrounded', () => {
    fc.assert(fc.property(geometry, fc.integer({ min: 1, max: 1e9 }), (g, seed) => {
      const t = bnCase(g, seed, false);
      const want = documented(t, id, true);
      const st = (a: Float32Array): Storage => ref.fromArray(Float64Array.from(a));
      expect(ref.readSync(ref.batchNormForward(st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g))).toBeInstanceOf(Float64Array);
      expectBits(ref.readSync(ref.batchNormForward(st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g)), want.y);
      const r = ref.batchNormBackward(st(t.dy), st(t.x), st(t.mean), st(t.invstd), st(t.w), g, true);
      expectBits(ref.readSync(r.dx), want.dx);
      expectBits(ref.readSync(r.dweight), want.dweight);
    }), { numRuns: 20 });
  });

  it('float32 results are the textbook float64 formulas within a few float32 roundings of their terms', () => {
    fc.assert(fc.property(geometry, fc.integer({ min: 1, max: 1e9 }), (g, seed) => {
      const t = bnCase(g, seed, false);
      const { x, dy, mean, invstd, w, b } = t;
      const st = (a: Float32Array): Storage => ref.fromArray(a);
      const y = ref.readSync(ref.batchNormForward(st(x), st(mean), st(invstd), st(w), st(b), g));
      const r = ref.batchNormBackward(st(dy), st(x), st(mean), st(invstd), st(w), g, true);
      const dx = ref.readSync(r.dx);
      const N = g.n * g.s;
      const chOf = (e: number): number => Math.floor(e / g.s) % g.c;
      // dx = w invstd (dy - mean(dy) - xhat mean(dy xhat)), xhat = (x - mean) invstd
      const mDy = new Array<number>(g.c).fill(0), mDyXhat = new Array<number>(g.c).fill(0);
      for (let e = 0; e < x.length; e++) {
        const ch = chOf(e);
        mDy[ch]! += dy[e]! / N;
        mDyXhat[ch]! += (dy[e]! * (x[e]! - mean[ch]!) * invstd[ch]!) / N;
      }
      const U = 2 ** -24;
      for (let e = 0; e < x.length; e++) {
        const ch = chOf(e);
        const xhat = (x[e]! - mean[ch]!) * invstd[ch]!;
        const yWant = xhat * w[ch]! + b[ch]!;
        // scale, shift, the product and the sum: each term carries a few roundings
        expect(Math.abs(y[e]! - yWant)).toBeLessThanOrEqual(6 * U * (Math.abs(x[e]! * invstd[ch]! * w[ch]!) + Math.abs(b[ch]!) + Math.abs(mean[ch]! * invstd[ch]! * w[ch]!)));
        const k = invstd[ch]! * w[ch]!;
        const dxWant = k * (dy[e]! - mDy[ch]! - xhat * mDyXhat[ch]!);
        expect(Math.abs(dx[e]! - dxWant)).toBeLessThanOrEqual(6 * U * (Math.abs(k * dy[e]!) + Math.abs(k * mDy[ch]!) + Math.abs(k * xhat * mDyXhat[ch]!)) + 1e-12);
      }
    }), { numRuns: 40 });
  });
});


describe.each(BACKEND_NAMES)('the elementwise passes equal the reference bit for bit [%s]', (name) => {
  const be = BACKENDS[name]!();
  const shapes: ChannelGeometry[] = [
    { n: 3, c: 4, s: 13 }, { n: 2, c: 5, s: 1 }, { n: 4, c: 3, s: 64 }, { n: 2, c: 7, s: 3 }, { n: 16, c: 33, s: 1 }, { n: 9, c: 8, s: 1 },
    { n: 5, c: 1, s: 1 }, { n: 2, c: 6, s: 49 }, { n: 3, c: 2, s: 196 }, { n: 1, c: 3, s: 5 },
  ];

  it('forward (and with the ReLU) on any data', () => {
    for (const [k, g] of shapes.entries()) {
      const t = bnCase(g, 500 + k, false);
      const st = (a: Float32Array): Storage => be.fromArray(a.slice());
      const so = (a: Float32Array): Storage => ref.fromArray(a.slice());
      const y = be.batchNormForward(st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g);
      const want = ref.batchNormForward(so(t.x), so(t.mean), so(t.invstd), so(t.w), so(t.b), g);
      expectBits(be.readSync(y)!, ref.readSync(want));
      if (be.batchNormReluForward) {
        expectBits(be.readSync(be.batchNormReluForward(st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g))!, ref.readSync(ref.unary('relu', flat(want))));
      }
    }
  });

  it('backward, with the ReLU, with batch and running statistics, on dyadic data', () => {
    for (const [k, g] of shapes.entries()) {
      const t = bnCase(g, 600 + k, true);
      const st = (a: Float32Array): Storage => be.fromArray(a.slice());
      const so = (a: Float32Array): Storage => ref.fromArray(a.slice());
      for (const batchStats of [true, false]) {
        const r = be.batchNormBackward(st(t.dy), st(t.x), st(t.mean), st(t.invstd), st(t.w), g, batchStats);
        const o = ref.batchNormBackward(so(t.dy), so(t.x), so(t.mean), so(t.invstd), so(t.w), g, batchStats);
        for (const key of ['dx', 'dweight', 'dbias'] as const) expectBits(be.readSync(r[key])!, ref.readSync(o[key]));
        if (!be.batchNormReluBackward) continue;
        const rr = be.batchNormReluBackward(st(t.dy), st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g, batchStats);
        const or = ref.batchNormReluBackward(so(t.dy), so(t.x), so(t.mean), so(t.invstd), so(t.w), so(t.b), g, batchStats);
        for (const key of ['dx', 'dweight', 'dbias'] as const) expectBits(be.readSync(rr[key])!, ref.readSync(or[key]));
      }
    }
  });

  it.skipIf(!be.batchNormReluMaxPool || !be.batchNormReluMaxPoolBackward)('BatchNorm -> ReLU -> MaxPool2d forward and backward (2x2 fast path and general path) on dyadic data', () => {
    const pool = (n: number, c: number, h: number, w: number, kk = 2, stride = 2): Pool2dGeometry => ({
      n, c, h, w, oh: Math.floor((h - kk) / stride) + 1, ow: Math.floor((w - kk) / stride) + 1, kh: kk, kw: kk, strideH: stride, strideW: stride, padH: 0, padW: 0, countIncludePad: true,
    });
    for (const [k, p] of [pool(3, 4, 28, 28), pool(2, 5, 14, 14), pool(2, 3, 6, 10), pool(1, 2, 2, 14), pool(2, 3, 7, 9), pool(2, 2, 8, 8, 3, 2)].entries()) {
      const g: ChannelGeometry = { n: p.n, c: p.c, s: p.h * p.w };
      const t = bnCase(g, 700 + k, true);
      const st = (a: Float32Array | Int32Array): Storage => be.fromArray(a.slice());
      const so = (a: Float32Array | Int32Array): Storage => ref.fromArray(a.slice());
      const got = be.batchNormReluMaxPool!(st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g, p);
      const want = ref.maxPool2d(ref.unary('relu', flat(ref.batchNormForward(so(t.x), so(t.mean), so(t.invstd), so(t.w), so(t.b), g))), p);
      expectBits(be.readSync(got.out)!, ref.readSync(want.out));
      expectBits(be.readSync(got.indices)!, ref.readSync(want.indices));
      const dy = bnCase({ n: p.n, c: p.c, s: p.oh * p.ow }, 800 + k, true).dy;
      for (const batchStats of [true, false]) {
        const r = be.batchNormReluMaxPoolBackward!(st(dy), got.indices, st(t.x), st(t.mean), st(t.invstd), st(t.w), st(t.b), g, p, batchStats);
        const o = ref.batchNormReluBackward(ref.maxPool2dBackward(so(dy), want.indices, p), so(t.x), so(t.mean), so(t.invstd), so(t.w), so(t.b), g, batchStats);
        for (const key of ['dx', 'dweight', 'dbias'] as const) expectBits(be.readSync(r[key])!, ref.readSync(o[key]));
      }
    }
  });
});

it('bnCase dyadic data really gives float64 sums that are exact in any order (the premise above)', () => {
  const t = bnCase({ n: 3, c: 4, s: 784 }, 9, true);
  const terms = Array.from(t.dy, (d, e) => d * (t.x[e]! - t.mean[Math.floor(e / 784) % 4]!));
  const fwd = terms.reduce((p, q) => p + q, 0);
  const back = terms.reduceRight((p, q) => p + q, 0);
  const r = rng(3);
  const shuffled = terms.map((v) => [r(), v] as const).sort((p, q) => p[0] - q[0]).reduce((p, [, v]) => p + v, 0);
  expect(back).toBe(fwd);
  expect(shuffled).toBe(fwd);
  // and the terms are not trivially small integers: they carry fractional bits down to 2^-14
  expect(terms.some((v) => v * 2 ** 13 !== Math.round(v * 2 ** 13))).toBe(true);
});
