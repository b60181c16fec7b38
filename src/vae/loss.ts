// The VAE objective of the reference spec: per image, BCE-with-logits summed over pixels plus
// beta * KL summed over latent dims; the batch loss is the mean over images.

import { binaryCrossEntropyWithLogits, gaussianKl } from '../ops/loss.js';
import type { Tensor } from '../tensor.js';

export interface VaeLoss {
  loss: Tensor;
  bce: Tensor;
  kl: Tensor;
}

export function vaeLoss(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta = 1): VaeLoss {
  const n = x.shape[0]!;
  const bce = binaryCrossEntropyWithLogits(logits, x, { reduction: 'sum' }).div(n);
  const kl = gaussianKl(mu, logvar, { reduction: 'sum' }).div(n);
  return { loss: beta === 1 ? bce.add(kl) : bce.add(kl.mul(beta)), bce, kl };
}
