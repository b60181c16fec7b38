// Dtypes: the promotion table against PyTorch (test/fixtures/promotion.json, generated with torch
// 1.13 by scripts/make-dtype-fixtures.py: every pair of bool / int32 / float32 / float64 tensors,
// 0-d tensors and JS int / float numbers through add, mul, eq and where), bool results of
// comparisons and masks, integer arithmetic and reductions, and the int32-with-a-JS-number cases
// of issue 15 (no silent truncation or wrap-around of the number).

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { data } from './helpers.js';

interface Operand { kind: 'tensor' | 'scalar'; dtype?: string; shape?: number[]; data: number[] | number }
interface Case { op: 'add' | 'mul' | 'eq' | 'where'; a: string; b: string; dtype: string | null; data: number[] | null; shape: number[] | null; error: string | null }
const table = JSON.parse(readFileSync(new URL('../fixtures/promotion.json', import.meta.url), 'utf8')) as { torch: string; operands: Record<string, Operand>; cases: Case[] };

/** PyTorch's dtypes as vaegrad's: int64 (its integer default) is int32 here. */
const ours = (d: string): string => (d === 'int64' ? 'int32' : d);

function operand(name: string): vg.Tensor | number {
  const o = table.operands[name]!;
  if (o.kind === 'scalar') return o.data as number;
  const t = vg.tensor(o.data as number[], { dtype: o.dtype as vg.DType });
  return o.shape!.length === 0 ? t.reshape([]) : t;
}

describe.each(['js', 'wasm'])('type promotion matches PyTorch %s', (backend) => {
  beforeAll(async () => {
    await vg.setBackend(backend as 'js' | 'wasm');
  });
  it(`all ${table.cases.length} cases of the table (torch ${table.torch})`, () => {
    expect(table.cases.length).toBe(340);
    const cond = vg.tensor([1, 0]).gt(0);
    for (const c of table.cases) {
      const what = `${c.op}(${c.a}, ${c.b})`;
      const a = operand(c.a);
      const b = operand(c.b);
      const run = (): vg.Tensor =>
        c.op === 'where' ? vg.where(cond, a, b) : (vg[c.op] as (x: vg.Tensor, y: vg.Tensor | number) => vg.Tensor)(a as vg.Tensor, b);
      expect(c.error, what).toBeNull(); // torch 1.13 refuses none of these
      const r = run();
      expect(r.dtype, what).toBe(ours(c.dtype!));
      expect(r.shape, what).toEqual(c.shape);
      expect(data(r), what).toEqual(c.data);
    }
  });
});

describe('dtypes', () => {
  beforeAll(async () => {
    await vg.setBackend('js');
  });

  it('promoteTypes and resultType follow bool < int32 < float32 < float64 and the category rule', () => {
    expect(vg.promoteTypes('bool', 'int32')).toBe('int32');
    expect(vg.promoteTypes('float64', 'int32')).toBe('float64');
    const t = (dtype: vg.DType, ndim = 1): { dtype: vg.DType; ndim: number } => ({ dtype, ndim });
    expect(vg.resultType(t('int32'), 0.5)).toBe('float32');
    expect(vg.resultType(t('int32'), 2)).toBe('int32');
    expect(vg.resultType(t('float32'), t('float64', 0))).toBe('float32');
    expect(vg.resultType(t('int32'), t('float64', 0))).toBe('float64');
    expect(vg.resultType(t('bool'), true)).toBe('bool');
  });

  it('bool tensors: creation, printing, casts, sums', () => {
    const b = vg.tensor([true, false, true], { dtype: 'bool' });
    expect(b.dtype).toBe('bool');
    expect(b.dataSync()).toBeInstanceOf(Uint8Array);
    expect(b.toString()).toBe('tensor([true, false, true], shape=[3], dtype=bool)');
    expect(data(vg.tensor([0, 2, -0.5, NaN]).to('bool'))).toEqual([0, 1, 1, 1]); // any non-zero (NaN too) is true
    expect(data(vg.tensor([0, 256, 7], { dtype: 'bool' }))).toEqual([0, 1, 1]); // not wrapped to a byte
    const s = b.sum();
    expect(s.dtype).toBe('int32');
    expect(s.item()).toBe(2);
    expect(b.to('float32').toArray()).toEqual([1, 0, 1]);
    expect(() => vg.tensor(new Uint8Array([1]))).toThrow(/a Uint8Array needs an explicit dtype/);
  });

  it('comparisons, isnan / isfinite / isinf and logical ops give bool', () => {
    const x = vg.tensor([1, NaN, Infinity, -Infinity, -2]);
    expect(x.isnan().dtype).toBe('bool');
    expect(data(x.isnan())).toEqual([0, 1, 0, 0, 0]);
    expect(data(x.isfinite())).toEqual([1, 0, 0, 0, 1]);
    expect(data(x.isinf())).toEqual([0, 0, 1, 1, 0]);
    const i = vg.tensor([1, 2], { dtype: 'int32' });
    expect(data(i.isnan())).toEqual([0, 0]);
    expect(data(i.isfinite())).toEqual([1, 1]);
    expect(data(i.isinf())).toEqual([0, 0]);
    const p = vg.tensor([1, 0, 1, 0]).gt(0);
    const q = vg.tensor([1, 1, 0, 0]).gt(0);
    expect(data(p.logicalAnd(q))).toEqual([1, 0, 0, 0]);
    expect(data(p.logicalOr(q))).toEqual([1, 1, 1, 0]);
    expect(data(p.logicalXor(q))).toEqual([0, 1, 1, 0]);
    expect(data(p.logicalNot())).toEqual([0, 1, 0, 1]);
    expect(data(p.add(q))).toEqual([1, 1, 1, 0]); // bool + bool is or, as in PyTorch
    expect(() => p.sub(q)).toThrow(/sub: subtracting bool tensors is not supported/);
    expect(() => p.neg()).toThrow(/neg: not supported on bool tensors/);
  });

  it('predictions against int labels: argmax().eq(labels).sum() counts', () => {
    const logits = vg.tensor([[0.1, 2, 0.3], [3, 0, 1], [0, 0, 5], [1, 2, 0]]);
    const labels = vg.tensor([1, 0, 1, 1], { dtype: 'int32' });
    const correct = logits.argmax(1).eq(labels);
    expect(correct.dtype).toBe('bool');
    expect(correct.sum().item()).toBe(3);
    expect(correct.to('float32').mean().item()).toBe(0.75);
  });

  it('where takes bool conditions (and non-zero conditions of any dtype); maskedFill takes bool masks', () => {
    const x = vg.tensor([[1, -2], [3, -4]], { requiresGrad: true });
    const y = x.maskedFill(x.lt(0), 0);
    expect(y.toArray()).toEqual([[1, 0], [3, 0]]);
    y.sum().backward();
    expect(x.grad!.toArray()).toEqual([[1, 0], [1, 0]]);
    expect(vg.tensor([1, 2], { dtype: 'int32' }).maskedFill(vg.tensor([0, 1]).gt(0), 7).toArray()).toEqual([1, 7]);
    expect(vg.zeros([2, 2]).maskedFill(vg.tensor([1, 0]).gt(0), -1).toArray()).toEqual([[-1, 0], [-1, 0]]);
    expect(() => x.maskedFill(vg.tensor([1, 0]), 0)).toThrow(/maskedFill: mask must be a bool tensor, got float32 \[2\]/);
    expect(data(vg.where(vg.tensor([2, 0], { dtype: 'int32' }), 1, 0))).toEqual([1, 0]);
  });

  it('int32 arithmetic stays int32; division is true division; floorDivide and remainder round toward -infinity', () => {
    const a = vg.tensor([7, -7, 5], { dtype: 'int32' });
    const b = vg.tensor([2, 2, -3], { dtype: 'int32' });
    for (const r of [a.add(b), a.sub(b), a.mul(b), a.neg(), a.abs(), a.floorDivide(b), a.remainder(b), a.maximum(b), a.pow(2)]) expect(r.dtype).toBe('int32');
    expect(data(a.add(b))).toEqual([9, -5, 2]);
    expect(data(a.mul(b))).toEqual([14, -14, -15]);
    expect(data(a.floorDivide(b))).toEqual([3, -4, -2]);
    expect(data(a.remainder(b))).toEqual([1, 1, -1]);
    expect(data(a.pow(2))).toEqual([49, 49, 25]);
    const q = a.div(b);
    expect(q.dtype).toBe('float32');
    expect(data(q)).toEqual([3.5, -3.5, Math.fround(5 / -3)]);
    expect(data(vg.tensor([7.5, -7.5]).floorDivide(2))).toEqual([3, -4]);
    expect(data(vg.tensor([7.5, -7.5]).remainder(2))).toEqual([1.5, 0.5]);
    expect(() => a.floorDivide(0)).toThrow(/floorDivide: integer division by zero/);
    expect(() => a.pow(-1)).toThrow(/pow: integers to negative integer powers are not allowed/);
  });

  it('remainder has PyTorch 1.13\'s gradients; floorDivide runs on inputs that require grad and its backward throws, as in PyTorch', () => {
    // torch: remainder([5, -3.5], [2, 1.5]) = [1, 1]; x.grad = [1, 1], b.grad = -floor(x / b) = [-2, 3]
    const x = vg.tensor([5, -3.5], { requiresGrad: true });
    const b = vg.tensor([2, 1.5], { requiresGrad: true });
    const r = x.remainder(b);
    expect(data(r)).toEqual([1, 1]);
    r.sum().backward();
    expect(data(x.grad!)).toEqual([1, 1]);
    expect(data(b.grad!)).toEqual([-2, 3]);
    const q = x.floorDivide(b);
    expect(data(q)).toEqual([2, -3]);
    expect(q.requiresGrad).toBe(true);
    expect(() => q.sum().backward()).toThrow(/backward: floorDivide has no gradient \(as in PyTorch, where the derivative of floor_divide is not implemented\); detach\(\) its inputs/);
    expect(() => x.floorDivide(2).mul(0).add(x).sum().backward()).toThrow(/floorDivide has no gradient/);
    expect(data(x.detach().floorDivide(2))).toEqual([2, -2]);
    expect(vg.noGrad(() => x.floorDivide(2)).requiresGrad).toBe(false);
  });

  it('int32 arithmetic past the range wraps as in PyTorch (int32 products exactly)', () => {
    const big = vg.tensor([2147483647, 65536, 123456789], { dtype: 'int32' });
    expect(data(big.add(1))).toEqual([-2147483648, 65537, 123456790]);
    expect(data(big.mul(vg.tensor([2, 65536, 987654321], { dtype: 'int32' })))).toEqual([-2, 0, Math.imul(123456789, 987654321)]);
    expect(data(big.mul(987654321))).toEqual([Math.imul(2147483647, 987654321), Math.imul(65536, 987654321), Math.imul(123456789, 987654321)]);
  });

  it('reductions on int32 and bool: sum -> int32, max/min/argmax keep working; mean needs floats', () => {
    const x = vg.tensor([[3, -1, 4], [1, 5, -9]], { dtype: 'int32' });
    expect(x.sum().item()).toBe(3);
    expect(x.sum(1).dtype).toBe('int32');
    expect(data(x.max(1))).toEqual([4, 5]);
    expect(x.min().item()).toBe(-9);
    expect(x.max().dtype).toBe('int32');
    expect(data(x.argmax(1))).toEqual([2, 1]);
    expect(data(x.gt(0).sum(0))).toEqual([2, 1, 1]);
    expect(() => x.mean()).toThrow(/mean: expected a floating-point tensor, got int32/);
  });

  it('unary float ops compute integer tensors in float32', () => {
    const i = vg.tensor([0, 1], { dtype: 'int32' });
    expect(i.exp().dtype).toBe('float32');
    expect(data(i.exp())).toEqual([1, Math.fround(Math.E)]);
    expect(i.sigmoid().dtype).toBe('float32');
    expect(i.relu().dtype).toBe('int32');
  });

  it('gradients flow only through float tensors, across float32/float64 promotion', () => {
    expect(() => vg.tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(/requiresGrad: only floating-point tensors can require gradients \(got int32\)/);
    expect(() => vg.tensor([1], { dtype: 'bool' }).requiresGrad_()).toThrow(/\(got bool\)/);
    const a = vg.tensor([1, 2], { requiresGrad: true });
    const b = vg.tensor([0.5, 0.25], { dtype: 'float64', requiresGrad: true });
    const y = a.mul(b);
    expect(y.dtype).toBe('float64');
    y.sum().backward();
    expect(a.grad!.dtype).toBe('float32');
    expect(data(a.grad!)).toEqual([0.5, 0.25]);
    expect(b.grad!.dtype).toBe('float64');
    expect(data(b.grad!)).toEqual([1, 2]);
    const c = vg.tensor([1, 2], { requiresGrad: true });
    c.mul(vg.tensor([3, 4], { dtype: 'int32' })).sum().backward();
    expect(data(c.grad!)).toEqual([3, 4]);
  });
});

// Issue 15: int32 tensors with a JS number. PyTorch promotes where a float operand appears and
// refuses a number that does not fit the result dtype.
describe('issue 15: int32 tensors and JS numbers', () => {
  const i = (): vg.Tensor => vg.tensor([1, 2], { dtype: 'int32' });
  it('a float number compares in float: lt(1.5), eq(1.2)', () => {
    expect(data(i().lt(1.5))).toEqual([1, 0]);
    expect(data(i().eq(1.2))).toEqual([0, 0]);
    expect(data(vg.tensor([1], { dtype: 'int32' }).eq(1))).toEqual([1]);
    expect(data(i().lt(3e9))).toEqual([1, 1]); // an integer beyond int32 compares exactly, no error
    expect(data(i().eq(2 ** 32 + 1))).toEqual([0, 0]);
  });
  it('a float number promotes arithmetic to float32: add(0.5), mul(0.5), sub(0.25)', () => {
    expect(i().add(0.5).dtype).toBe('float32');
    expect(data(i().add(0.5))).toEqual([1.5, 2.5]);
    expect(data(i().mul(0.5))).toEqual([0.5, 1]);
    expect(data(i().sub(0.25))).toEqual([0.75, 1.75]);
  });
  it('div(2) is true division in float32', () => {
    const q = vg.tensor([1, 3], { dtype: 'int32' }).div(2);
    expect(q.dtype).toBe('float32');
    expect(data(q)).toEqual([0.5, 1.5]);
  });
  it('values that do not fit int32 are errors naming the value and the dtype', () => {
    expect(() => vg.tensor([3e9], { dtype: 'int32' })).toThrow(/tensor: value 3000000000 does not fit dtype int32/);
    expect(() => vg.tensor(new Float64Array([-3e9]), { dtype: 'int32' })).toThrow(/tensor: value -3000000000 does not fit dtype int32/);
    expect(() => vg.full([2], 2 ** 31, { dtype: 'int32' })).toThrow(/full: value 2147483648 does not fit dtype int32/);
    expect(() => vg.tensor([NaN], { dtype: 'int32' })).toThrow(/tensor: value NaN does not fit dtype int32/);
    expect(() => i().mul(2 ** 31)).toThrow(/mul: value 2147483648 does not fit dtype int32/);
    expect(() => i().add(-(2 ** 31) - 1)).toThrow(/add: value -2147483649 does not fit dtype int32/);
    expect(() => i().maximum(1e10)).toThrow(/maximum: value 10000000000 does not fit dtype int32/);
    expect(data(i().mul(2 ** 30))).toEqual([2 ** 30, -(2 ** 31)]); // in range: wraps like PyTorch
    expect(i().mul(2 ** 31 + 0.5).dtype).toBe('float32'); // a non-integer number: float32, no error
  });
});
