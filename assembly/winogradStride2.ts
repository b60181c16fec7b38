// Winograd F(2x2, 2x2) by output phases for 4x4 stride-2 transposed convolutions (padding 1):
// the input gradient of a k4 s2 p1 convolution, i.e. ConvTranspose2d(kernel 4, stride 2,
// padding 1)'s forward. Output row y = 2i + py (phase py) sums two input rows with two kernel
// rows: py = 0 reads rows i (ky = 1) and i - 1 (ky = 3), py = 1 rows i + 1 (ky = 0) and i
// (ky = 2); the same along x. So each of the four phases (py, px) is a 2x2 correlation of the
// input, and F(2, 2) computes two outputs of it from three inputs with three multiplies:
//   V = Bt d B  (3x3 input window d),  U = G g Gt  (2x2 phase filter g),  Y = At (sum_c U . V) A
//   Bt = [1 -1 0; 0 1 0; 0 -1 1],  G = [1 0; 1 1; 0 1],  At = [1 1 0; 0 1 1]
// With phase 1's tiles one input row (column) before phase 0's, all four phases read the same
// 3x3 window: tile (ty, tx) reads input rows 2ty - 1 .. 2ty + 1 (columns alike) and makes the
// 4x4 output block at rows 4ty - 1 .. 4ty + 2 (phase 0 at 4ty, 4ty + 2; phase 1 at 4ty - 1,
// 4ty + 1). One input transform serves the four phases, and the channel sums are 9 products
// M[xi] = U[xi] (4 phases x m, k) . V[xi] (k, tiles): 9 multiplies per 4 outputs per channel
// pair instead of 16. Outputs past the image (row or column -1, h, h + 1) are not written.
//
// Layouts (float32; TypeScript allocates every buffer):
//   u   transformed filters, as A panels:  [9][m][k][4]   (panel mi: output channel mi's 4
//       phases, lane 2 py + px)
//   xp  padded input chunk:                [nb][k][hp][wp]  (the image at (1, 1), zeros around;
//       hp = 2 th + 1, wp = 2 tw + 2: every window's rows, read 4 floats wide, are inside)
//   v   transformed tiles of one block:    [9][tb / 8][k][8] (tb = block tiles rounded up to 8)
//   mm  products of one block, interleaved: [4 m][tb / 4][9][4] (./winograd.ts products), then
//       2 T words for the output transform's table of tiles
//   y   output chunk (NCHW):               [nb][m][h][w]
// Each of the 9 matrices of v is followed by XI_PAD floats (./winograd.ts: xiBytes).
// Tiles are numbered image by image, row by row: t = (i * th + ty) * tw + tx.
//
// Geometry from i32[8] at `geo`: 0 nb, 1 k (input channels), 2 m (output channels), 3 th,
// 4 tw, 5 h, 6 w (output plane), 7 T (tiles per block, a multiple of 8).

import { gi, gradProducts, gradTransform9, hi, hi64, inputTransform9, inputTransformByChannel9, lo, lo64, outputTransform9, products, xiBytes } from './winograd';

/** Kernel tap (row or column) of phase p's filter tap a (0, 1): 3 - p - 2a (phase 0: 3, 1; phase 1: 2, 0). */
@inline function kTap(p: i32, a: i32): i32 { return 3 - p - 2 * a; }

/**
 * u = G g Gt for every phase filter, packed as A panels. w: the transposed convolution's weight
 * [k][m][4][4] (the convolution's [out][in][4][4]: k input channels here, m outputs). In f64,
 * rounded once.
 */
export function winogradS2Filter(w: usize, u: usize, m: i32, k: i32): void {
  const xiStride = (<usize>4 * m * k) << 2;
  for (let mi = 0; mi < m; mi++) {
    for (let ki = 0; ki < k; ki++) {
      const src = w + ((<usize>(ki * m + mi) * 16) << 2);
      const dst = u + ((<usize>(mi * k + ki) * 4) << 2);
      for (let ph = 0; ph < 4; ph++) {
        const py = ph >> 1, px = ph & 1;
        const g00 = tap(src, kTap(py, 0), kTap(px, 0)), g01 = tap(src, kTap(py, 0), kTap(px, 1));
        const g10 = tap(src, kTap(py, 1), kTap(px, 0)), g11 = tap(src, kTap(py, 1), kTap(px, 1));
        // t = G g: rows g0, g0 + g1, g1; then each row times Gt: (t0, t0 + t1, t1)
        const p = dst + (<usize>ph << 2);
        filterRow(p, xiStride, 0, g00, g01);
        filterRow(p, xiStride, 3, g00 + g10, g01 + g11);
        filterRow(p, xiStride, 6, g10, g11);
      }
    }
  }
}

@inline function tap(src: usize, ky: i32, kx: i32): f64 {
  return <f64>load<f32>(src + (<usize>(ky * 4 + kx) << 2));
}

@inline function filterRow(p: usize, xiStride: usize, xi0: i32, t0: f64, t1: f64): void {
  const q = p + <usize>xi0 * xiStride;
  store<f32>(q, <f32>t0);
  store<f32>(q + xiStride, <f32>(t0 + t1));
  store<f32>(q + 2 * xiStride, <f32>t1);
}

/** Store lanes [lo, hi) of row r at p (lane j to p + 4 j). */
@inline function storeCols(p: usize, r: v128, lo: i32, hi: i32): void {
  if (lo == 0 && hi == 4) {
    v128.store(p, r);
  } else if (lo == 1 && hi == 4) {
    v128.store32_lane(p, r, 1, 4);
    v128.store64_lane(p, r, 1, 8);
  } else if (lo == 0 && hi == 3) {
    v128.store64_lane(p, r, 0);
    v128.store32_lane(p, r, 2, 8);
  } else {
    if (lo <= 0 && hi > 0) v128.store32_lane(p, r, 0);
    if (lo <= 1 && hi > 1) v128.store32_lane(p, r, 1, 4);
    if (lo <= 2 && hi > 2) v128.store32_lane(p, r, 2, 8);
    if (lo <= 3 && hi > 3) v128.store32_lane(p, r, 3, 12);
  }
}

/**
 * Y = At M A of phases (py, 1) at p1 and (py, 0) at p0 (each 9 vectors of M, xs apart; lane =
 * tile), stored as block rows R and R + 2 (R = 1 - py) of the four tiles. Per phase the rows'
 * sums S_a[c] = M[a][c] + M[a + 1][c], then Y[a][b] = S_a[b] + S_a[b + 1]; block column
 * 1 - px + 2b.
 */
@inline function phasePair(p1: usize, p0: usize, xs: usize, R: i32, yc: usize, tab: usize, n: i32, rowBytes: usize, bias: bool, b4: v128): void {
  let m0 = v128.load(p1), m1 = v128.load(p1 + xs), m2 = v128.load(p1 + 2 * xs);
  let n0 = v128.load(p1 + 3 * xs), n1 = v128.load(p1 + 4 * xs), n2 = v128.load(p1 + 5 * xs);
  let s0 = f32x4.add(m0, n0), s1 = f32x4.add(m1, n1), s2 = f32x4.add(m2, n2);
  const a00 = f32x4.add(s0, s1), a01 = f32x4.add(s1, s2);
  m0 = v128.load(p1 + 6 * xs); m1 = v128.load(p1 + 7 * xs); m2 = v128.load(p1 + 8 * xs);
  s0 = f32x4.add(n0, m0); s1 = f32x4.add(n1, m1); s2 = f32x4.add(n2, m2);
  const a10 = f32x4.add(s0, s1), a11 = f32x4.add(s1, s2);
  m0 = v128.load(p0); m1 = v128.load(p0 + xs); m2 = v128.load(p0 + 2 * xs);
  n0 = v128.load(p0 + 3 * xs); n1 = v128.load(p0 + 4 * xs); n2 = v128.load(p0 + 5 * xs);
  s0 = f32x4.add(m0, n0); s1 = f32x4.add(m1, n1); s2 = f32x4.add(m2, n2);
  const b00 = f32x4.add(s0, s1), b01 = f32x4.add(s1, s2);
  storeRow(R, a00, b00, a01, b01, yc, tab, n, rowBytes, bias, b4);
  m0 = v128.load(p0 + 6 * xs); m1 = v128.load(p0 + 7 * xs); m2 = v128.load(p0 + 8 * xs);
  s0 = f32x4.add(n0, m0); s1 = f32x4.add(n1, m1); s2 = f32x4.add(n2, m2);
  storeRow(R + 2, a10, f32x4.add(s0, s1), a11, f32x4.add(s1, s2), yc, tab, n, rowBytes, bias, b4);
}

/**
 * One block row R of four tiles: c0..c3 are its columns (lane = tile), + b4 where bias (the
 * channel's bias, as addChannelBias adds it), transposed to one vector per tile and stored where
 * the row is inside the image. tab: the tiles' [corner, mask] words.
 */
@inline function storeRow(R: i32, c0: v128, c1: v128, c2: v128, c3: v128, yc: usize, tab: usize, n: i32, rowBytes: usize, bias: bool, b4: v128): void {
  if (bias) { c0 = f32x4.add(c0, b4); c1 = f32x4.add(c1, b4); c2 = f32x4.add(c2, b4); c3 = f32x4.add(c3, b4); }
  const l01 = lo(c0, c1), l23 = lo(c2, c3), h01 = hi(c0, c1), h23 = hi(c2, c3);
  const off = yc + <usize>R * rowBytes;
  storeLaneRow(lo64(l01, l23), off, R, tab);
  if (n > 1) storeLaneRow(hi64(l01, l23), off, R, tab + 8);
  if (n > 2) storeLaneRow(lo64(h01, h23), off, R, tab + 16);
  if (n > 3) storeLaneRow(hi64(h01, h23), off, R, tab + 24);
}

/** mask: 4 bits each of rowLo, rowHi, colLo, colHi (the block's rows and columns inside the image). */
@inline function storeLaneRow(r: v128, off: usize, R: i32, entry: usize): void {
  const mask = load<i32>(entry, 4);
  if (R >= (mask & 15) && R < ((mask >> 4) & 15)) storeCols(off + <usize>load<u32>(entry), r, (mask >> 8) & 15, mask >> 12);
}

/**
 * y = At M A of the four phases, for tiles [t0, t0 + tb), written as 4x4 blocks (rows and
 * columns inside the image). Channel by channel, tiles inner: each of a channel's four rows of M
 * is read sequentially. tab: 2 tb words of scratch for each tile's block corner (bytes
 * from y, row 4ty - 1 and column 4tx - 1 of its image's channel 0) and mask (storeLaneRow).
 */
function outputTransform(mm: usize, y: usize, tab: usize, t0: i32, tb: i32, tbp: i32, m: i32, th: i32, tw: i32, h: i32, w: i32, bias: usize): void {
  const outPlane = <usize>(h * w) << 2;
  const rowBytes = <usize>w << 2;
  const phaseStep = (<usize>tbp * 9) << 2; // one row of M: tbp / 4 groups of 9 vectors
  let img = t0 / (th * tw), ty = (t0 % (th * tw)) / tw, tx = t0 % tw;
  for (let t = 0; t < tb; t++) {
    const mask = (ty == 0 ? 1 : 0) | (min(4, h + 1 - 4 * ty) << 4) | ((tx == 0 ? 1 : 0) << 8) | (min(4, w + 1 - 4 * tx) << 12);
    store<u32>(tab + (<usize>t << 3), <u32>(<usize>img * m * outPlane + (<usize>((4 * ty - 1) * w + 4 * tx - 1) << 2)));
    store<i32>(tab + (<usize>t << 3), mask, 4);
    if (++tx == tw) {
      tx = 0;
      if (++ty == th) { ty = 0; img++; }
    }
  }
  let src = mm;
  let yc = y;
  for (let mi = 0; mi < m; mi++) {
    const b4 = f32x4.splat(bias ? load<f32>(bias + (<usize>mi << 2)) : 0);
    for (let q = 0; q < tb; q += 4) {
      const n = min(4, tb - q);
      const s = src + (<usize>q * 9 << 2), e = tab + (<usize>q << 3);
      // phase 2 py + px at s + (2 py + px) * phaseStep, its 9 matrices 16 bytes apart
      phasePair(s + 3 * phaseStep, s + 2 * phaseStep, 16, 0, yc, e, n, rowBytes, bias != 0, b4);
      phasePair(s + phaseStep, s, 16, 1, yc, e, n, rowBytes, bias != 0, b4);
    }
    src += 4 * phaseStep;
    yc += outPlane;
  }
}

/**
 * y[nb][m][h][w] = the transposed convolution of xp by filters u (+ bias[mi]: bias f32[m], or 0
 * for none), block by block of T tiles so that a block's V and M stay in L2. v and mm hold one
 * block (sizes above).
 */
export function winogradS2(geo: usize, xp: usize, u: usize, y: usize, v: usize, mm: usize, bias: usize): void {
  const nb = gi(geo, 0), k = gi(geo, 1), m = gi(geo, 2), th = gi(geo, 3), tw = gi(geo, 4);
  const h = gi(geo, 5), w = gi(geo, 6), T = gi(geo, 7);
  const hp = 2 * th + 1, wp = 2 * tw + 2;
  const mp = 4 * m;
  const total = nb * th * tw;
  for (let t0 = 0; t0 < total; t0 += T) {
    const tb = min(T, total - t0);
    const tbp = (tb + 7) & ~7;
    inputTransform9(xp, v, t0, tb, tbp, total, k, th, tw, hp, wp);
    products(9, u, v, mm, tbp, k, mp);
    outputTransform(mm, y, mm + ((<usize>mp * T * 9) << 2), t0, tb, tbp, m, th, tw, h, w, bias);
  }
}

// The forward convolution of the same geometry (k4 s2 p1: the transposed convolution's input
// gradient) by input phases: output row oy reads input rows 2 oy - 1 + ky, i.e. phase 0's row oy
// (ky = 1) and oy + 1 (ky = 3) and phase 1's rows oy - 1 (ky = 0) and oy (ky = 2); the same along
// x. With phase 1 one row (column) lower in its padded plane, every phase (py, px) is a 2x2
// correlation at offsets (0, 1) of its plane with taps ky = 2a + 1 - py: one 2x2 convolution of
// 4 c channels, F(2x2, 2x2) over 3x3 windows at stride 2 (winograd.ts inputTransform9), 9 products of
// [m, 4 c] x [4 c, tiles] and the 2x2 output transform of ./winograd.ts. 9 multiplies per 4
// outputs per (output, input phase) pair instead of 4 x 4.

/** Columns x0 .. x0 + 7 (x0 even) of an input row to its two phase rows: even columns at d0, odd at d1. */
@inline function splitEight(row: usize, d0: usize, d1: usize, x0: i32): void {
  const a = v128.load(row + (<usize>x0 << 2)), b = v128.load(row + (<usize>x0 << 2), 16);
  v128.store(d0 + (<usize>x0 << 1), v128.shuffle<f32>(a, b, 0, 2, 4, 6));
  v128.store(d1 + (<usize>x0 << 1), v128.shuffle<f32>(a, b, 1, 3, 5, 7));
}

/**
 * xp[i][4 ci + 2 py + px] = phase (py, px) of x's plane ci (h x w), x[2 r + py][2 s + px] at
 * (r + py, s + px) of an hp x wp plane of zeros: `planes` planes in, 4 planes each out.
 */
export function phaseSplit(x: usize, xp: usize, planes: i32, h: i32, w: i32, hp: i32, wp: i32): void {
  const outPlane = <usize>(hp * wp) << 2;
  memory.fill(xp, 0, <usize>planes * 4 * outPlane);
  let src = x, dst = xp;
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < h; y++) {
      const py = y & 1;
      // row y goes to row (y >> 1) + py of planes 2 py (even columns) and 2 py + 1 (odd columns)
      const d0 = dst + <usize>(2 * py) * outPlane + ((<usize>((y >> 1) + py) * wp) << 2);
      const d1 = d0 + outPlane + 4; // phase px = 1: one column right
      const row = src + ((<usize>y * w) << 2);
      let x0 = 0;
      for (; x0 + 8 <= w; x0 += 8) splitEight(row, d0, d1, x0);
      // the rest by one more eight from an even column, over values already written (the same
      // values again), e.g. columns 6 .. 13 of a 14-pixel row; what is left (odd w) one by one
      if (x0 < w && w >= 8) {
        x0 = (w - 8) & ~1;
        splitEight(row, d0, d1, x0);
        x0 += 8;
      }
      for (; x0 < w; x0++) {
        store<f32>((x0 & 1 ? d1 : d0) + ((<usize>(x0 >> 1)) << 2), load<f32>(row + (<usize>x0 << 2)));
      }
    }
    src += <usize>(h * w) << 2;
    dst += 4 * outPlane;
  }
}

/**
 * u = G g Gt of every (output, input phase) filter as A panels [9][mp / 4][4 c][4] (mp: m rounded
 * up to 4, rows past m zero). w: the convolution's weight [m][c][4][4]. In f64, rounded once.
 */
export function winogradS2ConvFilter(w: usize, u: usize, m: i32, c: i32): void {
  const mp = (m + 3) & ~3, k = 4 * c;
  const xiStride = (<usize>mp * k) << 2;
  memory.fill(u, 0, 9 * xiStride);
  for (let mi = 0; mi < m; mi++) {
    for (let ci = 0; ci < c; ci++) {
      const src = w + ((<usize>(mi * c + ci) * 16) << 2);
      for (let ph = 0; ph < 4; ph++) {
        const py = ph >> 1, px = ph & 1;
        // tap a of the phase: kernel row (column) 2 a + 1 - p
        const g00 = tap(src, 1 - py, 1 - px), g01 = tap(src, 1 - py, 3 - px);
        const g10 = tap(src, 3 - py, 1 - px), g11 = tap(src, 3 - py, 3 - px);
        const kk = 4 * ci + ph;
        const p = u + ((<usize>((mi >> 2) * k * 4 + kk * 4 + (mi & 3))) << 2);
        filterRow(p, xiStride, 0, g00, g01);
        filterRow(p, xiStride, 3, g00 + g10, g01 + g11);
        filterRow(p, xiStride, 6, g10, g11);
      }
    }
  }
}

/**
 * y[nb][m][oh][ow] = the k4 s2 p1 convolution whose input was phase-split into xp
 * ([nb][4 c][hp][wp], phaseSplit), by filters u (winogradS2ConvFilter), block by block of T
 * tiles, + bias[mi] where bias != 0 (f32[m]). Geometry from i32[8] at geo: 0 nb, 1 k (= 4 c),
 * 2 m, 3 th, 4 tw, 5 oh, 6 ow, 7 T. mm: 9 mp T products (T rounded up to 8), then 2 T words for
 * the output transform's table.
 */
export function winogradS2Conv(geo: usize, xp: usize, u: usize, y: usize, v: usize, mm: usize, bias: usize): void {
  const nb = gi(geo, 0), k = gi(geo, 1), m = gi(geo, 2), th = gi(geo, 3), tw = gi(geo, 4);
  const oh = gi(geo, 5), ow = gi(geo, 6), T = gi(geo, 7);
  const hp = 2 * th + 1, wp = 2 * tw + 2;
  const mp = (m + 3) & ~3;
  const total = nb * th * tw;
  for (let t0 = 0; t0 < total; t0 += T) {
    const tb = min(T, total - t0);
    const tbp = (tb + 7) & ~7;
    inputTransform9(xp, v, t0, tb, tbp, total, k, th, tw, hp, wp);
    products(9, u, v, mm, tbp, k, mp);
    outputTransform9(mm, y, mm + ((<usize>9 * mp * ((T + 7) & ~7)) << 2), t0, tb, tbp, m, th, tw, oh, ow, bias);
  }
}

/**
 * The weight gradient's transformed sums of the same convolution: du[xi][mp][kp] += Z[xi] (m x
 * tiles) . V[xi] (4 c x tiles)^T over every tile of the chunk, Z = At^T dY At, block by block of T
 * tiles. geo as winogradS2Conv; xp from phaseSplit; dy [nb][m][oh][ow]; v and z hold one block.
 */
export function winogradS2GradSums(geo: usize, xp: usize, dy: usize, du: usize, v: usize, z: usize): void {
  const nb = gi(geo, 0), k = gi(geo, 1), m = gi(geo, 2), th = gi(geo, 3), tw = gi(geo, 4), T = gi(geo, 7);
  const hp = 2 * th + 1, wp = 2 * tw + 2;
  const mp = (m + 3) & ~3, kp = (k + 7) & ~7;
  const total = nb * th * tw;
  for (let t0 = 0; t0 < total; t0 += T) {
    const tb = min(T, total - t0);
    inputTransformByChannel9(xp, v, t0, tb, k, kp, th, tw, hp, wp);
    gradTransform9(dy, z, t0, tb, m, mp, th, tw, gi(geo, 5), gi(geo, 6));
    gradProducts(9, z, v, du, tb, mp, kp);
  }
}

/**
 * dw[m][c][4][4] = G^T du G of each (output, input phase) filter (du as winogradS2GradSums left
 * it, 4 c phase channels), each phase's 2x2 to its kernel taps (2 a + 1 - p); in f64, rounded once.
 */
export function winogradS2FilterGrad(du: usize, dw: usize, m: i32, c: i32): void {
  const mp = (m + 3) & ~3, kp = (4 * c + 7) & ~7;
  const xs = (<usize>mp * kp) << 2;
  for (let mi = 0; mi < m; mi++) {
    for (let ci = 0; ci < c; ci++) {
      const dst = dw + ((<usize>(mi * c + ci) * 16) << 2);
      for (let ph = 0; ph < 4; ph++) {
        const py = ph >> 1, px = ph & 1;
        const src = du + ((<usize>mi * kp + 4 * ci + ph) << 2);
        // G^T = [1 1 0; 0 1 1]: rows r0 = du0 + du1, r1 = du1 + du2 (du_r: row r of the 3x3), then columns alike
        const e0 = duAt(src, xs, 0), e1 = duAt(src, xs, 1), e2 = duAt(src, xs, 2);
        const e3 = duAt(src, xs, 3), e4 = duAt(src, xs, 4), e5 = duAt(src, xs, 5);
        const e6 = duAt(src, xs, 6), e7 = duAt(src, xs, 7), e8 = duAt(src, xs, 8);
        const r00 = e0 + e3, r01 = e1 + e4, r02 = e2 + e5;
        const r10 = e3 + e6, r11 = e4 + e7, r12 = e5 + e8;
        store<f32>(dst + (<usize>((1 - py) * 4 + 1 - px) << 2), <f32>(r00 + r01));
        store<f32>(dst + (<usize>((1 - py) * 4 + 3 - px) << 2), <f32>(r01 + r02));
        store<f32>(dst + (<usize>((3 - py) * 4 + 1 - px) << 2), <f32>(r10 + r11));
        store<f32>(dst + (<usize>((3 - py) * 4 + 3 - px) << 2), <f32>(r11 + r12));
      }
    }
  }
}

@inline function duAt(src: usize, xs: usize, xi: i32): f64 { return <f64>load<f32>(src + <usize>xi * xs); }
