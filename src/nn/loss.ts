// Loss modules (nn.BCEWithLogitsLoss, nn.MSELoss, ...): the functional losses with a stored reduction.

import type { Reduction } from '../ops/loss.js';
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, gaussianKl, l1Loss, mseLoss } from '../ops/loss.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

abstract class Loss extends Module {
  constructor(readonly reduction: Reduction = 'mean') {
    super();
  }
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  override extraRepr(): string {
    return `reduction='${this.reduction}'`;
  }
}

export class BCEWithLogitsLoss extends Loss {
  forward(logits: Tensor, target: Tensor): Tensor { return binaryCrossEntropyWithLogits(logits, target, { reduction: this.reduction }); }
}
export class BCELoss extends Loss {
  forward(probs: Tensor, target: Tensor): Tensor { return binaryCrossEntropy(probs, target, { reduction: this.reduction }); }
}
export class MSELoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor { return mseLoss(input, target, { reduction: this.reduction }); }
}
export class L1Loss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor { return l1Loss(input, target, { reduction: this.reduction }); }
}
/** KL(N(mu, exp(logvar)) || N(0, I)) summed over the latent dims of each sample; forward(mu, logvar). */
export class GaussianKLLoss extends Loss {
  forward(mu: Tensor, logvar: Tensor): Tensor { return gaussianKl(mu, logvar, { reduction: this.reduction }); }
}
