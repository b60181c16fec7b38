// In-place writes: copy_ checks its source and destination, every in-place op bumps the version
// counter, and backward refuses a tensor modified after it was saved (as PyTorch does).

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

describe('copy_ checks what it copies', () => {
  it('refuses a source that does not broadcast to the destination (it used to read past the source: [1, 2, NaN])', () => {
    expect(() => vg.zeros([3]).copy_(vg.tensor([1, 2]))).toThrow("copy_: source of shape [2] cannot be broadcast to the destination's shape [3]");
    expect(() => vg.zeros([2, 3]).copy_(vg.zeros([3, 2]))).toThrow(/source of shape \[3, 2\] cannot be broadcast to the destination's shape \[2, 3\]/);
    expect(() => vg.zeros([3]).copy_(vg.zeros([2, 3]))).toThrow(/source of shape \[2, 3\] cannot be broadcast/);
    expect(vg.zeros([2, 3]).copy_(vg.tensor([1, 2, 3])).toArray()).toEqual([[1, 2, 3], [1, 2, 3]]);
    expect(vg.zeros([2, 3]).copy_(vg.tensor([[5], [6]])).toArray()).toEqual([[5, 5, 5], [6, 6, 6]]);
  });

  it('refuses to write into an expanded view, whose elements share memory', () => {
    const base = vg.zeros([1, 3]);
    const ex = base.expand([4, 3]);
    expect(() => ex.copy_(vg.ones([4, 3]))).toThrow(/copy_: the destination \(shape \[4, 3\], strides \[0, 1\]\) has elements that share memory/);
    expect(base.toArray()).toEqual([[0, 0, 0]]);
    // Views that do not overlap stay writable: transposes, strided slices, selects.
    const m = vg.zeros([3, 4]);
    m.T.copy_(vg.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]));
    expect(m.toArray()).toEqual([[1, 4, 7, 10], [2, 5, 8, 11], [3, 6, 9, 12]]);
    m.slice(1, 0, 4, 2).copy_(vg.zeros([3, 2]));
    expect(m.toArray()).toEqual([[0, 4, 0, 10], [0, 5, 0, 11], [0, 6, 0, 12]]);
  });

  it('reads an overlapping source before writing (a shift within one storage)', () => {
    const x = vg.tensor([1, 2, 3, 4, 5]);
    x.narrow(0, 1, 4).copy_(x.narrow(0, 0, 4));
    expect(x.toArray()).toEqual([1, 1, 2, 3, 4]);
    const y = vg.tensor([1, 2, 3, 4, 5]);
    y.narrow(0, 0, 4).copy_(y.narrow(0, 1, 4));
    expect(y.toArray()).toEqual([2, 3, 4, 5, 5]);
  });
});

describe('in-place arithmetic', () => {
  it('add_, sub_, mul_, div_, fill_, zero_ write in place and return the tensor', () => {
    const x = vg.tensor([1, 2, 3]);
    const view = x.reshape([3]);
    expect(x.add_(1)).toBe(x);
    expect(x.mul_(vg.tensor([2, 2, 2])).toArray()).toEqual([4, 6, 8]);
    expect(x.sub_(vg.tensor(1)).div_(2).toArray()).toEqual([1.5, 2.5, 3.5]);
    expect(view.toArray()).toEqual([1.5, 2.5, 3.5]);
    expect(x.fill_(7).toArray()).toEqual([7, 7, 7]);
    expect(x.zero_().toArray()).toEqual([0, 0, 0]);
  });

  it('refuse a tensor that requires grad outside noGrad, and an operand that requires grad', () => {
    const p = vg.ones([2], { requiresGrad: true });
    expect(() => p.mul_(2)).toThrow(/mul_: a tensor that requires grad cannot be modified in place; wrap the update in noGrad\(\)/);
    vg.noGrad(() => p.mul_(2));
    expect(p.toArray()).toEqual([2, 2]);
    expect(() => vg.zeros([2]).add_(p)).toThrow(/add_: the operand requires grad, and in-place ops record no gradient; use add\(\) instead/);
  });
});

describe('version counters', () => {
  it('count in-place writes, shared by a tensor and its views', () => {
    const x = vg.zeros([2, 3]);
    const v = x.view([6]);
    expect(x.version).toBe(0);
    x.add_(1);
    v.narrow(0, 0, 2).zero_();
    x.copy_(vg.ones([3]));
    expect(x.version).toBe(3);
    expect(v.version).toBe(3);
    expect(x.detach().version).toBe(3);
    expect(vg.zeros([1]).version).toBe(0);
  });

  it('backward refuses an output modified after it was saved, naming the op and the tensor (y = x.exp(); y.mul_(2))', () => {
    const x = vg.tensor([0.5, 1, 2], { requiresGrad: true });
    const y = x.exp();
    const z = y.mul(2).sum();
    vg.noGrad(() => y.mul_(3));
    expect(() => z.backward()).toThrow(
      'backward: the output of ExpBackward (float32 [3]), which its gradient needs, was modified by an in-place operation after it was saved (version 1, expected 0)',
    );
  });

  it('backward refuses a modified input, saying which input', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const w = vg.tensor([[3, 4], [5, 6]]);
    const y = x.mul(w.select(0, 0)).sum();
    w.select(0, 0).fill_(0); // the view shares w's storage and version
    expect(() => y.backward()).toThrow(/input 1 of MulBackward \(float32 \[2\]\)/);
    const a = vg.ones([2, 2], { requiresGrad: true });
    const b = vg.ones([2, 3]);
    const m = a.matmul(b).sum();
    b.copy_(vg.zeros([2, 3]));
    expect(() => m.backward()).toThrow(/input 1 of MatMul \(float32 \[2, 3\]\).*version 1, expected 0/);
  });

  it('gives the right gradient (no error) when the modified tensor is not needed by the gradient', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    const c = vg.tensor([10, 20]);
    const y = x.add(c).mul(3).sum(); // add's gradient reads neither operand
    c.mul_(100);
    y.backward();
    expect(x.grad!.toArray()).toEqual([3, 3]);
    // a's gradient reads b, not a; b needs no gradient, so nothing reads a.
    const a = vg.ones([2, 2], { requiresGrad: true });
    const b = vg.ones([2, 2]);
    const m = a.matmul(b).sum();
    vg.noGrad(() => a.fill_(2));
    m.backward();
    expect(a.grad!.toArray()).toEqual([[2, 2], [2, 2]]);
  });

  it('a step between forward and backward is caught; optimisers and batch norm in ordinary training are not', () => {
    vg.manualSeed(0);
    const model = new vg.nn.Sequential(new vg.nn.Conv2d(1, 2, 3), new vg.nn.BatchNorm2d(2), new vg.nn.ReLU(), new vg.nn.Flatten(), new vg.nn.Linear(2 * 4 * 4, 1));
    const opt = new vg.optim.Adam(model.parameters(), { lr: 1e-2 });
    const x = vg.randn([4, 1, 6, 6]);
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) {
      opt.zeroGrad();
      const loss = model.forward(x).square().mean();
      loss.backward();
      opt.step();
      losses.push(loss.item());
    }
    expect(losses[4]!).toBeLessThan(losses[0]!);
    const sgd = new vg.optim.SGD(model.parameters(), { lr: 1e-2, momentum: 0.9 });
    const loss = model.forward(x).square().mean();
    loss.backward(undefined, { retainGraph: true });
    sgd.step();
    expect(() => loss.backward()).toThrow(/of (MatMul|LinearBackward|Conv2dFn|BatchNorm\w*) \(float32 \[[\d, ]+\]\), which its gradient needs, was modified by an in-place operation/);
  });
});
