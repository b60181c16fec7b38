// Forward values of the elementwise ops against plain JS on random data: unary maths, binary
// arithmetic with broadcasting and non-contiguous operands, comparisons (0/1), where, NaN/Inf.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import type { Values } from './helpers.js';
import { FC, arbBroadcastPair, arbLayout, arbSeed, arbShape, bcastIndex, bcastShape, data, expectClose, makeInput } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const unaries: [string, (x: vg.Tensor) => vg.Tensor, (x: number) => number, Values][] = [
  ['neg', (x) => x.neg(), (x) => -x, 'normal'],
  ['exp', (x) => x.exp(), Math.exp, 'normal'],
  ['log', (x) => x.log(), Math.log, 'positive'],
  ['log1p', (x) => x.log1p(), Math.log1p, 'positive'],
  ['sqrt', (x) => x.sqrt(), Math.sqrt, 'positive'],
  ['abs', (x) => x.abs(), Math.abs, 'normal'],
  ['sign', (x) => x.sign(), Math.sign, 'normal'],
  ['relu', (x) => x.relu(), (x) => Math.max(x, 0), 'normal'],
  ['leakyRelu(0.3)', (x) => x.leakyRelu(0.3), (x) => (x > 0 ? x : 0.3 * x), 'normal'],
  ['leakyRelu default 0.01', (x) => x.leakyRelu(), (x) => (x > 0 ? x : 0.01 * x), 'normal'],
  ['sigmoid', (x) => x.sigmoid(), sigmoid, 'normal'],
  ['tanh', (x) => x.tanh(), Math.tanh, 'normal'],
  ['softplus', (x) => x.softplus(), (x) => Math.log(1 + Math.exp(x)), 'normal'],
  ['reciprocal', (x) => x.reciprocal(), (x) => 1 / x, 'awayFromZero'],
  ['square', (x) => x.square(), (x) => x * x, 'normal'],
  ['pow 3', (x) => x.pow(3), (x) => x ** 3, 'normal'],
  ['pow -0.5', (x) => x.pow(-0.5), (x) => x ** -0.5, 'positive'],
  ['clamp(-0.5, 0.7)', (x) => x.clamp(-0.5, 0.7), (x) => Math.min(Math.max(x, -0.5), 0.7), 'normal'],
  ['add scalar', (x) => x.add(3), (x) => x + 3, 'normal'],
  ['sub scalar', (x) => x.sub(3), (x) => x - 3, 'normal'],
  ['mul scalar', (x) => x.mul(-2), (x) => x * -2, 'normal'],
  ['div scalar', (x) => x.div(3), (x) => x / 3, 'normal'],
];

describe('unary forward values', () => {
  for (const [name, f, ref, kind] of unaries) {
    it(name, () => {
      fc.assert(
        fc.property(arbShape(0, 3, 4), arbLayout(), arbSeed, fc.constantFrom('float64', 'float32') as fc.Arbitrary<vg.DType>, (shape, layout, seed, dtype) => {
          const inp = makeInput(shape, layout, kind, new vg.Generator(seed), dtype);
          const y = f(inp.view(inp.leaf));
          expect(y.shape).toEqual(shape);
          expect(y.dtype).toBe(dtype);
          const src = dtype === 'float32' ? Float64Array.from(inp.vals, Math.fround) : inp.vals;
          expectClose(y.dataSync(), Array.from(src, ref), dtype === 'float64' ? 1e-14 : 3e-7, name);
        }),
        FC,
      );
    });
  }
  it('softplus and sigmoid are stable for large |x|', () => {
    const x = vg.tensor([-800, 800, 40], { dtype: 'float64' });
    expectClose(x.softplus().dataSync(), [0, 800, 40 + Math.log1p(Math.exp(-40))], 1e-15);
    expectClose(x.sigmoid().dataSync(), [0, 1, 1 / (1 + Math.exp(-40))], 1e-15);
    expect(x.softplus().dataSync()[0]).toBeGreaterThanOrEqual(0);
  });
  it('NaN propagates through unary ops (relu, clamp, abs, sign, exp)', () => {
    const x = vg.tensor([NaN, 1]);
    for (const f of [(t: vg.Tensor) => t.relu(), (t: vg.Tensor) => t.clamp(0, 1), (t: vg.Tensor) => t.abs(), (t: vg.Tensor) => t.sign(), (t: vg.Tensor) => t.exp()]) {
      expect(Number.isNaN(f(x).dataSync()[0])).toBe(true);
    }
    expect(data(vg.tensor([-Infinity, Infinity, 0]).exp())).toEqual([0, Infinity, 1]);
    expect(data(vg.tensor([0, -1]).log())).toEqual([-Infinity, NaN]);
  });
});

const binaries: [string, (a: vg.Tensor, b: vg.Tensor) => vg.Tensor, (a: number, b: number) => number, Values, Values][] = [
  ['add', (a, b) => a.add(b), (a, b) => a + b, 'normal', 'normal'],
  ['sub', (a, b) => a.sub(b), (a, b) => a - b, 'normal', 'normal'],
  ['mul', (a, b) => a.mul(b), (a, b) => a * b, 'normal', 'normal'],
  ['div', (a, b) => a.div(b), (a, b) => a / b, 'normal', 'awayFromZero'],
  ['pow', (a, b) => a.pow(b), (a, b) => a ** b, 'positive', 'normal'],
  ['maximum', (a, b) => a.maximum(b), Math.max, 'normal', 'normal'],
  ['minimum', (a, b) => vg.minimum(a, b), Math.min, 'normal', 'normal'],
  ['eq', (a, b) => a.eq(b), (a, b) => +(a === b), 'int', 'int'],
  ['ne', (a, b) => a.ne(b), (a, b) => +(a !== b), 'int', 'int'],
  ['lt', (a, b) => a.lt(b), (a, b) => +(a < b), 'int', 'int'],
  ['le', (a, b) => a.le(b), (a, b) => +(a <= b), 'int', 'int'],
  ['gt', (a, b) => a.gt(b), (a, b) => +(a > b), 'int', 'int'],
  ['ge', (a, b) => vg.ge(a, b), (a, b) => +(a >= b), 'int', 'int'],
];

describe('binary forward values with broadcasting and non-contiguous operands', () => {
  for (const [name, f, ref, ka, kb] of binaries) {
    it(name, () => {
      fc.assert(
        fc.property(arbBroadcastPair(), arbLayout(), arbLayout(), arbSeed, ([sa, sb], la, lb, seed) => {
          const gen = new vg.Generator(seed);
          const a = makeInput(sa, la, ka, gen);
          const b = makeInput(sb, lb, kb, gen);
          const y = f(a.view(a.leaf), b.view(b.leaf));
          const out = bcastShape(sa, sb);
          expect(y.shape).toEqual(out);
          const ia = bcastIndex(out, sa);
          const ib = bcastIndex(out, sb);
          const exp = Array.from({ length: y.numel }, (_, i) => ref(a.vals[ia(i)]!, b.vals[ib(i)]!));
          expectClose(y.dataSync(), exp, 1e-14, name);
        }),
        FC,
      );
    });
  }
  it('comparisons return bool (0/1), including ties and scalars', () => {
    const a = vg.tensor([1, 2, 3]);
    const b = vg.tensor([3, 2, 1]);
    expect(data(a.eq(b))).toEqual([0, 1, 0]);
    expect(data(a.le(b))).toEqual([1, 1, 0]);
    expect(data(a.ge(2))).toEqual([0, 1, 1]);
    expect(data(a.ne(2))).toEqual([1, 0, 1]);
    expect(a.lt(b).dtype).toBe('bool');
    const i = vg.tensor([1, 5], { dtype: 'int32' });
    const c = i.gt(2);
    expect(c.dtype).toBe('bool');
    expect(data(c)).toEqual([0, 1]);
    expect(data(vg.tensor([NaN]).eq(vg.tensor([NaN])))).toEqual([0]);
    expect(data(vg.tensor([NaN]).ne(vg.tensor([NaN])))).toEqual([1]);
  });
  it('maximum/minimum propagate NaN from either side', () => {
    const a = vg.tensor([NaN, 1, 2]);
    const b = vg.tensor([0, NaN, 3]);
    expect(data(a.maximum(b))).toEqual([NaN, NaN, 3]);
    expect(data(b.minimum(a))).toEqual([NaN, NaN, 2]);
  });
  it('division by zero follows IEEE', () => {
    expect(data(vg.tensor([1, -1, 0]).div(vg.tensor([0, 0, 0])))).toEqual([Infinity, -Infinity, NaN]);
  });
  it('a 0-d tensor broadcasts against anything', () => {
    const s = vg.tensor(2);
    expect(s.shape).toEqual([]);
    expect(data(vg.tensor([[1, 2], [3, 4]]).mul(s))).toEqual([2, 4, 6, 8]);
  });
});

describe('where', () => {
  it('picks a or b by the condition, broadcasting all three (scalars too)', () => {
    fc.assert(
      fc.property(arbBroadcastPair(), arbLayout(), arbSeed, ([sa, sb], la, seed) => {
        const gen = new vg.Generator(seed);
        const a = makeInput(sa, la, 'normal', gen);
        const b = makeInput(sb, 'strided', 'normal', gen);
        const out = bcastShape(sa, sb);
        const c = makeInput(out, 'permuted', 'normal', gen);
        const cond = c.view(c.leaf).gt(0);
        const y = vg.where(cond, a.view(a.leaf), b.view(b.leaf));
        const ia = bcastIndex(out, sa);
        const ib = bcastIndex(out, sb);
        expectClose(y.dataSync(), Array.from({ length: y.numel }, (_, i) => (c.vals[i]! > 0 ? a.vals[ia(i)]! : b.vals[ib(i)]!)), 0);
        const z = vg.where(cond, a.view(a.leaf), -7);
        expectClose(z.dataSync(), Array.from({ length: z.numel }, (_, i) => (c.vals[i]! > 0 ? a.vals[ia(i)]! : -7)), 0);
      }),
      FC,
    );
  });
  it('condition of another dtype (int32) works', () => {
    const cond = vg.tensor([1, 0, 2], { dtype: 'int32' });
    expect(data(vg.where(cond, vg.tensor([1, 2, 3]), vg.tensor([-1, -2, -3])))).toEqual([1, -2, 3]);
  });
});
