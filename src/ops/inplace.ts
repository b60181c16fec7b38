// In-place arithmetic (add_, mul_, zero_, ...): each computes out of place and writes the result
// through copy_, which checks the destination and bumps the version counter backward checks.

import { isGradEnabled } from '../autograd/grad-mode.js';
import { full } from '../creation.js';
import type { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import { checkTensor } from './kernel.js';
import { copy_ } from './movement.js';

type Operand = Tensor | number;

function inPlace(op: string, x: Tensor, compute: () => Tensor): Tensor {
  checkTensor(op, x);
  if (isGradEnabled() && x.requiresGrad) throw new Error(`${op}: a tensor that requires grad cannot be modified in place; wrap the update in noGrad()`);
  const r = compute();
  // The graph is not rebased onto x (as PyTorch does): refuse rather than drop the operand's gradient.
  if (isGradEnabled() && r.requiresGrad) throw new Error(`${op}: the operand requires grad, and in-place ops record no gradient; use ${op.slice(0, -1)}() instead`);
  return copy_(x, r);
}

export const add_ = (x: Tensor, o: Operand): Tensor => inPlace('add_', x, () => ew.add(x, o));
export const sub_ = (x: Tensor, o: Operand): Tensor => inPlace('sub_', x, () => ew.sub(x, o));
export const mul_ = (x: Tensor, o: Operand): Tensor => inPlace('mul_', x, () => ew.mul(x, o));
export const div_ = (x: Tensor, o: Operand): Tensor => inPlace('div_', x, () => ew.div(x, o));
export const fill_ = (x: Tensor, v: number): Tensor => inPlace('fill_', x, () => full([], v, { dtype: x.dtype }));
export const zero_ = (x: Tensor): Tensor => fill_(x, 0);
