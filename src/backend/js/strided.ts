// Walking strided views row by row: the one loop every reference kernel is built on.

import type { View } from '../backend.js';

/**
 * Calls fn once per innermost row of `shape`, with each view's offset of the row start, the
 * row's position in a contiguous output, the row length and each view's innermost stride.
 */
export function forEachRow(
  shapeIn: readonly number[],
  viewsIn: readonly Pick<View, 'strides' | 'offset'>[],
  fn: (offs: number[], outStart: number, len: number, inner: number[]) => void,
  boundary = 0,
): void {
  const { shape, views } = coalesce(shapeIn, viewsIn, boundary);
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

/**
 * Merge adjacent dims that every view walks as one (stride[d] = stride[d+1] * shape[d+1]) and
 * drop size-1 dims, so rows get as long as possible: [N, C, H, W] + [1, C, 1, 1] walks rows of H*W.
 * Dims before `boundary` never merge with dims from `boundary` on (reductions keep their split).
 */
export function coalesce(
  shape: readonly number[],
  views: readonly Pick<View, 'strides' | 'offset'>[],
  boundary = 0,
): { shape: number[]; views: { strides: number[]; offset: number }[] } {
  const dims = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const outShape: number[] = [];
  const outStrides: number[][] = views.map(() => []);
  let lastDim = -1;
  for (const d of dims) {
    const last = outShape.length - 1;
    const crosses = lastDim < boundary && d >= boundary;
    lastDim = d;
    const mergeable = last >= 0 && !crosses && views.every((v, k) => outStrides[k]![last] === v.strides[d]! * shape[d]!);
    if (mergeable) {
      outShape[last]! *= shape[d]!;
      views.forEach((v, k) => (outStrides[k]![last] = v.strides[d]!));
    } else {
      outShape.push(shape[d]!);
      views.forEach((v, k) => outStrides[k]!.push(v.strides[d]!));
    }
  }
  if (shape.includes(0)) return { shape: [0], views: views.map((v) => ({ strides: [1], offset: v.offset })) };
  return { shape: outShape, views: views.map((v, k) => ({ strides: outStrides[k]!, offset: v.offset })) };
}
