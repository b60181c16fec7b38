// vg.autograd.grad: gradients returned, not accumulated into .grad (torch.autograd.grad).

import { describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';

const close = (a: vg.Tensor | null, b: number[] | number): void => {
  expect(a).not.toBeNull();
  const got = a!.toArray();
  const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);
  const want = flat(b);
  flat(got).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
};

describe('autograd.grad', () => {
  it('returns d out / d input without touching .grad, and equals what backward accumulates', () => {
    const x = vg.tensor([1, 2, 3], { requiresGrad: true, dtype: 'float64' });
    const w = vg.tensor([0.5, -1, 2], { requiresGrad: true, dtype: 'float64' });
    const y = x.mul(w).sum().mul(x.sum());
    const [gx, gw] = vg.autograd.grad(y, [x, w], { retainGraph: true });
    expect(x.grad).toBeNull();
    expect(w.grad).toBeNull();
    y.backward();
    expect(gx!.toArray()).toEqual(x.grad!.toArray());
    expect(gw!.toArray()).toEqual(w.grad!.toArray());
    expect(gx!.requiresGrad).toBe(false);
  });

  it('takes gradOutputs for non-scalar outputs and sums over several outputs', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const a = x.mul(3);
    const b = x.square();
    const [g] = vg.autograd.grad([a, b], x, { gradOutputs: [vg.tensor([1, 1]), vg.tensor([2, 0])] });
    close(g, [3 + 2 * 2 * 1, 3]);
  });

  it('gives the gradient at a non-leaf input', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const h = x.mul(2);
    const y = h.square().sum();
    close(vg.autograd.grad(y, h)[0]!, [4, 8]);
  });

  it('createGraph gives differentiable gradients (a second derivative)', () => {
    const x = vg.tensor([0.3, -1.2], { requiresGrad: true, dtype: 'float64' });
    const y = x.pow(3).sum();
    const [g] = vg.autograd.grad(y, x, { createGraph: true });
    close(g, [3 * 0.09, 3 * 1.44]);
    expect(g!.requiresGrad).toBe(true);
    const [gg] = vg.autograd.grad(g!.sum(), x);
    close(gg, [6 * 0.3, 6 * -1.2]);
  });

  it('frees the graph unless retainGraph', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const y = x.exp().sum();
    vg.autograd.grad(y, x);
    expect(() => vg.autograd.grad(y, x)).toThrow(/second time/);
    const z = x.exp().sum();
    vg.autograd.grad(z, x, { retainGraph: true });
    close(vg.autograd.grad(z, x)[0]!, [Math.exp(1), Math.exp(2)]);
  });

  it('names an input that is not in the graph, or gives null with allowUnused', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const unused = vg.tensor([5], { requiresGrad: true });
    const y = x.sum();
    expect(() => vg.autograd.grad(y, [x, unused], { retainGraph: true })).toThrow(/input 1 \[1\] is not part of the graph of the outputs; pass \{ allowUnused: true \}/);
    const [gx, gu] = vg.autograd.grad(y, [x, unused], { allowUnused: true });
    close(gx, [1, 1]);
    expect(gu).toBeNull();
    expect(() => vg.autograd.grad(y, vg.tensor([1]))).toThrow(/input 0 \[1\] does not require grad/);
  });

  it('checks output gradients', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    expect(() => vg.autograd.grad(x.mul(2), x)).toThrow(/implicitly created only for scalar outputs, got shape \[2\]/);
    expect(() => vg.autograd.grad(x.mul(2), x, { gradOutputs: vg.ones([3]) })).toThrow(/gradient of shape \[3\] does not match output shape \[2\]/);
    expect(() => vg.autograd.grad([x.sum(), x.sum()], x, { gradOutputs: [vg.tensor(1)] })).toThrow(/1 gradOutputs for 2 outputs/);
    expect(() => vg.autograd.grad(vg.tensor(1), x)).toThrow(/tensor does not require grad/);
  });
});
