// Classification losses and labels, as PyTorch defines them: nllLoss, crossEntropy (class
// indices or class probabilities, class weights, ignoreIndex, label smoothing) and oneHot. They
// are compositions of public ops (logSoftmax, gather, indexSelect, sums), so their gradients
// come from those ops' and every backend runs them.

import { arange } from '../creation.js';
import { isFloat } from '../dtype.js';
import { fmtShape, shapeEq } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkFloat, checkTensor } from './kernel.js';
import type { Reduction } from './loss.js';
import { where } from './elementwise.js';

/** Options of nllLoss (and crossEntropy), named as PyTorch's. */
export interface NllLossOptions {
  /** 'mean' (default): the weighted mean, sum of losses / sum of the targets' weights; 'sum'; 'none'. */
  reduction?: Reduction;
  /** A weight per class, [C]; the 'mean' divides by the sum of the weights of the (non-ignored) targets. */
  weight?: Tensor | null;
  /** Targets equal to this class index contribute nothing, neither to the loss nor to the mean's denominator. Default -100. */
  ignoreIndex?: number;
}

/** Options of crossEntropy. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** In [0, 1]: the target becomes (1 - s) * one-hot + s / C (PyTorch's label_smoothing). Default 0. */
  labelSmoothing?: number;
}

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

interface Checked {
  /** input with a batch dim: [N, C, d1, ...] */
  input: Tensor;
  /** target with a batch dim: [N, d1, ...] (int32 class indices, or float probabilities shaped as input) */
  target: Tensor;
  weight: Tensor | null;
  reduction: Reduction;
  ignoreIndex: number;
  /** Undo the batch dim added for a [C] input (reduction 'none' returns a 0-d loss then). */
  unbatched: boolean;
}

function checkArgs(op: string, input: Tensor, target: Tensor, opts: NllLossOptions, probabilities: boolean): Checked {
  checkTensor(op, input);
  checkTensor(op, target, 'target');
  checkFloat(op, input);
  const reduction = opts.reduction ?? 'mean';
  if (!REDUCTIONS.includes(reduction)) throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  const ignoreIndex = opts.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new Error(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);
  if (input.ndim === 0) throw new Error(`${op}: input must be [C] or [N, C, ...], got a 0-d tensor`);
  const unbatched = input.ndim === 1;
  const x = unbatched ? input.unsqueeze(0) : input;
  const c = x.shape[1]!;
  const weight = opts.weight ?? null;
  if (weight !== null) {
    checkTensor(op, weight, 'weight');
    checkFloat(op, weight);
    if (weight.ndim !== 1 || weight.shape[0] !== c) throw new Error(`${op}: weight must be [${c}] (one per class), got ${fmtShape(weight.shape)}`);
  }
  if (probabilities) {
    if (!shapeEq(target.shape, input.shape)) throw new Error(`${op}: class-probability target ${fmtShape(target.shape)} must have the input's shape ${fmtShape(input.shape)}`);
    return { input: x, target: unbatched ? target.unsqueeze(0) : target, weight, reduction, ignoreIndex, unbatched };
  }
  if (target.dtype !== 'int32') {
    throw new Error(`${op}: target must be int32 class indices (or, for crossEntropy, float class probabilities shaped as the input), got ${target.dtype} ${fmtShape(target.shape)}`);
  }
  const t = unbatched ? target.unsqueeze(0) : target;
  const want = [x.shape[0]!, ...x.shape.slice(2)];
  if (!shapeEq(t.shape, want)) throw new Error(`${op}: target shape ${fmtShape(target.shape)} does not match input shape ${fmtShape(input.shape)} (expected ${fmtShape(unbatched ? [] : want)})`);
  return { input: x, target: t, weight, reduction, ignoreIndex, unbatched };
}

/** The target with ignored entries replaced by class 0, checked against the class count. */
function safeTarget(op: string, target: Tensor, ignoreIndex: number, classes: number): { safe: Tensor; kept: Tensor } {
  const ignored = target.eq(ignoreIndex);
  const safe = where(ignored, 0, target);
  if (safe.numel > 0) {
    const lo = safe.min().item();
    const hi = safe.max().item();
    const bad = lo < 0 ? lo : hi >= classes ? hi : null;
    if (bad !== null) throw new Error(`${op}: target ${bad} is out of range for ${classes} classes (valid: 0 to ${classes - 1}, or ignoreIndex ${ignoreIndex})`);
  }
  return { safe, kept: ignored.logicalNot() };
}

function finish(loss: Tensor, a: Checked, denominator: () => Tensor | number): Tensor {
  switch (a.reduction) {
    case 'none': return a.unbatched ? loss.reshape([]) : loss;
    case 'sum': return loss.sum();
    default: return loss.sum().div(denominator());
  }
}

/** The core of nllLoss on checked arguments: per-element losses and the 'mean' denominator. */
function nll(op: string, a: Checked): { loss: Tensor; totalWeight: () => Tensor; kept: Tensor; safe: Tensor } {
  const classes = a.input.shape[1]!;
  const { safe, kept } = safeTarget(op, a.target, a.ignoreIndex, classes);
  const picked = a.input.gather(1, safe.unsqueeze(1)).squeeze(1);
  // per-element weight: the class weight of the target, 0 where it is ignored
  const w = a.weight ? a.weight.indexSelect(0, safe.reshape([-1])).reshape(safe.shape).mul(kept) : kept.to(a.input.dtype);
  const loss = picked.mul(w).neg();
  return { loss, totalWeight: () => w.sum(), kept, safe };
}

/**
 * Negative log-likelihood of class indices under log-probabilities: input [N, C] or [N, C, d1, ...]
 * (or [C]), target int32 [N] or [N, d1, ...]; loss = -weight[t] * input[t], with PyTorch's
 * weighted 'mean' (divided by the sum of the targets' weights; NaN when every target is ignored).
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllLossOptions = {}): Tensor {
  const a = checkArgs('nllLoss', input, target, opts, false);
  const { loss, totalWeight } = nll('nllLoss', a);
  return finish(loss, a, totalWeight);
}

/**
 * Cross-entropy of logits input [N, C] or [N, C, d1, ...] (or [C]) against int32 class indices
 * (or float class probabilities shaped as the input), with PyTorch's weight, ignoreIndex,
 * labelSmoothing and reductions: logSoftmax over dim 1, then nllLoss; label smoothing mixes in the
 * uniform target, with the weighted 'mean' normalised by the targets' weights as PyTorch does.
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const s = opts.labelSmoothing ?? 0;
  if (!(s >= 0 && s <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${s}`);
  checkTensor('crossEntropy', target, 'target');
  const probabilities = isFloat(target.dtype);
  const a = checkArgs('crossEntropy', input, target, opts, probabilities);
  const logp = a.input.logSoftmax(1);
  const classes = a.input.shape[1]!;
  const wb = a.weight ? a.weight.reshape([1, classes, ...a.input.shape.slice(2).map(() => 1)]) : null;
  if (probabilities) {
    const t = s > 0 ? a.target.mul(1 - s).add(s / classes) : a.target;
    const terms = wb ? logp.mul(t).mul(wb) : logp.mul(t);
    const loss = terms.sum(1).neg();
    // PyTorch's 'mean' with probability targets divides by the number of samples (times spatial positions)
    return finish(loss, a, () => loss.numel);
  }
  const b = { ...a, input: logp };
  const { loss, totalWeight, kept, safe } = nll('crossEntropy', b);
  if (s === 0) return finish(loss, b, totalWeight);
  // label smoothing (PyTorch's cross_entropy_loss_label_smoothing): the nll part and a smooth
  // part -sum_c w_c logp_c, each reduced on its own, mixed as (1 - s) * nll + s / C * smooth
  const smooth = (wb ? logp.mul(wb) : logp).sum(1).neg().mul(kept);
  const nllPart = finish(loss, b, totalWeight);
  const smoothPart = finish(smooth, b, () => (a.weight ? a.weight.indexSelect(0, safe.reshape([-1])).reshape(safe.shape).mul(kept).sum() : kept.sum()));
  return nllPart.mul(1 - s).add(smoothPart.mul(s / classes));
}

/** One-hot encoding of int32 class indices: shape [...t.shape, numClasses], int32 (PyTorch: int64); numClasses -1 means max + 1. */
export function oneHot(t: Tensor, numClasses = -1): Tensor {
  checkTensor('oneHot', t);
  if (t.dtype !== 'int32') throw new Error(`oneHot: expected int32 class indices, got ${t.dtype} ${fmtShape(t.shape)}`);
  if (!Number.isInteger(numClasses) || numClasses < -1) throw new Error(`oneHot: numClasses must be a non-negative integer or -1, got ${numClasses}`);
  const lo = t.numel ? t.min().item() : 0;
  const hi = t.numel ? t.max().item() : -1;
  if (lo < 0) throw new Error(`oneHot: class values must be non-negative, got ${lo}`);
  const n = numClasses === -1 ? hi + 1 : numClasses;
  if (hi >= n) throw new Error(`oneHot: class value ${hi} is out of range for ${n} classes`);
  if (numClasses === -1 && t.numel === 0) throw new Error('oneHot: cannot infer numClasses from an empty tensor; pass it');
  return t.unsqueeze(-1).eq(arange(n, undefined, 1, { dtype: 'int32' })).to('int32');
}
