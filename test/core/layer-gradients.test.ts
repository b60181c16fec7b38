// Property-based float64 gradient checks of the ops behind issue 13's layers (erf, GELU, SiLU,
// ELU, layerNorm, adaptiveAvgPool2d, embedding, dropout2d), over random shapes and layouts,
// plus their values at known points. PyTorch parity of the layers is in test/nn/torch-parity.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import type { UnaryCase } from './helpers.js';
import { FC, arbLayout, arbSeed, arbShape, check, itGradchecksUnaries, makeInput } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

type T = vg.Tensor;
const F = vg.F;

const unaries: UnaryCase[] = [
  ['erf', (x) => x.erf(), 'normal'],
  ['gelu (erf)', (x) => F.gelu(x), 'normal'],
  ['gelu (tanh)', (x) => F.gelu(x, { approximate: 'tanh' }), 'normal'],
  ['silu', (x) => F.silu(x), 'normal'],
  ['elu', (x) => F.elu(x), 'awayFromZero'],
  ['elu alpha 0.3', (x) => F.elu(x, 0.3), 'awayFromZero'],
];

describe('activations: gradcheck over random shapes and layouts', () => {
  itGradchecksUnaries(unaries);

  it('values at known points (float64)', () => {
    const x = vg.tensor([-3, -1, -0.5, 0, 0.5, 1, 2, 6], { dtype: 'float64' });
    const erf = [-0.9999779095030014, -0.8427007929497149, -0.5204998778130465, 0, 0.5204998778130465, 0.8427007929497149, 0.9953222650189527, 0.9999999999999999785];
    (x.erf().toArray() as number[]).forEach((v, i) => expect(v).toBeCloseTo(erf[i]!, 15));
    // torch.nn.functional.gelu in float64 (PyTorch 1.13)
    const gelu = [-0.00404969409489031, -0.15865525393145702, -0.15426876936299344, 0, 0.34573123063700656, 0.841344746068543, 1.9544997361036416, 5.999999994080474];
    (F.gelu(x).toArray() as number[]).forEach((v, i) => expect(v).toBeCloseTo(gelu[i]!, 15));
    const xs = Array.from(x.dataSync());
    (F.silu(x).toArray() as number[]).forEach((v, i) => expect(v).toBeCloseTo(xs[i]! / (1 + Math.exp(-xs[i]!)), 15));
    (F.elu(x, 2).toArray() as number[]).forEach((v, i) => expect(v).toBeCloseTo(xs[i]! > 0 ? xs[i]! : 2 * Math.expm1(xs[i]!), 15));
    const t = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    (F.gelu(x, { approximate: 'tanh' }).toArray() as number[]).forEach((v, i) => expect(v).toBeCloseTo(t(xs[i]!), 15));
  });

  it('elu of a large input has a finite gradient (the discarded branch does not overflow)', () => {
    const x = vg.tensor([100, -100], { requiresGrad: true });
    F.elu(x).sum().backward();
    const [g0, g1] = x.grad!.toArray() as number[];
    expect(g0).toBe(1);
    expect(g1).toBeGreaterThanOrEqual(0); // exp(-100), a float32 denormal
    expect(g1).toBeLessThan(1e-40);
  });

  it('rejects an unknown gelu approximation', () => {
    expect(() => F.gelu(vg.zeros([2]), { approximate: 'fast' as never })).toThrow(/approximate must be 'none' or 'tanh', got 'fast'/);
    expect(() => new vg.nn.GELU({ approximate: 'x' as never })).toThrow(/GELU: approximate/);
  });
});

describe('layerNorm: gradcheck', () => {
  it('over the trailing 1..rank dims, with and without weight and bias', () => {
    fc.assert(
      fc.property(arbShape(1, 3, 3), arbLayout(), arbSeed, fc.boolean(), (shape, layout, seed, affine) => {
        fc.pre(shape.some((d) => d > 1));
        const g = new vg.Generator(seed);
        const k = 1 + (seed % shape.length);
        const norm = shape.slice(-k);
        const inp = makeInput(shape, layout, 'normal', g);
        const w = makeInput(norm, 'contiguous', 'normal', g);
        const b = makeInput(norm, 'contiguous', 'normal', g);
        if (affine) check((x, wt, bt) => F.layerNorm(inp.view(x), norm, wt, bt, 1e-3), [inp.leaf, w.leaf, b.leaf]);
        else check((x) => F.layerNorm(inp.view(x), norm, null, null, 1e-3), [inp.leaf]);
      }),
      FC,
    );
  });

  it('normalises to mean 0 and variance 1 over the trailing dims', () => {
    const x = vg.randn([3, 4, 5], { dtype: 'float64' }).mul(3).add(2);
    const y = F.layerNorm(x, [4, 5], null, null, 0);
    (y.mean([1, 2]).toArray() as number[]).forEach((v) => expect(v).toBeCloseTo(0, 12));
    (y.var([1, 2], { unbiased: false }).toArray() as number[]).forEach((v) => expect(v).toBeCloseTo(1, 12));
  });

  it('names a shape that is not the input\'s trailing dims', () => {
    expect(() => F.layerNorm(vg.zeros([2, 3]), [2])).toThrow(/normalizedShape \[2\] must be the trailing dims of the input, got input \[2, 3\]/);
    expect(() => F.layerNorm(vg.zeros([2, 3]), 3, vg.ones([2]))).toThrow(/weight has shape \[2\], expected \[3\]/);
  });
});

describe('adaptiveAvgPool2d', () => {
  it('gradcheck for any input and output sizes, 3-D and 4-D', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), arbSeed, (h, w, oh, ow, batched, seed) => {
        const shape = batched ? [2, 2, h, w] : [2, h, w];
        const inp = makeInput(shape, 'permuted', 'normal', new vg.Generator(seed));
        check((x) => F.adaptiveAvgPool2d(inp.view(x), [oh, ow]), [inp.leaf]);
      }),
      FC,
    );
  });

  it('averages PyTorch\'s windows: equal to avgPool2d when the size divides, the global mean with 1', () => {
    const x = vg.randn([2, 3, 6, 4], { dtype: 'float64' });
    expect(F.adaptiveAvgPool2d(x, [3, 2]).sub(F.avgPool2d(x, [2, 2])).abs().max().item()).toBeLessThan(1e-15);
    expect(F.adaptiveAvgPool2d(x, 1).reshape([2, 3]).sub(x.mean([2, 3])).abs().max().item()).toBeLessThan(1e-15);
    // 5 -> 3: windows [0, 2), [1, 4), [3, 5)
    const r = F.adaptiveAvgPool2d(vg.tensor([[[1, 2, 3, 4, 5]]], { dtype: 'float64' }), [1, 3]);
    expect(r.toArray()).toEqual([[[1.5, 3, 4.5]]]);
    expect(() => F.adaptiveAvgPool2d(vg.zeros([4, 4]), 2)).toThrow(/expected 3-D \[C, H, W\] or 4-D \[N, C, H, W\] input, got \[4, 4\]/);
    expect(() => F.adaptiveAvgPool2d(vg.zeros([1, 4, 4]), 0)).toThrow(/positive integers/);
  });
});

describe('embedding', () => {
  it('gradcheck of the weight; a row used twice gets both gradients', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 8 }), arbSeed, (idx, seed) => {
        const w = makeInput([5, 3], 'contiguous', 'normal', new vg.Generator(seed));
        const indices = vg.tensor(Int32Array.from(idx), { shape: [idx.length] });
        check((wt) => F.embedding(indices, wt), [w.leaf]);
      }),
      FC,
    );
    const w = vg.ones([4, 2], { requiresGrad: true });
    F.embedding(vg.tensor(new Int32Array([1, 3, 1, 1]), { shape: [2, 2] }), w).sum().backward();
    expect(w.grad!.toArray()).toEqual([[0, 0], [3, 3], [0, 0], [1, 1]]);
  });

  it('paddingIdx: the row is looked up but gets no gradient', () => {
    const e = new vg.nn.Embedding(4, 2, { paddingIdx: -1 });
    expect(e.paddingIdx).toBe(3);
    expect(e.weight.select(0, 3).toArray()).toEqual([0, 0]);
    const out = e.forward(vg.tensor(new Int32Array([3, 0, 3])));
    expect(out.shape).toEqual([3, 2]);
    out.sum().backward();
    expect(e.weight.grad!.toArray()).toEqual([[1, 1], [0, 0], [0, 0], [0, 0]]);
  });

  it('names bad indices', () => {
    const w = vg.zeros([3, 2]);
    expect(() => F.embedding(vg.tensor([0, 1]), w)).toThrow(/indices must be an int32 tensor, got float32/);
    expect(() => F.embedding(vg.tensor(new Int32Array([0, 3])), w)).toThrow(/index 3 is out of range for dim 0 of size 3/);
    expect(() => new vg.nn.Embedding(3, 2, { paddingIdx: 3 })).toThrow(/paddingIdx 3 out of range/);
  });
});

describe('dropout2d', () => {
  it('zeroes whole channels, scales the rest by 1 / (1 - p), identity in eval', () => {
    const x = vg.ones([8, 16, 3, 3]);
    const y = F.dropout2d(x, 0.25, { generator: new vg.Generator(1) });
    const perChannel = y.reshape([8 * 16, 9]);
    const lo = perChannel.min(1).toArray() as number[];
    const hi = perChannel.max(1).toArray() as number[];
    lo.forEach((v, i) => expect(v).toBe(hi[i]));
    expect(new Set(lo.map((v) => Math.round(v * 1e6) / 1e6))).toEqual(new Set([0, Math.round(1e6 / 0.75) / 1e6]));
    const dropped = lo.filter((v) => v === 0).length / lo.length;
    expect(dropped).toBeGreaterThan(0.1);
    expect(dropped).toBeLessThan(0.4);
    expect(F.dropout2d(x, 0.25, { training: false })).toBe(x);
    const m = new vg.nn.Dropout2d(0.5).eval();
    expect(m.forward(x)).toBe(x);
  });

  it('gradcheck with a fixed generator (the same mask each call)', () => {
    const inp = makeInput([2, 3, 2, 2], 'contiguous', 'normal', new vg.Generator(4));
    check((x) => F.dropout2d(x, 0.4, { generator: new vg.Generator(9) }), [inp.leaf]);
    expect(() => F.dropout2d(vg.zeros([2, 2]), 0.5)).toThrow(/expected 3-D \[C, H, W\] or 4-D/);
  });
});

describe('containers', () => {
  it('ModuleList and ModuleDict register children for parameters, state_dict and train/eval', () => {
    const list = new vg.nn.ModuleList([new vg.nn.Linear(2, 3), new vg.nn.ReLU()]).append(new vg.nn.Linear(3, 1));
    const dict = new vg.nn.ModuleDict({ enc: new vg.nn.Linear(2, 2), drop: new vg.nn.Dropout(0.1) });
    class Net extends vg.nn.Module {
      blocks = list;
      heads = dict;
      forward(x: T): T { return x; }
    }
    const net = new Net();
    expect([...net.stateDict().keys()]).toEqual(['blocks.0.weight', 'blocks.0.bias', 'blocks.2.weight', 'blocks.2.bias', 'heads.enc.weight', 'heads.enc.bias']);
    expect(net.parameters().length).toBe(6);
    net.eval();
    expect(dict.get('drop').training).toBe(false);
    expect(list.length).toBe(3);
    expect(list.at(-1)).toBeInstanceOf(vg.nn.Linear);
    expect([...list].length).toBe(3);
    expect(dict.keys()).toEqual(['enc', 'drop']);
    expect(() => dict.get('nope')).toThrow(/no module named 'nope' \(have: enc, drop\)/);
    expect(() => list.at(5)).toThrow(/index 5 out of range for 3 modules/);
    expect(() => list.append({} as never)).toThrow(/item 3 is not a Module/);
    expect(() => dict.set('a.b', new vg.nn.ReLU())).toThrow(/without '\.'/);
    expect(() => list.forward()).toThrow(/ModuleList has no forward/);
    expect(String(list)).toMatch(/^ModuleList\(\n {2}\(0\): Linear/);
  });
});
