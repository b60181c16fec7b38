// 2-D max and average pooling over NCHW float32, forward and backward. Same semantics as the
// js reference (src/backend/js/pool.ts): windows clipped to the input, max-pool indices are
// positions within the input plane, the first NaN in a window wins, avg sums in f64.
//
// Geometry is read from an i32[13] block at `geo`:
//   0 n, 1 c, 2 h, 3 w, 4 oh, 5 ow, 6 kh, 7 kw, 8 strideH, 9 strideW, 10 padH, 11 padW,
//   12 countIncludePad

@inline function gi(geo: usize, i: i32): i32 { return load<i32>(geo + (<usize>i << 2)); }

/** Where a candidate v takes over from best: v greater or NaN, and best not NaN (the first NaN stays). */
@inline function takes(v: v128, best: v128): v128 {
  return v128.and(v128.or(f32x4.gt(v, best), f32x4.ne(v, v)), f32x4.eq(best, best));
}

/** The first NaN of tl, tr, bl, br (a window's candidates in the reference's scan order), else their largest: maxWindows' values, lane by lane. */
@inline export function maxValue4(tl: v128, tr: v128, bl: v128, br: v128): v128 {
  let best = v128.bitselect(tr, tl, takes(tr, tl));
  best = v128.bitselect(bl, best, takes(bl, best));
  return v128.bitselect(br, best, takes(br, best));
}

/** Store the first `count` (1-4) lanes of v at p. */
@inline export function storeLanes(p: usize, v: v128, count: i32): void {
  if (count >= 4) { v128.store(p, v); return; }
  store<i32>(p, i32x4.extract_lane(v, 0));
  if (count >= 2) store<i32>(p, i32x4.extract_lane(v, 1), 4);
  if (count >= 3) store<i32>(p, i32x4.extract_lane(v, 2), 8);
}

/**
 * Four 2x2 windows: tl, tr, bl, br hold their candidates (top-left, top-right, bottom-left,
 * bottom-right: the reference's scan order); the maxima go to out and their positions
 * (i00 = the top-left ones; w the row length) to indices unless it is 0; `count` (1-4) windows
 * are stored. relu: the maxima of the candidates' ReLUs instead (relu4 of each, then the above),
 * found as relu of the maximum: the same first NaN, or the same first largest value where it is
 * positive; where none is (every candidate <= 0, all +0 after the ReLU, a tie) +0 at the top-left.
 */
@inline export function maxWindows(tl: v128, tr: v128, bl: v128, br: v128, i00: v128, w: i32, out: usize, indices: usize, count: i32, relu: bool = false): void {
  let best = tl, bi = i00;
  let take = takes(tr, best);
  best = v128.bitselect(tr, best, take);
  bi = v128.bitselect(i32x4.add(i00, i32x4.splat(1)), bi, take);
  take = takes(bl, best);
  best = v128.bitselect(bl, best, take);
  bi = v128.bitselect(i32x4.add(i00, i32x4.splat(w)), bi, take);
  take = takes(br, best);
  best = v128.bitselect(br, best, take);
  bi = v128.bitselect(i32x4.add(i00, i32x4.splat(w + 1)), bi, take);
  if (relu) {
    const none = f32x4.le(best, f32x4.splat(0));
    best = v128.andnot(best, none);
    bi = v128.bitselect(i00, bi, none);
  }
  storeLanes(out, best, count);
  if (indices) storeLanes(indices, bi, count);
}

/** Top-left positions of windows ox..ox+3 of output row oy (row length w), for maxWindows. */
@inline export function windowStarts(oy: i32, ox: i32, w: i32): v128 {
  return i32x4.add(i32x4.splat(oy * 2 * w + ox * 2), i32x4(0, 2, 4, 6));
}

/**
 * The common 2x2 / stride 2 / no padding case, four outputs at a time: lanes hold the window's
 * candidates in the reference's scan order. The row's last 1-3 outputs load past the row (the
 * caller leaves 8 readable floats after the input) and store only the valid lanes.
 */
function maxPool2x2(planes: i32, h: i32, w: i32, oh: i32, ow: i32, x: usize, out: usize, indices: usize): void {
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = x + ((<usize>p * h * w) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const r0 = plane + ((<usize>oy * 2 * w) << 2);
      const r1 = r0 + (<usize>w << 2);
      for (let ox = 0; ox < ow; ox += 4) {
        const c = <usize>ox << 3;
        const a0 = v128.load(r0 + c), b0 = v128.load(r0 + c, 16);
        const a1 = v128.load(r1 + c), b1 = v128.load(r1 + c, 16);
        const count = min(ow - ox, 4);
        maxWindows(v128.shuffle<f32>(a0, b0, 0, 2, 4, 6), v128.shuffle<f32>(a0, b0, 1, 3, 5, 7),
          v128.shuffle<f32>(a1, b1, 0, 2, 4, 6), v128.shuffle<f32>(a1, b1, 1, 3, 5, 7),
          windowStarts(oy, ox, w), w, out + (o << 2), indices ? indices + (o << 2) : 0, count);
        o += count;
      }
    }
  }
}

/** indices = 0: values only (no gradient wanted). */
export function maxPool2d(geo: usize, x: usize, out: usize, indices: usize): void {
  const planes = gi(geo, 0) * gi(geo, 1), h = gi(geo, 2), w = gi(geo, 3);
  const oh = gi(geo, 4), ow = gi(geo, 5), kh = gi(geo, 6), kw = gi(geo, 7);
  const sh = gi(geo, 8), sw = gi(geo, 9), ph = gi(geo, 10), pw = gi(geo, 11);
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && oh * 2 <= h && ow * 2 <= w) {
    maxPool2x2(planes, h, w, oh, ow, x, out, indices);
    return;
  }
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = x + ((<usize>p * h * w) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const ys = oy * sh - ph;
      const y0 = max(ys, 0), y1 = min(ys + kh, h);
      for (let ox = 0; ox < ow; ox++, o++) {
        const xs = ox * sw - pw;
        const x0 = max(xs, 0), x1 = min(xs + kw, w);
        let best: f32 = -Infinity;
        let bi: i32 = y0 * w + x0;
        for (let y = y0; y < y1; y++) {
          const r = plane + ((<usize>y * w) << 2);
          let nan = false;
          for (let xx = x0; xx < x1; xx++) {
            const v = load<f32>(r + (<usize>xx << 2));
            if (v > best || v != v) {
              best = v;
              bi = y * w + xx;
              if (v != v) { nan = true; break; }
            }
          }
          if (nan) break;
        }
        store<f32>(out + (o << 2), best);
        if (indices) store<i32>(indices + (o << 2), bi);
      }
    }
  }
}

/** dx (zeroed by the caller, n*c*h*w) += dy scattered through indices. */
export function maxPool2dBackward(geo: usize, dy: usize, indices: usize, dx: usize): void {
  const planes = gi(geo, 0) * gi(geo, 1), hw = gi(geo, 2) * gi(geo, 3);
  const S = gi(geo, 4) * gi(geo, 5);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = dx + ((<usize>p * hw) << 2);
    for (let s = 0; s < S; s++, o++) {
      const d = plane + (<usize>load<i32>(indices + (o << 2)) << 2);
      store<f32>(d, load<f32>(d) + load<f32>(dy + (o << 2)));
    }
  }
}

@inline function divisor(geo: usize, ys: i32, xs: i32, y0: i32, y1: i32, x0: i32, x1: i32): f64 {
  if (!gi(geo, 12)) return <f64>((y1 - y0) * (x1 - x0));
  const h = gi(geo, 2), w = gi(geo, 3), kh = gi(geo, 6), kw = gi(geo, 7), ph = gi(geo, 10), pw = gi(geo, 11);
  return <f64>((min(ys + kh, h + ph) - ys) * (min(xs + kw, w + pw) - xs));
}

export function avgPool2d(geo: usize, x: usize, out: usize): void {
  const planes = gi(geo, 0) * gi(geo, 1), h = gi(geo, 2), w = gi(geo, 3);
  const oh = gi(geo, 4), ow = gi(geo, 5), kh = gi(geo, 6), kw = gi(geo, 7);
  const sh = gi(geo, 8), sw = gi(geo, 9), ph = gi(geo, 10), pw = gi(geo, 11);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = x + ((<usize>p * h * w) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const ys = oy * sh - ph;
      const y0 = max(ys, 0), y1 = min(ys + kh, h);
      for (let ox = 0; ox < ow; ox++, o++) {
        const xs = ox * sw - pw;
        const x0 = max(xs, 0), x1 = min(xs + kw, w);
        let s: f64 = 0;
        for (let y = y0; y < y1; y++) {
          const r = plane + ((<usize>y * w) << 2);
          for (let xx = x0; xx < x1; xx++) s += <f64>load<f32>(r + (<usize>xx << 2));
        }
        store<f32>(out + (o << 2), <f32>(s / divisor(geo, ys, xs, y0, y1, x0, x1)));
      }
    }
  }
}

/** dx (zeroed by the caller) += each dy spread evenly over its window. */
export function avgPool2dBackward(geo: usize, dy: usize, dx: usize): void {
  const planes = gi(geo, 0) * gi(geo, 1), h = gi(geo, 2), w = gi(geo, 3);
  const oh = gi(geo, 4), ow = gi(geo, 5), kh = gi(geo, 6), kw = gi(geo, 7);
  const sh = gi(geo, 8), sw = gi(geo, 9), ph = gi(geo, 10), pw = gi(geo, 11);
  let o: usize = 0;
  for (let p = 0; p < planes; p++) {
    const plane = dx + ((<usize>p * h * w) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const ys = oy * sh - ph;
      const y0 = max(ys, 0), y1 = min(ys + kh, h);
      for (let ox = 0; ox < ow; ox++, o++) {
        const xs = ox * sw - pw;
        const x0 = max(xs, 0), x1 = min(xs + kw, w);
        // js reference: v = dy / divisor in f64, then dx[i] (f32) += v, rounded each time
        const v: f64 = <f64>load<f32>(dy + (o << 2)) / divisor(geo, ys, xs, y0, y1, x0, x1);
        for (let y = y0; y < y1; y++) {
          const r = plane + ((<usize>y * w) << 2);
          for (let xx = x0; xx < x1; xx++) {
            const d = r + (<usize>xx << 2);
            store<f32>(d, <f32>(<f64>load<f32>(d) + v));
          }
        }
      }
    }
  }
}
