// Walking strided views row by row: the one loop every reference kernel is built on.

import type { View } from '../backend.js';

/**
 * Calls fn once per innermost row of `shape`, with each view's offset of the row start, the
 * row's position in a contiguous output, the row length and each view's innermost stride.
 */
export function forEachRow(
  shape: readonly number[],
  views: readonly Pick<View, 'strides' | 'offset'>[],
  fn: (offs: number[], outStart: number, len: number, inner: number[]) => void,
): void {
  const rank = shape.length;
  const offs = views.map((v) => v.offset);
  if (rank === 0) {
    fn(offs, 0, 1, views.map(() => 0));
    return;
  }
  const len = shape[rank - 1]!;
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= shape[d]!;
  if (len === 0 || rows === 0) return;
  const inner = views.map((v) => v.strides[rank - 1]!);
  const idx = new Array<number>(rank).fill(0);
  for (let r = 0; r < rows; r++) {
    fn(offs, r * len, len, inner);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < views.length; k++) offs[k]! += views[k]!.strides[d]!;
      if (idx[d]! < shape[d]!) break;
      for (let k = 0; k < views.length; k++) offs[k]! -= views[k]!.strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** A view with its dims reordered (no data moves). */
export function permuteView<V extends Pick<View, 'shape' | 'strides' | 'offset'>>(v: V, order: readonly number[]): V {
  return { ...v, shape: order.map((d) => v.shape[d]!), strides: order.map((d) => v.strides[d]!) };
}
