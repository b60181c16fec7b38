// The autograd engine: requiresGrad, backward from scalars and with upstream gradients,
// accumulation, broadcasting, noGrad, detach, graph release, retainGraph, createGraph, retainsGrad.

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { expectClose } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

const g = (t: vg.Tensor): number[] => Array.from(t.grad!.dataSync());

describe('autograd', () => {
  it('requiresGrad: leaves, results of ops, and results without graph', () => {
    const a = vg.tensor([1, 2]);
    expect(a.requiresGrad).toBe(false);
    expect(a.isLeaf).toBe(true);
    const b = vg.tensor([1, 2], { requiresGrad: true });
    expect(b.requiresGrad).toBe(true);
    const c = b.mul(a);
    expect(c.requiresGrad).toBe(true);
    expect(c.isLeaf).toBe(false);
    expect(c.gradFn?.name).toMatch(/Mul/);
    const d = a.mul(a);
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBeNull();
    expect(a.requiresGrad_().requiresGrad).toBe(true);
    expect(() => { c.requiresGrad = false; }).toThrow(/non-leaf/);
  });

  it('backward from a scalar gives d(sum)/dx', () => {
    const x = vg.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
    x.mul(x).mul(3).sum().backward();
    expect(g(x)).toEqual([6, 12, 18]);
  });

  it('backward with an explicit upstream gradient', () => {
    const x = vg.tensor([[1, 2], [3, 4]], { dtype: 'float64', requiresGrad: true });
    const y = x.square();
    y.backward(vg.tensor([[1, 0], [0.5, -1]], { dtype: 'float64' }));
    expect(g(x)).toEqual([2, 0, 3, -8]);
  });

  it('gradients accumulate into .grad across backward calls', () => {
    const x = vg.tensor([1, -2], { requiresGrad: true });
    x.mul(2).sum().backward();
    x.mul(x).sum().backward();
    expect(g(x)).toEqual([4, -2]);
    x.grad = null;
    x.mul(5).sum().backward();
    expect(g(x)).toEqual([5, 5]);
  });

  it('a tensor used twice (x * x, diamonds) sums both paths', () => {
    const x = vg.tensor([3], { dtype: 'float64', requiresGrad: true });
    const a = x.exp();
    const y = a.mul(x).add(a.square()); // x e^x + e^{2x}
    y.sum().backward();
    expectClose(g(x), [Math.exp(3) * 4 + 2 * Math.exp(6)], 1e-14);
  });

  it('broadcast gradients are summed back to each input shape', () => {
    const a = vg.tensor([[1], [2]], { dtype: 'float64', requiresGrad: true }); // [2, 1]
    const b = vg.tensor([10, 20, 30], { dtype: 'float64', requiresGrad: true }); // [3]
    const s = vg.tensor(2, { dtype: 'float64', requiresGrad: true }); // []
    a.mul(b).mul(s).sum().backward();
    expect(a.grad!.shape).toEqual([2, 1]);
    expect(g(a)).toEqual([120, 120]);
    expect(b.grad!.shape).toEqual([3]);
    expect(g(b)).toEqual([6, 6, 6]);
    expect(s.grad!.shape).toEqual([]);
    expect(g(s)).toEqual([180]); // (1 + 2) * (10 + 20 + 30)
  });

  it('noGrad records nothing, and restores the mode after the scope (even on throw)', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const y = vg.noGrad(() => x.mul(2).exp());
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(vg.isGradEnabled()).toBe(true);
    expect(() => vg.noGrad(() => { throw new Error('boom'); })).toThrow('boom');
    expect(vg.isGradEnabled()).toBe(true);
    expect(() => y.sum().backward()).toThrow(/does not require grad/);
    const z = vg.noGrad(() => vg.enableGrad(() => x.mul(2)));
    expect(z.requiresGrad).toBe(true);
  });

  it('detach shares the data but cuts the graph', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const d = x.mul(3).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBeNull();
    const y = x.mul(d); // d is a constant: dy/dx = d
    y.sum().backward();
    expect(g(x)).toEqual([3, 6]);
    const v = x.detach();
    vg.noGrad(() => v.copy_(vg.tensor([7, 8])));
    expect(Array.from(x.dataSync())).toEqual([7, 8]);
  });

  it('the graph is released after backward; a second backward throws unless retainGraph', () => {
    const x = vg.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/second time.*retainGraph/);

    const x2 = vg.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const y2 = x2.exp().mul(x2).sum();
    y2.backward(undefined, { retainGraph: true });
    y2.backward();
    expectClose(g(x2), [1, 2].map((v) => 2 * Math.exp(v) * (1 + v)), 1e-14);
    expect(() => y2.backward()).toThrow(/second time/);
  });

  it('createGraph gives second derivatives: d2/dx2 x^3 = 6x', () => {
    const x = vg.tensor([1, -2, 0.5], { dtype: 'float64', requiresGrad: true });
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const dx = x.grad!;
    expect(dx.requiresGrad).toBe(true);
    expectClose(dx.dataSync(), [3, 12, 0.75], 1e-14);
    x.grad = null;
    dx.sum().backward();
    expectClose(g(x), [6, -12, 3], 1e-14);
  });

  it('createGraph through tanh, matmul and conv2d matches analytic second derivatives', () => {
    const x = vg.tensor([0.3, -0.7], { dtype: 'float64', requiresGrad: true });
    x.tanh().sum().backward(undefined, { createGraph: true });
    const d1 = x.grad!;
    x.grad = null;
    d1.sum().backward();
    expectClose(g(x), [0.3, -0.7].map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)), 1e-14);

    // f(w) = sum((A w)^2): gradient 2 A^T A w, Hessian-vector with ones: 2 A^T A 1
    const A = vg.tensor([[1, 2], [3, -1]], { dtype: 'float64' });
    const w = vg.tensor([0.5, 0.25], { dtype: 'float64', requiresGrad: true });
    A.matmul(w).square().sum().backward(undefined, { createGraph: true });
    const gw = w.grad!;
    w.grad = null;
    gw.sum().backward();
    // A^T A = [[10, -1], [-1, 5]]; times [1, 1], times 2
    expectClose(g(w), [18, 8], 1e-14);

    // conv: y = conv2d(x, w); L = sum(y^2). dL/dw is linear in w, so d(sum dL/dw)/dw is exact.
    const cx = vg.randn([1, 1, 3, 3], { dtype: 'float64', generator: new vg.Generator(1) });
    const cw = vg.randn([1, 1, 2, 2], { dtype: 'float64', generator: new vg.Generator(2), requiresGrad: true });
    vg.F.conv2d(cx, cw).square().sum().backward(undefined, { createGraph: true });
    const gcw = cw.grad!;
    cw.grad = null;
    gcw.sum().backward();
    // d/dw_j sum_i dL/dw_i = sum_i 2 sum_p X[p, i] X[p, j] where X is the im2col matrix
    const xv = cx.dataSync();
    const patches = [0, 1, 3, 4].map((p) => [0, 1, 3, 4].map((k) => xv[p + k]!));
    const expected = [0, 1, 2, 3].map((j) => patches.reduce((s, row) => s + 2 * row[j]! * row.reduce((a, b) => a + b, 0), 0));
    expectClose(g(cw), expected, 1e-12);
  });

  it('retainsGrad keeps .grad on a non-leaf; other non-leaves get none', () => {
    const x = vg.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const h = x.mul(2);
    h.retainsGrad = true;
    const k = h.exp();
    k.sum().backward();
    expectClose(g(h), [Math.exp(2), Math.exp(4)], 1e-14);
    expect(k.grad).toBeNull();
    expectClose(g(x), [2 * Math.exp(2), 2 * Math.exp(4)], 1e-14);
  });

  it('inputs that do not require grad get no .grad', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const c = vg.tensor([3, 4]);
    x.mul(c).sum().backward();
    expect(c.grad).toBeNull();
    expect(g(x)).toEqual([3, 4]);
  });

  it('a custom Function subclass plugs into the engine', () => {
    class Cube extends vg.Function {
      x!: vg.Tensor;
      forward(x: vg.Tensor): vg.Tensor {
        this.x = x;
        return x.mul(x).mul(x);
      }
      backward(gr: vg.Tensor): vg.Tensor[] {
        return [gr.mul(this.x.square().mul(3))];
      }
    }
    const x = vg.tensor([2], { requiresGrad: true });
    const y = Cube.apply(x);
    expect(y.gradFn?.name).toBe('Cube');
    y.sum().backward();
    expect(g(x)).toEqual([12]);
  });

  it("a Function's graph fields: empty when new or run without a graph, set by apply, released by backward", () => {
    class Twice extends vg.Function {
      forward(x: vg.Tensor, _unused?: vg.Tensor): vg.Tensor {
        return x.mul(2);
      }
      backward(gr: vg.Tensor): (vg.Tensor | null)[] {
        return [gr.mul(2), null];
      }
    }
    const fresh = new Twice();
    expect([fresh.inputs, fresh.needsGrad, fresh.isReleased]).toEqual([[], [], false]);
    fresh.checkSaved(); // nothing saved yet
    const c = vg.tensor([1]);
    expect(Twice.apply(c).gradFn).toBeNull(); // no input requires grad: no graph
    const x = vg.tensor([3], { requiresGrad: true });
    const y = Twice.apply(x, c);
    const fn = y.gradFn as InstanceType<typeof Twice>;
    expect(fn.inputs).toEqual([x, c]);
    expect(fn.needsGrad).toEqual([true, false]);
    expect(fn.isReleased).toBe(false);
    y.sum().backward();
    expect([fn.inputs, fn.isReleased]).toEqual([[], true]);
    expect(g(x)).toEqual([2]);
  });
});
