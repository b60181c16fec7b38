// gather, indexSelect and scatterAdd: values against plain-JS references over random shapes,
// dims, repeated indices and non-contiguous inputs; float64 gradchecks (gather and indexSelect
// with respect to the input, scatterAdd with respect to self and src); errors that name the bad
// index and the dim size.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { FC, arbLayout, arbSeed, check, data, expectClose, makeInput, numel, ravel, unravel } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

/** A random case: input shape, a dim, and an index shape no larger than the input off the dim. */
const arbCase = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    dimPick: fc.nat(),
    idxPick: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
    seed: arbSeed,
  })
  .map(({ shape, dimPick, idxPick, seed }) => {
    const dim = dimPick % shape.length;
    const idxShape = shape.map((n, d) => (d === dim ? idxPick[d]! : Math.min(n, idxPick[d]!)));
    return { shape, dim, idxShape, seed };
  });

function randomIndex(shape: number[], high: number, gen: vg.Generator): Int32Array {
  return Int32Array.from({ length: numel(shape) }, () => gen.int(0, high));
}

describe('gather', () => {
  it('matches a plain-JS gather over random shapes, dims and layouts (negative dim too)', () => {
    fc.assert(
      fc.property(arbCase, arbLayout(), fc.boolean(), ({ shape, dim, idxShape, seed }, layout, negDim) => {
        const gen = new vg.Generator(seed);
        const inp = makeInput(shape, layout, 'normal', gen);
        const idx = randomIndex(idxShape, shape[dim]!, gen);
        const y = inp.view(inp.leaf).gather(negDim ? dim - shape.length : dim, vg.tensor(idx, { shape: idxShape }));
        expect(y.shape).toEqual(idxShape);
        const want = Array.from({ length: idx.length }, (_, p) => {
          const at = unravel(p, idxShape);
          at[dim] = idx[p]!;
          return inp.vals[ravel(at, shape)]!;
        });
        expectClose(y.dataSync(), want, 0);
      }),
      FC,
    );
  });

  it('gradcheck with respect to the input (repeated indices accumulate)', () => {
    fc.assert(
      fc.property(arbCase, arbLayout(), ({ shape, dim, idxShape, seed }, layout) => {
        const gen = new vg.Generator(seed);
        const inp = makeInput(shape, layout, 'normal', gen);
        const index = vg.tensor(randomIndex(idxShape, shape[dim]!, gen), { shape: idxShape });
        check((x) => inp.view(x).gather(dim, index), [inp.leaf]);
      }),
      FC,
    );
  });

  it('reads through a non-contiguous index and works on int32 and bool data', () => {
    const idx = vg.tensor([[0, 1], [2, 0]], { dtype: 'int32' }).T; // [[0, 2], [1, 0]]
    const x = vg.tensor([[10, 11, 12], [20, 21, 22]], { dtype: 'int32' });
    expect(x.gather(1, idx).toArray()).toEqual([[10, 12], [21, 20]]);
    expect(x.gather(1, idx).dtype).toBe('int32');
    const b = vg.tensor([[1, 0, 1], [0, 0, 1]]).gt(0);
    expect(vg.gather(b, 1, idx).toArray()).toEqual([[1, 1], [0, 0]]);
  });
});

describe('indexSelect', () => {
  it('matches plain JS over random shapes and dims, gradcheck with respect to the input', () => {
    fc.assert(
      fc.property(arbCase, arbLayout(), ({ shape, dim, seed }, layout) => {
        const gen = new vg.Generator(seed);
        const inp = makeInput(shape, layout, 'normal', gen);
        const k = 1 + gen.int(0, 5);
        const idx = randomIndex([k], shape[dim]!, gen);
        const index = vg.tensor(idx);
        const y = inp.view(inp.leaf).indexSelect(dim, index);
        const outShape = shape.map((n, d) => (d === dim ? k : n));
        expect(y.shape).toEqual(outShape);
        const want = Array.from({ length: numel(outShape) }, (_, p) => {
          const at = unravel(p, outShape);
          at[dim] = idx[at[dim]!]!;
          return inp.vals[ravel(at, shape)]!;
        });
        expectClose(y.dataSync(), want, 0);
        check((x) => vg.indexSelect(inp.view(x), dim, index), [inp.leaf]);
      }),
      FC,
    );
  });

  it('embedding-style lookup: rows of a table, gradient summed per row', () => {
    const table = vg.tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
    const ids = vg.tensor([2, 0, 2], { dtype: 'int32' });
    const y = table.indexSelect(0, ids);
    expect(y.toArray()).toEqual([[5, 6], [1, 2], [5, 6]]);
    y.sum().backward();
    expect(table.grad!.toArray()).toEqual([[1, 1], [0, 0], [2, 2]]);
  });
});

describe('scatterAdd', () => {
  it('matches plain JS (duplicates add up), gradcheck with respect to self and src (src larger than index)', () => {
    fc.assert(
      fc.property(arbCase, arbLayout(), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }), ({ shape, dim, idxShape, seed }, layout, extra) => {
        const gen = new vg.Generator(seed);
        const base = makeInput(shape, layout, 'normal', gen);
        const srcShape = idxShape.map((n, d) => n + extra[d]!);
        const src = makeInput(srcShape, 'contiguous', 'normal', gen);
        const idx = randomIndex(idxShape, shape[dim]!, gen);
        const index = vg.tensor(idx, { shape: idxShape });
        const y = base.view(base.leaf).scatterAdd(dim, index, src.leaf);
        const want = Array.from(base.vals);
        for (let p = 0; p < idx.length; p++) {
          const at = unravel(p, idxShape);
          const v = src.vals[ravel(at, srcShape)]!;
          at[dim] = idx[p]!;
          want[ravel(at, shape)]! += v;
        }
        expectClose(y.dataSync(), want, 1e-12);
        check((b, s) => base.view(b).scatterAdd(dim, index, s), [base.leaf, src.leaf]);
      }),
      FC,
    );
  });

  it('counts labels into int32 bins (a histogram)', () => {
    const labels = vg.tensor([3, 1, 3, 3, 0], { dtype: 'int32' });
    const counts = vg.scatterAdd(vg.zeros([5], { dtype: 'int32' }), 0, labels, vg.onesLike(labels));
    expect(data(counts)).toEqual([1, 1, 0, 3, 0]);
  });
});

describe('indexing errors name the index, the dim and its size', () => {
  const x = vg.zeros([3, 4]);
  it('out of range (too large or negative)', () => {
    expect(() => x.gather(1, vg.tensor([[0, 4]], { dtype: 'int32' }))).toThrow(/gather: index 4 is out of range for dim 1 of size 4 \(input shape \[3, 4\]\)/);
    expect(() => x.indexSelect(0, vg.tensor([1, -1], { dtype: 'int32' }))).toThrow(/indexSelect: index -1 is out of range for dim 0 of size 3/);
    expect(() => x.scatterAdd(0, vg.tensor([[3]], { dtype: 'int32' }), vg.ones([1, 1]))).toThrow(/scatterAdd: index 3 is out of range for dim 0 of size 3/);
  });
  it('dtypes and shapes', () => {
    expect(() => x.gather(1, vg.tensor([[0]]))).toThrow(/gather: index must be an int32 tensor, got float32 \[1, 1\]; cast it with \.to\('int32'\)/);
    expect(() => x.gather(1, vg.tensor([0], { dtype: 'int32' }))).toThrow(/gather: index has 1 dims \[1\] but input has 2 \[3, 4\]/);
    expect(() => x.gather(1, vg.zeros([4, 1], { dtype: 'int32' }))).toThrow(/gather: index shape \[4, 1\] is larger than input shape \[3, 4\] in dim 0/);
    expect(() => x.indexSelect(0, vg.zeros([1, 1], { dtype: 'int32' }))).toThrow(/indexSelect: index must be 1-d, got shape \[1, 1\]/);
    expect(() => x.gather(2, vg.zeros([1, 1], { dtype: 'int32' }))).toThrow(/gather: dim 2 is out of range/);
    expect(() => x.scatterAdd(0, vg.zeros([1, 1], { dtype: 'int32' }), vg.ones([1, 1], { dtype: 'float64' }))).toThrow(/scatterAdd: src has dtype float64 but input has float32/);
    expect(() => x.scatterAdd(0, vg.zeros([2, 2], { dtype: 'int32' }), vg.ones([1, 2]))).toThrow(/scatterAdd: index shape \[2, 2\] is larger than src shape \[1, 2\] in dim 0/);
  });
});
