// Misuse throws an Error that names the op and the shapes/dtypes involved.

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

const f64 = { dtype: 'float64' as const };

describe('errors name the op and the shapes', () => {
  it('broadcasting mismatches (add, mul, where, maximum)', () => {
    const a = vg.zeros([2, 3]);
    const b = vg.zeros([4]);
    expect(() => a.add(b)).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
    expect(() => vg.mul(a, vg.zeros([3, 3]))).toThrow(/mul: shapes \[2, 3\] and \[3, 3\]/);
    expect(() => vg.where(vg.zeros([5]), a, a)).toThrow(/where: shapes \[5\] and \[2, 3\] and \[2, 3\]/);
    expect(() => a.maximum(b)).toThrow(/maximum: .*\[2, 3\].*\[4\]/);
    expect(() => a.lt(b)).toThrow(/lt: .*\[2, 3\].*\[4\]/);
  });
  it('matmul inner-dimension mismatch and 0-d operands', () => {
    expect(() => vg.zeros([2, 3]).matmul(vg.zeros([4, 5]))).toThrow(/matmul: shapes \[2, 3\] and \[4, 5\] cannot be multiplied \(3 != 4\)/);
    expect(() => vg.zeros([3]).matmul(vg.zeros([4]))).toThrow(/matmul: shapes \[3\] and \[4\]/);
    expect(() => vg.zeros([2, 2, 3]).matmul(vg.zeros([3, 3, 1]))).toThrow(/matmul: shapes \[2\] and \[3\] cannot be broadcast/);
    expect(() => vg.zeros([]).matmul(vg.zeros([2]))).toThrow(/matmul: .*at least 1 dim.*\[\]/);
  });
  it('conv2d channel / groups / size mismatches', () => {
    const x = vg.zeros([1, 3, 5, 5]);
    expect(() => vg.F.conv2d(x, vg.zeros([4, 2, 3, 3]))).toThrow(/conv2d: weight \[4, 2, 3, 3\] expects 2 input channels.*input \[1, 3, 5, 5\] has 3/);
    expect(() => vg.F.conv2d(x, vg.zeros([4, 1, 3, 3]), null, { groups: 2 })).toThrow(/conv2d: groups=2 must divide/);
    expect(() => vg.F.conv2d(vg.zeros([3, 5, 5]), vg.zeros([4, 3, 3, 3]))).toThrow(/conv2d: expected 4-D input.*\[3, 5, 5\]/);
    expect(() => vg.F.conv2d(x, vg.zeros([4, 3, 7, 7]))).toThrow(/conv2d: input size 5 is too small for kernel 7/);
    expect(() => vg.F.conv2d(x, vg.zeros([4, 3, 3, 3]), vg.zeros([3]))).toThrow(/conv2d: bias must have shape \[4\], got \[3\]/);
    expect(() => vg.F.conv2d(x, vg.zeros([4, 3, 3, 3]), null, { stride: 0 })).toThrow(/conv2d: stride must be an integer >= 1/);
    expect(() => vg.F.convTranspose2d(x, vg.zeros([2, 3, 3, 3]))).toThrow(/convTranspose2d: weight \[2, 3, 3, 3\] expects 2 input channels.*\[1, 3, 5, 5\] has 3/);
    expect(() => vg.F.convTranspose2d(x, vg.zeros([3, 1, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(/convTranspose2d: outputPadding/);
    expect(() => vg.F.maxPool2d(vg.zeros([1, 1, 2, 2]), 3)).toThrow(/maxPool2d: input \[1, 1, 2, 2\] is smaller than the kernel/);
    expect(() => vg.F.avgPool2d(vg.zeros([1, 1, 4, 4]), 2, { padding: 2 })).toThrow(/avgPool2d: padding/);
  });
  it('reshape / view / expand / permute / cat / stack / split', () => {
    const x = vg.zeros([2, 3]);
    expect(() => x.reshape([4, 2])).toThrow(/reshape: shape \[4, 2\] is invalid for input of shape \[2, 3\] \(6 elements\)/);
    expect(() => x.reshape([-1, 4])).toThrow(/reshape: shape \[-1, 4\] is invalid for input of shape \[2, 3\]/);
    expect(() => x.reshape([-1, -1])).toThrow(/reshape: only one dimension can be -1/);
    expect(() => x.T.view([6])).toThrow(/view: shape \[6\] is not compatible with the strides of input \[3, 2\]/);
    expect(() => x.expand([4, 3])).toThrow(/expand: cannot expand \[2, 3\] to \[4, 3\]/);
    expect(() => x.expand([3])).toThrow(/expand: target \[3\] has fewer dims than input \[2, 3\]/);
    expect(() => x.permute([0, 0])).toThrow(/permute: \[0, 0\] is not a permutation of the 2 dims of \[2, 3\]/);
    expect(() => x.permute([1])).toThrow(/permute: \[1\] is not a permutation/);
    expect(() => vg.cat([x, vg.zeros([2, 4])], 0)).toThrow(/cat: tensor 1 has shape \[2, 4\], incompatible with \[2, 3\] along dim 0/);
    expect(() => vg.cat([])).toThrow(/cat: expected a non-empty array/);
    expect(() => vg.stack([x, vg.zeros([3, 2])])).toThrow(/stack: tensor 1 has shape \[3, 2\], tensor 0 has \[2, 3\]/);
    expect(() => x.split([1, 1], 1)).toThrow(/split: sizes \[1, 1\] do not add up to dim 1 of size 3/);
    expect(() => x.narrow(1, 2, 2)).toThrow(/narrow: start 2, length 2 out of range for dim 1 of size 3/);
    expect(() => x.select(0, 2)).toThrow(/select: index 2 out of range for dim 0 of size 2/);
    expect(() => x.slice(0, 0, 2, 0)).toThrow(/slice: step must be a positive integer/);
  });
  it('bad dims', () => {
    const x = vg.zeros([2, 3]);
    expect(() => x.sum(2)).toThrow(/sum: dim 2 is out of range for a tensor of rank 2/);
    expect(() => x.mean([0, -2])).toThrow(/mean: repeated dim/);
    expect(() => x.softmax(-3)).toThrow(/dim -3 is out of range/);
    expect(() => x.transpose(0, 5)).toThrow(/transpose: dim 5 is out of range/);
    expect(() => x.argmax(2)).toThrow(/argmax: dim 2 is out of range/);
    expect(() => x.unsqueeze(4)).toThrow(/unsqueeze: dim 4 is out of range/);
    expect(() => x.size(3)).toThrow(/size: dim 3 out of range for shape \[2, 3\]/);
    expect(() => vg.zeros([2, 0]).max(1)).toThrow(/max: cannot reduce over an empty dimension of shape \[2, 0\]/);
  });
  it('backward misuse', () => {
    const x = vg.tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/backward: grad can be implicitly created only for scalar outputs, got shape \[2\]/);
    expect(() => x.mul(2).backward(vg.ones([3]))).toThrow(/backward: gradient of shape \[3\] does not match output shape \[2\]/);
    expect(() => x.mul(2).backward(vg.ones([2], f64))).toThrow(/backward: gradient dtype float64 does not match output dtype float32/);
    expect(() => vg.tensor([1]).sum().backward()).toThrow(/backward: tensor does not require grad/);
  });
  it('dtype mixing and non-float tensors', () => {
    const a = vg.zeros([2]);
    const b = vg.zeros([2], f64);
    expect(() => a.matmul(vg.zeros([2, 2], f64))).toThrow(/matmul: dtype mismatch: float32 and float64/);
    expect(() => vg.F.conv2d(vg.zeros([1, 1, 3, 3]), vg.zeros([1, 1, 2, 2], f64))).toThrow(/conv2d: dtype mismatch: input float32, parameter float64/);
    expect(() => vg.F.mseLoss(a, b)).toThrow(/mseLoss: dtype mismatch/);
    const i = vg.tensor([1, 2], { dtype: 'int32' });
    expect(() => { i.requiresGrad = true; }).toThrow(/requiresGrad: only floating-point tensors can require gradients \(got int32\)/);
    expect(() => vg.tensor([1], { dtype: 'int32', requiresGrad: true })).toThrow(/only floating-point/);
    expect(() => i.mean()).toThrow(/mean: expected a floating-point tensor, got int32 \[2\]; cast it with \.to\('float32'\)/);
    expect(() => i.matmul(i.reshape([2, 1]))).toThrow(/matmul: expected a floating-point tensor, got int32/);
    expect(() => i.to('bogus' as never)).toThrow(/to: unknown dtype 'bogus'/);
    expect(() => vg.gradcheck((x) => x.mul(2), [vg.tensor([1], { requiresGrad: true })])).toThrow(/gradcheck: input 0 is float32; finite differences need float64/);
  });
  it('other misuse: losses, clamp, in-place on a leaf that requires grad, bad args', async () => {
    expect(() => vg.F.mseLoss(vg.zeros([2]), vg.zeros([3]))).toThrow(/mseLoss: target shape \[3\] does not match input shape \[2\]/);
    expect(() => vg.F.l1Loss(vg.zeros([2]), vg.zeros([2]), { reduction: 'avg' as never })).toThrow(/l1Loss: reduction must be 'mean', 'sum' or 'none', got 'avg'/);
    expect(() => vg.zeros([2]).clamp(1, 0)).toThrow(/clamp: min \(1\) is greater than max \(0\)/);
    const p = vg.zeros([2], { requiresGrad: true });
    expect(() => p.copy_(vg.ones([2]))).toThrow(/copy_: a tensor that requires grad cannot be modified in place; wrap the update in noGrad\(\)/);
    expect(() => vg.F.batchNorm(vg.zeros([4, 3]), vg.zeros([2]), vg.ones([2]))).toThrow(/batchNorm: runningMean must have shape \[3\], got \[2\]/);
    expect(() => vg.F.batchNorm(vg.zeros([1, 3]), null, null, null, null, { training: true })).toThrow(/batchNorm: expected more than 1 value per channel/);
    expect(() => vg.F.dropout(vg.zeros([2]), 1.5)).toThrow(/dropout: probability must be in \[0, 1\], got 1.5/);
    expect(() => vg.zeros([-1])).toThrow(/zeros|full: shape must be an array of non-negative integers/);
    expect(() => vg.add(3 as never, vg.zeros([1]))).toThrow(/add: input must be a Tensor, got number/);
    expect(() => vg.noGrad(async () => 1)).toThrow(/synchronous/);
    await expect(vg.setBackend('nope')).rejects.toThrow(/setBackend: unknown backend 'nope'/);
  });
});
