// LayerNorm: normalisation over the trailing dims with a learned elementwise affine (PyTorch's nn.LayerNorm).

import { ones, zeros } from '../creation.js';
import { layerNorm } from '../ops/layer-norm.js';
import type { Tensor } from '../tensor.js';
import { Module, Parameter } from './module.js';

/** Options of LayerNorm (torch.nn.LayerNorm's eps, elementwise_affine, bias). */
export interface LayerNormOptions {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** Learn weight (ones) and bias (zeros) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, learn a bias too (default true). */
  bias?: boolean;
}

export class LayerNorm extends Module {
  /** The trailing dims normalised over. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance for stability. */
  readonly eps: number;
  /** Elementwise scale of normalizedShape, or null without elementwiseAffine. */
  weight: Parameter | null;
  /** Elementwise shift of normalizedShape, or null. */
  bias: Parameter | null;
  /** Layer norm over the trailing dims normalizedShape. */
  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0 || this.normalizedShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`LayerNorm: normalizedShape must be positive integers, got ${JSON.stringify(normalizedShape)}`);
    }
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? new Parameter(ones(this.normalizedShape)) : null;
    this.bias = affine && opts.bias !== false ? new Parameter(zeros(this.normalizedShape)) : null;
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
  override extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}], eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}
