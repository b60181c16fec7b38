// Forward values of the movement ops against plain JS index arithmetic: views share storage,
// reshape/view/permute/transpose/slice/narrow/select/expand/squeeze/unsqueeze/flatten,
// cat/stack/split/chunk, contiguous and casts; kernels reading views at an offset.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { FC, arbLayout, arbSeed, arbShape, data, expectClose, makeInput, numel, ravel, unravel } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

const arbCase = fc.record({ shape: arbShape(1, 4, 4), layout: arbLayout(), seed: arbSeed });

describe('views: values against plain JS', () => {
  it('permute / transpose / T', () => {
    fc.assert(
      fc.property(arbCase, fc.infiniteStream(fc.nat()), ({ shape, layout, seed }, rnd) => {
        const inp = makeInput(shape, layout, 'normal', new vg.Generator(seed));
        const x = inp.view(inp.leaf);
        const order = shape.map((_, i) => i);
        const it = rnd[Symbol.iterator]();
        for (let i = order.length - 1; i > 0; i--) {
          const j = (it.next().value as number) % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const y = x.permute(order);
        const ys = order.map((d) => shape[d]!);
        expect(y.shape).toEqual(ys);
        const exp = Array.from({ length: numel(ys) }, (_, i) => {
          const o = unravel(i, ys);
          const src = new Array<number>(shape.length);
          order.forEach((d, k) => (src[d] = o[k]!));
          return inp.vals[ravel(src, shape)]!;
        });
        expectClose(y.dataSync(), exp, 0, 'permute');
        if (shape.length >= 2) {
          const t = x.transpose(0, -1);
          const ord = shape.map((_, i) => (i === 0 ? shape.length - 1 : i === shape.length - 1 ? 0 : i));
          expectClose(t.dataSync(), x.permute(ord).contiguous().dataSync(), 0, 'transpose');
          expect(x.T.shape).toEqual([...shape].reverse());
        }
      }),
      FC,
    );
  });

  it('slice with start/end/step (negative and out-of-range indices clamp) and narrow/select', () => {
    fc.assert(
      fc.property(arbCase, fc.integer({ min: -6, max: 6 }), fc.option(fc.integer({ min: -6, max: 8 }), { nil: undefined }), fc.integer({ min: 1, max: 3 }), ({ shape, layout, seed }, start, end, step) => {
        const inp = makeInput(shape, layout, 'normal', new vg.Generator(seed));
        const x = inp.view(inp.leaf);
        const d = shape.length - 1;
        const n = shape[d]!;
        const norm = (i: number): number => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
        const s = norm(start);
        const e = Math.max(norm(end ?? n), s);
        const idx: number[] = [];
        for (let i = s; i < e; i += step) idx.push(i);
        const y = x.slice(d, start, end, step);
        const ys = [...shape];
        ys[d] = idx.length;
        expect(y.shape).toEqual(ys);
        const exp = Array.from({ length: numel(ys) }, (_, i) => {
          const o = unravel(i, ys);
          o[d] = idx[o[d]!]!;
          return inp.vals[ravel(o, shape)]!;
        });
        expectClose(y.dataSync(), exp, 0, 'slice');
        // narrow and select along dim 0
        const len = shape[0]! - 1;
        expectClose(x.narrow(0, 1, len).dataSync(), inp.vals.slice(numel(shape.slice(1))), 0, 'narrow');
        expectClose(x.select(0, -1).dataSync(), inp.vals.slice((shape[0]! - 1) * numel(shape.slice(1))), 0, 'select');
        expect(x.select(0, 0).shape).toEqual(shape.slice(1));
      }),
      FC,
    );
  });

  it('reshape / flatten / unflatten / squeeze / unsqueeze keep row-major order', () => {
    fc.assert(
      fc.property(arbCase, ({ shape, layout, seed }) => {
        const inp = makeInput(shape, layout, 'normal', new vg.Generator(seed));
        const x = inp.view(inp.leaf);
        const vals = Array.from(inp.vals);
        expectClose(x.reshape([-1]).dataSync(), vals, 0, 'reshape');
        expectClose(x.reshape([...shape].reverse()).dataSync(), vals, 0, 'reshape reversed');
        expectClose(x.flatten().dataSync(), vals, 0, 'flatten');
        if (shape.length > 1) expect(x.flatten(1).shape).toEqual([shape[0]!, numel(shape.slice(1))]);
        expect(x.unsqueeze(0).shape).toEqual([1, ...shape]);
        expect(x.unsqueeze(-1).shape).toEqual([...shape, 1]);
        expect(x.squeeze().shape).toEqual(shape.filter((d) => d !== 1));
        expectClose(x.unsqueeze(1).squeeze(1).dataSync(), vals, 0, 'unsqueeze/squeeze');
        expect(x.unflatten(0, [1, -1]).shape).toEqual([1, ...shape]);
        expect(x.squeeze(0).shape).toEqual(shape[0] === 1 ? shape.slice(1) : shape);
      }),
      FC,
    );
  });

  it('expand / broadcastTo repeat values with stride 0', () => {
    const x = vg.tensor([[1], [2]]);
    const y = x.expand([3, 2, 4]);
    expect(y.shape).toEqual([3, 2, 4]);
    expect(y.strides).toEqual([0, 1, 0]);
    expect(data(y)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(x.expand([-1, 2]).shape).toEqual([2, 2]);
    expect(data(vg.tensor(5).broadcastTo([2]))).toEqual([5, 5]);
  });

  it('views share storage: copy_ into a view is visible through the base and other views', () => {
    const base = vg.zeros([3, 4]);
    const col = base.slice(1, 1, 4, 2); // columns 1 and 3
    vg.noGrad(() => col.copy_(vg.tensor([[1, 2], [3, 4], [5, 6]])));
    expect(base.toArray()).toEqual([[0, 1, 0, 2], [0, 3, 0, 4], [0, 5, 0, 6]]);
    const t = base.T;
    expect(t.toArray()).toEqual([[0, 0, 0], [1, 3, 5], [0, 0, 0], [2, 4, 6]]);
    base.reshape([12]).narrow(0, 0, 1).copy_(vg.tensor([9]));
    expect(t.toArray()).toEqual([[9, 0, 0], [1, 3, 5], [0, 0, 0], [2, 4, 6]]);
    // copy_ broadcasts its source and casts dtypes
    base.select(0, 2).copy_(vg.tensor(7, { dtype: 'float64' }));
    expect(data(base.select(0, 2))).toEqual([7, 7, 7, 7]);
    // view() never copies; reshape of a non-contiguous tensor copies
    expect(base.view([4, 3]).reshape([12]).narrow(0, 0, 1).item()).toBe(9);
    const copy = t.reshape([12]);
    vg.noGrad(() => copy.copy_(vg.zeros([12])));
    expect(base.select(0, 0).select(0, 0).item()).toBe(9);
  });

  it('contiguous: identity on dense tensors, a dense copy of offset or strided views', () => {
    const x = vg.arange(12).reshape([3, 4]);
    expect(x.contiguous()).toBe(x);
    const off = x.narrow(0, 1, 1); // row-major but starts at an offset
    const c = off.contiguous();
    expect(c).not.toBe(off);
    expect(c.offset).toBe(0);
    expect(data(c)).toEqual([4, 5, 6, 7]);
    const t = x.T.contiguous();
    expect(t.isContiguous()).toBe(true);
    expect(data(t)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  });

  it('kernels that read dense storage (conv2d, pools) see offset views correctly (regression)', () => {
    const big = vg.arange(2 * 9).reshape([2, 1, 3, 3]);
    const second = big.narrow(0, 1, 1); // offset 9
    expect(data(vg.F.maxPool2d(second, 3))).toEqual([17]);
    expect(data(vg.F.avgPool2d(second, 3))).toEqual([13]);
    expect(data(vg.F.conv2d(second, vg.ones([1, 1, 3, 3])))).toEqual([9 * 13]);
    const col = vg.arange(3).reshape([1, 1, 1, 3]).slice(-1, 1, 2); // [1,1,1,1] view at offset 1
    expect(data(vg.F.maxPool2d(col, 1))).toEqual([1]);
  });
});

describe('cat / stack / split / chunk', () => {
  it('cat along any dim matches plain JS', () => {
    fc.assert(
      fc.property(arbShape(1, 3, 3), fc.integer({ min: 1, max: 3 }), arbLayout(), arbSeed, fc.nat(), (shape, extra, layout, seed, dsel) => {
        const gen = new vg.Generator(seed);
        const d = dsel % shape.length;
        const sb = [...shape];
        sb[d] = extra;
        const a = makeInput(shape, layout, 'normal', gen);
        const b = makeInput(sb, 'permuted', 'normal', gen);
        const y = vg.cat([a.view(a.leaf), b.view(b.leaf)], d - shape.length);
        const ys = [...shape];
        ys[d] = shape[d]! + extra;
        expect(y.shape).toEqual(ys);
        const exp = Array.from({ length: numel(ys) }, (_, i) => {
          const o = unravel(i, ys);
          if (o[d]! < shape[d]!) return a.vals[ravel(o, shape)]!;
          o[d] = o[d]! - shape[d]!;
          return b.vals[ravel(o, sb)]!;
        });
        expectClose(y.dataSync(), exp, 0, 'cat');
      }),
      FC,
    );
  });
  it('stack, split, chunk', () => {
    const a = vg.tensor([[1, 2], [3, 4]]);
    const b = vg.tensor([[5, 6], [7, 8]]);
    expect(vg.stack([a, b]).toArray()).toEqual([[[1, 2], [3, 4]], [[5, 6], [7, 8]]]);
    expect(vg.stack([a, b], 1).toArray()).toEqual([[[1, 2], [5, 6]], [[3, 4], [7, 8]]]);
    expect(vg.stack([a, b], -1).toArray()).toEqual([[[1, 5], [2, 6]], [[3, 7], [4, 8]]]);
    const x = vg.arange(7);
    expect(x.split(3).map((p) => p.toArray())).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(x.split([2, 5]).map((p) => p.shape)).toEqual([[2], [5]]);
    expect(x.chunk(3).map((p) => p.toArray())).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(vg.arange(6).chunk(4).map((p) => p.numel)).toEqual([2, 2, 2]);
    expect(vg.arange(12).reshape([3, 4]).chunk(2, 1).map((p) => p.toArray())).toEqual([[[0, 1], [4, 5], [8, 9]], [[2, 3], [6, 7], [10, 11]]]);
  });
  it('cat and stack of mixed dtypes promote as torch.cat does (values checked against torch 1.13)', () => {
    const i32 = vg.tensor([1, 2], { dtype: 'int32' });
    const f32 = vg.tensor([0.5]);
    const f64 = vg.tensor([0.25], { dtype: 'float64' });
    const yes = vg.tensor([true, false], { dtype: 'bool' });
    const c = vg.cat([i32, f32]);
    expect([c.dtype, data(c)]).toEqual(['float32', [1, 2, 0.5]]);
    expect(vg.cat([f32, f64]).dtype).toBe('float64');
    expect(vg.cat([i32, f32, f64]).dtype).toBe('float64');
    const bi = vg.cat([yes, i32]);
    expect([bi.dtype, data(bi)]).toEqual(['int32', [1, 0, 1, 2]]);
    expect(vg.cat([yes, yes]).dtype).toBe('bool');
    expect(vg.stack([vg.tensor([1], { dtype: 'int32' }), f32]).toArray()).toEqual([[1], [0.5]]);
    expect(vg.cat([vg.tensor([[1, 2]], { dtype: 'int32' }), vg.tensor([[true, false]], { dtype: 'bool' })]).toArray()).toEqual([[1, 2], [1, 0]]);
    // Gradients come back in each input's dtype (torch: a.grad float32 [1, 2], b.grad float64 [3]).
    const a = vg.tensor([1, 2], { requiresGrad: true });
    const b = vg.tensor([3], { dtype: 'float64', requiresGrad: true });
    vg.cat([a, b]).mul(vg.tensor([1, 2, 3], { dtype: 'float64' })).sum().backward();
    expect([a.grad!.dtype, data(a.grad!)]).toEqual(['float32', [1, 2]]);
    expect([b.grad!.dtype, data(b.grad!)]).toEqual(['float64', [3]]);
  });

  it('to() casts values: float -> int32 truncates toward zero, float64 -> float32 rounds', () => {
    expect(data(vg.tensor([1.7, -1.7, 2.5]).to('int32'))).toEqual([1, -1, 2]);
    expect(vg.tensor([1.7]).to('int32').dtype).toBe('int32');
    expect(data(vg.tensor([0.1], { dtype: 'float64' }).to('float32'))).toEqual([Math.fround(0.1)]);
    const x = vg.tensor([1, 2]);
    expect(x.to('float32')).toBe(x);
  });
});
