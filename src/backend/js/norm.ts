// Reference batch-norm kernels over contiguous [n, c, s] data: the oracle that the wasm and GPU
// kernels are tested against.
//
// Precision (PyTorch's CPU choice): the reductions accumulate in float64 (the batch mean and
// variance, two passes; the backward's per-channel sums of dy and of dy * (x - mean)); the
// elementwise passes compute in the data's dtype, float32 for float32 tensors, each operation
// rounded on its own (Math.fround; no fused multiply-add), with per-channel coefficients:
//
//   forward      scale = invstd * w, shift = b - mean * scale      (float32 operations, as PyTorch's)
//                y = x * scale + shift
//   backward     dbias = sum(dy), dweight = sum(dy * (x - mean)) * invstd      (float64, rounded once)
//     batch statistics: k = scale; a = -(invstd * w) * invstd * (dweight / N) and
//                c = -(invstd * w) * (dbias / N) in float64 from the unrounded sums, each rounded once;
//                dx = dy * k + ((x - mean) * a + c)
//     running statistics: dx = dy * k
//
// The same operations in the same order in assembly/norm.ts and bnpool.ts (wasm) and the GPU
// backend, so those agree with this bit for bit on the elementwise passes given the same
// coefficients; their sums differ from these only by the order of the float64 additions.
// float64 tensors compute every step in float64.

import type { TypedArray } from '../../dtype.js';
import { allocArray, dtypeOfArray } from '../../dtype.js';
import type { ChannelGeometry } from '../backend.js';

/** The rounding of an elementwise step: to float32 for float32 data, none for float64. */
type Round = (v: number) => number;
const roundingOf = (a: TypedArray): Round => (a instanceof Float32Array ? Math.fround : (v) => v);

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

/** The forward's per-channel scale and shift (y = x * scale + shift), rounded by r. */
export function bnAffine(r: Round, mean: number, invstd: number, w: number, b: number): { scale: number; shift: number } {
  const scale = r(invstd * w);
  return { scale, shift: r(b - r(mean * scale)) };
}

export function batchNormForward(x: TypedArray, mean: TypedArray, invstd: TypedArray, w: TypedArray, b: TypedArray, g: ChannelGeometry): TypedArray {
  const r = roundingOf(x);
  const y = allocArray(dtypeOfArray(x), x.length);
  forEachRun(g, (ch, st) => {
    const { scale, shift } = bnAffine(r, mean[ch]!, invstd[ch]!, w[ch]!, b[ch]!);
    for (let j = 0; j < g.s; j++) y[st + j] = r(r(x[st + j]! * scale) + shift);
  });
  return y;
}

export function batchNormBackward(
  dy: TypedArray, x: TypedArray, mean: TypedArray, invstd: TypedArray, w: TypedArray, g: ChannelGeometry, batchStats: boolean,
): { dx: TypedArray; dweight: TypedArray; dbias: TypedArray } {
  const r = roundingOf(x);
  const dtype = dtypeOfArray(x);
  const sumDy = new Float64Array(g.c);
  const sumDyXc = new Float64Array(g.c);
  forEachRun(g, (ch, st) => {
    let a = 0;
    let b = 0;
    const mu = mean[ch]!;
    for (let j = 0; j < g.s; j++) {
      const d = dy[st + j]!;
      a += d;
      b += d * (x[st + j]! - mu);
    }
    sumDy[ch]! += a;
    sumDyXc[ch]! += b;
  });
  const sumDyXhat = sumDyXc.map((v, ch) => v * invstd[ch]!);
  const count = g.n * g.s;
  const dx = allocArray(dtype, x.length);
  forEachRun(g, (ch, st) => {
    const kk = invstd[ch]! * w[ch]!;
    const k = r(kk);
    if (!batchStats) {
      for (let j = 0; j < g.s; j++) dx[st + j] = r(dy[st + j]! * k);
      return;
    }
    // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) = dy * k + ((x - mean) * a + c)
    const a = r(-kk * invstd[ch]! * (sumDyXhat[ch]! / count));
    const c = r(-kk * (sumDy[ch]! / count));
    const mu = mean[ch]!;
    for (let j = 0; j < g.s; j++) dx[st + j] = r(r(dy[st + j]! * k) + r(r(r(x[st + j]! - mu) * a) + c));
  });
  const dweight = allocArray(dtype, g.c);
  const dbias = allocArray(dtype, g.c);
  dweight.set(sumDyXhat);
  dbias.set(sumDy);
  return { dx, dweight, dbias };
}
