// Classification losses: crossEntropy and nllLoss against PyTorch (test/fixtures/classification.json,
// float64, made by scripts/make-classification-fixtures.py: reductions, class weights, ignoreIndex,
// label smoothing, spatial and unbatched inputs, probability targets; values and gradients),
// float64 gradchecks over random cases, the loss modules, oneHot, and the errors.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { FC, arbSeed, check, data, expectClose } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

interface Tj { shape: number[]; data: (number | null)[] }
interface Case {
  name: string; op: 'cross_entropy' | 'nll_loss';
  args: { reduction: vg.F.Reduction; ignoreIndex: number; labelSmoothing?: number; weighted: boolean };
  inputs: { x: Tj; target: Tj; weight?: Tj }; v: Tj; output: Tj; grads: { x?: Tj; target?: Tj };
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/classification.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };
const nums = (t: Tj): number[] => t.data.map((v) => (v === null ? NaN : v));
const f64 = (t: Tj, requiresGrad = false): vg.Tensor => vg.tensor(new Float64Array(nums(t)), { shape: t.shape, requiresGrad });

describe(`crossEntropy and nllLoss match PyTorch ${fx.torch} (float64)`, () => {
  it('has the cases the script writes', () => expect(fx.cases.length).toBe(69));
  for (const c of fx.cases) {
    it(c.name, () => {
      const x = f64(c.inputs.x, true);
      const probs = c.op === 'cross_entropy' && c.inputs.target.shape.length === c.inputs.x.shape.length && c.inputs.x.shape.length > 0 && nums(c.inputs.target).some((v) => !Number.isInteger(v));
      const target = probs ? f64(c.inputs.target, true) : vg.tensor(new Int32Array(nums(c.inputs.target)), { shape: c.inputs.target.shape });
      const weight = c.inputs.weight ? f64(c.inputs.weight) : null;
      const opts = { reduction: c.args.reduction, ignoreIndex: c.args.ignoreIndex, weight };
      const out = c.op === 'cross_entropy' ? vg.F.crossEntropy(x, target, { ...opts, labelSmoothing: c.args.labelSmoothing }) : vg.F.nllLoss(x, target, opts);
      expect(out.shape).toEqual(c.output.shape);
      expectClose(out.dataSync(), nums(c.output), 1e-10, 'output');
      if (!c.grads.x) return; // every target ignored: the mean is NaN (0 / 0), as in PyTorch
      out.mul(f64(c.v)).sum().backward();
      expectClose(x.grad!.dataSync(), nums(c.grads.x), 1e-10, 'grad x');
      if (c.grads.target) expectClose(target.grad!.dataSync(), nums(c.grads.target), 1e-10, 'grad target');
    });
  }
});

/** A random classification case: [N, C, spatial...] logits, int targets with some ignored, weights, options. */
const arbCase = fc.record({
  n: fc.integer({ min: 1, max: 4 }),
  c: fc.integer({ min: 1, max: 5 }),
  spatial: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  reduction: fc.constantFrom<vg.F.Reduction>('mean', 'sum', 'none'),
  weighted: fc.boolean(),
  ignoreIndex: fc.constantFrom(-100, 0, 1),
  smoothing: fc.constantFrom(0, 0.1, 0.5),
  seed: arbSeed,
});

function build(k: { n: number; c: number; spatial: number[]; weighted: boolean; ignoreIndex: number; seed: number }): { x: vg.Tensor; target: vg.Tensor; weight: vg.Tensor | null; ignoreIndex: number } {
  const gen = new vg.Generator(k.seed);
  const ignoreIndex = k.c === 1 && k.ignoreIndex === 0 ? -100 : k.ignoreIndex; // one class that is ignored leaves nothing
  const x = vg.randn([k.n, k.c, ...k.spatial], { dtype: 'float64', generator: gen, requiresGrad: true });
  const t = vg.randint(0, k.c, [k.n, ...k.spatial], { generator: gen });
  // ignore about a third of the targets, but keep the first one a counted class (a 'mean' over nothing is NaN)
  const ignore = vg.rand(t.shape, { generator: gen }).lt(0.33);
  const first = vg.arange(t.numel).reshape(t.shape).eq(0);
  const counted = ignoreIndex >= 0 ? (ignoreIndex + 1) % k.c : 0;
  const target = vg.where(first, counted, vg.where(ignore, ignoreIndex, t));
  const weight = k.weighted ? vg.rand([k.c], { dtype: 'float64', generator: gen }).add(0.2).requiresGrad_() : null;
  return { x, target, weight, ignoreIndex };
}

describe('gradcheck (float64) over random shapes, weights, ignoreIndex, label smoothing and reductions', () => {
  it('crossEntropy with class-index targets (gradients for the logits and the weights)', () => {
    fc.assert(
      fc.property(arbCase, (k) => {
        const { x, target, weight, ignoreIndex } = build(k);
        const opts = { reduction: k.reduction, ignoreIndex, labelSmoothing: k.smoothing };
        const inputs = weight ? [x, weight] : [x];
        check((xx, ww) => vg.F.crossEntropy(xx!, target, { ...opts, weight: ww ?? null }), inputs);
      }),
      FC,
    );
  });
  it('nllLoss (gradients for the log-probabilities and the weights)', () => {
    fc.assert(
      fc.property(arbCase, (k) => {
        const { x, target, weight, ignoreIndex } = build(k);
        const opts = { reduction: k.reduction, ignoreIndex };
        const inputs = weight ? [x, weight] : [x];
        check((xx, ww) => vg.F.nllLoss(xx!, target, { ...opts, weight: ww ?? null }), inputs);
      }),
      FC,
    );
  });
  it('crossEntropy with class-probability targets (gradients for logits and targets)', () => {
    fc.assert(
      fc.property(arbCase, (k) => {
        const gen = new vg.Generator(k.seed);
        const x = vg.randn([k.n, k.c, ...k.spatial], { dtype: 'float64', generator: gen, requiresGrad: true });
        const p = vg.rand(x.shape, { dtype: 'float64', generator: gen }).add(0.1);
        const target = p.div(p.sum(1, true)).detach().requiresGrad_();
        const weight = k.weighted ? vg.rand([k.c], { dtype: 'float64', generator: gen }).add(0.2) : null;
        check((xx, tt) => vg.F.crossEntropy(xx!, tt!, { reduction: k.reduction, weight, labelSmoothing: k.smoothing }), [x, target]);
      }),
      FC,
    );
  });
});

describe('loss modules, oneHot, errors', () => {
  it('CrossEntropyLoss and NLLLoss: same values as the functions; the weight is a buffer in the state dict', () => {
    const logits = vg.tensor([[1, 2, 0.5], [0.1, -1, 2]]);
    const target = vg.tensor([1, 2], { dtype: 'int32' });
    const weight = vg.tensor([0.2, 1, 3]);
    const m = new vg.nn.CrossEntropyLoss({ weight, labelSmoothing: 0.1 });
    expect(m.forward(logits, target).item()).toBe(vg.F.crossEntropy(logits, target, { weight, labelSmoothing: 0.1 }).item());
    expect([...m.stateDict().keys()]).toEqual(['weight']);
    expect([...new vg.nn.CrossEntropyLoss().stateDict().keys()]).toEqual([]);
    expect(m.toString()).toMatch(/CrossEntropyLoss\(reduction='mean', ignoreIndex=-100, weight, labelSmoothing=0.1\)/);
    const n = new vg.nn.NLLLoss({ reduction: 'sum', ignoreIndex: 2 });
    expect(n.forward(logits.logSoftmax(1), target).item()).toBeCloseTo(-logits.logSoftmax(1).toArray()[0][1], 6);
  });

  it('crossEntropy of a confident correct prediction is near 0, of a uniform one log(C)', () => {
    const t = vg.tensor([0, 1], { dtype: 'int32' });
    expect(vg.F.crossEntropy(vg.tensor([[20, 0, 0], [0, 20, 0]]), t).item()).toBeLessThan(1e-8);
    expect(vg.F.crossEntropy(vg.zeros([2, 3]), t).item()).toBeCloseTo(Math.log(3), 6);
  });

  it('oneHot gives int32 [..., C]; numClasses -1 means max + 1', () => {
    const t = vg.tensor([[0, 2], [1, 0]], { dtype: 'int32' });
    const h = vg.F.oneHot(t);
    expect(h.dtype).toBe('int32');
    expect(h.shape).toEqual([2, 2, 3]);
    expect(h.toArray()).toEqual([[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [1, 0, 0]]]);
    expect(vg.F.oneHot(vg.tensor([1], { dtype: 'int32' }), 4).toArray()).toEqual([[0, 1, 0, 0]]);
    expect(() => vg.F.oneHot(t, 2)).toThrow(/oneHot: class value 2 is out of range for 2 classes/);
    expect(() => vg.F.oneHot(vg.tensor([-1], { dtype: 'int32' }))).toThrow(/oneHot: class values must be non-negative, got -1/);
    expect(() => vg.F.oneHot(vg.tensor([1]))).toThrow(/oneHot: expected int32 class indices, got float32 \[1\]/);
  });

  it('errors name the target, the classes and the shapes', () => {
    const x = vg.zeros([2, 3]);
    expect(() => vg.F.crossEntropy(x, vg.tensor([0, 3], { dtype: 'int32' }))).toThrow(/crossEntropy: target 3 is out of range for 3 classes \(valid: 0 to 2, or ignoreIndex -100\)/);
    expect(() => vg.F.nllLoss(x, vg.tensor([-1, 0], { dtype: 'int32' }))).toThrow(/nllLoss: target -1 is out of range for 3 classes/);
    expect(() => vg.F.nllLoss(x, vg.tensor([0, 1]))).toThrow(/nllLoss: target must be int32 class indices .* got float32 \[2\]/);
    expect(() => vg.F.crossEntropy(x, vg.tensor([0, 1, 2], { dtype: 'int32' }))).toThrow(/crossEntropy: target shape \[3\] does not match input shape \[2, 3\] \(expected \[2\]\)/);
    expect(() => vg.F.crossEntropy(x, vg.zeros([2, 2]))).toThrow(/crossEntropy: class-probability target \[2, 2\] must have the input's shape \[2, 3\]/);
    expect(() => vg.F.crossEntropy(x, vg.tensor([0, 1], { dtype: 'int32' }), { weight: vg.ones([2]) })).toThrow(/crossEntropy: weight must be \[3\] \(one per class\), got \[2\]/);
    expect(() => vg.F.crossEntropy(x, vg.tensor([0, 1], { dtype: 'int32' }), { labelSmoothing: 1.5 })).toThrow(/crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5/);
    expect(() => vg.F.crossEntropy(x, vg.tensor([0, 1], { dtype: 'int32' }), { reduction: 'avg' as never })).toThrow(/crossEntropy: reduction must be 'mean', 'sum' or 'none', got 'avg'/);
    expect(() => vg.F.crossEntropy(vg.zeros([2, 3], { dtype: 'int32' }), vg.tensor([0, 1], { dtype: 'int32' }))).toThrow(/crossEntropy: expected a floating-point tensor, got int32/);
    expect(data(vg.F.crossEntropy(x, vg.tensor([-100, -100], { dtype: 'int32' })))).toEqual([NaN]); // nothing to average, as PyTorch
  });
});
