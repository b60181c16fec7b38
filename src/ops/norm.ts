// Batch normalisation over dim 1 of [N, C] or [N, C, ...] input, as PyTorch's F.batch_norm:
// training normalises with the biased batch variance and moves the running statistics toward
// the batch's mean and unbiased variance; eval uses the running statistics.

import { noGrad } from '../autograd/grad-mode.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkFloat, checkTensor } from './kernel.js';
import { copy_ } from './movement.js';

export interface BatchNormOptions {
  training?: boolean;
  momentum?: number;
  eps?: number;
}

export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  const op = 'batchNorm';
  checkTensor(op, x);
  checkFloat(op, x);
  if (x.ndim < 2) throw new Error(`${op}: expected input of at least 2 dims [N, C, ...], got ${fmtShape(x.shape)}`);
  const c = x.shape[1]!;
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new Error(`${op}: ${name} must have shape [${c}], got ${fmtShape(t.shape)}`);
  }
  const { training = false, momentum = 0.1, eps = 1e-5 } = opts;
  const dims = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  let mean: Tensor;
  let varBiased: Tensor;
  if (training) {
    const n = x.numel / c;
    if (n <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input ${fmtShape(x.shape)}`);
    mean = x.mean(dims, true);
    varBiased = x.sub(mean).square().mean(dims, true);
    if (runningMean && runningVar) {
      noGrad(() => {
        copy_(runningMean, runningMean.mul(1 - momentum).add(mean.reshape([c]).mul(momentum)));
        copy_(runningVar, runningVar.mul(1 - momentum).add(varBiased.reshape([c]).mul((momentum * n) / (n - 1))));
      });
    }
  } else {
    if (!runningMean || !runningVar) throw new Error(`${op}: eval mode needs runningMean and runningVar`);
    mean = runningMean.reshape(bshape);
    varBiased = runningVar.reshape(bshape);
  }
  let y = x.sub(mean).div(varBiased.add(eps).sqrt());
  if (weight) y = y.mul(weight.reshape(bshape));
  if (bias) y = y.add(bias.reshape(bshape));
  return y;
}
