// Parameter-free layers: activations, pooling, dropout, flatten/unflatten.

import { leakyRelu, relu, sigmoid, tanh } from '../ops/elementwise.js';
import type { Pair } from '../ops/conv.js';
import { avgPool2d, maxPool2d } from '../ops/pool.js';
import type { AvgPool2dOptions, Pool2dOptions } from '../ops/pool.js';
import { dropout } from '../ops/dropout.js';
import { flatten, unflatten } from '../ops/movement.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return relu(x); }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) { super(); }
  forward(x: Tensor): Tensor { return leakyRelu(x, this.negativeSlope); }
  override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return sigmoid(x); }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return tanh(x); }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: Pool2dOptions = {}) { super(); }
  forward(x: Tensor): Tensor { return maxPool2d(x, this.kernelSize, this.opts); }
  override extraRepr(): string { return `kernelSize=${JSON.stringify(this.kernelSize)}`; }
}
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: AvgPool2dOptions = {}) { super(); }
  forward(x: Tensor): Tensor { return avgPool2d(x, this.kernelSize, this.opts); }
  override extraRepr(): string { return `kernelSize=${JSON.stringify(this.kernelSize)}`; }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5, readonly opts: { generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor { return dropout(x, this.p, { training: this.training, generator: this.opts.generator }); }
  override extraRepr(): string { return `p=${this.p}`; }
}

/** Flattens dims startDim..endDim (default 1..-1, keeping the batch dim), in NCHW order. */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  forward(x: Tensor): Tensor { return flatten(x, this.startDim, this.endDim); }
}
export class Unflatten extends Module {
  constructor(readonly dim: number, readonly sizes: readonly number[]) { super(); }
  forward(x: Tensor): Tensor { return unflatten(x, this.dim, this.sizes); }
  override extraRepr(): string { return `dim=${this.dim}, sizes=[${this.sizes.join(', ')}]`; }
}
