// Creating tensors: constants, ranges, eye, nested/typed arrays (ragged rejected), seeded random
// draws (reproducible, resumable via Generator state), and reading values back out.

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { data } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

describe('constants and ranges', () => {
  it('zeros / ones / full / *Like, float32 by default, float64 and int32 on request', () => {
    const z = vg.zeros([2, 3]);
    expect(z.shape).toEqual([2, 3]);
    expect(z.dtype).toBe('float32');
    expect(data(z)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(data(vg.ones([2], { dtype: 'float64' }))).toEqual([1, 1]);
    expect(vg.ones([2], { dtype: 'float64' }).dtype).toBe('float64');
    const f = vg.full([2, 2], 2.5, { dtype: 'float64' });
    expect(f.toArray()).toEqual([[2.5, 2.5], [2.5, 2.5]]);
    expect(vg.full([], 3).item()).toBe(3);
    expect(vg.full([], 3).shape).toEqual([]);
    expect(vg.zeros([0, 2]).numel).toBe(0);
    expect(vg.full([3], 1.7, { dtype: 'int32' }).toArray()).toEqual([1, 1, 1]);
    const l = vg.zerosLike(f);
    expect(l.dtype).toBe('float64');
    expect(l.shape).toEqual([2, 2]);
    expect(data(f.onesLike())).toEqual([1, 1, 1, 1]);
    expect(data(vg.fullLike(f, -1))).toEqual([-1, -1, -1, -1]);
    expect(vg.ones([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });
  it('arange and linspace', () => {
    expect(data(vg.arange(5))).toEqual([0, 1, 2, 3, 4]);
    expect(data(vg.arange(2, 5))).toEqual([2, 3, 4]);
    expect(data(vg.arange(0, 1, 0.25, { dtype: 'float64' }))).toEqual([0, 0.25, 0.5, 0.75]);
    expect(data(vg.arange(5, 0, -2))).toEqual([5, 3, 1]);
    expect(vg.arange(3, 3).numel).toBe(0);
    expect(data(vg.linspace(0, 1, 5, { dtype: 'float64' }))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(data(vg.linspace(2, 3, 1))).toEqual([2]);
    expect(vg.linspace(0, 1, 0).numel).toBe(0);
    expect(data(vg.linspace(-1, 1, 3, { dtype: 'int32' }))).toEqual([-1, 0, 1]);
  });
  it('eye', () => {
    expect(vg.eye(3).toArray()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(vg.eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(vg.eye(3, 2, { dtype: 'float64' }).dtype).toBe('float64');
  });
});

describe('tensor()', () => {
  it('from nested arrays, numbers and booleans', () => {
    const t = vg.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(vg.tensor(7).shape).toEqual([]);
    expect(vg.tensor(7).item()).toBe(7);
    expect(vg.tensor([]).shape).toEqual([0]);
    expect(data(vg.tensor([true, false]))).toEqual([1, 0]);
    expect(vg.tensor([[[1]], [[2]]]).shape).toEqual([2, 1, 1]);
    expect(vg.tensor([0.1]).dataSync()[0]).toBe(Math.fround(0.1));
    expect(vg.tensor([0.1], { dtype: 'float64' }).dataSync()[0]).toBe(0.1);
    expect(vg.tensor([1, 2, 3, 4], { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
  });
  it('from typed arrays: dtype from the array, copied (not aliased)', () => {
    const src = new Float64Array([1, 2, 3, 4]);
    const t = vg.tensor(src, { shape: [2, 2] });
    expect(t.dtype).toBe('float64');
    src[0] = 99;
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(vg.tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(vg.tensor(new Float32Array([1, 2])).dtype).toBe('float32');
    expect(vg.tensor(new Float32Array([1.5]), { dtype: 'float64' }).dtype).toBe('float64');
    expect(() => vg.tensor(new Float32Array(3), { shape: [2, 2] })).toThrow(/shape \[2, 2\] needs 4 values, got 3/);
  });
  it('rejects ragged and non-numeric nested arrays', () => {
    expect(() => vg.tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => vg.tensor([[1, 2], 3] as never)).toThrow(/ragged/);
    expect(() => vg.tensor([[1], [[2]]] as never)).toThrow(/tensor/);
    expect(() => vg.tensor(['a'] as never)).toThrow(/expected a number/);
    expect(() => vg.tensor([1], { dtype: 'float16' as never })).toThrow(/unknown dtype 'float16'/);
  });
  it('toArray / item / toString / data()', async () => {
    const t = vg.tensor([[1.5, 2], [3, 4]], { dtype: 'float64' });
    expect(t.toArray()).toEqual([[1.5, 2], [3, 4]]);
    expect(() => t.item()).toThrow(/item: only one-element tensors.*\[2, 2\]/);
    expect(t.select(0, 1).select(0, 0).item()).toBe(3);
    const s = t.toString();
    expect(s).toContain('tensor(');
    expect(s).toContain('1.5');
    expect(s).toContain('shape=[2, 2]');
    expect(s).toContain('dtype=float64');
    expect(vg.tensor([1], { requiresGrad: true }).toString()).toContain('requiresGrad=true');
    expect(vg.tensor([1], { requiresGrad: true }).mul(2).toString()).toMatch(/gradFn=\w+/);
    expect(vg.arange(20).toString()).toContain('...');
    const d = await t.T.data();
    expect(Array.from(d)).toEqual([1.5, 3, 2, 4]);
    expect(d).toBeInstanceOf(Float64Array);
    // dataSync returns a copy: writing to it does not change the tensor
    const arr = t.dataSync();
    arr[0] = 100;
    expect(t.toArray()).toEqual([[1.5, 2], [3, 4]]);
    expect(vg.getBackend()).toBe('js');
  });
});

describe('random', () => {
  it('manualSeed: same seed, same numbers; different seeds differ', () => {
    vg.manualSeed(42);
    const a = data(vg.rand([5]));
    const b = data(vg.randn([5]));
    const c = data(vg.randint(0, 10, [5]));
    vg.manualSeed(42);
    expect(data(vg.rand([5]))).toEqual(a);
    expect(data(vg.randn([5]))).toEqual(b);
    expect(data(vg.randint(0, 10, [5]))).toEqual(c);
    vg.manualSeed(43);
    expect(data(vg.rand([5]))).not.toEqual(a);
  });
  it('an explicit Generator is independent of the global one', () => {
    const g1 = new vg.Generator(7);
    const g2 = new vg.Generator(7);
    vg.manualSeed(1);
    vg.rand([3]);
    expect(data(vg.randn([4], { generator: g1 }))).toEqual(data(vg.randn([4], { generator: g2 })));
  });
  it('Generator getState/setState resumes the stream exactly (including a cached normal)', () => {
    const g = new vg.Generator(123);
    g.normal(); // leaves a spare Box-Muller value cached
    const state = g.getState();
    const first = [g.normal(), g.uniform(), g.normal(), g.int(0, 100)];
    const h = new vg.Generator(0);
    h.setState(state);
    expect([h.normal(), h.uniform(), h.normal(), h.int(0, 100)]).toEqual(first);
    // through tensor creation: restoring the state replays the same draws
    g.setState(state);
    const k = new vg.Generator(99);
    k.setState(g.getState());
    const again = data(vg.randn([5], { generator: g, dtype: 'float64' }));
    expect(again[0]).toBe(first[0]); // the cached normal comes out first
    expect(data(vg.randn([5], { generator: k, dtype: 'float64' }))).toEqual(again);
    expect(data(vg.rand([3], { generator: g }))).toEqual(data(vg.rand([3], { generator: k })));
    expect(() => h.setState({ s: [1, 2] } as never)).toThrow(/setState/);
  });
  it('rand in [0, 1), randint in [low, high) as int32, uniform in [low, high)', () => {
    const g = new vg.Generator(5);
    const r = data(vg.rand([10000], { generator: g }));
    expect(Math.min(...r)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...r)).toBeLessThan(1);
    expect(Math.abs(r.reduce((a, b) => a + b, 0) / r.length - 0.5)).toBeLessThan(0.02);
    const i = vg.randint(-3, 4, [10000], { generator: g });
    expect(i.dtype).toBe('int32');
    const iv = data(i);
    expect(new Set(iv)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    const u = data(vg.uniform([1000], 2, 5, { generator: g }));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(5);
    expect(() => vg.randint(3, 3, [1])).toThrow(/randint/);
  });
  it('randn: mean ~ 0 and std ~ 1 over 1e5 draws', () => {
    const x = vg.randn([100000], { generator: new vg.Generator(2024), dtype: 'float64' });
    const v = x.dataSync();
    let s = 0;
    let s2 = 0;
    for (const a of v) {
      s += a;
      s2 += a * a;
    }
    const mean = s / v.length;
    const std = Math.sqrt(s2 / v.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.01); // 3 standard errors is ~0.0095
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
    const tail = Array.from(v).filter((a) => Math.abs(a) > 1.96).length / v.length;
    expect(Math.abs(tail - 0.05)).toBeLessThan(0.004);
  });
});
