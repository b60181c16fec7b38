// The VAE objective of the reference spec: per image, BCE-with-logits summed over pixels plus
// beta * KL summed over latent dims; the batch loss is the mean over images.

import { binaryCrossEntropyWithLogits, gaussianKl } from '../ops/loss.js';
import type { Tensor } from '../tensor.js';

/** The VAE loss and its two terms, each averaged over the batch. */
export interface VaeLoss {
  /** bce + beta * kl, the quantity minimised. */
  loss: Tensor;
  /** Reconstruction term: binary cross-entropy of the logits against the pixels, summed per image. */
  bce: Tensor;
  /** KL(q(z|x) || N(0, I)), summed over the latent dims per image. */
  kl: Tensor;
}

/** The beta-VAE loss of a batch: reconstruction BCE from logits plus beta times the KL term, per image. */
export function vaeLoss(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor, beta = 1): VaeLoss {
  const n = x.shape[0]!;
  const bce = binaryCrossEntropyWithLogits(logits, x, { reduction: 'sum' }).div(n);
  const kl = gaussianKl(mu, logvar, { reduction: 'sum' }).div(n);
  return { loss: beta === 1 ? bce.add(kl) : bce.add(kl.mul(beta)), bce, kl };
}
