// Losses, with PyTorch's reductions: 'mean' (default), 'sum' or 'none'.

import { OpFunction } from '../autograd/function.js';
import { releaseInternal, releasedAfter } from '../autograd/saved-frees.js';
import { fmtShape, shapeEq } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { inRange, where } from './elementwise.js';
import { asTensor, backend, checkFloat, checkTensor, fromStorage } from './kernel.js';

/** How a loss reduces over the batch: the mean (default), the sum, or none (per element), as PyTorch's reduction. */
export type Reduction = 'mean' | 'sum' | 'none';
/** Options of the elementwise losses (torch's reduction). */
export interface LossOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

/**
 * The per-element loss (made by the loss function, never handed out when reduced) reduced as
 * asked. Reduced, it is freed now (the sum saves nothing), not at the next major collection: a
 * batch's [N, 784] reconstruction loss would otherwise leave fresh wasm pages to fault in every step.
 */
function reduce(op: string, loss: Tensor, reduction: Reduction = 'mean'): Tensor {
  switch (reduction) {
    case 'mean': return releasedAfter(loss, (l) => l.mean());
    case 'sum': return releasedAfter(loss, (l) => l.sum());
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

/**
 * |l| * (l > 0 ? 1 - t : t) + log(1 + exp(-|l|)), which is max(l, 0) - l*t + log(1 + exp(-|l|))
 * rearranged so that an infinite logit gives the limit: +Inf where the loss diverges, 0 where the
 * target agrees (PyTorch 1.13 returns NaN for three of the four infinite cases). The gradient is
 * the exact sigmoid(l) - t (smooth at l = 0, finite everywhere).
 */
class BceWithLogits extends OpFunction {
  l!: Tensor;
  t!: Tensor;
  forward(logits: Tensor, target: Tensor): Tensor {
    Object.assign(this, { l: logits, t: target });
    const b = backend();
    if (b.bceWithLogits && logits.dtype === 'float32' && target.dtype === 'float32') {
      return fromStorage(b.bceWithLogits(logits.contiguous().storage, target.contiguous().storage), logits.shape);
    }
    const a = logits.abs();
    const w = where(logits.gt(0), target.neg().add(1), target);
    // 0 * Inf is NaN; an infinite |l| with weight 0 is a loss of exactly 0.
    return where(w.eq(0), 0, a.mul(w)).add(a.neg().softplus());
  }
  backward(g: Tensor): (Tensor | null)[] {
    const { l, t } = this;
    const b = backend();
    // createGraph differentiates the backward itself: then the composition of differentiable ops
    const fused = b.bceWithLogitsBackward && !isGradEnabled() && l.dtype === 'float32' && t.dtype === 'float32' && g.dtype === 'float32';
    let gl: Tensor | null = null;
    if (this.needsGrad[0] && fused) {
      // g is usually a reduction's gradient broadcast to l's shape: its dense copy is ours to free
      const gc = g.contiguous();
      gl = fromStorage(b.bceWithLogitsBackward!(l.contiguous().storage, t.contiguous().storage, gc.storage), l.shape);
      if (gc.storage !== g.storage) releaseInternal(gc);
    } else if (this.needsGrad[0]) gl = g.mul(l.sigmoid().sub(t));
    return [gl, this.needsGrad[1] ? g.mul(this.l).neg() : null];
  }
}

/** PyTorch's clamp of the BCE gradient's denominator p(1 - p), so saturated probabilities give large, finite gradients. */
const BCE_EPS = 1e-12;

/** BCE on probabilities: logs clamped at -100 as PyTorch does; gradient (p - t) / max(p(1 - p), 1e-12) as PyTorch's. */
class Bce extends OpFunction {
  p!: Tensor;
  t!: Tensor;
  forward(probs: Tensor, target: Tensor): Tensor {
    Object.assign(this, { p: probs, t: target });
    const [logP, log1mP] = clampedLogs(probs);
    return target.sub(1).mul(log1mP).sub(target.mul(logP));
  }
  backward(g: Tensor): (Tensor | null)[] {
    const { p, t } = this;
    const [logP, log1mP] = this.needsGrad[1] ? clampedLogs(p) : [];
    return [
      this.needsGrad[0] ? g.mul(p.sub(t)).div(p.neg().add(1).mul(p).clamp(BCE_EPS)) : null,
      this.needsGrad[1] ? g.mul(log1mP!.sub(logP!)) : null,
    ];
  }
}

function clampedLogs(p: Tensor): [Tensor, Tensor] {
  return [p.log().clamp(-100), p.neg().add(1).log().clamp(-100)];
}

/** Binary cross-entropy of logits against targets in [0, 1], stable at any logit (F.binary_cross_entropy_with_logits). */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const t = pairArgs('binaryCrossEntropyWithLogits', logits, target);
  return reduce('binaryCrossEntropyWithLogits', BceWithLogits.apply(logits, t), opts.reduction);
}

/**
 * BCE on probabilities; logs are clamped at -100 as PyTorch does, so p = 0 or 1 stays finite.
 * Probabilities outside [0, 1] (or NaN) are refused, as PyTorch does, where the backend reads
 * synchronously (an asynchronous backend cannot look without waiting).
 */
export function binaryCrossEntropy(probs: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const op = 'binaryCrossEntropy';
  const t = pairArgs(op, probs, target);
  noGrad(() => {
    const allIn = backend().readSync(inRange(probs, 0, 1).min().storage);
    if (allIn && allIn[0] === 0) {
      const [lo, hi] = [probs.min().item(), probs.max().item()];
      throw new Error(`${op}: input ${fmtShape(probs.shape)} must hold probabilities in [0, 1], but holds values in [${lo}, ${hi}] (or NaN); pass logits to binaryCrossEntropyWithLogits instead`);
    }
  });
  return reduce(op, Bce.apply(probs, t), opts.reduction);
}

/** Squared error of input against target, reduced (F.mse_loss). */
export function mseLoss(input: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const t = pairArgs('mseLoss', input, target);
  return reduce('mseLoss', releasedAfter(input.sub(t), (d) => d.square()), opts.reduction);
}

/** Absolute error of input against target, reduced (F.l1_loss). */
export function l1Loss(input: Tensor, target: Tensor, opts: LossOptions = {}): Tensor {
  const t = pairArgs('l1Loss', input, target);
  return reduce('l1Loss', releasedAfter(input.sub(t), (d) => d.abs()), opts.reduction);
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
