// Embedding lookup: rows of a weight matrix picked by integer indices; the gradient adds into
// the rows that were picked (a row picked twice gets both gradients).

import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { where } from './elementwise.js';
import { checkTensor } from './kernel.js';
import { indexSelect } from './indexing.js';

/** weight[indices]: indices int32 of any shape, weight [num, dim] -> [...indices.shape, dim]. */
export function embedding(indices: Tensor, weight: Tensor, opts: { paddingIdx?: number | null } = {}): Tensor {
  checkTensor('embedding', indices, 'indices');
  checkTensor('embedding', weight, 'weight');
  if (indices.dtype !== 'int32') throw new Error(`embedding: indices must be an int32 tensor, got ${indices.dtype} ${fmtShape(indices.shape)}`);
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be 2-D [num, dim], got ${fmtShape(weight.shape)}`);
  // indexSelect's gradient adds into the rows it picked; it also checks the index range.
  const flat = indices.reshape([-1]);
  const picked = indexSelect(weight, 0, flat);
  // paddingIdx: that row's value is used as is, but it gets no gradient (PyTorch's padding_idx).
  const pad = opts.paddingIdx;
  const out = pad === undefined || pad === null ? picked : where(flat.eq(pad).unsqueeze(1), picked.detach(), picked);
  return out.reshape([...indices.shape, weight.shape[1]!]);
}
