// The fused, in-place Adam/AdamW update: the one op that mutates parameters, so optimisers
// stay free of backend details.

import type { AdamHyper } from '../backend/backend.js';
import { fmtShape, shapeEq } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backend } from './kernel.js';
import { markFinite } from './finite.js';

const whole = (t: Tensor): boolean => t.isContiguous() && t.offset === 0 && t.storage.size === t.numel;

/** Update param, expAvg and expAvgSq in place from grad (all the same shape and dtype). */
export function adamUpdate_(param: Tensor, grad: Tensor, expAvg: Tensor, expAvgSq: Tensor, h: AdamHyper): void {
  const g = whole(grad) ? grad : grad.clone();
  for (const [name, t] of [['grad', g], ['expAvg', expAvg], ['expAvgSq', expAvgSq]] as const) {
    if (!shapeEq(t.shape, param.shape) || t.dtype !== param.dtype) {
      throw new Error(`adamUpdate_: ${name} is ${t.dtype} ${fmtShape(t.shape)}, parameter is ${param.dtype} ${fmtShape(param.shape)}`);
    }
    if (!whole(t)) throw new Error(`adamUpdate_: ${name} must own a contiguous storage (optimiser state is never a view)`);
  }
  expAvg._bumpVersion();
  expAvgSq._bumpVersion();
  if (whole(param)) {
    const finite = backend().adamUpdate(param.storage, g.storage, expAvg.storage, expAvgSq.storage, h);
    param._bumpVersion();
    if (finite === true) markFinite(param, expAvg, expAvgSq); // allFinite need not read them again
    return;
  }
  const p = param.clone();
  if (backend().adamUpdate(p.storage, g.storage, expAvg.storage, expAvgSq.storage, h) === true) markFinite(expAvg, expAvgSq);
  param.copy_(p);
}
