// Reference batch-norm kernels over contiguous [n, c, s] data, float64 accumulation.

import type { TypedArray } from '../../dtype.js';
import { allocArray, dtypeOfArray } from '../../dtype.js';
import type { ChannelGeometry } from '../backend.js';

/** Calls fn(channel, start) for each contiguous run of s values of a channel. */
function forEachRun(g: ChannelGeometry, fn: (ch: number, start: number) => void): void {
  for (let i = 0; i < g.n; i++) for (let ch = 0; ch < g.c; ch++) fn(ch, (i * g.c + ch) * g.s);
}

export function batchNormStats(x: TypedArray, g: ChannelGeometry): { mean: TypedArray; variance: TypedArray } {
  const sum = new Float64Array(g.c);
  forEachRun(g, (ch, st) => {
    let a = 0;
    for (let j = 0; j < g.s; j++) a += x[st + j]!;
    sum[ch]! += a;
  });
  const count = g.n * g.s;
  const m = sum.map((v) => v / count);
  const sq = new Float64Array(g.c);
  forEachRun(g, (ch, st) => {
    let a = 0;
    const mu = m[ch]!;
    for (let j = 0; j < g.s; j++) a += (x[st + j]! - mu) ** 2;
    sq[ch]! += a;
  });
  const dtype = dtypeOfArray(x);
  const mean = allocArray(dtype, g.c);
  const variance = allocArray(dtype, g.c);
  mean.set(m);
  variance.set(sq.map((v) => v / count));
  return { mean, variance };
}

export function batchNormForward(x: TypedArray, mean: TypedArray, invstd: TypedArray, w: TypedArray, b: TypedArray, g: ChannelGeometry): TypedArray {
  const y = allocArray(dtypeOfArray(x), x.length);
  forEachRun(g, (ch, st) => {
    const scale = invstd[ch]! * w[ch]!;
    const shift = b[ch]! - mean[ch]! * scale;
    for (let j = 0; j < g.s; j++) y[st + j] = x[st + j]! * scale + shift;
  });
  return y;
}

export function batchNormBackward(
  dy: TypedArray, x: TypedArray, mean: TypedArray, invstd: TypedArray, w: TypedArray, g: ChannelGeometry, batchStats: boolean,
): { dx: TypedArray; dweight: TypedArray; dbias: TypedArray } {
  const dtype = dtypeOfArray(x);
  const sumDy = new Float64Array(g.c);
  const sumDyXhat = new Float64Array(g.c);
  forEachRun(g, (ch, st) => {
    let a = 0;
    let b = 0;
    const mu = mean[ch]!;
    const is = invstd[ch]!;
    for (let j = 0; j < g.s; j++) {
      const d = dy[st + j]!;
      a += d;
      b += d * (x[st + j]! - mu) * is;
    }
    sumDy[ch]! += a;
    sumDyXhat[ch]! += b;
  });
  const count = g.n * g.s;
  const dx = allocArray(dtype, x.length);
  forEachRun(g, (ch, st) => {
    const k = invstd[ch]! * w[ch]!;
    const mu = mean[ch]!;
    const is = invstd[ch]!;
    if (!batchStats) {
      for (let j = 0; j < g.s; j++) dx[st + j] = dy[st + j]! * k;
      return;
    }
    // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
    const mDy = sumDy[ch]! / count;
    const mDyXhat = sumDyXhat[ch]! / count;
    for (let j = 0; j < g.s; j++) dx[st + j] = k * (dy[st + j]! - mDy - (x[st + j]! - mu) * is * mDyXhat);
  });
  const dweight = allocArray(dtype, g.c);
  const dbias = allocArray(dtype, g.c);
  dweight.set(sumDyXhat);
  dbias.set(sumDy);
  return { dx, dweight, dbias };
}
