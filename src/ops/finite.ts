// allFinite: isfinite(t).all() over a list of tensors (the Trainer's divergence check reads every
// parameter, buffer and Adam moment each step), and what lets it skip tensors already known to
// be finite: a kernel that wrote a whole storage and checked every value on the way (Adam's
// update, backend.adamUpdate returning true) marks it finite at that storage's version; any
// later write bumps the version (every in-place op does, copy_ and adamUpdateMany_), which ends
// the mark. So a training step's check reads only what no such kernel wrote: the parameters Adam
// did not update, batch norm's running statistics, other buffers.

import type { Storage } from '../backend/backend.js';
import { isFloat } from '../dtype.js';
import { noGrad } from '../autograd/grad-mode.js';
import { full } from '../creation.js';
import { Tensor } from '../tensor.js';
import { backend, cast, checkTensor, fromStorage } from './kernel.js';
import { cat } from './movement.js';

/** Storages whose every value was finite at the version recorded here. */
const finiteAt = new WeakMap<Storage, number>();

/** Every value of these tensors' (whole) storages is finite now: a kernel checked them as it wrote them. */
export function markFinite(...ts: Tensor[]): void {
  for (const t of ts) finiteAt.set(t.storage, t.version);
}

const knownFinite = (t: Tensor): boolean => finiteAt.get(t.storage) === t.version;

/**
 * Whether every element of every tensor is finite (neither NaN nor +-Infinity), as a 0-d bool
 * tensor: torch.isfinite(t).all() for a list of tensors (integer and bool ones are finite).
 * One pass over the values where the backend offers allFinite, skipping tensors an Adam step
 * just wrote and checked; else max(|t|) per tensor (NaN propagates through max), the largest of
 * those below Infinity: float ops only, so a GPU reads nothing back.
 */
export function allFinite(tensors: Tensor | Iterable<Tensor>): Tensor {
  const ts = [...(tensors instanceof Tensor ? [tensors] : tensors)].map((t, i) => checkTensor('allFinite', t, `tensor ${i}`));
  const floats = ts.filter((t) => isFloat(t.dtype) && t.numel > 0 && !knownFinite(t));
  const b = backend();
  return noGrad(() => {
    if (b.allFinite) return fromStorage(b.allFinite(floats.map((t) => t.stridedView)), []);
    if (!floats.length) return full([], 1, { dtype: 'bool' });
    const dtype = floats.some((t) => t.dtype === 'float64') ? 'float64' : 'float32';
    return cat(floats.map((t) => cast(t.abs().max().reshape([1]), dtype))).max().lt(Infinity);
  });
}
