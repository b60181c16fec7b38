// Conv2d and ConvTranspose2d layers over the functional ops, PyTorch's weight layouts and init.

import { conv2d, convTranspose2d } from '../ops/conv.js';
import type { Pair } from '../ops/conv.js';
import { pair } from '../ops/conv.js';
import type { Tensor } from '../tensor.js';
import { defaultLayerInit } from './init.js';
import { Module, Parameter } from './module.js';
import { checkPositiveInt, empty } from './tensors.js';

/** Options of Conv2d and ConvTranspose2d (torch.nn.Conv2d's stride, padding, dilation, groups, bias). */
export interface Conv2dLayerOptions {
  /** Step of the kernel, one number or [h, w] (default 1). */
  stride?: Pair;
  /** Zeros added on each side, one number or [h, w] (default 0). */
  padding?: Pair;
  /** Spacing between kernel taps, one number or [h, w] (default 1). */
  dilation?: Pair;
  /** Channels split into this many independent groups (default 1). */
  groups?: number;
  /** Learn a bias per output channel (default true). */
  bias?: boolean;
}

abstract class ConvNd extends Module {
  /** The kernels (Conv2d: [out, in / groups, kH, kW]; ConvTranspose2d: [in, out / groups, kH, kW]). */
  weight: Parameter;
  /** [out], or null without bias. */
  bias: Parameter | null;
  /** [kH, kW]. */
  readonly kernelSize: [number, number];
  /** Independent channel groups. */
  readonly groups: number;
  constructor(
    /** Input channels. */ readonly inChannels: number,
    /** Output channels. */ readonly outChannels: number,
    kernelSize: Pair,
    /** Stride, padding, dilation, groups and bias as given. */ readonly opts: Conv2dLayerOptions,
    weightShape: (k: [number, number], groups: number) => number[],
  ) {
    super();
    const name = new.target.name;
    checkPositiveInt(name, 'inChannels', inChannels);
    checkPositiveInt(name, 'outChannels', outChannels);
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups) {
      throw new Error(`${name}: groups=${this.groups} must divide inChannels (${inChannels}) and outChannels (${outChannels})`);
    }
    this.kernelSize = pair(name, 'kernelSize', kernelSize, 1, 1);
    this.weight = new Parameter(empty(weightShape(this.kernelSize, this.groups)));
    this.bias = opts.bias === false ? null : new Parameter(empty([outChannels]));
    this.resetParameters();
  }
  /** Re-initialises weight and bias as PyTorch does (Kaiming-uniform with a = sqrt(5)). */
  resetParameters(): void {
    // PyTorch computes fan_in from weight dims 1.. for both layers (for ConvTranspose2d that is out/groups * kH * kW).
    const w = this.weight.shape;
    defaultLayerInit(this.weight, this.bias, w[1]! * w[2]! * w[3]!);
  }
  override extraRepr(): string {
    const o = this.opts;
    const extra = [o.stride && `stride=${JSON.stringify(o.stride)}`, o.padding && `padding=${JSON.stringify(o.padding)}`, this.groups !== 1 && `groups=${this.groups}`].filter(Boolean);
    return [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}]`, ...extra].join(', ');
  }
}

/** 2-D convolution layer, weight [out, in / groups, kH, kW] (torch.nn.Conv2d). */
export class Conv2d extends ConvNd {
  /** A convolution from inChannels to outChannels with a kernelSize kernel, initialised as PyTorch's. */
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dLayerOptions = {}) {
    super(inChannels, outChannels, kernelSize, opts, (k, g) => [outChannels, inChannels / g, ...k]);
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.opts);
  }
}

/** 2-D transposed convolution layer, weight [in, out / groups, kH, kW] (torch.nn.ConvTranspose2d). */
export class ConvTranspose2d extends ConvNd {
  /** A transposed convolution from inChannels to outChannels with a kernelSize kernel, initialised as PyTorch's. */
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dLayerOptions & { outputPadding?: Pair } = {}) {
    super(inChannels, outChannels, kernelSize, opts, (k, g) => [inChannels, outChannels / g, ...k]);
  }
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.opts);
  }
}
