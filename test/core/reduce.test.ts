// Forward values of the reductions against plain JS: sum/mean/max/min/var/logsumexp over any
// dims with keepdim, softmax/logSoftmax, argmax/argmin (first index on ties, int32), matmul,
// and NaN / infinity handling (max with NaN, logsumexp with -inf).

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import type { Values } from './helpers.js';
import { FC, arbBroadcastPair, arbLayout, arbSeed, arbShape, bcastIndex, bcastShape, data, expectClose, makeInput, numel, ravel, unravel } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

/** Plain-JS reduction: groups the elements of vals (row-major, shape) by their kept index. */
function reduceRef(vals: ArrayLike<number>, shape: number[], dims: number[], f: (xs: number[]) => number, keepdim: boolean): { out: number[]; shape: number[] } {
  const kept = shape.map((d, i) => (dims.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: numel(kept) }, () => []);
  for (let i = 0; i < vals.length; i++) {
    const idx = unravel(i, shape).map((v, d) => (dims.includes(d) ? 0 : v));
    groups[ravel(idx, kept)]!.push(vals[i]!);
  }
  return { out: groups.map(f), shape: keepdim ? kept : shape.filter((_, i) => !dims.includes(i)) };
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]): number => sum(xs) / xs.length;
const variance = (xs: number[], unbiased: boolean): number => {
  const m = mean(xs);
  return sum(xs.map((x) => (x - m) ** 2)) / (xs.length - (unbiased ? 1 : 0));
};
const lse = (xs: number[]): number => {
  const m = Math.max(...xs);
  return m + Math.log(sum(xs.map((x) => Math.exp(x - m))));
};

const arbCase = arbShape(0, 3, 4).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    dims: shape.length === 0 ? fc.constant(undefined) : fc.option(fc.subarray(shape.map((_, i) => i), { minLength: 1 }), { nil: undefined }),
    keepdim: fc.boolean(),
    layout: arbLayout(),
    seed: arbSeed,
  }),
);

describe('reductions: forward values', () => {
  const cases: [string, (x: vg.Tensor, d: number[] | undefined, k: boolean) => vg.Tensor, (xs: number[]) => number, Values][] = [
    ['sum', (x, d, k) => x.sum(d, k), sum, 'normal'],
    ['mean', (x, d, k) => x.mean(d, k), mean, 'normal'],
    ['max', (x, d, k) => x.max(d, k), (xs) => Math.max(...xs), 'int'],
    ['min', (x, d, k) => vg.min(x, d, k), (xs) => Math.min(...xs), 'int'],
    ['var biased', (x, d, k) => x.var(d, { unbiased: false, keepdim: k }), (xs) => variance(xs, false), 'normal'],
    ['var unbiased (default)', (x, d, k) => x.var(d, { keepdim: k }), (xs) => variance(xs, true), 'normal'],
    ['logsumexp', (x, d, k) => x.logsumexp(d, k), lse, 'normal'],
  ];
  for (const [name, f, ref, kind] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(arbCase, ({ shape, dims, keepdim, layout, seed }) => {
          const inp = makeInput(shape, layout, kind, new vg.Generator(seed));
          const y = f(inp.view(inp.leaf), dims, keepdim);
          const r = reduceRef(inp.vals, shape, dims ?? shape.map((_, i) => i), ref, keepdim);
          expect(y.shape).toEqual(r.shape);
          expectClose(y.dataSync(), r.out, 1e-13, name);
        }),
        FC,
      );
    });
  }
  it('negative dims and a single number are accepted; sum of an empty tensor is 0', () => {
    const x = vg.arange(6).reshape([2, 3]);
    expect(data(x.sum(-1))).toEqual([3, 12]);
    expect(data(x.sum(0, true))).toEqual([3, 5, 7]);
    expect(x.sum(0, true).shape).toEqual([1, 3]);
    expect(x.sum([]).shape).toEqual([2, 3]);
    expect(x.sum().shape).toEqual([]);
    expect(vg.zeros([0, 3]).sum().item()).toBe(0);
    expect(data(vg.zeros([0, 3]).sum(0))).toEqual([0, 0, 0]);
  });
  it('float32 sums accumulate in float64 (no drift over 1e5 elements)', () => {
    const x = vg.full([100000], 0.1);
    expect(Math.abs(x.sum().item() - 100000 * Math.fround(0.1))).toBeLessThan(1e-2);
  });
  it('max/min propagate NaN; infinities are ordinary values', () => {
    const x = vg.tensor([[1, NaN, 3], [-Infinity, 2, Infinity]]);
    expect(data(x.max(1))).toEqual([NaN, Infinity]);
    expect(data(x.min(1))).toEqual([NaN, -Infinity]);
    expect(Number.isNaN(x.max().item())).toBe(true);
    expect(data(vg.tensor([NaN, 1]).max(0, true))).toEqual([NaN]);
    expect(data(vg.tensor([1, NaN]).min(0))).toEqual([NaN]);
  });
  it('logsumexp handles -inf and +inf, and large values without overflow', () => {
    expect(vg.tensor([-Infinity, -Infinity]).logsumexp().item()).toBe(-Infinity);
    expectClose(vg.tensor([-Infinity, 0], { dtype: 'float64' }).logsumexp().dataSync(), [0], 1e-15);
    expect(vg.tensor([Infinity, 0]).logsumexp().item()).toBe(Infinity);
    expectClose(vg.tensor([1000, 1000], { dtype: 'float64' }).logsumexp().dataSync(), [1000 + Math.LN2], 1e-15);
    expectClose(vg.tensor([-1000, -1000], { dtype: 'float64' }).logsumexp().dataSync(), [-1000 + Math.LN2], 1e-15);
    expect(Number.isNaN(vg.tensor([NaN, 1]).logsumexp().item())).toBe(true);
    // the gradient at a -inf entry is 0, not NaN
    const x = vg.tensor([-Infinity, 0, 0], { dtype: 'float64', requiresGrad: true });
    x.logsumexp().backward();
    expect(data(x.grad!)).toEqual([0, 0.5, 0.5]);
  });
});

describe('softmax / logSoftmax', () => {
  it('match plain JS along any dim, and softmax sums to 1', () => {
    fc.assert(
      fc.property(
        arbShape(1, 3, 4).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }))),
        arbLayout(),
        arbSeed,
        ([shape, dim], layout, seed) => {
          const inp = makeInput(shape, layout, 'normal', new vg.Generator(seed));
          const x = inp.view(inp.leaf);
          const ls = reduceRef(inp.vals, shape, [dim], lse, true);
          const il = bcastIndex(shape, ls.shape);
          const expLog = Array.from(inp.vals, (v, i) => v - ls.out[il(i)]!);
          expectClose(x.logSoftmax(dim).dataSync(), expLog, 1e-14, 'logSoftmax');
          expectClose(vg.F.softmax(x, dim - shape.length).dataSync(), expLog.map(Math.exp), 1e-14, 'softmax');
          const sums = x.softmax(dim).sum(dim).dataSync();
          expectClose(sums, new Array(sums.length).fill(1), 1e-14, 'softmax sums');
        },
      ),
      FC,
    );
  });
  it('is stable for large inputs and handles -inf entries', () => {
    expectClose(vg.tensor([1000, 0, -Infinity], { dtype: 'float64' }).softmax(0).dataSync(), [1, Math.exp(-1000), 0], 1e-15);
    expect(data(vg.tensor([[1000, 1000]]).logSoftmax(1))).toEqual([-Math.fround(Math.LN2), -Math.fround(Math.LN2)]);
  });
});

describe('argmax / argmin', () => {
  it('match plain JS (first index on ties), int32, with and without dim', () => {
    fc.assert(
      fc.property(
        arbShape(1, 3, 4).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 }))),
        fc.boolean(),
        arbLayout(),
        arbSeed,
        ([shape, dim], keepdim, layout, seed) => {
          const inp = makeInput(shape, layout, 'int', new vg.Generator(seed)); // many ties
          const x = inp.view(inp.leaf);
          const d = (dim + shape.length) % shape.length;
          const first = (best: (a: number, b: number) => boolean) => (xs: number[]): number =>
            xs.reduce((bi, v, i) => (best(v, xs[bi]!) ? i : bi), 0);
          for (const [op, better] of [['argmax', (a: number, b: number) => a > b], ['argmin', (a: number, b: number) => a < b]] as const) {
            const y = x[op](dim, keepdim);
            expect(y.dtype).toBe('int32');
            const r = reduceRef(inp.vals, shape, [d], first(better), keepdim);
            expect(y.shape).toEqual(r.shape);
            expect(data(y)).toEqual(r.out);
            const all = x[op]();
            expect(all.shape).toEqual([]);
            expect(all.item()).toBe(first(better)(Array.from(inp.vals)));
          }
        },
      ),
      FC,
    );
  });
  it('ties give the first index; NaN counts as the extreme (first NaN); int32 input works', () => {
    expect(vg.tensor([1, 3, 3, 2]).argmax().item()).toBe(1);
    expect(vg.tensor([2, 1, 1]).argmin().item()).toBe(1);
    expect(vg.tensor([1, NaN, 5, NaN]).argmax().item()).toBe(1);
    expect(vg.tensor([1, NaN, -5]).argmin().item()).toBe(1);
    expect(data(vg.tensor([[1, 9], [7, 3]], { dtype: 'int32' }).argmax(1))).toEqual([1, 0]);
    expect(vg.tensor(5).argmax().item()).toBe(0);
  });
});

describe('matmul forward', () => {
  const naive = (a: ArrayLike<number>, sa: number[], b: ArrayLike<number>, sb: number[]): { out: number[]; shape: number[] } => {
    const A = sa.length === 1 ? [1, sa[0]!] : sa;
    const B = sb.length === 1 ? [sb[0]!, 1] : sb;
    const m = A[A.length - 2]!;
    const k = A[A.length - 1]!;
    const n = B[B.length - 1]!;
    const batch = bcastShape(A.slice(0, -2), B.slice(0, -2));
    const ia = bcastIndex(batch, A.slice(0, -2));
    const ib = bcastIndex(batch, B.slice(0, -2));
    const out: number[] = [];
    for (let t = 0; t < numel(batch); t++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[ia(t) * m * k + i * k + p]! * b[ib(t) * k * n + p * n + j]!;
          out.push(s);
        }
    const shape = [...batch, ...(sa.length === 1 ? [] : [m]), ...(sb.length === 1 ? [] : [n])];
    return { out, shape };
  };
  it('1-D, 2-D and broadcast-batched, with transposed and strided operands', () => {
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 1, max: 4 }), k: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 1, max: 4 }) }),
        fc.constantFrom(1, 2, 3),
        fc.constantFrom(1, 2, 3),
        arbBroadcastPair(2),
        arbLayout(['contiguous', 'permuted', 'strided']),
        arbLayout(['contiguous', 'permuted', 'strided']),
        arbSeed,
        ({ m, k, n }, ra, rb, [ba, bb], la, lb, seed) => {
          const sa = ra === 1 ? [k] : ra === 2 ? [m, k] : [...ba, m, k];
          const sb = rb === 1 ? [k] : rb === 2 ? [k, n] : [...bb, k, n];
          const gen = new vg.Generator(seed);
          const a = makeInput(sa, la, 'normal', gen);
          const b = makeInput(sb, lb, 'normal', gen);
          const y = a.view(a.leaf).matmul(b.view(b.leaf));
          const r = naive(a.vals, sa, b.vals, sb);
          expect(y.shape).toEqual(r.shape);
          expectClose(y.dataSync(), r.out, 1e-13, 'matmul');
        },
      ),
      { numRuns: 50 },
    );
  });
});
