// Dropout: zero each element (dropout2d: each channel) with probability p and scale the rest by 1 / (1 - p).

import { ones, rand } from '../creation.js';
import { fmtShape } from '../shape.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { checkTensor } from './kernel.js';

/** Zeroes elements with probability p and scales the rest by 1 / (1 - p) in training; identity otherwise (F.dropout). */
export function dropout(x: Tensor, p = 0.5, opts: { training?: boolean; generator?: Generator } = {}): Tensor {
  checkTensor('dropout', x);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability must be in [0, 1], got ${p}`);
  if (opts.training === false || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = rand(x.shape, { dtype: x.dtype, generator: opts.generator }).ge(p);
  return x.mul(keep).div(1 - p);
}

/** Zero whole channels of [N, C, H, W] (or [C, H, W]) input with probability p, scaling the rest by 1 / (1 - p). */
export function dropout2d(x: Tensor, p = 0.5, opts: { training?: boolean; generator?: Generator } = {}): Tensor {
  checkTensor('dropout2d', x);
  if (x.ndim !== 3 && x.ndim !== 4) throw new Error(`dropout2d: expected 3-D [C, H, W] or 4-D [N, C, H, W] input, got ${fmtShape(x.shape)}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout2d: probability must be in [0, 1], got ${p}`);
  if (opts.training === false || p === 0) return x;
  // One draw per channel, broadcast over its H x W values.
  const channelShape = [...x.shape.slice(0, -2), 1, 1];
  return x.mul(dropout(ones(channelShape, { dtype: x.dtype }), p, opts));
}
