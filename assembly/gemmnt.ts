// The dot-product GEMM: C[m, n] = A[m, k] . B[n, k]^T with both operands contiguous along k,
// read in place (no packing), and on each value of C, once its sum is done and before it is
// stored, a Linear layer's epilogue (+ bias, eval-mode BatchNorm1d + ReLU). It runs a Linear
// layer's forward (x @ W^T) and the weight gradient of convolutions with few columns per filter
// and a huge k (drivers/conv.ts).
//
// Bits: each C element is one dot product, the same at any tile: four f32x4 lane sums over k in
// steps of 4 (f32 mul, then f32 add: no fused multiply-add in any build), their horizontal sum
// (l0 + l1) + (l2 + l3), then the scalar tail (r += a * b for k mod 4). r is stored as is: it is
// what the former C += r on a zeroed C gave, +0 + r, since r is never -0 (its sums start at +0
// and add no -0 to a -0) and the add keeps a NaN's bits. The epilogue is that of addRowBias then
// bnForward with the ReLU, element by element.
//
// Register tile: 2 rows of A x 4 rows of B, 8 f32x4 accumulators (+ 2 + 4 loads: V8 keeps them
// in registers; 3 x 3 or more accumulators spill). Measured one thread, kernel alone, m x n x k
// 128 x 256 x 3136 (the encoder's Linear) / 128 x 3136 x 256 (the decoder's), medians of 15 on a
// shared machine: 2 x 3 tiles 5.5 / 5.8 ms, 2 x 4 4.9 / 5.4, 4 x 2 5.0 / 5.4, 3 x 3 6.4 / 6.2,
// 2 x 3 with k unrolled by 4 8.0 / 7.9 (binaryen nests the unrolled sums so that every load stays
// live: spills); neither the loop order within a tile nor the tile sizes changed much. At the end
// of a tile, a row's four lane sums are added horizontally all at once (a 4 x 4 transpose, then
// the same two levels of adds), and the row's four values take the epilogue and one store as one
// f32x4. Also measured no faster (2026-12-01, kernel alone, interleaved with this one): k by two
// steps of 4 per trip (-1 to -4%), pointers stepped instead of indexed (-4 to -8%), and for k <=
// 1024 the columns outside the row pairs (+1 to +3%, within the noise). With k = 256 a 2 x 4 tile
// spends ~8% in its horizontal sums, epilogue and setup (38 GFLOP/s, 41 at k = 1024).

import { relu4 } from './norm';

/** s + x * y: an f32 product, then an f32 sum (in every build: never gemm.ts's madd, fused in the relaxed one). */
@inline function mulAdd(s: v128, x: v128, y: v128): v128 { return f32x4.add(s, f32x4.mul(x, y)); }

/** [(l0 + l1) + (l2 + l3)] of s0, s1, s2, s3 (each as a scalar hsum would add them), as one f32x4. */
@inline function hsum4x4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const p01 = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 4, 2, 6), v128.shuffle<f32>(s0, s1, 1, 5, 3, 7));
  const p23 = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 4, 2, 6), v128.shuffle<f32>(s2, s3, 1, 5, 3, 7));
  return f32x4.add(v128.shuffle<f32>(p01, p23, 0, 1, 4, 5), v128.shuffle<f32>(p01, p23, 2, 3, 6, 7));
}

/** w (1..4) floats at p in lanes 0..w-1 (the others 0): no read past them. */
@inline function loadPart(p: usize, w: i32): v128 {
  if (w == 4) return v128.load(p);
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (w > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (w > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Store lanes 0..w-1 of v at q. */
@inline function storePart(q: usize, v: v128, w: i32): void {
  if (w == 4) { v128.store(q, v); return; }
  store<f32>(q, f32x4.extract_lane(v, 0));
  if (w > 1) store<f32>(q, f32x4.extract_lane(v, 1), 4);
  if (w > 2) store<f32>(q, f32x4.extract_lane(v, 2), 8);
}

/**
 * The epilogue on four values of a row: + bias (lanes bv) where bias != 0, then where mean != 0
 * y = x * scale + shift and the ReLU (lanes sc, sh: addRowBias's and bnForward's f32 operations).
 */
@inline function epilogue(r: v128, bias: usize, mean: usize, bv: v128, sc: v128, sh: v128): v128 {
  let v = r;
  if (bias) v = f32x4.add(v, bv);
  if (mean) v = relu4(f32x4.add(f32x4.mul(v, sc), sh));
  return v;
}

/**
 * One tile: rr (1, 2) rows of A (at a0, a1) by w (1..4) rows of B from row j (B's rows ldb bytes
 * apart), to C's columns j.. of the rows at c0, c1 (epilogue parameters: gemmNT's). rr and w are
 * constants where it is inlined: the unused accumulators and loads fold away.
 */
@inline function tile(rr: i32, w: i32, k: i32, a0: usize, a1: usize, b: usize, ldb: usize, c0: usize, c1: usize, j: i32,
  bias: usize, mean: usize, invstd: usize, wt: usize, bb: usize): void {
  const b0 = b + <usize>j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
  const z = f32x4.splat(0);
  let s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    const o = <usize>p << 2;
    const x0 = v128.load(a0 + o);
    const x1 = rr > 1 ? v128.load(a1 + o) : z;
    const y0 = v128.load(b0 + o);
    s00 = mulAdd(s00, x0, y0);
    if (rr > 1) s10 = mulAdd(s10, x1, y0);
    if (w > 1) { const y1 = v128.load(b1 + o); s01 = mulAdd(s01, x0, y1); if (rr > 1) s11 = mulAdd(s11, x1, y1); }
    if (w > 2) { const y2 = v128.load(b2 + o); s02 = mulAdd(s02, x0, y2); if (rr > 1) s12 = mulAdd(s12, x1, y2); }
    if (w > 3) { const y3 = v128.load(b3 + o); s03 = mulAdd(s03, x0, y3); if (rr > 1) s13 = mulAdd(s13, x1, y3); }
  }
  let r0 = hsum4x4(s00, s01, s02, s03);
  let r1 = rr > 1 ? hsum4x4(s10, s11, s12, s13) : z;
  for (; p < k; p++) {
    // the scalar tail, lane by lane: r += a * b (an f32 product, then an f32 sum)
    const o = <usize>p << 2;
    let y = f32x4.splat(load<f32>(b0 + o));
    if (w > 1) y = f32x4.replace_lane(y, 1, load<f32>(b1 + o));
    if (w > 2) y = f32x4.replace_lane(y, 2, load<f32>(b2 + o));
    if (w > 3) y = f32x4.replace_lane(y, 3, load<f32>(b3 + o));
    r0 = mulAdd(r0, f32x4.splat(load<f32>(a0 + o)), y);
    if (rr > 1) r1 = mulAdd(r1, f32x4.splat(load<f32>(a1 + o)), y);
  }
  // the epilogue's parameters of the w columns, once for both rows: bias, scale = invstd * w and
  // shift = b - mean * scale (bnForward's f32 operations)
  const jo = <usize>j << 2;
  const bv = bias ? loadPart(bias + jo, w) : z;
  const sc = mean ? f32x4.mul(loadPart(invstd + jo, w), loadPart(wt + jo, w)) : z;
  const sh = mean ? f32x4.sub(loadPart(bb + jo, w), f32x4.mul(loadPart(mean + jo, w), sc)) : z;
  storePart(c0 + jo, epilogue(r0, bias, mean, bv, sc, sh), w);
  if (rr > 1) storePart(c1 + jo, epilogue(r1, bias, mean, bv, sc, sh), w);
}

/** The tiles of rr (1, 2) rows of A at a0, a1 across C's n columns (row starts c0, c1). */
@inline function rowTiles(rr: i32, n: i32, k: i32, a0: usize, a1: usize, b: usize, ldb: usize, c0: usize, c1: usize,
  bias: usize, mean: usize, invstd: usize, wt: usize, bb: usize): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) tile(rr, 4, k, a0, a1, b, ldb, c0, c1, j, bias, mean, invstd, wt, bb);
  const rest = n - j;
  if (rest == 3) tile(rr, 3, k, a0, a1, b, ldb, c0, c1, j, bias, mean, invstd, wt, bb);
  else if (rest == 2) tile(rr, 2, k, a0, a1, b, ldb, c0, c1, j, bias, mean, invstd, wt, bb);
  else if (rest == 1) tile(rr, 1, k, a0, a1, b, ldb, c0, c1, j, bias, mean, invstd, wt, bb);
}

/**
 * C[m, n] = epilogue(A[m, k] . B[n, k]^T): rows of A and B contiguous along k (leading dims lda,
 * ldb elements; C row-major, ldc). Epilogue per column j of C (pointers at C's first column, 0
 * where absent): + bias[j], then with mean != 0 the eval-mode batch norm (mean, invstd, weight
 * wt, bias bb) and the ReLU. C is only written: no need to zero it.
 */
export function gemmNT(m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32,
  bias: usize, mean: usize, invstd: usize, wt: usize, bb: usize): void {
  const la = <usize>lda << 2, lb = <usize>ldb << 2, lc = <usize>ldc << 2;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = a + <usize>i * la, c0 = c + <usize>i * lc;
    rowTiles(2, n, k, a0, a0 + la, b, lb, c0, c0 + lc, bias, mean, invstd, wt, bb);
  }
  if (i < m) {
    const a0 = a + <usize>i * la, c0 = c + <usize>i * lc;
    rowTiles(1, n, k, a0, a0, b, lb, c0, c0, bias, mean, invstd, wt, bb);
  }
}
