// The fused, in-place Adam/AdamW update: the one op that mutates parameters, so optimisers
// stay free of backend details.

import type { AdamHyper, AdamStorages } from '../backend/backend.js';
import { fmtShape, shapeEq } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backend } from './kernel.js';
import { markFinite } from './finite.js';

/** One parameter's update: the parameter, its gradient and its two moments (all the same shape and dtype). */
export interface AdamTensors {
  param: Tensor;
  grad: Tensor;
  expAvg: Tensor;
  expAvgSq: Tensor;
}

const whole = (t: Tensor): boolean => t.isContiguous() && t.offset === 0 && t.storage.size === t.numel;

/**
 * Update each param, expAvg and expAvgSq in place from its grad, all with the same
 * hyperparameters: one backend call for them all where the backend batches (adamUpdateMany).
 */
export function adamUpdateMany_(items: readonly AdamTensors[], h: AdamHyper): void {
  const b = backend();
  // a parameter that is a view of a bigger storage is updated in a copy, then written back
  const work = items.map(({ param, grad, expAvg, expAvgSq }) => {
    const g = whole(grad) ? grad : grad.clone();
    for (const [name, t] of [['grad', g], ['expAvg', expAvg], ['expAvgSq', expAvgSq]] as const) {
      if (!shapeEq(t.shape, param.shape) || t.dtype !== param.dtype) {
        throw new Error(`adamUpdate_: ${name} is ${t.dtype} ${fmtShape(t.shape)}, parameter is ${param.dtype} ${fmtShape(param.shape)}`);
      }
      if (!whole(t)) throw new Error(`adamUpdate_: ${name} must own a contiguous storage (optimiser state is never a view)`);
    }
    return { param, p: whole(param) ? param : param.clone(), g, expAvg, expAvgSq };
  });
  const storages = work.map(({ p, g, expAvg, expAvgSq }): AdamStorages => [p.storage, g.storage, expAvg.storage, expAvgSq.storage]);
  const finite = b.adamUpdateMany ? b.adamUpdateMany(storages, h) : storages.map(([p, g, m, v]) => b.adamUpdate(p, g, m, v, h));
  work.forEach(({ param, p, expAvg, expAvgSq }, i) => {
    expAvg._bumpVersion();
    expAvgSq._bumpVersion();
    if (p !== param) param.copy_(p); // bumps param's version
    else param._bumpVersion();
    if (finite[i] === true) markFinite(...(p === param ? [param, expAvg, expAvgSq] : [expAvg, expAvgSq])); // allFinite need not read them again
  });
}
