// Convolution helpers over a chunk of `nb` images (NCHW float32), for im2col + SGEMM.
// The column matrix of a chunk and group is col[K, nb * S] with K = (C/groups) * kH * kW and
// S = oH * oW; column j = i * S + (oy * oW + ox) is output pixel (oy, ox) of image i.
//
// Geometry is read from an i32[16] block at `geo` (written by TypeScript):
//   0 nb, 1 c, 2 h, 3 w, 4 o, 5 kh, 6 kw, 7 oh, 8 ow, 9 strideH, 10 strideW, 11 padH,
//   12 padW, 13 dilH, 14 dilW, 15 groups

@inline function gi(geo: usize, i: i32): i32 { return load<i32>(geo + (<usize>i << 2)); }

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
              memory.fill(d, 0, <usize>ow << 2);
            } else {
              if (ox0 > 0) memory.fill(d, 0, <usize>ox0 << 2);
              const srow = plane + ((<usize>iy * w) << 2);
              if (sw == 1) {
                memory.copy(d + (<usize>ox0 << 2), srow + (<usize>(ox0 + off) << 2), <usize>(ox1 - ox0) << 2);
              } else {
                for (let ox = ox0; ox < ox1; ox++) {
                  store<f32>(d + (<usize>ox << 2), load<f32>(srow + (<usize>(ox * sw + off) << 2)));
                }
              }
              if (ox1 < ow) memory.fill(d + (<usize>ox1 << 2), 0, <usize>(ow - ox1) << 2);
            }
            d += <usize>ow << 2;
          }
        }
      }
    }
  }
}

/** dx (chunk, all channels) += col2im(col) for group g: the adjoint of im2col. */
export function col2im(geo: usize, col: usize, dx: usize, g: i32): void {
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
        const off = kx * dw - pw;
        let ox0 = off < 0 ? (-off + sw - 1) / sw : 0;
        let ox1 = w - off <= 0 ? 0 : (w - off + sw - 1) / sw;
        if (ox1 > ow) ox1 = ow;
        if (ox0 > ox1) ox0 = ox1;
        const srow0 = col + ((<usize>row * ncol) << 2);
        for (let i = 0; i < nb; i++) {
          const plane = dx + ((<usize>(i * c + g * cg + ci) * h * w) << 2);
          let s = srow0 + ((<usize>i * S) << 2);
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh - ph + ky * dh;
            if (iy >= 0 && iy < h) {
              const drow = plane + ((<usize>iy * w) << 2);
              if (sw == 1) {
                let ox = ox0;
                let dp = drow + (<usize>(ox0 + off) << 2);
                let sp = s + (<usize>ox0 << 2);
                for (; ox + 4 <= ox1; ox += 4, dp += 16, sp += 16) {
                  v128.store(dp, f32x4.add(v128.load(dp), v128.load(sp)));
                }
                for (; ox < ox1; ox++, dp += 4, sp += 4) store<f32>(dp, load<f32>(dp) + load<f32>(sp));
              } else {
                for (let ox = ox0; ox < ox1; ox++) {
                  const dp = drow + (<usize>(ox * sw + off) << 2);
                  store<f32>(dp, load<f32>(dp) + load<f32>(s + (<usize>ox << 2)));
                }
              }
            }
            s += <usize>ow << 2;
          }
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
