// vg.F: conv2d, convTranspose2d, maxPool2d, avgPool2d, batchNorm, dropout and the losses.
// Property-based gradient checks over random geometry, and forward values against plain JS.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { FC, arbLayout, arbSeed, check, expectClose, makeInput, values } from './helpers.js';
import { conv2dRef, convTranspose2dRef, pool2dRef } from './reference.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

const small = fc.integer({ min: 1, max: 2 });
const pairOf = (min: number, max: number): fc.Arbitrary<[number, number]> => fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }));

const arbConv = fc
  .record({
    n: small,
    groups: small,
    cg: small,
    og: small,
    k: pairOf(1, 3),
    stride: pairOf(1, 2),
    padding: pairOf(0, 1),
    dilation: pairOf(1, 2),
    extra: pairOf(0, 2),
    bias: fc.boolean(),
    layout: arbLayout(['contiguous', 'permuted', 'strided']),
    seed: arbSeed,
  })
  .map((r) => {
    // the smallest input with a non-empty output, plus a little
    const size = (i: 0 | 1): number => Math.max(1, r.dilation[i] * (r.k[i] - 1) + 1 - 2 * r.padding[i]) + r.extra[i];
    return { ...r, xs: [r.n, r.groups * r.cg, size(0), size(1)], ws: [r.groups * r.og, r.cg, r.k[0], r.k[1]] };
  });

describe('conv2d', () => {
  it('gradcheck (input, weight, bias) over stride, padding, dilation, groups and layouts', () => {
    fc.assert(
      fc.property(arbConv, (r) => {
        const gen = new vg.Generator(r.seed);
        const x = makeInput(r.xs, r.layout, 'normal', gen);
        const w = makeInput(r.ws, 'contiguous', 'normal', gen);
        const b = makeInput([r.ws[0]!], 'contiguous', 'normal', gen);
        const opts = { stride: r.stride, padding: r.padding, dilation: r.dilation, groups: r.groups };
        check((xx, ww, bb) => vg.F.conv2d(x.view(xx), ww, r.bias ? bb : null, opts), [x.leaf, w.leaf, b.leaf]);
      }),
      FC,
    );
  });
  it('forward matches a direct plain-JS convolution (float32 and float64)', () => {
    fc.assert(
      fc.property(arbConv, (r) => {
        const gen = new vg.Generator(r.seed);
        const x = makeInput(r.xs, r.layout, 'normal', gen);
        const w = values('normal', r.ws.reduce((a, b) => a * b, 1), gen);
        const b = values('normal', r.ws[0]!, gen);
        const args = { stride: r.stride, padding: r.padding, dilation: r.dilation, groups: r.groups };
        const ref = conv2dRef(x.vals, r.xs, w, r.ws, r.bias ? b : null, args);
        for (const dtype of ['float64', 'float32'] as const) {
          const y = vg.F.conv2d(x.view(x.leaf).to(dtype), vg.tensor(w, { shape: r.ws, dtype }), r.bias ? vg.tensor(b, { dtype }) : null, args);
          expect(y.shape).toEqual(ref.shape);
          expect(y.dtype).toBe(dtype);
          expectClose(y.dataSync(), ref.out, dtype === 'float64' ? 1e-12 : 1e-5, 'conv2d');
        }
      }),
      FC,
    );
  });
});

const arbConvT = fc
  .record({
    n: small,
    groups: small,
    cg: small,
    og: small,
    k: pairOf(1, 3),
    stride: pairOf(1, 3),
    padding: pairOf(0, 1),
    dilation: pairOf(1, 2),
    hw: pairOf(1, 3),
    opad: pairOf(0, 2),
    bias: fc.boolean(),
    layout: arbLayout(['contiguous', 'permuted', 'strided']),
    seed: arbSeed,
  })
  .map((r) => {
    const outputPadding: [number, number] = [Math.min(r.opad[0], r.stride[0] - 1), Math.min(r.opad[1], r.stride[1] - 1)];
    const o = (i: 0 | 1): number => (r.hw[i] - 1) * r.stride[i] - 2 * r.padding[i] + r.dilation[i] * (r.k[i] - 1) + outputPadding[i] + 1;
    return { ...r, outputPadding, ok: o(0) >= 1 && o(1) >= 1, xs: [r.n, r.groups * r.cg, r.hw[0], r.hw[1]], ws: [r.groups * r.cg, r.og, r.k[0], r.k[1]] };
  });

describe('convTranspose2d', () => {
  it('gradcheck (input, weight, bias) over stride, padding, outputPadding, dilation, groups', () => {
    fc.assert(
      fc.property(arbConvT, (r) => {
        fc.pre(r.ok);
        const gen = new vg.Generator(r.seed);
        const x = makeInput(r.xs, r.layout, 'normal', gen);
        const w = makeInput(r.ws, 'permuted', 'normal', gen);
        const b = makeInput([r.og * r.groups], 'contiguous', 'normal', gen);
        const opts = { stride: r.stride, padding: r.padding, dilation: r.dilation, groups: r.groups, outputPadding: r.outputPadding };
        check((xx, ww, bb) => vg.F.convTranspose2d(x.view(xx), w.view(ww), r.bias ? bb : null, opts), [x.leaf, w.leaf, b.leaf]);
      }),
      FC,
    );
  });
  it('forward matches a plain-JS scatter', () => {
    fc.assert(
      fc.property(arbConvT, (r) => {
        fc.pre(r.ok);
        const gen = new vg.Generator(r.seed);
        const x = makeInput(r.xs, r.layout, 'normal', gen);
        const w = values('normal', r.ws.reduce((a, b) => a * b, 1), gen);
        const b = values('normal', r.og * r.groups, gen);
        const args = { stride: r.stride, padding: r.padding, dilation: r.dilation, groups: r.groups, outputPadding: r.outputPadding };
        const ref = convTranspose2dRef(x.vals, r.xs, w, r.ws, r.bias ? b : null, args);
        const y = vg.F.convTranspose2d(x.view(x.leaf), vg.tensor(w, { shape: r.ws }), r.bias ? vg.tensor(b) : null, args);
        expect(y.shape).toEqual(ref.shape);
        expect(y.dtype).toBe('float64');
        expectClose(y.dataSync(), ref.out, 1e-12, 'convTranspose2d');
      }),
      FC,
    );
  });
});

const arbPool = fc
  .record({
    nc: fc.tuple(small, small),
    k: pairOf(1, 3),
    stride: fc.option(pairOf(1, 3), { nil: undefined }),
    padFrac: pairOf(0, 1),
    extra: pairOf(0, 3),
    countIncludePad: fc.boolean(),
    layout: arbLayout(['contiguous', 'permuted', 'strided']),
    seed: arbSeed,
  })
  .map((r) => {
    const padding: [number, number] = [Math.min(r.padFrac[0], Math.floor(r.k[0] / 2)), Math.min(r.padFrac[1], Math.floor(r.k[1] / 2))];
    const xs = [r.nc[0], r.nc[1], Math.max(1, r.k[0] - 2 * padding[0]) + r.extra[0], Math.max(1, r.k[1] - 2 * padding[1]) + r.extra[1]];
    return { ...r, padding, xs, strideEff: (r.stride ?? r.k) as [number, number] };
  });

describe('pooling', () => {
  it('maxPool2d gradcheck with distinct values (kernel, stride, padding)', () => {
    fc.assert(
      fc.property(arbPool, (r) => {
        const x = makeInput(r.xs, r.layout, 'distinct', new vg.Generator(r.seed));
        check((xx) => vg.F.maxPool2d(x.view(xx), r.k, { stride: r.stride, padding: r.padding }), [x.leaf]);
      }),
      FC,
    );
  });
  it('avgPool2d gradcheck, countIncludePad true and false', () => {
    fc.assert(
      fc.property(arbPool, (r) => {
        const x = makeInput(r.xs, r.layout, 'normal', new vg.Generator(r.seed));
        check((xx) => vg.F.avgPool2d(x.view(xx), r.k, { stride: r.stride, padding: r.padding, countIncludePad: r.countIncludePad }), [x.leaf]);
      }),
      FC,
    );
  });
  it('forward values match plain JS', () => {
    fc.assert(
      fc.property(arbPool, (r) => {
        const x = makeInput(r.xs, r.layout, 'normal', new vg.Generator(r.seed));
        const mx = vg.F.maxPool2d(x.view(x.leaf), r.k, { stride: r.stride, padding: r.padding });
        const refMax = pool2dRef('max', x.vals, r.xs, r.k, r.strideEff, r.padding);
        expect(mx.shape).toEqual(refMax.shape);
        expectClose(mx.dataSync(), refMax.out, 0, 'maxPool2d');
        const av = vg.F.avgPool2d(x.view(x.leaf), r.k, { stride: r.stride, padding: r.padding, countIncludePad: r.countIncludePad });
        expectClose(av.dataSync(), pool2dRef('avg', x.vals, r.xs, r.k, r.strideEff, r.padding, r.countIncludePad).out, 1e-12, 'avgPool2d');
      }),
      FC,
    );
  });
  it('maxPool2d propagates NaN; -Infinity inputs stay -Infinity', () => {
    const x = vg.tensor([[[[1, NaN], [3, 2]], [[-Infinity, -Infinity], [-Infinity, -Infinity]]]]);
    const y = vg.F.maxPool2d(x, 2);
    expect(Number.isNaN(y.dataSync()[0])).toBe(true);
    expect(y.dataSync()[1]).toBe(-Infinity);
  });
  it('avgPool2d default countIncludePad is true (PyTorch)', () => {
    const x = vg.ones([1, 1, 2, 2]);
    expect(Array.from(vg.F.avgPool2d(x, 2, { stride: 1, padding: 1 }).dataSync())).toEqual([0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25]);
    expect(Array.from(vg.F.avgPool2d(x, 2, { stride: 1, padding: 1, countIncludePad: false }).dataSync())).toEqual(new Array(9).fill(1));
  });
});

describe('batchNorm', () => {
  const arbBn = fc.record({
    shape: fc.constantFrom<number[]>([4, 3], [2, 2, 3], [3, 2, 2, 2], [2, 1, 2, 1]),
    affine: fc.boolean(),
    layout: arbLayout(['contiguous', 'permuted', 'strided']),
    seed: arbSeed,
  });
  it('training: gradcheck through x, weight, bias; running stats move as PyTorch', () => {
    fc.assert(
      fc.property(arbBn, ({ shape, affine, layout, seed }) => {
        const gen = new vg.Generator(seed);
        const c = shape[1]!;
        const x = makeInput(shape, layout, 'normal', gen);
        const w = makeInput([c], 'contiguous', 'normal', gen);
        const b = makeInput([c], 'contiguous', 'normal', gen);
        const rm = vg.zeros([c], { dtype: 'float64' });
        const rv = vg.ones([c], { dtype: 'float64' });
        check((xx, ww, bb) => vg.F.batchNorm(x.view(xx), null, null, affine ? ww : null, affine ? bb : null, { training: true }), [x.leaf, w.leaf, b.leaf]);
        // one step of the running statistics, against plain JS
        const rm0 = values('normal', c, gen);
        const rv0 = values('positive', c, gen);
        rm.copy_(vg.tensor(rm0));
        rv.copy_(vg.tensor(rv0));
        const y = vg.F.batchNorm(x.view(x.leaf), rm, rv, null, null, { training: true, momentum: 0.3, eps: 1e-5 });
        const per = x.vals.length / c;
        const inner = shape.slice(2).reduce((p, d) => p * d, 1);
        const chan = (i: number): number => Math.floor(i / inner) % c;
        const mean = new Array(c).fill(0);
        const sq = new Array(c).fill(0);
        x.vals.forEach((v, i) => (mean[chan(i)] += v / per));
        x.vals.forEach((v, i) => (sq[chan(i)] += (v - mean[chan(i)]) ** 2));
        expectClose(rm.dataSync(), mean.map((m, i) => 0.7 * rm0[i]! + 0.3 * m), 1e-12, 'runningMean');
        expectClose(rv.dataSync(), sq.map((s, i) => 0.7 * rv0[i]! + (0.3 * s) / (per - 1)), 1e-12, 'runningVar');
        expectClose(y.dataSync(), Array.from(x.vals, (v, i) => (v - mean[chan(i)]) / Math.sqrt(sq[chan(i)] / per + 1e-5)), 1e-12, 'output');
      }),
      FC,
    );
  });
  it('eval: uses running stats; gradcheck through x, weight, bias', () => {
    fc.assert(
      fc.property(arbBn, ({ shape, affine, layout, seed }) => {
        const gen = new vg.Generator(seed);
        const c = shape[1]!;
        const x = makeInput(shape, layout, 'normal', gen);
        const w = makeInput([c], 'contiguous', 'normal', gen);
        const b = makeInput([c], 'contiguous', 'normal', gen);
        const rm = vg.tensor(values('normal', c, gen));
        const rv = vg.tensor(values('positive', c, gen));
        const rm64 = rm.to('float64');
        const rv64 = rv.to('float64');
        check((xx, ww, bb) => vg.F.batchNorm(x.view(xx), rm64, rv64, affine ? ww : null, affine ? bb : null), [x.leaf, w.leaf, b.leaf]);
        const y = vg.F.batchNorm(x.view(x.leaf), rm64, rv64, w.leaf, b.leaf, { eps: 1e-3 });
        const inner = shape.slice(2).reduce((p, d) => p * d, 1);
        const m = rm.dataSync();
        const v = rv.dataSync();
        const wv = w.vals;
        const bv = b.vals;
        const exp = Array.from(x.vals, (val, i) => {
          const ch = Math.floor(i / inner) % c;
          return ((val - m[ch]!) / Math.sqrt(v[ch]! + 1e-3)) * wv[ch]! + bv[ch]!;
        });
        expectClose(y.dataSync(), exp, 1e-12, 'batchNorm eval');
        expectClose(rm64.dataSync(), m, 0, 'running mean untouched');
      }),
      FC,
    );
  });
});

describe('dropout', () => {
  it('with a fixed generator: output = x * mask / (1 - p), gradient = mask / (1 - p)', () => {
    fc.assert(
      fc.property(fc.constantFrom(0.1, 0.5, 0.8), arbSeed, fc.constantFrom([5], [3, 4], [2, 3, 4]), (p, seed, shape) => {
        const x = makeInput(shape, 'permuted', 'awayFromZero', new vg.Generator(seed));
        const y = vg.F.dropout(x.view(x.leaf), p, { generator: new vg.Generator(seed + 1) });
        const mask = vg.rand(shape, { generator: new vg.Generator(seed + 1), dtype: 'float64' }).dataSync().map((u) => (u >= p ? 1 : 0));
        expectClose(y.dataSync(), Array.from(x.vals, (v, i) => (v * mask[i]!) / (1 - p)), 1e-15, 'dropout');
        y.sum().backward();
        const gl = x.leaf.grad!.permute(shape.map((_, i) => shape.length - 1 - i)).contiguous();
        expectClose(gl.dataSync(), Array.from(mask, (m) => m / (1 - p)), 1e-15, 'dropout grad');
        check((xx) => vg.F.dropout(x.view(xx), p, { generator: new vg.Generator(seed + 1) }), [x.leaf]);
      }),
      FC,
    );
  });
  it('p = 0, eval and p = 1', () => {
    const x = vg.randn([10]);
    expect(vg.F.dropout(x, 0)).toBe(x);
    expect(vg.F.dropout(x, 0.5, { training: false })).toBe(x);
    expectClose(vg.F.dropout(x, 1).dataSync(), new Array(10).fill(0), 0, 'p = 1');
    const big = vg.F.dropout(vg.ones([20000]), 0.25, { generator: new vg.Generator(9) });
    const kept = Array.from(big.dataSync()).filter((v) => v !== 0);
    expect(Math.abs(kept.length / 20000 - 0.75)).toBeLessThan(0.02);
    expect(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
  });
});

describe('losses', () => {
  const arbLoss = fc.record({
    shape: fc.constantFrom<number[]>([4], [2, 3], [1, 2, 2], []),
    reduction: fc.constantFrom('mean', 'sum', 'none') as fc.Arbitrary<vg.F.Reduction>,
    layout: arbLayout(),
    seed: arbSeed,
  });
  const reduce = (v: number[], r: vg.F.Reduction): number[] => (r === 'none' ? v : r === 'sum' ? [v.reduce((a, b) => a + b, 0)] : [v.reduce((a, b) => a + b, 0) / v.length]);
  const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
  const cases: [string, (a: vg.Tensor, b: vg.Tensor, r: vg.F.Reduction) => vg.Tensor, (a: number, b: number) => number, 'normal' | 'unit' | 'distinct', 'normal' | 'unit' | 'distinct'][] = [
    ['binaryCrossEntropyWithLogits', (a, b, r) => vg.F.binaryCrossEntropyWithLogits(a, b, { reduction: r }), (l, t) => -(t * Math.log(sigmoid(l)) + (1 - t) * Math.log(1 - sigmoid(l))), 'normal', 'unit'],
    ['binaryCrossEntropy', (a, b, r) => vg.F.binaryCrossEntropy(a, b, { reduction: r }), (p, t) => -(t * Math.log(p) + (1 - t) * Math.log(1 - p)), 'unit', 'unit'],
    ['mseLoss', (a, b, r) => vg.F.mseLoss(a, b, { reduction: r }), (a, b) => (a - b) ** 2, 'normal', 'normal'],
    // targets on a ladder offset from the inputs' ladder: |input - target| > 0.02 everywhere
    ['l1Loss', (a, b, r) => vg.F.l1Loss(a, b.add(0.05), { reduction: r }), (a, b) => Math.abs(a - b - 0.05), 'distinct', 'distinct'],
    ['gaussianKl', (a, b, r) => vg.F.gaussianKl(a, b, { reduction: r }), (mu, lv) => -0.5 * (1 + lv - mu * mu - Math.exp(lv)), 'normal', 'normal'],
  ];
  for (const [name, f, ref, ka, kb] of cases) {
    it(`${name}: gradcheck (both arguments) and forward values, every reduction`, () => {
      fc.assert(
        fc.property(arbLoss, ({ shape, reduction, layout, seed }) => {
          const gen = new vg.Generator(seed);
          const a = makeInput(shape, layout, ka, gen);
          const b = makeInput(shape, 'contiguous', kb, gen);
          check((x, y) => f(a.view(x), b.view(y), reduction), [a.leaf, b.leaf]);
          const out = f(a.view(a.leaf), b.leaf, reduction);
          let per = Array.from(a.vals, (v, i) => ref(v, b.vals[i]!));
          let noneShape: number[] = shape;
          if (name === 'gaussianKl' && shape.length > 1) {
            // per sample: summed over every dim but the batch dim
            const n = shape[0]!;
            const d = per.length / n;
            per = Array.from({ length: n }, (_, i) => per.slice(i * d, (i + 1) * d).reduce((x, y) => x + y, 0));
            noneShape = [n];
          }
          expect(out.shape).toEqual(reduction === 'none' ? noneShape : []);
          expectClose(out.dataSync(), reduce(per, reduction), 1e-12, name);
        }),
        FC,
      );
    });
  }
  it('binaryCrossEntropyWithLogits is stable for large logits; binaryCrossEntropy clamps log at -100', () => {
    const l = vg.tensor([800, -800, 0], { dtype: 'float64' });
    const t = vg.tensor([0, 1, 1], { dtype: 'float64' });
    expectClose(vg.F.binaryCrossEntropyWithLogits(l, t, { reduction: 'none' }).dataSync(), [800, 800, Math.LN2], 1e-14);
    const p = vg.tensor([0, 1, 0.5], { dtype: 'float64' });
    expectClose(vg.F.binaryCrossEntropy(p, vg.tensor([1, 0, 1], { dtype: 'float64' }), { reduction: 'none' }).dataSync(), [100, 100, Math.LN2], 1e-14);
  });
});
