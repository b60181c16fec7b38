// Convolution helpers over a chunk of `nb` images (NCHW float32), for im2col + SGEMM.
// The column matrix of a chunk and group is col[K, nb * S] with K = (C/groups) * kH * kW and
// S = oH * oW; column j = i * S + (oy * oW + ox) is output pixel (oy, ox) of image i.
//
// Geometry is read from an i32[16] block at `geo` (written by TypeScript):
//   0 nb, 1 c, 2 h, 3 w, 4 o, 5 kh, 6 kw, 7 oh, 8 ow, 9 strideH, 10 strideW, 11 padH,
//   12 padW, 13 dilH, 14 dilW, 15 groups

import { madd } from './gemm';

@inline function gi(geo: usize, i: i32): i32 { return load<i32>(geo + (<usize>i << 2)); }

/** n zero floats at p: stores, not memory.fill, whose call costs more than a short row (7 floats). */
@inline function zeroF32(p: usize, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) v128.store(p + (<usize>j << 2), i32x4.splat(0));
  for (; j < n; j++) store<f32>(p + (<usize>j << 2), 0);
}

/** Lanes 0, 2 of a and 1, 3 of b: the floats p[0], p[2], p[4], p[6] for a = p[0..4), b = p[3..7). */
@inline function evenS2(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 2, 5, 7); }

/**
 * One stride-2 im2col row: d[ox] = src[2 * ox] for ox in [ox0, ox1), zero elsewhere in [0, ow).
 * 4 outputs are evenS2 of loads at src[2 * ox] and src[2 * ox + 3]: no load reaches past
 * src[2 * (ox + 3)], the last input used (the arena holds other buffers). A row of 4 or more ends
 * with one step at ox1 - 4 (rewriting some outputs with the same values) instead of a scalar tail.
 */
@inline function im2colRowS2(d: usize, src: usize, ox0: i32, ox1: i32, ow: i32): void {
  zeroF32(d, ox0);
  let ox = ox0;
  if (ox1 - ox0 >= 4) {
    for (;;) {
      const sp = src + (<usize>ox << 3);
      v128.store(d + (<usize>ox << 2), evenS2(v128.load(sp), v128.load(sp, 12)));
      if (ox + 4 >= ox1) break;
      ox = min(ox + 4, ox1 - 4);
    }
  } else {
    for (; ox < ox1; ox++) store<f32>(d + (<usize>ox << 2), load<f32>(src + (<usize>ox << 3)));
  }
  zeroF32(d + (<usize>ox1 << 2), ow - ox1);
}

/** col[K, nb*S] for group g from the chunk x (nb images, all channels). */
export function im2col(geo: usize, x: usize, col: usize, g: i32): void {
  const nb = gi(geo, 0), c = gi(geo, 1), h = gi(geo, 2), w = gi(geo, 3);
  const kh = gi(geo, 5), kw = gi(geo, 6), oh = gi(geo, 7), ow = gi(geo, 8);
  const sh = gi(geo, 9), sw = gi(geo, 10), ph = gi(geo, 11), pw = gi(geo, 12);
  const dh = gi(geo, 13), dw = gi(geo, 14), groups = gi(geo, 15);
  const cg = c / groups;
  const S = oh * ow;
  const ncol = nb * S;
  let row: i32 = 0;
  for (let ci = 0; ci < cg; ci++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        // valid ox range: 0 <= ox*sw - pw + kx*dw < w
        const off = kx * dw - pw;
        let ox0 = off < 0 ? (-off + sw - 1) / sw : 0;
        let ox1 = w - off <= 0 ? 0 : (w - off + sw - 1) / sw; // first ox with ix >= w
        if (ox1 > ow) ox1 = ow;
        if (ox0 > ox1) ox0 = ox1;
        const drow = col + ((<usize>row * ncol) << 2);
        for (let i = 0; i < nb; i++) {
          const plane = x + ((<usize>(i * c + g * cg + ci) * h * w) << 2);
          let d = drow + ((<usize>i * S) << 2);
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh - ph + ky * dh;
            if (iy < 0 || iy >= h) {
              if (sw == 2) zeroF32(d, ow);
              else memory.fill(d, 0, <usize>ow << 2);
            } else {
              const srow = plane + ((<usize>iy * w) << 2);
              if (sw == 2) {
                im2colRowS2(d, srow + (<isize>off << 2), ox0, ox1, ow);
              } else {
                if (ox0 > 0) memory.fill(d, 0, <usize>ox0 << 2);
                if (sw == 1) {
                  memory.copy(d + (<usize>ox0 << 2), srow + (<usize>(ox0 + off) << 2), <usize>(ox1 - ox0) << 2);
                } else {
                  for (let ox = ox0; ox < ox1; ox++) {
                    store<f32>(d + (<usize>ox << 2), load<f32>(srow + (<usize>(ox * sw + off) << 2)));
                  }
                }
                if (ox1 < ow) memory.fill(d + (<usize>ox1 << 2), 0, <usize>(ow - ox1) << 2);
              }
            }
            d += <usize>ow << 2;
          }
        }
      }
    }
  }
}

/** n zero floats at p. */
@inline function zeroRun(p: usize, n: i32): void {
  const z = f32x4.splat(0);
  for (; n >= 4; n -= 4, p += 16) v128.store(p, z);
  for (; n > 0; n--, p += 4) store<f32>(p, 0);
}

/** n floats from s to d (no overlap); from 4 on, vectors only (the last one overlapping the one before). */
@inline function copyRun(d: usize, s: usize, n: i32): void {
  if (n < 4) {
    for (let j = 0; j < n; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + (<usize>j << 2)));
    return;
  }
  let j = 0;
  for (; j + 4 <= n; j += 4) v128.store(d + (<usize>j << 2), v128.load(s + (<usize>j << 2)));
  if (j < n) v128.store(d + (<usize>(n - 4) << 2), v128.load(s + (<usize>(n - 4) << 2)));
}

/**
 * xp = the planes of x (h x w each) zero-padded into hp x wp planes, the image at (ph, pw) (Winograd
 * and the direct convolution read these). Each float of xp is written once, in order: the zeros
 * between two rows' values are one run, and rows are copied by vectors (a memory.copy per row of
 * 14 floats cost more than the copy).
 */
export function padPlanes(x: usize, xp: usize, planes: i32, h: i32, w: i32, hp: i32, wp: i32, ph: i32, pw: i32): void {
  const gap = wp - w; // zeros between two rows' values: the right padding, then the next row's left
  const after = wp - pw - w + (hp - ph - h) * wp; // after the last row's values
  let src = x, d = xp;
  for (let p = 0; p < planes; p++) {
    if (h == 0) {
      zeroRun(d, hp * wp);
      d += <usize>(hp * wp) << 2;
      continue;
    }
    zeroRun(d, ph * wp + pw);
    d += <usize>(ph * wp + pw) << 2;
    for (let r = 0; r < h; r++) {
      copyRun(d, src, w);
      const z = r + 1 < h ? gap : after;
      zeroRun(d + (<usize>w << 2), z);
      d += <usize>(w + z) << 2;
      src += <usize>w << 2;
    }
  }
}

/**
 * A block of a direct convolution: nc output channels (1, 2 or 4) x nv vectors of 4 pixels
 * (1 to 4, nc * nv <= 8 accumulators: constants once inlined) along one output row, at yp (the
 * channels' planes `yPlane` bytes apart). Each output is +0 plus, for p = (ci, ky, kx) in
 * im2col's row order, w[p] * x[p's window], then + bias where bias != 0: the order and operations
 * of sgemm's micro-kernel over im2col's matrix (acc = +0, then madd per p; K <= KC, so no split
 * of k), then of addChannelBias: the same bits. The taps are the entries of tab up to tabEnd
 * (tapTable, DIRECT_TAP bytes each; xp: the first pixel's window corner in the first padded
 * input plane).
 */
@inline function directBlock(nc: i32, nv: i32, xp: usize, tab: usize, tabEnd: usize, yp: usize, yPlane: usize, bias: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  for (let e = tab; e < tabEnd; e += DIRECT_TAP) {
    const q = xp + <usize>load<i32>(e);
    const x0 = v128.load(q);
    const x1 = nv > 1 ? v128.load(q, 16) : x0;
    const x2 = nv > 2 ? v128.load(q, 32) : x0;
    const x3 = nv > 3 ? v128.load(q, 48) : x0;
    let s = v128.load32_splat(e, 4);
    a00 = madd(a00, s, x0);
    if (nv > 1) a01 = madd(a01, s, x1);
    if (nv > 2) a02 = madd(a02, s, x2);
    if (nv > 3) a03 = madd(a03, s, x3);
    if (nc > 1) {
      s = v128.load32_splat(e, 8);
      a10 = madd(a10, s, x0);
      if (nv > 1) a11 = madd(a11, s, x1);
      if (nv > 2) a12 = madd(a12, s, x2);
      if (nv > 3) a13 = madd(a13, s, x3);
    }
    if (nc > 2) {
      s = v128.load32_splat(e, 12);
      a20 = madd(a20, s, x0);
      if (nv > 1) a21 = madd(a21, s, x1);
      s = v128.load32_splat(e, 16);
      a30 = madd(a30, s, x0);
      if (nv > 1) a31 = madd(a31, s, x1);
    }
  }
  if (bias != 0) {
    let b = v128.load32_splat(bias);
    a00 = f32x4.add(a00, b); a01 = f32x4.add(a01, b); a02 = f32x4.add(a02, b); a03 = f32x4.add(a03, b);
    if (nc > 1) {
      b = v128.load32_splat(bias, 4);
      a10 = f32x4.add(a10, b); a11 = f32x4.add(a11, b); a12 = f32x4.add(a12, b); a13 = f32x4.add(a13, b);
    }
    if (nc > 2) {
      b = v128.load32_splat(bias, 8);
      a20 = f32x4.add(a20, b); a21 = f32x4.add(a21, b);
      b = v128.load32_splat(bias, 12);
      a30 = f32x4.add(a30, b); a31 = f32x4.add(a31, b);
    }
  }
  v128.store(yp, a00);
  if (nv > 1) v128.store(yp, a01, 16);
  if (nv > 2) v128.store(yp, a02, 32);
  if (nv > 3) v128.store(yp, a03, 48);
  if (nc > 1) {
    const y1 = yp + yPlane;
    v128.store(y1, a10);
    if (nv > 1) v128.store(y1, a11, 16);
    if (nv > 2) v128.store(y1, a12, 32);
    if (nv > 3) v128.store(y1, a13, 48);
  }
  if (nc > 2) {
    const y2 = yp + 2 * yPlane, y3 = yp + 3 * yPlane;
    v128.store(y2, a20);
    if (nv > 1) v128.store(y2, a21, 16);
    v128.store(y3, a30);
    if (nv > 1) v128.store(y3, a31, 16);
  }
}

/**
 * One output row of nc channels (1, 2 or 4, a constant once inlined) of a direct convolution:
 * blocks of 8 accumulators along the row (4 channels x 8 pixels, or 1 or 2 channels x 16), then
 * narrower ones; the last 1 to 3 pixels of a row of 4 or more are the row's last 4 again
 * (recomputed to the same values). A row under 4 wide computes 4 pixels of each channel (the
 * padded plane is wide enough) into tmp (16 floats) and copies its own.
 */
@inline function directRow(nc: i32, xr: usize, tab: usize, tabEnd: usize, yp: usize, yPlane: usize, ow: i32, bias: usize, tmp: usize): void {
  const NV = nc > 2 ? 2 : 4;
  let ox = 0;
  for (; ox + 4 * NV <= ow; ox += 4 * NV) directBlock(nc, NV, xr + (<usize>ox << 2), tab, tabEnd, yp + (<usize>ox << 2), yPlane, bias);
  if (NV > 2 && ox + 8 <= ow) {
    directBlock(nc, 2, xr + (<usize>ox << 2), tab, tabEnd, yp + (<usize>ox << 2), yPlane, bias);
    ox += 8;
  }
  if (ox + 4 <= ow) {
    directBlock(nc, 1, xr + (<usize>ox << 2), tab, tabEnd, yp + (<usize>ox << 2), yPlane, bias);
    ox += 4;
  }
  if (ox < ow) {
    if (ow >= 4) {
      ox = ow - 4;
      directBlock(nc, 1, xr + (<usize>ox << 2), tab, tabEnd, yp + (<usize>ox << 2), yPlane, bias);
    } else {
      directBlock(nc, 1, xr, tab, tabEnd, tmp, 16, bias);
      for (let c = 0; c < nc; c++) {
        const yc = yp + <usize>c * yPlane, tc = tmp + (<usize>c << 4);
        for (let j = 0; j < ow; j++) store<f32>(yc + (<usize>j << 2), load<f32>(tc + (<usize>j << 2)));
      }
    }
  }
}

/** Bytes per tap of convDirect's tap tables: its offset and the weights of up to 4 channels. */
const DIRECT_TAP: usize = 20;

/**
 * A direct convolution's tap table for a block of nc output channels: per tap p = (ci, ky, kx)
 * in im2col's order, an entry of `entry` bytes from tab: where the tap reads, in bytes from its
 * window's corner in the first padded input plane (i32), then its weight for each of the nc
 * channels (from wo, the first channel's weights, wStep bytes per channel). The tap loops walk it
 * with one pointer: no index arithmetic, and each weight is one load at a constant offset (one
 * table load per tap also beats three nested loops, most for 1x1 kernels). Returns its end.
 */
export function tapTable(tab: usize, entry: usize, nc: i32, cg: i32, kh: i32, kw: i32, dh: i32, dw: i32, plane: usize, rowBytes: usize, wo: usize, wStep: usize): usize {
  let e = tab, p = 0;
  for (let ci = 0; ci < cg; ci++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, p++, e += entry) {
        store<i32>(e, <i32>(<usize>ci * plane + <usize>(ky * dh) * rowBytes + (<usize>(kx * dw) << 2)));
        for (let c = 0; c < nc; c++) store<f32>(e + 4 + (<usize>c << 2), load<f32>(wo + <usize>c * wStep + (<usize>p << 2)));
      }
    }
  }
  return e;
}

/**
 * Direct stride-1 convolution of a chunk, for a small K = (c / groups) * kh * kw (where im2col
 * + sgemm spend more on moving K-row matrices than on multiplying): y (nb images, all o
 * channels, NCHW) = w * x (+ bias[o] where bias != 0). xp holds the chunk's c * nb input planes
 * zero-padded (padPlanes) into hp x wp planes, with hp >= oh + (kh - 1) * dilH and
 * wp >= max(ow, 4) + (kw - 1) * dilW so every block reads inside its plane. The padding's zeros
 * are read and multiplied just as im2col's are, so the bits are those of im2col + sgemm +
 * addChannelBias (see directBlock). tmp: 16 + 5 K words of the thread's scratch (a row under 4
 * wide, then a channel block's tap table).
 */
export function convDirect(geo: usize, xp: usize, hp: i32, wp: i32, w: usize, bias: usize, y: usize, tmp: usize): void {
  const nb = gi(geo, 0), c = gi(geo, 1), o = gi(geo, 4);
  const kh = gi(geo, 5), kw = gi(geo, 6), oh = gi(geo, 7), ow = gi(geo, 8);
  const dh = gi(geo, 13), dw = gi(geo, 14), groups = gi(geo, 15);
  const cg = c / groups, og = o / groups;
  const K = cg * kh * kw;
  const wStep = <usize>K << 2;
  const plane = (<usize>hp * wp) << 2;
  const rowBytes = <usize>wp << 2;
  const yPlane = (<usize>oh * ow) << 2, yRow = <usize>ow << 2;
  const tab = tmp + 64;
  for (let i = 0; i < nb; i++) {
    for (let g = 0; g < groups; g++) {
      const xg = xp + <usize>(i * c + g * cg) * plane;
      let oc = g * og;
      const oEnd = oc + og;
      for (; oc < oEnd; ) {
        const bc = bias != 0 ? bias + (<usize>oc << 2) : 0;
        let yp = y + <usize>(i * o + oc) * yPlane;
        let xr = xg;
        const nc = oc + 4 <= oEnd ? 4 : oc + 2 <= oEnd ? 2 : 1;
        const tabEnd = tapTable(tab, DIRECT_TAP, nc, cg, kh, kw, dh, dw, plane, rowBytes, w + <usize>oc * wStep, wStep);
        if (nc == 4) {
          for (let oy = 0; oy < oh; oy++, yp += yRow, xr += rowBytes) directRow(4, xr, tab, tabEnd, yp, yPlane, ow, bc, tmp);
        } else if (nc == 2) {
          for (let oy = 0; oy < oh; oy++, yp += yRow, xr += rowBytes) directRow(2, xr, tab, tabEnd, yp, yPlane, ow, bc, tmp);
        } else {
          for (let oy = 0; oy < oh; oy++, yp += yRow, xr += rowBytes) directRow(1, xr, tab, tabEnd, yp, yPlane, ow, bc, tmp);
        }
        oc += nc;
      }
    }
  }
}

/**
 * col2im's plan of one dx row iy, at r (the same for every image and channel): words 0, 1: the
 * columns [lo, hi) of the row's classes (ix % sw; the first `count` columns of each) where every
 * tap exists; 2 + p: class p's tap count; then class p's taps from r + (2 + sw + 2 * p * K) * 4: for
 * each (ky, kx) in im2col's row order whose output row oy exists and whose output column
 * ox = ix / sw + d is whole for class p, the pair (the byte offset of col[(ky, kx)][oy * ow + d]
 * from the channel's and image's first column, d).
 */
function col2imPlanRow(r: usize, K: i32, ncolB: usize, iy: i32, count: i32, kh: i32, kw: i32, oh: i32, ow: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32): void {
  const tab = r + (<usize>(2 + sw) << 2);
  for (let p = 0; p < sw; p++) store<i32>(r + (<usize>(2 + p) << 2), 0);
  for (let ky = 0; ky < kh; ky++) {
    const ty = iy + ph - ky * dh;
    if (ty < 0 || ty % sh != 0 || ty / sh >= oh) continue;
    for (let kx = 0; kx < kw; kx++) {
      const tx = pw - kx * dw; // ox = (ix + tx) / sw where whole
      let p = (-tx) % sw;
      if (p < 0) p += sw;
      const d = (p + tx) / sw;
      const n = load<i32>(r + (<usize>(2 + p) << 2));
      const e = tab + ((<usize>(p * K + n)) << 3);
      store<i32>(e, <i32>(<usize>(ky * kw + kx) * ncolB) + ((ty / sh * ow + d) << 2));
      store<i32>(e, d, 4);
      store<i32>(r + (<usize>(2 + p) << 2), n + 1);
    }
  }
  // where every tap of each class exists: the vector steps there need no masks
  let lo = 0, hi = count;
  for (let p = 0; p < min(sw, 2); p++) {
    const n = load<i32>(r + (<usize>(2 + p) << 2));
    for (let j = 0; j < n; j++) {
      const d = load<i32>(tab + ((<usize>(p * K + j)) << 3), 4);
      lo = max(lo, -d);
      hi = min(hi, ow - d);
    }
  }
  store<i32>(r, lo);
  store<i32>(r, hi, 4);
}

/** dx at column m of a class: +0 plus its taps in order, each where its column ox = m + d exists. */
@inline function col2imPixel(t: usize, n: i32, src: usize, m: i32, ow: i32): f32 {
  let acc: f32 = 0;
  for (let j = 0; j < n; j++, t += 8) {
    const ox = m + load<i32>(t, 4);
    if (ox >= 0 && ox < ow) acc += load<f32>(src + <usize>load<i32>(t) + (<usize>m << 2));
  }
  return acc;
}

/** 4 columns m..m+3 of a class whose taps all exist there: +0 plus the taps in order. */
@inline function col2imVec(t: usize, n: i32, src: usize): v128 {
  let acc = f32x4.splat(0);
  for (let j = 0; j < n; j++, t += 8) acc = f32x4.add(acc, v128.load(src + <usize>load<i32>(t)));
  return acc;
}

/**
 * col2imVec where some taps lack some of the 4 columns (m + d outside [0, ow)): those lanes add
 * +0 instead (the load, from a neighbouring row or buffer, masked off), which leaves the sum as
 * it was: it starts at +0 and is never -0 (a sum is -0 only where both terms are).
 */
@inline function col2imVecMasked(t: usize, n: i32, src: usize, m: i32, ow: i32): v128 {
  let acc = f32x4.splat(0);
  const lanes = i32x4(0, 1, 2, 3), end = i32x4.splat(ow);
  for (let j = 0; j < n; j++, t += 8) {
    const ox = i32x4.add(i32x4.splat(m + load<i32>(t, 4)), lanes);
    const ok = v128.and(i32x4.ge_s(ox, i32x4.splat(0)), i32x4.lt_s(ox, end));
    acc = f32x4.add(acc, v128.and(v128.load(src + <usize>load<i32>(t)), ok));
  }
  return acc;
}

/**
 * dx (chunk, group g's channels) = col2im(col) for group g, the adjoint of im2col, gathered: each
 * dx element is +0 plus its contributions in im2col's row order (ky outer, kx inner), stored
 * once: the additions and bits of a scatter of col's rows into zeroed dx, without the zero fill
 * and the read-modify-write passes. Stride-1 and stride-2 rows take 4 (8) outputs per vector
 * step (stride 2: the even and odd columns' sums interleaved; near the row's ends, taps masked
 * off where they lack a column, reading up to kw * dilW floats either side of col: scratch),
 * others one at a time. tmp: h * (2 + sw + 2 * sw * kh * kw) words of the thread's scratch (the rows' plans).
 */
export function col2im(geo: usize, col: usize, dx: usize, g: i32, tmp: usize): void {
  const nb = gi(geo, 0), c = gi(geo, 1), h = gi(geo, 2), w = gi(geo, 3);
  const kh = gi(geo, 5), kw = gi(geo, 6), oh = gi(geo, 7), ow = gi(geo, 8);
  const sh = gi(geo, 9), sw = gi(geo, 10), ph = gi(geo, 11), pw = gi(geo, 12);
  const dh = gi(geo, 13), dw = gi(geo, 14), groups = gi(geo, 15);
  const cg = c / groups;
  const S = oh * ow;
  const K = kh * kw;
  const ncolB = (<usize>nb * S) << 2;
  const rowB = <usize>(2 + sw + 2 * sw * K) << 2;
  // the columns of each class the vector steps cover: [0, v1) (stride 2: both classes' first w >> 1)
  const v1 = sw == 1 ? w : sw == 2 ? w >> 1 : 0;
  for (let iy = 0; iy < h; iy++) col2imPlanRow(tmp + <usize>iy * rowB, K, ncolB, iy, v1, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw);
  const t1 = <usize>K << 3;
  for (let i = 0; i < nb; i++) {
    for (let ci = 0; ci < cg; ci++) {
      const src = col + <usize>ci * K * ncolB + ((<usize>i * S) << 2);
      let drow = dx + ((<usize>(i * c + g * cg + ci) * h * w) << 2);
      let r = tmp;
      for (let iy = 0; iy < h; iy++, drow += <usize>w << 2, r += rowB) {
        const lo = load<i32>(r), hi = load<i32>(r, 4);
        const tab = r + (<usize>(2 + sw) << 2);
        if (v1 >= 4) {
          // the last step at v1 - 4 rewrites some outputs with the same sums
          const n0 = load<i32>(r, 8);
          if (sw == 1) {
            for (let m = 0; ; m = min(m + 4, v1 - 4)) {
              const s = src + (<usize>m << 2);
              v128.store(drow + (<usize>m << 2), m >= lo && m + 4 <= hi ? col2imVec(tab, n0, s) : col2imVecMasked(tab, n0, s, m, ow));
              if (m + 4 >= v1) break;
            }
          } else {
            const n1 = load<i32>(r, 12);
            for (let m = 0; ; m = min(m + 4, v1 - 4)) {
              const s = src + (<usize>m << 2);
              const inner = m >= lo && m + 4 <= hi;
              const e = inner ? col2imVec(tab, n0, s) : col2imVecMasked(tab, n0, s, m, ow);
              const o = inner ? col2imVec(tab + t1, n1, s) : col2imVecMasked(tab + t1, n1, s, m, ow);
              const p = drow + (<usize>m << 3);
              v128.store(p, v128.shuffle<f32>(e, o, 0, 4, 1, 5));
              v128.store(p, v128.shuffle<f32>(e, o, 2, 6, 3, 7), 16);
              if (m + 4 >= v1) break;
            }
          }
        }
        // the rest one at a time (a stride-2 row's odd last column, rows under 4 steps wide, strides over 2)
        for (let ix = v1 >= 4 ? v1 * sw : 0; ix < w; ix++) {
          const p = ix % sw;
          store<f32>(drow + (<usize>ix << 2), col2imPixel(tab + (<usize>(p * K) << 3), load<i32>(r + (<usize>(2 + p) << 2)), src, ix / sw, ow));
        }
      }
    }
  }
}

/**
 * Gather channel rows [c0, c0 + cnt) of nb NCHW images (chanTotal channels, S pixels each)
 * into a matrix [cnt, nb * S]: dst[r][i * S + s] = src[(i * chanTotal + c0 + r) * S + s].
 */
export function gatherChannels(src: usize, dst: usize, nb: i32, chanTotal: i32, c0: i32, cnt: i32, S: i32): void {
  const bytes = <usize>S << 2;
  for (let r = 0; r < cnt; r++) {
    let d = dst + ((<usize>r * nb * S) << 2);
    for (let i = 0; i < nb; i++, d += bytes) {
      memory.copy(d, src + ((<usize>(i * chanTotal + c0 + r) * S) << 2), bytes);
    }
  }
}

/** The inverse of gatherChannels: dst (NCHW) channel rows [c0, c0 + cnt) = src[cnt, nb * S]. */
export function scatterChannels(src: usize, dst: usize, nb: i32, chanTotal: i32, c0: i32, cnt: i32, S: i32): void {
  const bytes = <usize>S << 2;
  for (let r = 0; r < cnt; r++) {
    let s = src + ((<usize>r * nb * S) << 2);
    for (let i = 0; i < nb; i++, s += bytes) {
      memory.copy(dst + ((<usize>(i * chanTotal + c0 + r) * S) << 2), s, bytes);
    }
  }
}

/** y[i, ch, :] += bias[ch] for nb images of c channels of s pixels (a conv's bias, fused into its output chunk). */
export function addChannelBias(y: usize, nb: i32, c: i32, s: i32, bias: usize): void {
  let p = y;
  for (let i = 0; i < nb; i++) {
    for (let ch = 0; ch < c; ch++) {
      const bv = load<f32>(bias + (<usize>ch << 2));
      const b4 = f32x4.splat(bv);
      let j = 0;
      for (; j + 4 <= s; j += 4, p += 16) v128.store(p, f32x4.add(v128.load(p), b4));
      for (; j < s; j++, p += 4) store<f32>(p, load<f32>(p) + bv);
    }
  }
}
