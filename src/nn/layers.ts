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

/** max(x, 0) (torch.nn.ReLU). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor { return relu(x); }
}
/** x where x > 0, else negativeSlope * x (torch.nn.LeakyReLU). */
export class LeakyReLU extends Module {
  /** A leaky ReLU with this slope for negative inputs. */
  constructor(
    /** The slope for x < 0 (default 0.01). */
    readonly negativeSlope = 0.01,
  ) { super(); }
  forward(x: Tensor): Tensor { return leakyRelu(x, this.negativeSlope); }
  override extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}
/** 1 / (1 + e^-x) (torch.nn.Sigmoid). */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return sigmoid(x); }
}
/** Hyperbolic tangent (torch.nn.Tanh). */
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return tanh(x); }
}
/** x * Phi(x); { approximate: 'tanh' } for the tanh form. */
export class GELU extends Module {
  /** 'none': the exact erf form; 'tanh': the tanh approximation. */
  readonly approximate: 'none' | 'tanh';
  /** GELU, exact (erf) by default or { approximate: 'tanh' }. */
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
  /** ELU with this alpha. */
  constructor(
    /** The saturation value for negative inputs is -alpha (default 1). */
    readonly alpha = 1,
  ) { super(); }
  forward(x: Tensor): Tensor { return elu(x, this.alpha); }
  override extraRepr(): string { return `alpha=${this.alpha}`; }
}
/** softmax along dim (required, as PyTorch recommends). */
export class Softmax extends Module {
  /** Softmax along dim. */
  constructor(
    /** The dim the probabilities sum to 1 over. */
    readonly dim: number,
  ) {
    super();
    if (!Number.isInteger(dim)) throw new Error(`Softmax: dim must be an integer, got ${dim}`);
  }
  forward(x: Tensor): Tensor { return softmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
/** log(softmax) along dim, computed stably. */
export class LogSoftmax extends Module {
  /** Log-softmax along dim. */
  constructor(
    /** The dim the log-probabilities are normalised over. */
    readonly dim: number,
  ) {
    super();
    if (!Number.isInteger(dim)) throw new Error(`LogSoftmax: dim must be an integer, got ${dim}`);
  }
  forward(x: Tensor): Tensor { return logSoftmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
/** Returns its input (torch.nn.Identity). */
export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}

/** Max pooling over windows of kernelSize (torch.nn.MaxPool2d). */
export class MaxPool2d extends Module {
  /** Max pooling with this window (stride defaults to the window). */
  constructor(
    /** The window size, one number or [h, w]. */
    readonly kernelSize: Pair,
    /** Stride (default: the kernel size) and padding. */
    readonly opts: Pool2dOptions = {},
  ) { super(); }
  forward(x: Tensor): Tensor { return maxPool2d(x, this.kernelSize, this.opts); }
  override extraRepr(): string { return `kernelSize=${JSON.stringify(this.kernelSize)}`; }
}
/** Average pooling over windows of kernelSize (torch.nn.AvgPool2d). */
export class AvgPool2d extends Module {
  /** Average pooling with this window (stride defaults to the window). */
  constructor(
    /** The window size, one number or [h, w]. */
    readonly kernelSize: Pair,
    /** Stride, padding and countIncludePad. */
    readonly opts: AvgPool2dOptions = {},
  ) { super(); }
  forward(x: Tensor): Tensor { return avgPool2d(x, this.kernelSize, this.opts); }
  override extraRepr(): string { return `kernelSize=${JSON.stringify(this.kernelSize)}`; }
}

/** Average pooling to a fixed output size (global average pooling with 1). */
export class AdaptiveAvgPool2d extends Module {
  /** Adaptive average pooling to this output size. */
  constructor(
    /** The output's [h, w] (one number for both; null keeps the input's). */
    readonly outputSize: number | readonly (number | null)[],
  ) { super(); }
  forward(x: Tensor): Tensor { return adaptiveAvgPool2d(x, this.outputSize); }
  override extraRepr(): string { return `outputSize=${JSON.stringify(this.outputSize)}`; }
}

/** Zeroes elements with probability p in training and scales the rest by 1 / (1 - p); identity in eval (torch.nn.Dropout). */
export class Dropout extends Module {
  /** Dropout with probability p. */
  constructor(
    /** The probability of zeroing an element (default 0.5). */
    readonly p = 0.5,
    /** The generator of the masks (default: the global one). */
    readonly opts: {
      /** The generator of the masks. */
      generator?: Generator;
    } = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor { return dropout(x, this.p, { training: this.training, generator: this.opts.generator }); }
  override extraRepr(): string { return `p=${this.p}`; }
}

/** Flattens dims startDim..endDim (default 1..-1, keeping the batch dim), in NCHW order. */
export class Flatten extends Module {
  /** Flattens dims startDim..endDim. */
  constructor(
    /** The first dim merged (default 1). */
    readonly startDim = 1,
    /** The last dim merged (default -1). */
    readonly endDim = -1,
  ) { super(); }
  forward(x: Tensor): Tensor { return flatten(x, this.startDim, this.endDim); }
}
/** Splits dim into sizes (torch.nn.Unflatten). */
export class Unflatten extends Module {
  /** Splits dim into sizes. */
  constructor(
    /** The dim split. */
    readonly dim: number,
    /** The sizes it is split into (one may be -1). */
    readonly sizes: readonly number[],
  ) { super(); }
  forward(x: Tensor): Tensor { return unflatten(x, this.dim, this.sizes); }
  override extraRepr(): string { return `dim=${this.dim}, sizes=[${this.sizes.join(', ')}]`; }
}

/** Zeroes whole channels of [N, C, H, W] input with probability p in training (identity in eval). */
export class Dropout2d extends Module {
  /** Channel dropout with probability p. */
  constructor(
    /** The probability of zeroing a channel (default 0.5). */
    readonly p = 0.5,
    /** The generator of the masks (default: the global one). */
    readonly opts: {
      /** The generator of the masks. */
      generator?: Generator;
    } = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout2d: probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor { return dropout2d(x, this.p, { training: this.training, generator: this.opts.generator }); }
  override extraRepr(): string { return `p=${this.p}`; }
}
