// The gradient conventions at non-smooth points, tested exactly at the kink (PyTorch's choices):
// relu'(0) = 0, abs'(0) = 0, leakyRelu'(0) = slope, clamp passes 1 at its bounds, max/min ties
// split the gradient equally (torch.amax), maximum/minimum ties give 0.5 each, maxPool2d ties
// send the whole gradient to the first maximum.

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

const f64 = (v: vg.NestedArray): vg.Tensor => vg.tensor(v, { dtype: 'float64', requiresGrad: true });
function gradOf(x: vg.Tensor, f: (x: vg.Tensor) => vg.Tensor, upstream?: vg.NestedArray): number[] {
  x.grad = null;
  const y = f(x);
  if (upstream === undefined) y.sum().backward();
  else y.backward(vg.tensor(upstream, { dtype: y.dtype }));
  return Array.from(x.grad!.dataSync());
}

describe('kinks', () => {
  it("relu'(0) = 0", () => {
    expect(gradOf(f64([0, -1, 2, -0]), (x) => x.relu())).toEqual([0, 0, 1, 0]);
    expect(gradOf(f64([0]), (x) => vg.F.relu(x))).toEqual([0]);
  });
  it("abs'(0) = 0", () => {
    expect(gradOf(f64([0, -3, 2]), (x) => x.abs())).toEqual([0, -1, 1]);
  });
  it("l1Loss'(input = target) = 0", () => {
    const t = vg.tensor([1, 2, 3], { dtype: 'float64' });
    expect(gradOf(f64([1, 0, 4]), (x) => vg.F.l1Loss(x, t, { reduction: 'sum' }))).toEqual([0, -1, 1]);
  });
  it("leakyRelu'(0) = negative slope, as PyTorch", () => {
    expect(gradOf(f64([0, -1, 1]), (x) => x.leakyRelu(0.1))).toEqual([0.1, 0.1, 1]);
  });
  it('clamp has gradient 1 at its bounds, 0 outside', () => {
    expect(gradOf(f64([-1, 0, 0.5, 1, 2]), (x) => x.clamp(0, 1))).toEqual([0, 1, 1, 1, 0]);
    expect(gradOf(f64([-1, 0, 2]), (x) => x.clamp(0))).toEqual([0, 1, 1]);
    expect(gradOf(f64([-1, 1, 2]), (x) => x.clamp(undefined, 1))).toEqual([1, 1, 0]);
  });
  it('max/min ties share the gradient equally (torch.amax / amin)', () => {
    const x = f64([[1, 3, 3], [2, 2, 2]]);
    expect(gradOf(x, (t) => t.max(1))).toEqual([0, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3]);
    expect(gradOf(x, (t) => t.max())).toEqual([0, 0.5, 0.5, 0, 0, 0]);
    expect(gradOf(x, (t) => t.min(1, true), [[6], [3]])).toEqual([6, 0, 0, 1, 1, 1]);
    expect(gradOf(x, (t) => t.min(0))).toEqual([1, 0, 0, 0, 1, 1]);
    expect(gradOf(f64([[5, 5], [5, 5]]), (t) => t.max())).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
  it('maximum/minimum ties give 0.5 to each side', () => {
    const a = f64([1, 2, 3]);
    const b = f64([1, 5, 0]);
    a.maximum(b).sum().backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([0.5, 0, 1]);
    expect(Array.from(b.grad!.dataSync())).toEqual([0.5, 1, 0]);
    a.grad = b.grad = null;
    vg.minimum(a, b).sum().backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([0.5, 1, 0]);
    expect(Array.from(b.grad!.dataSync())).toEqual([0.5, 0, 1]);
    // a scalar operand broadcast against a tensor: ties everywhere
    const c = f64([2, 2, 1]);
    expect(gradOf(c, (t) => t.maximum(2))).toEqual([0.5, 0.5, 0]);
  });
  it('maxPool2d ties send the gradient to the first maximum in the window', () => {
    const x = f64([[[[1, 1], [1, 1]]]]);
    expect(gradOf(x, (t) => vg.F.maxPool2d(t, 2))).toEqual([1, 0, 0, 0]);
    const y = f64([[[[0, 2, 2], [2, 1, 2], [0, 0, 0]]]]);
    // 2x2 windows, stride 1, scanned row-major: the first maxima are at 1, 1, 3 and 5
    expect(gradOf(y, (t) => vg.F.maxPool2d(t, 2, { stride: 1 }))).toEqual([0, 2, 0, 1, 0, 1, 0, 0, 0]);
  });
  it('pow: d/db a^b at a = 0 is 0 (not NaN) for b >= 0', () => {
    const a = f64([0, 2]);
    const b = f64([2, 3]);
    a.pow(b).sum().backward();
    expect(Array.from(b.grad!.dataSync())).toEqual([0, 8 * Math.log(2)]);
    expect(Array.from(a.grad!.dataSync())).toEqual([0, 12]);
  });
  it('binaryCrossEntropyWithLogits is smooth at logit 0: gradient sigmoid(0) - t', () => {
    const t = vg.tensor([0, 1, 0.25], { dtype: 'float64' });
    expect(gradOf(f64([0, 0, 0]), (x) => vg.F.binaryCrossEntropyWithLogits(x, t, { reduction: 'sum' }))).toEqual([0.5, -0.5, 0.25]);
  });
});
