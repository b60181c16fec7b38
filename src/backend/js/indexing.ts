// Reference gather and scatter-add over strided views: the index view (int32) decides, along one
// axis, which element of the data each position reads from or adds into. Bounds are checked by
// the ops layer before a kernel runs.

import type { TypedArray } from '../../dtype.js';
import { allocArray } from '../../dtype.js';
import type { View } from '../backend.js';
import { contiguousStrides, numel } from '../../shape.js';
import { host } from './storage.js';
import { copy } from './elementwise.js';

/**
 * Calls fn(position, offset in a, offset in b) for every position of `shape` in row-major
 * order, where a and b are strided views of that shape (offsets include the views' own).
 */
function walk(shape: readonly number[], a: Pick<View, 'strides' | 'offset'>, b: Pick<View, 'strides' | 'offset'>, fn: (p: number, ia: number, ib: number) => void): void {
  const n = numel(shape);
  if (n === 0) return;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let ia = a.offset;
  let ib = b.offset;
  for (let p = 0; p < n; p++) {
    fn(p, ia, ib);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ia += a.strides[d]!;
      ib += b.strides[d]!;
      if (idx[d]! < shape[d]!) break;
      ia -= a.strides[d]! * shape[d]!;
      ib -= b.strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** out[p] = x[p with its `axis` coordinate replaced by index[p]]; out has index's shape. */
export function gather(x: View, axis: number, index: View): TypedArray {
  const src = host(x.storage);
  const ind = host(index.storage);
  const out = allocArray(x.storage.dtype, numel(index.shape));
  const sx = x.strides[axis]!;
  // x walked over index's shape with the axis stride zeroed: the index supplies that coordinate
  const xs = x.strides.map((s, d) => (d === axis ? 0 : s));
  walk(index.shape, { strides: xs, offset: x.offset }, index, (p, ix, ii) => {
    out[p] = src[ix + ind[ii]! * sx]!;
  });
  return out;
}

/** A contiguous copy of base with src[p] added at base[p with its `axis` coordinate replaced by index[p]]. */
export function scatterAdd(base: View, axis: number, index: View, src: View): TypedArray {
  const out = copy(base, allocArray(base.storage.dtype, numel(base.shape)));
  const s = host(src.storage);
  const ind = host(index.storage);
  const os = contiguousStrides(base.shape);
  const so = os[axis]!;
  const walkOut = os.map((st, d) => (d === axis ? 0 : st));
  // walk index and src together; the output offset follows index's position with the axis zeroed
  const srcView = { strides: src.strides, offset: src.offset };
  const pos = { strides: walkOut, offset: 0 };
  const offs: number[] = [];
  walk(index.shape, pos, index, (_p, io, ii) => { offs.push(io + ind[ii]! * so); });
  walk(index.shape, srcView, srcView, (p, is) => { out[offs[p]!]! += s[is]!; });
  return out;
}
