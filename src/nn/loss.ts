// Loss modules (nn.BCEWithLogitsLoss, nn.MSELoss, ...): the functional losses with a stored reduction.

import type { CrossEntropyOptions, NllLossOptions } from '../ops/classification.js';
import { crossEntropy, nllLoss } from '../ops/classification.js';
import type { Reduction } from '../ops/loss.js';
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, gaussianKl, l1Loss, mseLoss } from '../ops/loss.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

abstract class Loss extends Module {
  /** A loss with this reduction ('mean' by default). */
  constructor(
    /** 'mean' (default), 'sum' or 'none'. */
    readonly reduction: Reduction = 'mean',
  ) {
    super();
  }
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  override extraRepr(): string {
    return `reduction='${this.reduction}'`;
  }
}

/** Binary cross-entropy of logits against targets in [0, 1], computed stably (torch.nn.BCEWithLogitsLoss). */
export class BCEWithLogitsLoss extends Loss {
  /** The loss of logits against targets of the same shape. */
  forward(logits: Tensor, target: Tensor): Tensor { return binaryCrossEntropyWithLogits(logits, target, { reduction: this.reduction }); }
}
/** Binary cross-entropy of probabilities in [0, 1] against targets (torch.nn.BCELoss). */
export class BCELoss extends Loss {
  /** The loss of probabilities against targets of the same shape. */
  forward(probs: Tensor, target: Tensor): Tensor { return binaryCrossEntropy(probs, target, { reduction: this.reduction }); }
}
/** Mean squared error (torch.nn.MSELoss). */
export class MSELoss extends Loss {
  /** The squared error of input against target, reduced. */
  forward(input: Tensor, target: Tensor): Tensor { return mseLoss(input, target, { reduction: this.reduction }); }
}
/** Mean absolute error (torch.nn.L1Loss). */
export class L1Loss extends Loss {
  /** The absolute error of input against target, reduced. */
  forward(input: Tensor, target: Tensor): Tensor { return l1Loss(input, target, { reduction: this.reduction }); }
}
/** KL(N(mu, exp(logvar)) || N(0, I)) summed over the latent dims of each sample; forward(mu, logvar). */
export class GaussianKLLoss extends Loss {
  /** The KL divergence of N(mu, exp(logvar)) from N(0, I), reduced over the batch. */
  forward(mu: Tensor, logvar: Tensor): Tensor { return gaussianKl(mu, logvar, { reduction: this.reduction }); }
}

/** The options of NLLLoss and CrossEntropyLoss modules; a weight becomes a buffer (in the state dict, as in PyTorch). */
abstract class ClassLoss<O extends NllLossOptions> extends Module {
  /** 'mean' (default), 'sum' or 'none'. */
  readonly reduction: Reduction;
  /** Targets with this class index count for nothing (default -100). */
  readonly ignoreIndex: number;
  private readonly weighted: boolean;
  constructor(protected readonly opts: O) {
    super();
    this.reduction = opts.reduction ?? 'mean';
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.weighted = !!opts.weight;
    if (opts.weight) this.registerBuffer('weight', opts.weight);
  }
  /** The class weights (the 'weight' buffer), or null. */
  get weight(): Tensor | null {
    return this.weighted ? this.buffer('weight') : null;
  }
  protected options(): O {
    return { ...this.opts, weight: this.weight, reduction: this.reduction, ignoreIndex: this.ignoreIndex };
  }
  /** The reduction, whether there are class weights, and ignoreIndex, for the printed form. */
  override extraRepr(): string {
    return `reduction='${this.reduction}', ignoreIndex=${this.ignoreIndex}${this.weight ? ', weight' : ''}`;
  }
}

/** Negative log-likelihood loss of log-probabilities [N, C, ...] against int32 targets; forward(logProbs, target). */
export class NLLLoss extends ClassLoss<NllLossOptions> {
  /** NLL loss with optional class weights, ignoreIndex and reduction. */
  constructor(opts: NllLossOptions = {}) { super(opts); }
  forward(logProbs: Tensor, target: Tensor): Tensor { return nllLoss(logProbs, target, this.options()); }
}

/** Cross-entropy of logits [N, C, ...] against int32 class indices or class probabilities; forward(logits, target). */
export class CrossEntropyLoss extends ClassLoss<CrossEntropyOptions> {
  /** Mass in [0, 1] spread uniformly over the classes (default 0). */
  readonly labelSmoothing: number;
  /** Cross-entropy with optional class weights, ignoreIndex, labelSmoothing and reduction. */
  constructor(opts: CrossEntropyOptions = {}) {
    super(opts);
    this.labelSmoothing = opts.labelSmoothing ?? 0;
  }
  forward(logits: Tensor, target: Tensor): Tensor { return crossEntropy(logits, target, { ...this.options(), labelSmoothing: this.labelSmoothing }); }
  /** The settings of NLLLoss plus labelSmoothing, for the printed form. */
  override extraRepr(): string {
    return `${super.extraRepr()}${this.labelSmoothing ? `, labelSmoothing=${this.labelSmoothing}` : ''}`;
  }
}
