// Losses, with PyTorch's reductions: 'mean' (default), 'sum' or 'none'.

import { Function } from '../autograd/function.js';
import { fmtShape, shapeEq } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { asTensor, checkFloat, checkTensor } from './kernel.js';

export type Reduction = 'mean' | 'sum' | 'none';
export interface LossOptions {
  reduction?: Reduction;
}

function reduce(op: string, loss: Tensor, reduction: Reduction = 'mean'): Tensor {
  switch (reduction) {
    case 'mean': return loss.mean();
    case 'sum': return loss.sum();
    case 'none': return loss;
    default: throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
}

function pairArgs(op: string, input: Tensor, target: Tensor): Tensor {
  checkTensor(op, input);
  checkFloat(op, input);
  const t = asTensor(op, checkTensor(op, target, 'target'), input);
  if (!shapeEq(input.shape, t.shape)) throw new Error(`${op}: target shape ${fmtShape(t.shape)} does not match input shape ${fmtShape(input.shape)}`);
  return t;
}

/** max(l, 0) - l*t + log(1 + exp(-|l|)), with the exact gradient sigmoid(l) - t (smooth at l = 0). */
class BceWithLogits extends Function {
  l!: Tensor;
  t!: Tensor;
  forward(logits: Tensor, target: Tensor): Tensor {
    Object.assign(this, { l: logits, t: target });
    return logits.relu().sub(logits.mul(target)).add(logits.abs().neg().softplus());
  }
  backward(g: Tensor): (Tensor | null)[] {
    return [
      this.needsGrad[0] ? g.mul(this.l.sigmoid().sub(this.t)) : null,
      this.needsGrad[1] ? g.mul(this.l).neg() : null,
    ];
  }
}

export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const t = pairArgs('binaryCrossEntropyWithLogits', logits, target);
  return reduce('binaryCrossEntropyWithLogits', BceWithLogits.apply(logits, t), opts.reduction);
}

/** BCE on probabilities; logs are clamped at -100 as PyTorch does, so p = 0 or 1 stays finite. */
export function binaryCrossEntropy(probs: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const t = pairArgs('binaryCrossEntropy', probs, target);
  const logP = probs.log().clamp(-100);
  const log1mP = probs.neg().add(1).log().clamp(-100);
  return reduce('binaryCrossEntropy', t.mul(logP).add(t.neg().add(1).mul(log1mP)).neg(), opts.reduction);
}

export function mseLoss(input: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const t = pairArgs('mseLoss', input, target);
  return reduce('mseLoss', input.sub(t).square(), opts.reduction);
}

export function l1Loss(input: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const t = pairArgs('l1Loss', input, target);
  return reduce('l1Loss', input.sub(t).abs(), opts.reduction);
}

/**
 * KL(N(mu, exp(logvar)) || N(0, I)) per sample: -0.5 * sum over all dims but the first (batch) dim
 * of (1 + logvar - mu^2 - exp(logvar)). 'none' gives [N], 'mean' the mean over the batch (the VAE
 * convention, as scripts/make-fixtures.py), 'sum' the total over every element.
 */
export function gaussianKl(mu: Tensor, logvar: Tensor, opts: LossOptions = {}): Tensor {
  const lv = pairArgs('gaussianKl', mu, logvar);
  const kl = lv.add(1).sub(mu.square()).sub(lv.exp()).mul(-0.5);
  const perSample = kl.ndim > 1 ? kl.sum(kl.shape.map((_, i) => i).slice(1)) : kl;
  return reduce('gaussianKl', perSample, opts.reduction);
}
