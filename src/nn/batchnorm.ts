// BatchNorm1d / BatchNorm2d: affine weight and bias, running statistics and a step counter as
// buffers under PyTorch's names (running_mean, running_var, num_batches_tracked).

import { noGrad } from '../autograd/grad-mode.js';
import { full, ones, zeros } from '../creation.js';
import { batchNorm, batchNormRelu, batchNormReluMaxPool2d } from '../ops/norm.js';
import type { Pair } from '../ops/conv.js';
import type { Pool2dOptions } from '../ops/pool.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { Module, Parameter } from './module.js';
import { checkPositiveInt } from './tensors.js';

/** Options of BatchNorm1d/2d (torch.nn.BatchNorm2d's eps, momentum, affine, track_running_stats). */
export interface BatchNormLayerOptions {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** null: a cumulative average, as PyTorch's momentum=None. */
  momentum?: number | null;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running mean and variance for eval mode (default true). */
  trackRunningStats?: boolean;
}

export abstract class BatchNormNd extends Module {
  /** Per-channel scale (ones at first), or null when not affine. */
  weight: Parameter | null;
  /** Per-channel shift (zeros at first), or null when not affine. */
  bias: Parameter | null;
  /** Added to the variance for stability. */
  readonly eps: number;
  /** Weight of each batch in the running statistics (null: a cumulative average). */
  readonly momentum: number | null;
  /** Whether running statistics are kept (and used in eval mode). */
  readonly trackRunningStats: boolean;
  protected abstract readonly ranks: number[];

  /** Batch norm over numFeatures channels. */
  constructor(
    /** Channels (C of [N, C, ...]). */
    readonly numFeatures: number,
    opts: BatchNormLayerOptions = {},
  ) {
    super();
    checkPositiveInt(new.target.name, 'numFeatures', numFeatures);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const affine = opts.affine ?? true;
    this.weight = affine ? new Parameter(ones([numFeatures])) : null;
    this.bias = affine ? new Parameter(zeros([numFeatures])) : null;
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', full([], 0, { dtype: 'int32' }));
    }
  }

  /** The running mean buffer (running_mean), or null without running statistics. */
  get runningMean(): Tensor | null {
    return this.trackRunningStats ? this.buffer('running_mean') : null;
  }
  /** The running variance buffer (running_var), or null without running statistics. */
  get runningVar(): Tensor | null {
    return this.trackRunningStats ? this.buffer('running_var') : null;
  }
  /** Batches seen in training (num_batches_tracked), or null without running statistics. */
  get numBatchesTracked(): Tensor | null {
    return this.trackRunningStats ? this.buffer('num_batches_tracked') : null;
  }

  forward(x: Tensor): Tensor {
    return this.run(x, false);
  }

  /** relu(this.forward(x)) as one fused op: what Sequential runs for a BatchNorm followed by a ReLU. */
  forwardRelu(x: Tensor): Tensor {
    return this.run(x, true);
  }

  /** maxPool2d(relu(this.forward(x))) as one fused op: what Sequential runs for BatchNorm2d -> ReLU -> MaxPool2d. */
  forwardReluMaxPool(x: Tensor, pool: { kernelSize: Pair; opts: Pool2dOptions }): Tensor {
    return this.run(x, true, pool);
  }

  private run(x: Tensor, withRelu: boolean, pool?: { kernelSize: Pair; opts: Pool2dOptions }): Tensor {
    if (!this.ranks.includes(x.ndim) || x.shape[1] !== this.numFeatures) {
      throw new Error(`${this.constructor.name}(${this.numFeatures}): expected input of rank ${this.ranks.join(' or ')} with ${this.numFeatures} channels in dim 1, got ${fmtShape(x.shape)}`);
    }
    const useBatchStats = this.training || !this.trackRunningStats;
    let momentum = this.momentum ?? 0;
    if (this.training && this.trackRunningStats) {
      const nbt = this.numBatchesTracked!;
      noGrad(() => nbt.copy_(nbt.add(1)));
      if (this.momentum === null) momentum = 1 / nbt.item();
    }
    const track = this.trackRunningStats && this.training;
    const [rm, rv] = track || !useBatchStats ? [this.runningMean, this.runningVar] : [null, null];
    const opts = { training: useBatchStats, momentum, eps: this.eps };
    if (pool) return batchNormReluMaxPool2d(x, rm, rv, this.weight, this.bias, opts, pool.kernelSize, pool.opts);
    return (withRelu ? batchNormRelu : batchNorm)(x, rm, rv, this.weight, this.bias, opts);
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
  }
}

/** Over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormNd {
  protected readonly ranks = [2, 3];
}

/** Over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormNd {
  protected readonly ranks = [4];
}
