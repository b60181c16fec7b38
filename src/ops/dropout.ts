// Dropout: zero each element with probability p and scale the rest by 1 / (1 - p).

import { rand } from '../creation.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { checkTensor } from './kernel.js';

export function dropout(x: Tensor, p = 0.5, opts: { training?: boolean; generator?: Generator } = {}): Tensor {
  checkTensor('dropout', x);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability must be in [0, 1], got ${p}`);
  if (opts.training === false || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = rand(x.shape, { dtype: x.dtype, generator: opts.generator }).ge(p);
  return x.mul(keep).div(1 - p);
}
