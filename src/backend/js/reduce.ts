// Reference reductions: the reduced axes are moved innermost, so each output element owns a
// run of consecutive rows. Sums accumulate in float64.

import type { TypedArray } from '../../dtype.js';
import { allocArray, isFloat } from '../../dtype.js';
import type { ReduceOp, View } from '../backend.js';
import { numel } from '../../shape.js';
import { host } from './storage.js';
import { copy } from './elementwise.js';
import { forEachRow, permuteView } from './strided.js';

function splitAxes(x: View, axes: readonly number[]): { view: View; outSize: number; inner: number; boundary: number } {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const view = permuteView(x, [...kept, ...axes]);
  const inner = axes.reduce((p, a) => p * x.shape[a]!, 1);
  return { view, outSize: numel(kept.map((d) => x.shape[d]!)), inner, boundary: kept.length };
}

export function reduce(op: ReduceOp, x: View, axes: readonly number[]): TypedArray {
  const src = host(x.storage);
  const { view, outSize, inner, boundary } = splitAxes(x, axes);
  const acc = new Float64Array(outSize).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
  if (inner === 1) {
    return copy(x, allocArray(x.storage.dtype, outSize)); // reducing size-1 dims only
  } else if (inner > 0) {
    forEachRow(view.shape, [view], (offs, start, len, st) => {
      const o = Math.floor(start / inner);
      let a = acc[o]!;
      for (let j = 0, i = offs[0]!, s = st[0]!; j < len; j++, i += s) {
        const v = src[i]!;
        if (op === 'sum') a += v;
        else if (v !== v || (op === 'max' ? v > a : v < a)) a = a !== a ? a : v; // NaN propagates
      }
      acc[o] = a;
    }, boundary);
  } else if (op !== 'sum') {
    throw new Error(`${op}: cannot reduce over an empty dimension`);
  }
  const out = allocArray(x.storage.dtype, outSize);
  out.set(acc);
  return out;
}

export function argReduce(op: 'max' | 'min', x: View, axis: number): TypedArray {
  const src = host(x.storage);
  const { view, outSize, inner, boundary } = splitAxes(x, [axis]);
  if (inner === 0) throw new Error(`arg${op}: cannot reduce over an empty dimension`);
  const out = new Int32Array(outSize);
  if (inner === 1) return out;
  forEachRow(view.shape, [view], (offs, start, len, st) => {
    let best = src[offs[0]!]!;
    let bi = 0;
    for (let j = 1, i = offs[0]! + st[0]!; j < len && best === best; j++, i += st[0]!) {
      const v = src[i]!;
      if (v !== v || (op === 'max' ? v > best : v < best)) {
        best = v;
        bi = j;
      }
    }
    out[start / inner] = bi;
  }, boundary);
  return out;
}

/** Whether every value of the views is finite (integer and bool values always are). */
export function allFinite(xs: readonly View[]): boolean {
  for (const x of xs) {
    if (!isFloat(x.storage.dtype)) continue;
    const src = host(x.storage);
    let ok = true;
    forEachRow(x.shape, [x], (offs, _start, len, st) => {
      for (let j = 0, i = offs[0]!, s = st[0]!; j < len && ok; j++, i += s) ok = Number.isFinite(src[i]!);
    });
    if (!ok) return false;
  }
  return true;
}
