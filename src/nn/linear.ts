// Linear: y = x W^T + b, with weight [out, in] as PyTorch lays it out.

import { empty } from './tensors.js';
import { linear } from '../functional.js';
import type { Tensor } from '../tensor.js';
import { defaultLayerInit } from './init.js';
import { Module, Parameter } from './module.js';

export class Linear extends Module {
  /** [outFeatures, inFeatures]. */
  weight: Parameter;
  /** [outFeatures], or null without bias. */
  bias: Parameter | null;
  /** A linear layer inFeatures -> outFeatures, initialised as PyTorch's. */
  constructor(
    /** Size of each input sample. */
    readonly inFeatures: number,
    /** Size of each output sample. */
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    this.weight = new Parameter(empty([outFeatures, inFeatures]));
    this.bias = opts.bias === false ? null : new Parameter(empty([outFeatures]));
    this.resetParameters();
  }
  /** Re-initialises weight and bias as PyTorch does: U(-1/sqrt(in), 1/sqrt(in)). */
  resetParameters(): void {
    defaultLayerInit(this.weight, this.bias, this.inFeatures);
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
