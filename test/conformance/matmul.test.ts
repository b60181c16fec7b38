// Conformance: Backend.matmul on every backend against the float64 js oracle.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Backend, View } from '../../src/backend/backend.js';
import { BACKENDS, BACKEND_NAMES, abs64, expectBits, expectClose, oracle, randomF32, rng, to64 } from './backends.js';

type Layout = 'row' | 'trans' | 'padded' | 'bcast' | 'neg';

/**
 * A [batch, r, c] operand in one of several memory layouts over a float32 buffer:
 * row-major, transposed (stored [batch, c, r]), padded rows with an offset, batch-broadcast
 * (batch stride 0), or with a reversed (negative-stride) row order.
 */
function operand(batch: number, r: number, c: number, layout: Layout, seed: number): { data: Float32Array; shape: number[]; strides: number[]; offset: number } {
  const shape = [batch, r, c];
  switch (layout) {
    case 'row': return { data: randomF32(batch * r * c, seed), shape, strides: [r * c, c, 1], offset: 0 };
    case 'trans': return { data: randomF32(batch * r * c, seed), shape, strides: [r * c, 1, r], offset: 0 };
    case 'padded': {
      const ld = c + 3;
      return { data: randomF32(5 + batch * r * ld, seed), shape, strides: [r * ld, ld, 1], offset: 5 };
    }
    case 'bcast': return { data: randomF32(r * c, seed), shape, strides: [0, c, 1], offset: 0 };
    case 'neg': return { data: randomF32(batch * r * c, seed), shape, strides: [r * c, -c, 1], offset: Math.max(r - 1, 0) * c };
  }
}

function check(b: Backend, batch: number, m: number, k: number, n: number, la: Layout, lb: Layout, seed: number): void {
  const A = operand(batch, m, k, la, seed);
  const B = operand(batch, k, n, lb, seed + 1);
  const mk = (d: Float32Array | Float64Array, o: typeof A, be: Backend): View => ({ storage: be.fromArray(d), shape: o.shape, strides: o.strides, offset: o.offset });
  const got = b.readSync(b.matmul(mk(A.data, A, b), mk(B.data, B, b)))!;
  expect(got).toBeInstanceOf(Float32Array);
  expect(got.length).toBe(batch * m * n);
  const want = oracle.readSync(oracle.matmul(mk(to64(A.data), A, oracle), mk(to64(B.data), B, oracle)));
  const bound = oracle.readSync(oracle.matmul(mk(abs64(A.data), A, oracle), mk(abs64(B.data), B, oracle)));
  expectClose(got, want, bound, k);
}

const layouts: Layout[] = ['row', 'trans', 'padded', 'bcast', 'neg'];
// sizes around the 4x8 register tile and the 256/128 cache blocks, 1s and primes
const dim = fc.oneof(fc.integer({ min: 1, max: 19 }), fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 31, 33, 37));

describe.each(BACKEND_NAMES)('matmul conformance [%s]', (name) => {
  const b = BACKENDS[name]!();

  it('random shapes and strided / transposed / broadcast layouts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), dim, dim, dim, fc.constantFrom(...layouts), fc.constantFrom(...layouts), fc.integer({ min: 1, max: 1e9 }),
        (batch, m, k, n, la, lb, seed) => check(b, batch, m, k, n, la, lb, seed)),
      { numRuns: 120 },
    );
  });

  it('crosses the k (256) and m (128) cache blocks', () => {
    check(b, 1, 131, 263, 21, 'row', 'row', 1);
    check(b, 2, 129, 257, 9, 'trans', 'trans', 2);
    check(b, 3, 5, 300, 7, 'padded', 'bcast', 3);
  });

  it('products of many small tiles (on wasm: A and B packed once, then the tiles), odd sizes, batched', () => {
    check(b, 1, 130, 300, 250, 'row', 'row', 15); // 36 x 64 tiles, two k blocks, partial last tiles
    check(b, 2, 130, 77, 250, 'trans', 'neg', 16);
    check(b, 3, 66, 129, 129, 'padded', 'trans', 17); // batched, B per batch; k < 64 and n odd
    check(b, 2, 129, 40, 250, 'row', 'bcast', 18); // B shared: one product of 258 rows
  });

  it('x @ W^T with a long k (both operands contiguous along k: the dot-product path on wasm)', () => {
    check(b, 1, 131, 263, 22, 'row', 'trans', 9); // odd rows, columns not a multiple of 3
    check(b, 2, 9, 65, 10, 'row', 'trans', 10);
    check(b, 1, 1, 64, 1, 'row', 'trans', 11);
    // several tiles of C on wasm: odd m, columns not a multiple of the tile or of 3, k tails
    check(b, 1, 37, 301, 203, 'row', 'trans', 12);
    check(b, 3, 7, 6003, 50, 'padded', 'trans', 13); // k so long that a tile holds 21 rows of B
    check(b, 1, 2, 130, 5, 'row', 'trans', 14);
  });

  it('one large product (300x500x200)', () => {
    check(b, 1, 300, 500, 200, 'row', 'row', 4);
  });

  it('m = 1 and n = 1 (vector products), batch 1', () => {
    check(b, 1, 1, 37, 29, 'row', 'row', 5);
    check(b, 1, 29, 37, 1, 'row', 'trans', 6);
    check(b, 4, 1, 33, 9, 'row', 'bcast', 7); // folds batch into rows
    check(b, 1, 1, 1, 1, 'row', 'row', 8);
  });

  it('k = 0 gives zeros; empty m or n gives an empty result', () => {
    const z = b.readSync(b.matmul(
      { storage: b.fromArray(new Float32Array(0)), shape: [2, 3, 0], strides: [0, 0, 1], offset: 0 },
      { storage: b.fromArray(new Float32Array(0)), shape: [2, 0, 4], strides: [0, 4, 1], offset: 0 },
    ))!;
    expect(Array.from(z)).toEqual(new Array(24).fill(0));
    const e = b.readSync(b.matmul(
      { storage: b.fromArray(new Float32Array(6)), shape: [1, 0, 6], strides: [0, 6, 1], offset: 0 },
      { storage: b.fromArray(new Float32Array(12)), shape: [1, 6, 2], strides: [0, 2, 1], offset: 0 },
    ))!;
    expect(e.length).toBe(0);
  });

  it('float64 inputs give float64 results (the reference path)', () => {
    const a = randomF32(6 * 5, 9);
    const c = randomF32(5 * 4, 10);
    const got = b.readSync(b.matmul(
      { storage: b.fromArray(to64(a)), shape: [1, 6, 5], strides: [30, 5, 1], offset: 0 },
      { storage: b.fromArray(to64(c)), shape: [1, 5, 4], strides: [20, 4, 1], offset: 0 },
    ))!;
    expect(got).toBeInstanceOf(Float64Array);
    const want = oracle.readSync(oracle.matmul(
      { storage: oracle.fromArray(to64(a)), shape: [1, 6, 5], strides: [30, 5, 1], offset: 0 },
      { storage: oracle.fromArray(to64(c)), shape: [1, 5, 4], strides: [20, 4, 1], offset: 0 },
    ));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-12);
  });
});

describe('wasm matmul: every element of C is the same sum at any tiling', () => {
  const b = BACKENDS.wasm!();
  const bits = (v: Float32Array | Float64Array): Uint32Array => new Uint32Array(Float32Array.from(v).buffer);

  // C's rows and column blocks computed alone (other tile shapes, other chunks) give the bits of
  // the same elements in the whole product, in each path: the dot-product kernel (x @ W^T) and
  // the packed GEMM (row-major and transposed operands).
  it.each([
    ['x @ W^T (dot-product tiles)', 45, 300, 211, 'row', 'trans'],
    ['x @ W^T, long k', 9, 6003, 50, 'row', 'trans'],
    ['row-major (packed GEMM)', 45, 300, 211, 'row', 'row'],
    ['transposed A (packed GEMM)', 71, 130, 263, 'trans', 'row'],
    ['transposed B, k < 64 (packed GEMM)', 45, 40, 211, 'row', 'trans'],
    ['A and B packed once, then the tiles', 130, 300, 250, 'row', 'row'],
    ['packed once, transposed A', 130, 77, 250, 'trans', 'row'],
  ] as const)('%s', (_, m, k, n, la, lb) => {
    const A = operand(1, m, k, la, m + k);
    const B = operand(1, k, n, lb, n + k);
    const prod = (a: View, bv: View): Float32Array => b.readSync(b.matmul(a, bv)) as Float32Array;
    const va = (rows: [number, number]): View => ({ storage: b.fromArray(A.data), shape: [1, rows[1] - rows[0], k], strides: A.strides, offset: A.offset + rows[0] * A.strides[1]! });
    const vb = (cols: [number, number]): View => ({ storage: b.fromArray(B.data), shape: [1, k, cols[1] - cols[0]], strides: B.strides, offset: B.offset + cols[0] * B.strides[2]! });
    const whole = bits(prod(va([0, m]), vb([0, n])));
    for (const rows of [[0, 1], [m - 1, m], [3, Math.min(20, m)], [0, m]] as [number, number][]) {
      for (const cols of [[0, 1], [n - 1, n], [5, Math.min(77, n)], [0, n]] as [number, number][]) {
        const part = bits(prod(va(rows), vb(cols)));
        const w = cols[1] - cols[0];
        for (let i = rows[0]; i < rows[1]; i++) {
          const got = Array.from(part.subarray((i - rows[0]) * w, (i - rows[0] + 1) * w));
          expect(got, `row ${i}, columns ${cols}`).toEqual(Array.from(whole.subarray(i * n + cols[0], i * n + cols[1])));
        }
      }
    }
  });
});

describe('wasm matmul: each C element of the packed GEMM is sgemm\'s float32 sum, in every path', () => {
  const b = BACKENDS.wasm!();
  const f = Math.fround;

  /**
   * The sum sgemm (assembly/gemm.ts) must give C[i, j]: k in equal blocks of at most 256, each
   * block's products added in order from +0 (an f32 product, then an f32 sum: no fused
   * multiply-add), and the blocks' sums added to C in block order, C = ((s0 + s1) + s2) + ...
   */
  function model(a: Float32Array, rsa: number, csa: number, bb: Float32Array, rsb: number, csb: number, m: number, k: number, n: number): Float32Array {
    const out = new Float32Array(m * n);
    const blocks = Math.ceil(k / 256), step = Math.ceil(k / blocks);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let c = 0;
        for (let pc = 0; pc < k; pc += step) {
          let s = 0;
          for (let p = pc; p < Math.min(pc + step, k); p++) s = f(s + f(a[i * rsa + p * csa]! * bb[p * rsb + j * csb]!));
          c = pc === 0 ? s : f(c + s);
        }
        out[i * n + j] = c;
      }
    }
    return out;
  }

  /** Floats from randomF32, a fraction p of them NaN, +-0, +-Infinity or subnormal. */
  function withSpecials(count: number, seed: number, p: number): Float32Array {
    const r = rng(seed);
    const sp = [NaN, 0, -0, Infinity, -Infinity, 1e-40, -1e-40];
    return Float32Array.from(randomF32(count, seed), (v) => (r() < p ? sp[Math.floor(r() * sp.length)]! : v));
  }

  // (m, k, n, A transposed): tiles that pack their own panels; A and B packed once, then tiles
  // (two k blocks); C small and k long: by k blocks, the partial sums added in block order
  // (a Linear layer's input gradient's shape, scaled down), with A row-major and transposed
  it.each([
    ['tiles packing their own panels', 45, 300, 211, false],
    ['packed once, then tiles', 130, 300, 250, false],
    ['by k blocks (C small, k long)', 33, 1100, 70, false],
    ['by k blocks, A transposed, a short last tile', 37, 1301, 19, true],
  ] as const)('%s', (_, m, k, n, transA) => {
    for (const [what, p] of [['clean', 0], ['NaN / Infinity / -0 / subnormal', 0.002]] as const) {
      const a = withSpecials(m * k, m + k, p), bb = withSpecials(k * n, n + k, p);
      const [rsa, csa] = transA ? [1, m] : [k, 1];
      const av: View = { storage: b.fromArray(a), shape: [1, m, k], strides: [m * k, rsa, csa], offset: 0 };
      const bv: View = { storage: b.fromArray(bb), shape: [1, k, n], strides: [k * n, n, 1], offset: 0 };
      expectBits(b.readSync(b.matmul(av, bv)) as Float32Array, model(a, rsa, csa, bb, n, 1, m, k, n), what);
    }
  });

  it('a Linear layer\'s bias on products by k blocks: added after the last block\'s sums (A transposed: the packed GEMM)', () => {
    const m = 35, k = 1300, n = 66;
    const a = randomF32(m * k, 3), bb = randomF32(k * n, 4), bias = withSpecials(n, 5, 0.1);
    const lin = (b as unknown as { linear(a: View, b: View, bias: unknown, bn: null): unknown }).linear.bind(b);
    const got = b.readSync(lin({ storage: b.fromArray(a), shape: [m, k], strides: [1, m], offset: 0 },
      { storage: b.fromArray(bb), shape: [k, n], strides: [n, 1], offset: 0 }, b.fromArray(bias), null) as never) as Float32Array;
    const want = model(a, 1, m, bb, n, 1, m, k, n).map((v, i) => f(v + bias[i % n]!));
    expectBits(got, want);
  });
});
