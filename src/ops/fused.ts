// Inference-only fusion of an eval-mode Conv2d -> BatchNorm -> ReLU [-> MaxPool2d] block (the
// encoder's blocks; ConvTranspose2d -> BatchNorm -> ReLU likewise, the decoder's; Linear ->
// BatchNorm1d -> ReLU, the fully connected ones), for nn.Sequential to call when no gradient is
// wanted. One backend call (the optional conv2dBnRelu, convTranspose2dBnRelu, linear) runs the
// block chunk by chunk (tile by tile), so the layer's full-size output and the normalised
// activations are never materialised; the numbers are those of the ops one after another (the BN
// is applied to the rounded output, not folded into the weights). Where the backend lacks the
// kernel, or a gradient is wanted, the ops do run one after another.

import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import type { BatchNormParams } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';
import type { Pair, Conv2dOptions, ConvTranspose2dOptions } from './conv.js';
import { checkBias, conv2d, conv2dGeometry, convTranspose2d, convTranspose2dGeometry } from './conv.js';
import { backend, fromStorage } from './kernel.js';
import { fusesLinear, linear, linearKernel } from './linear.js';
import { batchNormEvalParams, batchNormRelu } from './norm.js';
import type { Pool2dOptions } from './pool.js';
import { maxPool2d, pool2dGeometry } from './pool.js';

export interface ConvSpec { weight: Tensor; bias: Tensor | null; opts: Conv2dOptions }
export interface EvalBatchNormSpec { runningMean: Tensor; runningVar: Tensor; weight: Tensor | null; bias: Tensor | null; eps: number }
export interface MaxPoolSpec { kernelSize: Pair; opts: Pool2dOptions }

/** Whether a gradient is wanted through any of these tensors: then a block's layers run one after another (recorded). */
export function gradWanted(...ts: (Tensor | null)[]): boolean {
  return isGradEnabled() && ts.some((t) => t?.requiresGrad);
}

const st = (t: Tensor) => t.contiguous().storage;

/** Eval-mode batch norm's parameters for the kernels: y's channel count c (its dim 1) of each, contiguous. */
function evalParams(yShape: readonly number[], x: Tensor, bn: EvalBatchNormSpec): BatchNormParams {
  const p = batchNormEvalParams('batchNorm', yShape, x.dtype, bn.runningMean, bn.runningVar, bn.weight, bn.bias, bn.eps);
  return { mean: st(p.mean), invstd: st(p.invstd), weight: st(p.weight), bias: st(p.bias) };
}

/** maxPool2d?(relu(batchNorm_eval(conv2d(x)))): the composition's exact numbers, in one kernel where the backend has it. */
export function conv2dBnReluEval(x: Tensor, conv: ConvSpec, bn: EvalBatchNormSpec, pool: MaxPoolSpec | null): Tensor {
  const b = backend();
  const wantsGrad = gradWanted(x, conv.weight, conv.bias, bn.weight, bn.bias);
  if (!b.conv2dBnRelu || wantsGrad) {
    const y = batchNormRelu(conv2d(x, conv.weight, conv.bias, conv.opts), bn.runningMean, bn.runningVar, bn.weight, bn.bias, { training: false, eps: bn.eps });
    return pool ? maxPool2d(y, pool.kernelSize, pool.opts) : y;
  }
  const op = 'conv2d';
  const g = conv2dGeometry(op, x, conv.weight, conv.bias, conv.opts);
  if (conv.bias) checkBias(op, conv.bias, g.o);
  const yShape = [g.n, g.o, g.oh, g.ow];
  const pg = pool ? pool2dGeometry('maxPool2d', yShape, pool.kernelSize, pool.opts) : null;
  const out = noGrad(() => b.conv2dBnRelu!(st(x), st(conv.weight), conv.bias ? st(conv.bias) : null, evalParams(yShape, x, bn), g, pg));
  return fromStorage(out, pg ? [pg.n, pg.c, pg.oh, pg.ow] : yShape);
}

/** relu(batchNorm_eval(convTranspose2d(x))), as conv2dBnReluEval. */
export function convTranspose2dBnReluEval(x: Tensor, conv: { weight: Tensor; bias: Tensor | null; opts: ConvTranspose2dOptions }, bn: EvalBatchNormSpec): Tensor {
  const b = backend();
  const wantsGrad = gradWanted(x, conv.weight, conv.bias, bn.weight, bn.bias);
  if (!b.convTranspose2dBnRelu || wantsGrad) {
    return batchNormRelu(convTranspose2d(x, conv.weight, conv.bias, conv.opts), bn.runningMean, bn.runningVar, bn.weight, bn.bias, { training: false, eps: bn.eps });
  }
  const op = 'convTranspose2d';
  const g = convTranspose2dGeometry(op, x, conv.weight, conv.bias, conv.opts);
  if (conv.bias) checkBias(op, conv.bias, g.c);
  const yShape = [g.n, g.c, g.h, g.w];
  const out = noGrad(() => b.convTranspose2dBnRelu!(st(x), st(conv.weight), conv.bias ? st(conv.bias) : null, evalParams(yShape, x, bn), g));
  return fromStorage(out, yShape);
}

/** relu(batchNorm_eval(linear(x))) for x [N, in] (BatchNorm1d over the out features), as conv2dBnReluEval. */
export function linearBnReluEval(x: Tensor, lin: { weight: Tensor; bias: Tensor | null }, bn: EvalBatchNormSpec): Tensor {
  const wantsGrad = gradWanted(x, lin.weight, lin.bias, bn.weight, bn.bias);
  if (wantsGrad || !fusesLinear(x, lin.weight, lin.bias)) {
    return batchNormRelu(linear(x, lin.weight, lin.bias), bn.runningMean, bn.runningVar, bn.weight, bn.bias, { training: false, eps: bn.eps });
  }
  return noGrad(() => linearKernel(x, lin.weight, lin.bias, evalParams([x.shape[0]!, lin.weight.shape[0]!], x, bn)));
}
