// Dropout: zero each element (dropout2d: each channel) with probability p and scale the rest by 1 / (1 - p).

import { ones, rand } from '../creation.js';
import { fmtShape } from '../shape.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { checkTensor } from './kernel.js';
import { releaseInternal } from '../autograd/saved-frees.js';

/** Zeroes elements with probability p and scales the rest by 1 / (1 - p) in training; identity otherwise (F.dropout). */
export function dropout(x: Tensor, p = 0.5, opts: { training?: boolean; generator?: Generator } = {}): Tensor {
  checkTensor('dropout', x);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability must be in [0, 1], got ${p}`);
  if (opts.training === false || p === 0) return x;
  if (p === 1) return x.mul(0);
  const r = rand(x.shape, { dtype: x.dtype, generator: opts.generator });
  const keep = r.ge(p).to(x.dtype);
  const kept = x.mul(keep);
  const out = kept.div(1 - p);
  // The draws, the mask (which mul saves) and the masked values (which div does not) never leave here.
  for (const t of [r, keep, kept]) releaseInternal(t);
  return out;
}

/** Zero whole channels of [N, C, H, W] (or [C, H, W]) input with probability p, scaling the rest by 1 / (1 - p). */
export function dropout2d(x: Tensor, p = 0.5, opts: { training?: boolean; generator?: Generator } = {}): Tensor {
  checkTensor('dropout2d', x);
  if (x.ndim !== 3 && x.ndim !== 4) throw new Error(`dropout2d: expected 3-D [C, H, W] or 4-D [N, C, H, W] input, got ${fmtShape(x.shape)}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout2d: probability must be in [0, 1], got ${p}`);
  if (opts.training === false || p === 0) return x;
  // One draw per channel, broadcast over its H x W values.
  const one = ones([...x.shape.slice(0, -2), 1, 1], { dtype: x.dtype });
  const mask = dropout(one, p, opts);
  const out = x.mul(mask);
  for (const t of [one, mask]) releaseInternal(t);
  return out;
}
