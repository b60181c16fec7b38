// Parameter-free layers: activations, softmax, pooling, dropout, flatten/unflatten.

import { leakyRelu, relu, sigmoid, tanh } from '../ops/elementwise.js';
import type { Pair } from '../ops/conv.js';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from '../ops/pool.js';
import { elu, gelu, silu } from '../ops/activation.js';
import type { GeluOptions } from '../ops/activation.js';
import { logSoftmax, softmax } from '../ops/reduce.js';
import type { AvgPool2dOptions, Pool2dOptions } from '../ops/pool.js';
import { dropout, dropout2d } from '../ops/dropout.js';
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
/** x * Phi(x); { approximate: 'tanh' } for the tanh form. */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(opts: GeluOptions = {}) {
    super();
    this.approximate = opts.approximate ?? 'none';
    if (this.approximate !== 'none' && this.approximate !== 'tanh') throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${String(opts.approximate)}'`);
  }
  forward(x: Tensor): Tensor { return gelu(x, { approximate: this.approximate }); }
  override extraRepr(): string { return `approximate='${this.approximate}'`; }
}
/** x * sigmoid(x). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor { return silu(x); }
}
/** x for x > 0, alpha * (exp(x) - 1) otherwise. */
export class ELU extends Module {
  constructor(readonly alpha = 1) { super(); }
  forward(x: Tensor): Tensor { return elu(x, this.alpha); }
  override extraRepr(): string { return `alpha=${this.alpha}`; }
}
/** softmax along dim (required, as PyTorch recommends). */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new Error(`Softmax: dim must be an integer, got ${dim}`);
  }
  forward(x: Tensor): Tensor { return softmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
/** log(softmax) along dim, computed stably. */
export class LogSoftmax extends Module {
  constructor(readonly dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new Error(`LogSoftmax: dim must be an integer, got ${dim}`);
  }
  forward(x: Tensor): Tensor { return logSoftmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
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

/** Average pooling to a fixed output size (global average pooling with 1). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | readonly (number | null)[]) { super(); }
  forward(x: Tensor): Tensor { return adaptiveAvgPool2d(x, this.outputSize); }
  override extraRepr(): string { return `outputSize=${JSON.stringify(this.outputSize)}`; }
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

/** Zeroes whole channels of [N, C, H, W] input with probability p in training (identity in eval). */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5, readonly opts: { generator?: Generator } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout2d: probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor { return dropout2d(x, this.p, { training: this.training, generator: this.opts.generator }); }
  override extraRepr(): string { return `p=${this.p}`; }
}
