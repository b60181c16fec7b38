// Winograd F(2x2, 3x3) convolution (Lavin & Gray, 2015) for 3x3 kernels at stride 1: each 2x2
// output tile of each (output, input) channel pair costs 16 multiplies instead of 36, so the
// matrix products shrink 2.25x and no im2col matrix (9x the input) is written. With
//   V = Bt d B  (a 4x4 input tile d),  U = G g Gt  (a 3x3 filter g),  Y = At (sum_c U . V) A
// the channel sums are 16 independent products M[xi] = U[xi] (m x k) . V[xi] (k x tiles), run by
// the GEMM's 4x8 micro-kernel on operands that the transforms write already packed.
//
// Layouts (float32; TypeScript allocates every buffer):
//   u   transformed filters, as A panels:  [16][mp / 4][k][4]   (mp = m rounded up to 4)
//   xp  padded input chunk:                [nb][k][hp][wp]      (the image at (padH, padW), zeros
//       around; hp = 2 * th + 2, wp = 2 * tw + 2 so every tile's 4x4 window is inside)
//   v   transformed tiles of one block:    [16][tb / 8][k][8]   (tb = block tiles rounded up to 8)
//   mm  products of one block, interleaved: [mp][tbp / 4][16][4]   (tbp = tb rounded up to 8),
//       then 2 T words for the output transform's table of tiles (outputTable)
//   y   output chunk (NCHW):               [nb][m][oh][ow]
// and for the weight gradient (winogradGradSums), with kp = k rounded up to 8:
//   v   the block's V as B panels over channels: [16][kp / 8][tb][8]
//   z   Z = A dY At of the block, as A panels:   [16][mp / 4][tb][4]
//   du  the sums over tiles:                      [16][mp][kp]
// Each of the 16 matrices of v and z is followed by XI_PAD floats (below).
// Tiles are numbered image by image, row by row: t = (i * th + ty) * tw + tx.
//
// Geometry from i32[16] at `geo`: 0 nb, 1 k (input channels), 2 m (output channels), 3 th,
// 4 tw, 5 hp, 6 wp, 7 oh, 8 ow, 9 T (tiles per block, a multiple of 8).

import { kernel4x8, kernel4x8Split } from './gemm';
import { affine4, bnScale, bnShift, relu4 } from './norm';
import { maxValue4 } from './pool';

@inline export function gi(geo: usize, i: i32): i32 { return load<i32>(geo + (<usize>i << 2)); }

/**
 * Bytes between the 16 matrices of a block's V and Z: their size plus 64 bytes. The transforms
 * read or write all 16 at once, and a size that is a multiple of 4 KiB (64 x 80 floats) would put
 * the 16 streams in the same L1 sets: the padding made the weight gradient's dY transform 8x faster.
 * TypeScript sizes the buffers as 16 * (floats + XI_PAD).
 */
export const XI_PAD: i32 = 16;
@inline export function xiBytes(floats: i32): usize { return <usize>(floats + XI_PAD) << 2; }

/**
 * u = G g Gt for every filter, packed as A panels. flip == 0: g[mi][ki] = w[mi][ki] (w is
 * [m][k][3][3], a conv's own weight). flip == 1: g[mi][ki] = w[ki][mi] rotated 180 degrees (w is
 * [k][m][3][3]): the filters of the backward-data convolution. Computed in f64, rounded once.
 */
export function winogradFilter(w: usize, u: usize, m: i32, k: i32, flip: i32): void {
  const mp = (m + 3) & ~3;
  memory.fill(u, 0, <usize>16 * mp * k << 2);
  const xiStride = (<usize>mp * k) << 2;
  for (let mi = 0; mi < m; mi++) {
    for (let ki = 0; ki < k; ki++) {
      const src = w + ((<usize>(flip ? ki * m + mi : mi * k + ki) * 9) << 2);
      const dst = u + ((((<usize>(mi >> 2)) * k + ki) * 4 + (mi & 3)) << 2);
      const g00 = tap(src, 0, flip), g01 = tap(src, 1, flip), g02 = tap(src, 2, flip);
      const g10 = tap(src, 3, flip), g11 = tap(src, 4, flip), g12 = tap(src, 5, flip);
      const g20 = tap(src, 6, flip), g21 = tap(src, 7, flip), g22 = tap(src, 8, flip);
      // t = G g (rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2), then each row times Gt
      filterRow(dst, xiStride, 0, g00, g01, g02);
      filterRow(dst, xiStride, 4, 0.5 * (g00 + g10 + g20), 0.5 * (g01 + g11 + g21), 0.5 * (g02 + g12 + g22));
      filterRow(dst, xiStride, 8, 0.5 * (g00 - g10 + g20), 0.5 * (g01 - g11 + g21), 0.5 * (g02 - g12 + g22));
      filterRow(dst, xiStride, 12, g20, g21, g22);
    }
  }
}

/** Filter tap e (row-major 3x3), rotated 180 degrees when flip != 0. */
@inline function tap(src: usize, e: i32, flip: i32): f64 {
  return <f64>load<f32>(src + (<usize>(flip ? 8 - e : e) << 2));
}

/** One row of U = t Gt: (t0, (t0 + t1 + t2) / 2, (t0 - t1 + t2) / 2, t2) to U[xi0 .. xi0 + 3]. */
@inline function filterRow(dst: usize, xiStride: usize, xi0: i32, t0: f64, t1: f64, t2: f64): void {
  const p = dst + <usize>xi0 * xiStride;
  store<f32>(p, <f32>t0);
  store<f32>(p + xiStride, <f32>(0.5 * (t0 + t1 + t2)));
  store<f32>(p + 2 * xiStride, <f32>(0.5 * (t0 - t1 + t2)));
  store<f32>(p + 3 * xiStride, <f32>t2);
}

// 4x4 transpose of rows a, b, c, d (lane l of the result j is element j of row l)
@inline export function lo(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 4, 1, 5); }
@inline export function hi(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 2, 6, 3, 7); }
@inline export function lo64(a: v128, b: v128): v128 { return v128.shuffle<f64>(a, b, 0, 2); }
@inline export function hi64(a: v128, b: v128): v128 { return v128.shuffle<f64>(a, b, 1, 3); }

/** Byte offset of tile t's (0, 0) corner within a channel-0 plane of image i, for a plane of width `wd` and tile rows `rows` apart. */
@inline export function tileBase(t: i32, th: i32, tw: i32, planeStride: i32, wd: i32): usize {
  const img = t / (th * tw);
  const r = t - img * th * tw;
  const ty = r / tw;
  const tx = r - ty * tw;
  return (<usize>img * planeStride + <usize>(2 * ty) * wd + <usize>(2 * tx)) << 2;
}

/**
 * V = Bt d B for four 4x4 windows at once (lane l is the window at p_l, rows `row` bytes apart):
 * load row r of each window, transpose so each vector holds one d[r][j] across the lanes, then
 * V[xi] (4 lanes) to dst + xi * xiStride.
 */
@inline function transform4(p0: usize, p1: usize, p2: usize, p3: usize, row: usize, dst: usize, xiStride: usize): void {
  let a = v128.load(p0), b = v128.load(p1), c = v128.load(p2), d = v128.load(p3);
  let ab = lo(a, b), cd = lo(c, d), ab2 = hi(a, b), cd2 = hi(c, d);
  const d00 = lo64(ab, cd), d01 = hi64(ab, cd), d02 = lo64(ab2, cd2), d03 = hi64(ab2, cd2);
  a = v128.load(p0 + row); b = v128.load(p1 + row); c = v128.load(p2 + row); d = v128.load(p3 + row);
  ab = lo(a, b); cd = lo(c, d); ab2 = hi(a, b); cd2 = hi(c, d);
  const d10 = lo64(ab, cd), d11 = hi64(ab, cd), d12 = lo64(ab2, cd2), d13 = hi64(ab2, cd2);
  a = v128.load(p0 + 2 * row); b = v128.load(p1 + 2 * row); c = v128.load(p2 + 2 * row); d = v128.load(p3 + 2 * row);
  ab = lo(a, b); cd = lo(c, d); ab2 = hi(a, b); cd2 = hi(c, d);
  const d20 = lo64(ab, cd), d21 = hi64(ab, cd), d22 = lo64(ab2, cd2), d23 = hi64(ab2, cd2);
  a = v128.load(p0 + 3 * row); b = v128.load(p1 + 3 * row); c = v128.load(p2 + 3 * row); d = v128.load(p3 + 3 * row);
  ab = lo(a, b); cd = lo(c, d); ab2 = hi(a, b); cd2 = hi(c, d);
  const d30 = lo64(ab, cd), d31 = hi64(ab, cd), d32 = lo64(ab2, cd2), d33 = hi64(ab2, cd2);
  btdb4(d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33, dst, xiStride);
}

/** V = Bt d B from d[r][j] (each across the four windows' lanes) to dst + xi * xiStride. */
@inline function btdb4(d00: v128, d01: v128, d02: v128, d03: v128, d10: v128, d11: v128, d12: v128, d13: v128,
  d20: v128, d21: v128, d22: v128, d23: v128, d30: v128, d31: v128, d32: v128, d33: v128, dst: usize, xiStride: usize): void {
  // Bt d: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3), then each row times B the same way
  rowTransform(dst, xiStride, 0, f32x4.sub(d00, d20), f32x4.sub(d01, d21), f32x4.sub(d02, d22), f32x4.sub(d03, d23));
  rowTransform(dst, xiStride, 4, f32x4.add(d10, d20), f32x4.add(d11, d21), f32x4.add(d12, d22), f32x4.add(d13, d23));
  rowTransform(dst, xiStride, 8, f32x4.sub(d20, d10), f32x4.sub(d21, d11), f32x4.sub(d22, d12), f32x4.sub(d23, d13));
  rowTransform(dst, xiStride, 12, f32x4.sub(d10, d30), f32x4.sub(d11, d31), f32x4.sub(d12, d32), f32x4.sub(d13, d33));
}

/** Columns 0, 2, 4, 6 (even) and 1, 3, 5, 7 (odd) of the eight floats a, b: one column of four windows 2 floats apart. */
@inline function evens(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 2, 4, 6); }
@inline function odds(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 1, 3, 5, 7); }

/**
 * transform4 for four windows side by side in one tile row (lane l at p + 8 l): each d[r][j]
 * across the lanes is every other float of row r from column j, so one shuffle of two loads
 * (half the shuffles of the transpose; the same values).
 */
@inline function transform4Row(p: usize, row: usize, dst: usize, xiStride: usize): void {
  let a = v128.load(p), b = v128.load(p, 16), c = v128.load(p, 8), d = v128.load(p, 24);
  const d00 = evens(a, b), d01 = odds(a, b), d02 = evens(c, d), d03 = odds(c, d);
  a = v128.load(p + row); b = v128.load(p + row, 16); c = v128.load(p + row, 8); d = v128.load(p + row, 24);
  const d10 = evens(a, b), d11 = odds(a, b), d12 = evens(c, d), d13 = odds(c, d);
  a = v128.load(p + 2 * row); b = v128.load(p + 2 * row, 16); c = v128.load(p + 2 * row, 8); d = v128.load(p + 2 * row, 24);
  const d20 = evens(a, b), d21 = odds(a, b), d22 = evens(c, d), d23 = odds(c, d);
  a = v128.load(p + 3 * row); b = v128.load(p + 3 * row, 16); c = v128.load(p + 3 * row, 8); d = v128.load(p + 3 * row, 24);
  const d30 = evens(a, b), d31 = odds(a, b), d32 = evens(c, d), d33 = odds(c, d);
  btdb4(d00, d01, d02, d03, d10, d11, d12, d13, d20, d21, d22, d23, d30, d31, d32, d33, dst, xiStride);
}

/** V for tiles [t0, t0 + tb), all k channels, as B panels [16][tbp / 8][k][8] (lanes = 4 tiles). */
function inputTransform(xp: usize, v: usize, t0: i32, tb: i32, tbp: i32, total: i32, k: i32, th: i32, tw: i32, hp: i32, wp: i32): void {
  inputTransformOf(16, xp, v, t0, tb, tbp, total, k, th, tw, hp, wp);
}

/** The same for F(2x2, 2x2)'s 3x3 windows, B panels [9][tbp / 8][k][8] (./winogradStride2.ts). */
export function inputTransform9(xp: usize, v: usize, t0: i32, tb: i32, tbp: i32, total: i32, k: i32, th: i32, tw: i32, hp: i32, wp: i32): void {
  inputTransformOf(9, xp, v, t0, tb, tbp, total, k, th, tw, hp, wp);
}

/** V by tile blocks of `count` (16 or 9, a constant) matrices per window. */
@inline function inputTransformOf(count: i32, xp: usize, v: usize, t0: i32, tb: i32, tbp: i32, total: i32, k: i32, th: i32, tw: i32, hp: i32, wp: i32): void {
  const plane = <usize>(hp * wp) << 2;
  const row = <usize>wp << 2;
  const xiStride = xiBytes(tbp * k);
  const last = total - 1; // lanes past the end repeat the last tile (their products are never read)
  for (let q = 0; q < tb; q += 4) {
    let p0 = xp + tileBase(min(t0 + q, last), th, tw, k * hp * wp, wp);
    let dst = v + ((<usize>((q >> 3) * k * 8 + (q & 7))) << 2);
    if (q + 4 <= tb && (t0 + q) % tw + 3 < tw) {
      // the four tiles side by side in one tile row
      for (let ci = 0; ci < k; ci++) {
        if (count == 16) transform4Row(p0, row, dst, xiStride);
        else transform3Row(p0, row, dst, xiStride);
        p0 += plane;
        dst += 32;
      }
      continue;
    }
    let p1 = xp + tileBase(min(t0 + q + 1, last), th, tw, k * hp * wp, wp);
    let p2 = xp + tileBase(min(t0 + q + 2, last), th, tw, k * hp * wp, wp);
    let p3 = xp + tileBase(min(t0 + q + 3, last), th, tw, k * hp * wp, wp);
    for (let ci = 0; ci < k; ci++) {
      if (count == 16) transform4(p0, p1, p2, p3, row, dst, xiStride);
      else transform3(p0, p1, p2, p3, row, dst, xiStride);
      p0 += plane; p1 += plane; p2 += plane; p3 += plane;
      dst += 32;
    }
  }
}

/** Row r of F(2x2, 2x2)'s Bt d B: (e0 - e1, e1, e2 - e1) to V[xi0 .. xi0 + 2]. */
@inline function rowTransform3(dst: usize, xiStride: usize, xi0: i32, e0: v128, e1: v128, e2: v128): void {
  const base = dst + <usize>xi0 * xiStride;
  v128.store(base, f32x4.sub(e0, e1));
  v128.store(base + xiStride, e1);
  v128.store(base + 2 * xiStride, f32x4.sub(e2, e1));
}

/** V = Bt d B of F(2x2, 2x2) (./winogradStride2.ts) for four 3x3 windows (lane l: the window at p_l, rows `row` bytes apart) to dst + xi * xiStride. */
@inline export function transform3(p0: usize, p1: usize, p2: usize, p3: usize, row: usize, dst: usize, xiStride: usize): void {
  // row r of the four windows, transposed: d_rj holds d[r][j] of each window in its lane
  let a = v128.load(p0), b = v128.load(p1), c = v128.load(p2), d = v128.load(p3);
  let ab = lo(a, b), cd = lo(c, d);
  const d00 = lo64(ab, cd), d01 = hi64(ab, cd), d02 = lo64(hi(a, b), hi(c, d));
  a = v128.load(p0 + row); b = v128.load(p1 + row); c = v128.load(p2 + row); d = v128.load(p3 + row);
  ab = lo(a, b); cd = lo(c, d);
  const d10 = lo64(ab, cd), d11 = hi64(ab, cd), d12 = lo64(hi(a, b), hi(c, d));
  a = v128.load(p0 + 2 * row); b = v128.load(p1 + 2 * row); c = v128.load(p2 + 2 * row); d = v128.load(p3 + 2 * row);
  ab = lo(a, b); cd = lo(c, d);
  const d20 = lo64(ab, cd), d21 = hi64(ab, cd), d22 = lo64(hi(a, b), hi(c, d));
  btdb3(d00, d01, d02, d10, d11, d12, d20, d21, d22, dst, xiStride);
}

/** F(2x2, 2x2)'s V = Bt d B from d[r][j] (each across the four windows' lanes) to dst + xi * xiStride. */
@inline function btdb3(d00: v128, d01: v128, d02: v128, d10: v128, d11: v128, d12: v128, d20: v128, d21: v128, d22: v128, dst: usize, xiStride: usize): void {
  // Bt d: rows (d0 - d1, d1, d2 - d1), then each row times B the same way
  rowTransform3(dst, xiStride, 0, f32x4.sub(d00, d10), f32x4.sub(d01, d11), f32x4.sub(d02, d12));
  rowTransform3(dst, xiStride, 3, d10, d11, d12);
  rowTransform3(dst, xiStride, 6, f32x4.sub(d20, d10), f32x4.sub(d21, d11), f32x4.sub(d22, d12));
}

/** transform3 for four windows side by side in one tile row (lane l at p + 8 l), as transform4Row. */
@inline function transform3Row(p: usize, row: usize, dst: usize, xiStride: usize): void {
  let a = v128.load(p), b = v128.load(p, 16);
  const d00 = evens(a, b), d01 = odds(a, b), d02 = evens(v128.load(p, 8), v128.load(p, 24));
  a = v128.load(p + row); b = v128.load(p + row, 16);
  const d10 = evens(a, b), d11 = odds(a, b), d12 = evens(v128.load(p + row, 8), v128.load(p + row, 24));
  a = v128.load(p + 2 * row); b = v128.load(p + 2 * row, 16);
  const d20 = evens(a, b), d21 = odds(a, b), d22 = evens(v128.load(p + 2 * row, 8), v128.load(p + 2 * row, 24));
  btdb3(d00, d01, d02, d10, d11, d12, d20, d21, d22, dst, xiStride);
}

/**
 * V for tiles [t0, t0 + tb), all k channels, as B panels over channels [16][kp / 8][tb][8]
 * (lanes = 4 channels; channels past k repeat the last one, their products are never read).
 */
function inputTransformByChannel(xp: usize, v: usize, t0: i32, tb: i32, k: i32, kp: i32, th: i32, tw: i32, hp: i32, wp: i32): void {
  inputTransformByChannelOf(16, xp, v, t0, tb, k, kp, th, tw, hp, wp);
}

/** The same for F(2x2, 2x2)'s 3x3 windows, [9][kp / 8][tb][8] (./winogradStride2.ts winogradS2GradSums). */
export function inputTransformByChannel9(xp: usize, v: usize, t0: i32, tb: i32, k: i32, kp: i32, th: i32, tw: i32, hp: i32, wp: i32): void {
  inputTransformByChannelOf(9, xp, v, t0, tb, k, kp, th, tw, hp, wp);
}

/** V by channel of `count` (16 or 9, a constant) matrices per window. */
@inline function inputTransformByChannelOf(count: i32, xp: usize, v: usize, t0: i32, tb: i32, k: i32, kp: i32, th: i32, tw: i32, hp: i32, wp: i32): void {
  const plane = <usize>(hp * wp) << 2;
  const xiStride = xiBytes(kp * tb);
  for (let c0 = 0; c0 < k; c0 += 4) {
    const o1 = <usize>min(1, k - 1 - c0) * plane, o2 = <usize>min(2, k - 1 - c0) * plane, o3 = <usize>min(3, k - 1 - c0) * plane;
    let dst = v + ((<usize>((c0 >> 3) * tb * 8 + (c0 & 7))) << 2);
    // walk the tiles row by row (no division per tile): (ty, tx) of tile t0, then step
    let ty = (t0 % (th * tw)) / tw, tx = t0 % tw;
    let p = xp + tileBase(t0, th, tw, k * hp * wp, wp) + <usize>c0 * plane;
    const rowStep = <usize>(2 * wp - 2 * tw) << 2, imgStep = <usize>((k * hp - 2 * th) * wp) << 2;
    for (let t = 0; t < tb; t++) {
      if (count == 16) transform4(p, p + o1, p + o2, p + o3, <usize>wp << 2, dst, xiStride);
      else transform3(p, p + o1, p + o2, p + o3, <usize>wp << 2, dst, xiStride);
      dst += 32;
      p += 8;
      if (++tx == tw) {
        tx = 0;
        p += rowStep;
        if (++ty == th) { ty = 0; p += imgStep; }
      }
    }
  }
}

/**
 * Z = A dY At (4x4 from each 2x2 output-gradient tile) for tiles [t0, t0 + tb), all m channels,
 * as A panels [16][mp / 4][tb][4] (lanes = 4 channels). dy: [nb][m][oh][ow]; where oh or ow is
 * odd, the last tile row or column reads zeros past the plane's edge (dyTile).
 */
function gradTransform(dy: usize, z: usize, t0: i32, tb: i32, m: i32, mp: i32, th: i32, tw: i32, oh: i32, ow: i32): void {
  gradTransformOf(16, dy, z, t0, tb, m, mp, th, tw, oh, ow);
}

/** The same for F(2x2, 2x2) (./winogradStride2.ts): Z = At^T dY At, 3x3, as A panels [9][mp / 4][tb][4]. */
export function gradTransform9(dy: usize, z: usize, t0: i32, tb: i32, m: i32, mp: i32, th: i32, tw: i32, oh: i32, ow: i32): void {
  gradTransformOf(9, dy, z, t0, tb, m, mp, th, tw, oh, ow);
}

/**
 * The 2x2 dY tile at p (rows `row` bytes apart) as (a, b, c, d) = (top left, top right, bottom
 * left, bottom right). edge: bit 0 the tile's right column is past the plane (b, d = +0), bit 1
 * its bottom row (c, d = +0): the zeros a padded copy of dY would hold, and nothing past the
 * plane is read.
 */
@inline function dyTile(p: usize, row: usize, edge: i32): v128 {
  if (edge == 0) return v128.load64_lane(p + row, v128.load64_zero(p), 1);
  if (edge == 1) return v128.load32_lane(p + row, v128.load32_zero(p), 2);
  if (edge == 2) return v128.load64_zero(p);
  return v128.load32_zero(p);
}

/** Z of `count` (16 or 9, a constant) matrices per 2x2 dY tile. */
@inline function gradTransformOf(count: i32, dy: usize, z: usize, t0: i32, tb: i32, m: i32, mp: i32, th: i32, tw: i32, oh: i32, ow: i32): void {
  const plane = <usize>(oh * ow) << 2;
  const row = <usize>ow << 2;
  const xiStride = xiBytes(mp * tb);
  const oddW = ow & 1, oddH = (oh & 1) << 1;
  for (let c0 = 0; c0 < m; c0 += 4) {
    const o1 = <usize>min(1, m - 1 - c0) * plane, o2 = <usize>min(2, m - 1 - c0) * plane, o3 = <usize>min(3, m - 1 - c0) * plane;
    let dst = z + ((<usize>(c0 * tb)) << 2);
    let ty = (t0 % (th * tw)) / tw, tx = t0 % tw;
    let p = dy + tileBase(t0, th, tw, m * oh * ow, ow) + <usize>c0 * plane;
    // from past a tile row's last tile to the next row's first; from past an image's last tile row
    // to the same channel of the next image (negative for one channel of odd height: wraps)
    const rowStep = <usize>(2 * ow - 2 * tw) << 2, imgStep = <usize>(m * oh * ow - 2 * th * ow) << 2;
    for (let t = 0; t < tb; t++) {
      // lane l: (a, b, c, d) = dY rows (a b / c d) of channel c0 + l, transposed to one vector each
      const edge = (tx == tw - 1 ? oddW : 0) | (ty == th - 1 ? oddH : 0);
      let w0: v128, w1: v128, w2: v128, w3: v128;
      if (edge == 0) {
        w0 = dyTile(p, row, 0); w1 = dyTile(p + o1, row, 0); w2 = dyTile(p + o2, row, 0); w3 = dyTile(p + o3, row, 0);
      } else {
        w0 = dyTile(p, row, edge); w1 = dyTile(p + o1, row, edge); w2 = dyTile(p + o2, row, edge); w3 = dyTile(p + o3, row, edge);
      }
      const l01 = lo(w0, w1), l23 = lo(w2, w3), h01 = hi(w0, w1), h23 = hi(w2, w3);
      const a = lo64(l01, l23), b = hi64(l01, l23), c = lo64(h01, h23), d = hi64(h01, h23);
      if (count == 16) {
        // A dY: rows (a b), (a + c, b + d), (a - c, b - d), (-c, -d); each row (p q) times At: (p, p + q, p - q, -q)
        gradRow(dst, xiStride, 0, a, b);
        gradRow(dst, xiStride, 4, f32x4.add(a, c), f32x4.add(b, d));
        gradRow(dst, xiStride, 8, f32x4.sub(a, c), f32x4.sub(b, d));
        gradRow(dst, xiStride, 12, f32x4.neg(c), f32x4.neg(d));
      } else {
        // F(2x2, 2x2): rows (a b), (a + c, b + d), (c d); each row (p q) times At: (p, p + q, q)
        gradRow9(dst, xiStride, 0, a, b);
        gradRow9(dst, xiStride, 3, f32x4.add(a, c), f32x4.add(b, d));
        gradRow9(dst, xiStride, 6, c, d);
      }
      dst += 16;
      p += 8;
      if (++tx == tw) {
        tx = 0;
        p += rowStep;
        if (++ty == th) { ty = 0; p += imgStep; }
      }
    }
  }
}

@inline function gradRow9(dst: usize, xiStride: usize, xi0: i32, p: v128, q: v128): void {
  const base = dst + <usize>xi0 * xiStride;
  v128.store(base, p);
  v128.store(base + xiStride, f32x4.add(p, q));
  v128.store(base + 2 * xiStride, q);
}

@inline function gradRow(dst: usize, xiStride: usize, xi0: i32, p: v128, q: v128): void {
  const base = dst + <usize>xi0 * xiStride;
  v128.store(base, p);
  v128.store(base + xiStride, f32x4.add(p, q));
  v128.store(base + 2 * xiStride, f32x4.sub(p, q));
  v128.store(base + 3 * xiStride, f32x4.neg(q));
}

@inline function rowTransform(dst: usize, xiStride: usize, xi0: i32, e0: v128, e1: v128, e2: v128, e3: v128): void {
  const base = dst + <usize>xi0 * xiStride;
  v128.store(base, f32x4.sub(e0, e2));
  v128.store(base + xiStride, f32x4.add(e1, e2));
  v128.store(base + 2 * xiStride, f32x4.sub(e2, e1));
  v128.store(base + 3 * xiStride, f32x4.sub(e1, e3));
}

/** Lane l (0-3) of v. */
@inline function lane(v: v128, l: i32): f32 {
  return l == 0 ? f32x4.extract_lane(v, 0) : l == 1 ? f32x4.extract_lane(v, 1) : l == 2 ? f32x4.extract_lane(v, 2) : f32x4.extract_lane(v, 3);
}

/** (a + b) + c and (a - b) - c: the sums of At M A's rows and columns (At = (1 1 1 0 / 0 1 -1 -1)). */
@inline function plus3(a: v128, b: v128, c: v128): v128 { return f32x4.add(f32x4.add(a, b), c); }
@inline function minus3(a: v128, b: v128, c: v128): v128 { return f32x4.sub(f32x4.sub(a, b), c); }

/**
 * At M A of four tiles (the lanes) from their 16 products at src (the interleaved M of
 * `products`: M[xi] at src + 16 xi), written over the first four vectors: y00, y01, y10, y11 at
 * src, src + 16, src + 32, src + 48 (the outputs (0, 0), (0, 1), (1, 0), (1, 1) of each tile).
 */
@inline function tileOutputs(src: usize): void {
  const m00 = v128.load(src), m01 = v128.load(src, 16), m02 = v128.load(src, 32), m03 = v128.load(src, 48);
  const m10 = v128.load(src, 64), m11 = v128.load(src, 80), m12 = v128.load(src, 96), m13 = v128.load(src, 112);
  const m20 = v128.load(src, 128), m21 = v128.load(src, 144), m22 = v128.load(src, 160), m23 = v128.load(src, 176);
  const m30 = v128.load(src, 192), m31 = v128.load(src, 208), m32 = v128.load(src, 224), m33 = v128.load(src, 240);
  // At M: rows (m0 + m1 + m2, m1 - m2 - m3), then (At M) A: the same for columns
  const s00 = plus3(m00, m10, m20), s01 = plus3(m01, m11, m21), s02 = plus3(m02, m12, m22), s03 = plus3(m03, m13, m23);
  const s10 = minus3(m10, m20, m30), s11 = minus3(m11, m21, m31), s12 = minus3(m12, m22, m32), s13 = minus3(m13, m23, m33);
  v128.store(src, plus3(s00, s01, s02)); v128.store(src, minus3(s01, s02, s03), 16);
  v128.store(src, plus3(s10, s11, s12), 32); v128.store(src, minus3(s11, s12, s13), 48);
}

/**
 * The `count` products of a block (16 here, 9 in ./winogradStride2.ts): M[xi] = U[xi] (m x k) .
 * V[xi] (k x tiles), by the GEMM's 4x8 micro-kernel, stored interleaved as [mp][tbp / 4][count][4]
 * (a channel's four tiles' matrices in count * 16 consecutive bytes: the output transform reads M
 * in one sequential pass; from 16 streams 20 KiB apart, the block-major layout's read, it cost
 * more than the transform's arithmetic).
 */
export function products(count: i32, u: usize, v: usize, mm: usize, tbp: i32, k: i32, mp: i32): void {
  const group = <usize>count << 4; // four tiles' matrices
  const rowBytes = <usize>(tbp >> 2) * group; // one channel: tbp / 4 groups
  for (let xi = 0; xi < count; xi++) {
    const ua = u + ((<usize>xi * mp * k) << 2);
    const vb = v + <usize>xi * xiBytes(tbp * k);
    for (let j = 0; j < tbp; j += 8) {
      const pb = vb + ((<usize>j * k) << 2);
      const c = mm + <usize>(j >> 2) * group + (<usize>xi << 4);
      for (let i = 0; i < mp; i += 4) kernel4x8Split(k, ua + ((<usize>i * k) << 2), pb, c + <usize>i * rowBytes, rowBytes, group);
    }
  }
}

/**
 * At M A of four tiles of F(2x2, 2x2) (./winogradStride2.ts: At = [1 1 0; 0 1 1]) from their 9
 * products at src, written over the first four vectors as tileOutputs does.
 */
@inline function tileOutputs9(src: usize): void {
  const m0 = v128.load(src), m1 = v128.load(src, 16), m2 = v128.load(src, 32);
  const m3 = v128.load(src, 48), m4 = v128.load(src, 64), m5 = v128.load(src, 80);
  const m6 = v128.load(src, 96), m7 = v128.load(src, 112), m8 = v128.load(src, 128);
  // At M: the sums of rows 0 + 1 (s) and 1 + 2 (t), then of columns 0 + 1 and 1 + 2
  const s0 = f32x4.add(m0, m3), s1 = f32x4.add(m1, m4), s2 = f32x4.add(m2, m5);
  const t0 = f32x4.add(m3, m6), t1 = f32x4.add(m4, m7), t2 = f32x4.add(m5, m8);
  v128.store(src, f32x4.add(s0, s1)); v128.store(src, f32x4.add(s1, s2), 16);
  v128.store(src, f32x4.add(t0, t1), 32); v128.store(src, f32x4.add(t1, t2), 48);
}

/**
 * y = At M A (+ bias[mi] where bias != 0) for tiles [t0, t0 + tb) (M from `products`: 16 matrices
 * per tile, F(2x2, 3x3)); tab: 2 tb words of scratch (outputTable).
 */
function outputTransform(mm: usize, y: usize, tab: usize, t0: i32, tb: i32, tbp: i32, m: i32, th: i32, tw: i32, oh: i32, ow: i32, bias: usize): void {
  outputTransformOf(16, mm, y, tab, t0, tb, tbp, m, th, tw, oh, ow, bias);
}

/** The same for F(2x2, 2x2)'s 9 matrices per tile (./winogradStride2.ts winogradS2Conv). */
export function outputTransform9(mm: usize, y: usize, tab: usize, t0: i32, tb: i32, tbp: i32, m: i32, th: i32, tw: i32, oh: i32, ow: i32, bias: usize): void {
  outputTransformOf(9, mm, y, tab, t0, tb, tbp, m, th, tw, oh, ow, bias);
}

/**
 * Where the output transform writes tiles [t0, t0 + tb), per group of four tiles (8 words at
 * tab + 32 g): each lane's corner (bytes from y, in output channel 0), then the group's flags:
 * bit 0 all four tiles' 2x2 outputs inside the plane, bit 1 the four side by side in one tile row,
 * bits 8 + l (12 + l) lane l's right column (lower row) inside. Made once per block, so the
 * channel loop does no division.
 */
@inline function outputTable(tab: usize, t0: i32, tb: i32, m: i32, th: i32, tw: i32, oh: i32, ow: i32): void {
  let img = t0 / (th * tw), ty = (t0 % (th * tw)) / tw, tx = t0 % tw;
  for (let q = 0; q < tb; q += 4) {
    const n = min(4, tb - q);
    const e = tab + (<usize>q << 3);
    let flags = n == 4 ? 1 : 0;
    if (tx + 3 < tw) flags |= 2;
    for (let l = 0; l < n; l++) {
      store<u32>(e + (<usize>l << 2), <u32>((<usize>img * m * oh * ow + <usize>(2 * ty) * ow + <usize>(2 * tx)) << 2));
      const right = 2 * tx + 1 < ow, down = 2 * ty + 1 < oh;
      if (right) flags |= 1 << (8 + l);
      if (down) flags |= 1 << (12 + l);
      if (!right || !down) flags &= ~1;
      if (++tx == tw) {
        tx = 0;
        if (++ty == th) { ty = 0; img++; }
      }
    }
    store<i32>(e, flags, 16);
  }
}

/**
 * y = At M A of 2x2 output tiles from `count` (16 or 9, a constant) products per tile: channel by
 * channel, tiles inner, so that each channel's row of M is read in order and its output plane
 * written in order (tile positions from outputTable). Where bias != 0, each output + bias[mi] (f32)
 * before its store: addChannelBias's sum, without its pass over y.
 */
@inline function outputTransformOf(count: i32, mm: usize, y: usize, tab: usize, t0: i32, tb: i32, tbp: i32, m: i32, th: i32, tw: i32, oh: i32, ow: i32, bias: usize): void {
  outputTable(tab, t0, tb, m, th, tw, oh, ow);
  const rowBytes = (<usize>tbp * count) << 2;
  const outPlane = <usize>(oh * ow) << 2;
  const orow = <usize>ow << 2;
  let row = mm;
  let yc = y;
  for (let mi = 0; mi < m; mi++) {
    const b4 = f32x4.splat(bias ? load<f32>(bias + (<usize>mi << 2)) : 0);
    let src = row;
    for (let q = 0; q < tb; q += 4) {
      const e = tab + (<usize>q << 3);
      const flags = load<i32>(e, 16);
      if (count == 16) tileOutputs(src); else tileOutputs9(src);
      let y00 = v128.load(src), y01 = v128.load(src, 16), y10 = v128.load(src, 32), y11 = v128.load(src, 48);
      if (bias) { y00 = f32x4.add(y00, b4); y01 = f32x4.add(y01, b4); y10 = f32x4.add(y10, b4); y11 = f32x4.add(y11, b4); }
      src += <usize>count << 4;
      if (flags & 1) {
        // each tile's two rows as 64-bit pairs: (y00, y01) and (y10, y11) interleaved; four tiles of
        // one tile row are 8 consecutive floats per row, two vector stores each
        const a0 = lo(y00, y01), a1 = hi(y00, y01), b0 = lo(y10, y11), b1 = hi(y10, y11);
        const p0 = yc + <usize>load<u32>(e);
        if (flags & 2) {
          v128.store(p0, a0); v128.store(p0, a1, 16);
          v128.store(p0 + orow, b0); v128.store(p0 + orow, b1, 16);
        } else {
          const p1 = yc + <usize>load<u32>(e, 4), p2 = yc + <usize>load<u32>(e, 8), p3 = yc + <usize>load<u32>(e, 12);
          v128.store64_lane(p0, a0, 0); v128.store64_lane(p0 + orow, b0, 0);
          v128.store64_lane(p1, a0, 1); v128.store64_lane(p1 + orow, b0, 1);
          v128.store64_lane(p2, a1, 0); v128.store64_lane(p2 + orow, b1, 0);
          v128.store64_lane(p3, a1, 1); v128.store64_lane(p3 + orow, b1, 1);
        }
      } else {
        // edge tiles (odd output sizes) and the block's last, partial group: lane by lane
        // (no static scratch: every thread of the pool runs this over one shared memory)
        const n = min(4, tb - q);
        for (let l = 0; l < n; l++) {
          const p = yc + <usize>load<u32>(e + (<usize>l << 2));
          const right = (flags >> (8 + l)) & 1, down = (flags >> (12 + l)) & 1;
          store<f32>(p, lane(y00, l));
          if (right) store<f32>(p, lane(y01, l), 4);
          if (down) store<f32>(p + orow, lane(y10, l));
          if (right & down) store<f32>(p + orow, lane(y11, l), 4);
        }
      }
    }
    row += rowBytes;
    yc += outPlane;
  }
}

/**
 * One pool window per lane from four tiles' products at src (as tileOutputs reads them): the
 * tile's 2x2 outputs At M A (tileOutputs, winogradConv's operations), + b4 where hasBias (addChannelBias'),
 * bnForward's affine (sc, sh), then ReLU and the window's max as maxPool2d of relu4 gives them
 * (maxValue4: the first NaN in scan order, else the largest). Where no lane holds a NaN (one sum
 * of the four: a NaN anywhere makes it NaN, inf - inf sends a group to the exact steps too) that
 * is relu of the max in any order (ReLU is monotone and maps -0 and negatives to +0: ties and
 * signed zeros do not matter): pmax, and pmax(+0, .) for the ReLU. Else relu4 after maxValue4:
 * the ReLU keeps NaNs (the first stays first) and the rest maps monotonically: the same bits.
 */
@inline function poolTiles(src: usize, hasBias: bool, b4: v128, sc: v128, sh: v128): v128 {
  tileOutputs(src);
  let y00 = v128.load(src), y01 = v128.load(src, 16), y10 = v128.load(src, 32), y11 = v128.load(src, 48);
  if (hasBias) { y00 = f32x4.add(y00, b4); y01 = f32x4.add(y01, b4); y10 = f32x4.add(y10, b4); y11 = f32x4.add(y11, b4); }
  const a = affine4(y00, sc, sh), b = affine4(y01, sc, sh), c = affine4(y10, sc, sh), d = affine4(y11, sc, sh);
  const sum = f32x4.add(f32x4.add(a, b), f32x4.add(c, d));
  if (!v128.any_true(f32x4.ne(sum, sum))) return f32x4.pmax(f32x4.splat(0), f32x4.pmax(f32x4.pmax(a, b), f32x4.pmax(c, d)));
  return relu4(maxValue4(a, b, c, d));
}

/**
 * out = the pool windows of tiles [t0, t0 + tb) (M from `products`), channel by channel, each
 * four tiles' windows by poolTiles, into out ([nb][m][th][tw]). Each tile's 2x2 outputs are one
 * pool window (even oh and ow), so the pooled plane is th x tw and tile r of an image is its
 * pixel r: only pooled values are written, never the full-size activation.
 */
function poolBlock(mm: usize, out: usize, t0: i32, tb: i32, tbp: i32, m: i32, S: i32,
  bias: usize, mean: usize, invstd: usize, wt: usize, b: usize): void {
  const rowBytes = <usize>tbp << 6;
  const imgStride = <usize>(m * S) << 2;
  for (let mi = 0; mi < m; mi++) {
    const ch = <usize>mi << 2;
    const scale = bnScale(invstd + ch, wt + ch);
    const sc = f32x4.splat(scale), sh = f32x4.splat(bnShift(b + ch, mean + ch, scale));
    const b4 = f32x4.splat(bias ? load<f32>(bias + ch) : 0);
    const plane = out + (<usize>(mi * S) << 2);
    let src = mm + <usize>mi * rowBytes;
    let img = t0 / S, r = t0 - img * S; // the group's first tile: its image and pixel
    for (let q = 0; q < tb; q += 4, src += 256) {
      const best = poolTiles(src, bias != 0, b4, sc, sh);
      const n = min(4, tb - q);
      let p = plane + <usize>img * imgStride + (<usize>r << 2);
      if (n == 4 && r + 4 <= S) {
        v128.store(p, best);
        r += 4;
        if (r == S) { r = 0; img++; }
      } else { // the block's last tiles, or four across two images: lane by lane
        for (let l = 0; l < n; l++) {
          store<f32>(p, lane(best, l));
          p += 4;
          if (++r == S) { r = 0; img++; p = plane + <usize>img * imgStride; }
        }
      }
    }
  }
}

/**
 * The block loop of both convolutions: per block of T tiles, V, the 16 products, then the output
 * transform (y: [nb][m][oh][ow]) or, when pooled, the pool windows (y: the pooled [nb][m][th][tw];
 * bias .. b their parameters). v and mm hold one block (sizes above).
 */
@inline function convBlocks(geo: usize, xp: usize, u: usize, y: usize, v: usize, mm: usize, pooled: bool,
  bias: usize, mean: usize, invstd: usize, wt: usize, b: usize): void {
  const nb = gi(geo, 0), k = gi(geo, 1), m = gi(geo, 2), th = gi(geo, 3), tw = gi(geo, 4);
  const hp = gi(geo, 5), wp = gi(geo, 6), oh = gi(geo, 7), ow = gi(geo, 8), T = gi(geo, 9);
  const mp = (m + 3) & ~3;
  const total = nb * th * tw;
  for (let t0 = 0; t0 < total; t0 += T) {
    const tb = min(T, total - t0);
    const tbp = (tb + 7) & ~7;
    inputTransform(xp, v, t0, tb, tbp, total, k, th, tw, hp, wp);
    products(16, u, v, mm, tbp, k, mp);
    if (pooled) poolBlock(mm, y, t0, tb, tbp, m, th * tw, bias, mean, invstd, wt, b);
    else outputTransform(mm, y, mm + ((<usize>16 * mp * T) << 2), t0, tb, tbp, m, th, tw, oh, ow, bias);
  }
}

/**
 * y[nb][m][oh][ow] = conv3x3(xp, filters u) (+ bias[mi]: bias f32[m], or 0 for none), block by
 * block of T tiles so that a block's V and M stay in L2. v and mm hold one block (sizes above).
 */
export function winogradConv(geo: usize, xp: usize, u: usize, y: usize, v: usize, mm: usize, bias: usize): void {
  convBlocks(geo, xp, u, y, v, mm, false, bias, 0, 0, 0, 0);
}

/**
 * out[nb][m][oh / 2][ow / 2] = maxPool2d(relu(bnForward(winogradConv + bias))) for 2x2 windows of
 * stride 2 on even oh, ow (poolBlock): Conv2d -> BatchNorm2d (eval) -> ReLU -> MaxPool2d(2)
 * at inference. bias: f32[m] or 0 (none); mean, invstd, wt, b: bnForward's f32[m] parameters.
 */
export function winogradConvBnReluPool(geo: usize, xp: usize, u: usize, out: usize, v: usize, mm: usize,
  bias: usize, mean: usize, invstd: usize, wt: usize, b: usize): void {
  convBlocks(geo, xp, u, out, v, mm, true, bias, mean, invstd, wt, b);
}

/**
 * The weight gradient's transformed sums: du[xi][mp][kp] += Z[xi] (m x tiles) . V[xi] (k x tiles)^T
 * over every tile of the chunk, block by block of T tiles. geo as winogradConv (1 k, 2 m: the
 * forward's input and output channels); dy as gradTransform; v and z hold one block.
 */
export function winogradGradSums(geo: usize, xp: usize, dy: usize, du: usize, v: usize, z: usize): void {
  const nb = gi(geo, 0), k = gi(geo, 1), m = gi(geo, 2), th = gi(geo, 3), tw = gi(geo, 4);
  const hp = gi(geo, 5), wp = gi(geo, 6), T = gi(geo, 9);
  const mp = (m + 3) & ~3, kp = (k + 7) & ~7;
  const total = nb * th * tw;
  for (let t0 = 0; t0 < total; t0 += T) {
    const tb = min(T, total - t0);
    inputTransformByChannel(xp, v, t0, tb, k, kp, th, tw, hp, wp);
    gradTransform(dy, z, t0, tb, m, mp, th, tw, gi(geo, 7), gi(geo, 8));
    gradProducts(16, z, v, du, tb, mp, kp);
  }
}

/** du[xi][mp][kp] += Z[xi] (mp x tb) . V[xi] (kp x tb)^T for the `count` matrices of a block (Z, V as winogradGradSums makes them). */
export function gradProducts(count: i32, z: usize, v: usize, du: usize, tb: i32, mp: i32, kp: i32): void {
  for (let xi = 0; xi < count; xi++) {
    const za = z + <usize>xi * xiBytes(mp * tb);
    const vb = v + <usize>xi * xiBytes(kp * tb);
    const d = du + ((<usize>xi * mp * kp) << 2);
    for (let i = 0; i < mp; i += 4) {
      for (let j = 0; j < kp; j += 8) kernel4x8(tb, za + ((<usize>i * tb) << 2), vb + ((<usize>j * tb) << 2), d + ((<usize>i * kp + j) << 2), kp, 1);
    }
  }
}

/** Row r (0-2) of G^T times the column (a, b, c, d): in f64. */
@inline function gt(r: i32, a: f64, b: f64, c: f64, d: f64): f64 {
  return r == 0 ? a + 0.5 * (b + c) : r == 1 ? 0.5 * (b - c) : 0.5 * (b + c) + d;
}

/** dw[m][k][3][3] = G^T du G for each filter (du as winogradGradSums left it), in f64, rounded once. */
export function winogradFilterGrad(du: usize, dw: usize, m: i32, k: i32): void {
  const mp = (m + 3) & ~3, kp = (k + 7) & ~7;
  const xs = (<usize>mp * kp) << 2;
  for (let mi = 0; mi < m; mi++) {
    for (let ki = 0; ki < k; ki++) {
      const src = du + ((<usize>mi * kp + ki) << 2);
      const dst = dw + ((<usize>(mi * k + ki) * 9) << 2);
      // G^T rows: (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1); first r = G^T du (3x4),
      // then r G. In locals, not static scratch: every thread of the pool runs this.
      for (let r = 0; r < 3; r++) {
        const e0 = gt(r, <f64>load<f32>(src), <f64>load<f32>(src + 4 * xs), <f64>load<f32>(src + 8 * xs), <f64>load<f32>(src + 12 * xs));
        const e1 = gt(r, <f64>load<f32>(src + xs), <f64>load<f32>(src + 5 * xs), <f64>load<f32>(src + 9 * xs), <f64>load<f32>(src + 13 * xs));
        const e2 = gt(r, <f64>load<f32>(src + 2 * xs), <f64>load<f32>(src + 6 * xs), <f64>load<f32>(src + 10 * xs), <f64>load<f32>(src + 14 * xs));
        const e3 = gt(r, <f64>load<f32>(src + 3 * xs), <f64>load<f32>(src + 7 * xs), <f64>load<f32>(src + 11 * xs), <f64>load<f32>(src + 15 * xs));
        store<f32>(dst + (<usize>(3 * r) << 2), <f32>gt(0, e0, e1, e2, e3));
        store<f32>(dst + (<usize>(3 * r + 1) << 2), <f32>gt(1, e0, e1, e2, e3));
        store<f32>(dst + (<usize>(3 * r + 2) << 2), <f32>gt(2, e0, e1, e2, e3));
      }
    }
  }
}
