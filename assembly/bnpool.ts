// BatchNorm -> ReLU -> MaxPool2d(2) for training, fused over the pooled layout, for 2x2 windows of
// stride 2 with no padding on planes of even height and width (the others take the general path:
// bnForward, maxPool2d, maxPool2dBackward, bnBackward in turn). Bit-identical to that path:
//
// Forward: per four windows, the two input rows are normalised (bnForward's f32 operations),
// rectified and pooled (maxWindows, as maxPool2d) in registers: only the pooled values and the
// argmax indices are written, never the full-size activation.
//
// Backward: the general path scatters the pooled gradient into a zeroed full-size buffer (0 + dy
// at each window's argmax) in one pass over the batch, and bnBackward's first pass replaces it by
// its product with the ReLU step of the recomputed y; both passes then read it from memory. Here,
// channel by channel, that masked gradient is written straight into a scratch buffer of one
// channel (in cache): each window's four positions at once, y recomputed at the argmax only; then
// bnBackward's own two passes (bnBackwardRuns, no ReLU) run over the scratch and x. The same
// values in the same order: the same bits, without the zero fill, the scatter, and the full-size
// buffer's trips to memory. The indices must be the forward's (each inside its window): a channel
// where one is not gets bad[ch] = 1, and the driver takes the general path.

import { affine4 as affine, bnBackwardRuns, bnScale, bnShift, mulStep4, relu4 } from './norm';
import { maxWindows, storeLanes, windowStarts } from './pool';

@inline function evens(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 2, 4, 6); }
@inline function odds(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 1, 3, 5, 7); }

/** Windows ox..ox + 3 of output row oy (rows r0, r1 of the input): normalised, rectified, pooled; `count` stored. */
@inline function bnReluPool4(r0: usize, r1: usize, ox: i32, sc: v128, sh: v128, oy: i32, w: i32, out: usize, indices: usize, count: i32): void {
  const col = <usize>ox << 3;
  const a0 = relu4(affine(v128.load(r0 + col), sc, sh)), b0 = relu4(affine(v128.load(r0 + col, 16), sc, sh));
  const a1 = relu4(affine(v128.load(r1 + col), sc, sh)), b1 = relu4(affine(v128.load(r1 + col, 16), sc, sh));
  maxWindows(evens(a0, b0), odds(a0, b0), evens(a1, b1), odds(a1, b1), windowStarts(oy, ox, w), w, out, indices, count);
}

/**
 * out, indices = maxPool2d(relu(bnForward(x))) for 2x2 windows of stride 2; x is [n, ct, h, w]
 * (h, w even), out and indices [n, ct, h/2, w/2]; c channels from the pointers' first one.
 */
export function bnReluMaxPool2x2(x: usize, out: usize, indices: usize, n: i32, c: i32, h: i32, w: i32,
  mean: usize, invstd: usize, wt: usize, b: usize, ct: i32): void {
  const oh = h >> 1, ow = w >> 1, s = h * w, S = oh * ow;
  for (let ch = 0; ch < c; ch++) {
    const k = <usize>ch << 2;
    const scale = bnScale(invstd + k, wt + k);
    const sc = f32x4.splat(scale), sh = f32x4.splat(bnShift(b + k, mean + k, scale));
    for (let i = 0; i < n; i++) {
      const run = <usize>(i * ct + ch);
      const xp = x + ((run * s) << 2);
      let o = (run * S) << 2;
      for (let oy = 0; oy < oh; oy++) {
        const r0 = xp + ((<usize>oy * 2 * w) << 2);
        const r1 = r0 + (<usize>w << 2);
        let ox = 0;
        for (; ox + 4 <= ow; ox += 4, o += 16) bnReluPool4(r0, r1, ox, sc, sh, oy, w, out + o, indices + o, 4);
        // the row's last 1-3 windows read past it (8 readable floats after x); the lanes past them
        // are stored (to be overwritten by the next row's) except in the plane's last row
        if (ox < ow) {
          bnReluPool4(r0, r1, ox, sc, sh, oy, w, out + o, indices + o, ow - ox);
          o += <usize>(ow - ox) << 2;
        }
      }
    }
  }
}

/** A row's positions 2 ox .. 2 ox + 3 (lo) and 2 ox + 4 .. 2 ox + 7 (hi) from windows ox .. ox + 3's left and right values. */
@inline function posLo(l: v128, r: v128): v128 { return v128.shuffle<f32>(l, r, 0, 4, 1, 5); }
@inline function posHi(l: v128, r: v128): v128 { return v128.shuffle<f32>(l, r, 2, 6, 3, 7); }

/** Positions 2 ox .. 2 ox + 2 count - 1 of a row at p: l and r of the `count` windows, interleaved. */
@inline function storeRow(p: usize, l: v128, r: v128, count: i32): void {
  storeLanes(p, posLo(l, r), min(2 * count, 4));
  if (count > 2) storeLanes(p + 16, posHi(l, r), 2 * count - 4);
}

/**
 * Gradients of bnReluMaxPool2x2 (= bnBackward with reluBias of the scattered dy). dy, indices:
 * [n, ct, h/2, w/2] (both read up to 3 elements past their end); d: scratch for one channel's
 * gradient (n h w floats); sumDy, sumDyXhat: f64[c] (= dbias, dweight); bad: i32[c].
 */
export function bnReluMaxPool2x2Backward(dy: usize, indices: usize, x: usize, dx: usize, d: usize, n: i32, c: i32, h: i32, w: i32,
  mean: usize, invstd: usize, wt: usize, bias: usize, batchStats: i32, sumDy: usize, sumDyXhat: usize, bad: usize, ct: i32): void {
  const oh = h >> 1, ow = w >> 1, s = h * w, S = oh * ow;
  for (let ch = 0; ch < c; ch++) {
    const k = <usize>ch << 2;
    const scale = bnScale(invstd + k, wt + k);
    const sc = f32x4.splat(scale), sh = f32x4.splat(bnShift(bias + k, mean + k, scale));
    let invalid = i32x4.splat(0);
    const wB = i32x4.splat(w), wB1 = i32x4.splat(w + 1);
    // the channel's masked gradient at every position: (0 + dy) * step(y) at each window's argmax
    // (the scatter, then bnBackward's ReLU step of the recomputed y), +0 elsewhere
    for (let i = 0; i < n; i++) {
      const run = <usize>(i * ct + ch);
      const xp = x + ((run * s) << 2), dp = d + ((<usize>i * s) << 2);
      const po = (run * S) << 2;
      for (let oy = 0; oy < oh; oy++) {
        const r0 = <usize>oy * 2 * w << 2, r1 = r0 + (<usize>w << 2);
        const q0 = po + ((<usize>oy * ow) << 2);
        for (let ox = 0; ox < ow; ox += 4) {
          const q = q0 + (<usize>ox << 2), col = <usize>ox << 3;
          const count = min(ow - ox, 4);
          const rel = i32x4.sub(v128.load(indices + q), windowStarts(oy, ox, w));
          const mTL = i32x4.eq(rel, i32x4.splat(0)), mTR = i32x4.eq(rel, i32x4.splat(1));
          const mBL = i32x4.eq(rel, wB), mBR = i32x4.eq(rel, wB1);
          const valid = i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(count));
          invalid = v128.or(invalid, v128.andnot(valid, v128.or(v128.or(mTL, mTR), v128.or(mBL, mBR))));
          const a0 = v128.load(xp + r0 + col), b0 = v128.load(xp + r0 + col, 16);
          const a1 = v128.load(xp + r1 + col), b1 = v128.load(xp + r1 + col, 16);
          // x at the argmax (one mask per window holds)
          const xa = v128.or(v128.or(v128.and(evens(a0, b0), mTL), v128.and(odds(a0, b0), mTR)),
            v128.or(v128.and(evens(a1, b1), mBL), v128.and(odds(a1, b1), mBR)));
          const m = mulStep4(f32x4.add(f32x4.splat(0), v128.load(dy + q)), affine(xa, sc, sh));
          storeRow(dp + r0 + col, v128.and(m, mTL), v128.and(m, mTR), count);
          storeRow(dp + r1 + col, v128.and(m, mBL), v128.and(m, mBR), count);
        }
      }
    }
    store<i32>(bad + k, v128.any_true(invalid) ? 1 : 0);
    // bnBackward's two passes over it (the ReLU already applied)
    bnBackwardRuns(d, 1, x + ((<usize>ch * s) << 2), dx + ((<usize>ch * s) << 2), n, 1, s, mean + k, invstd + k, wt + k,
      batchStats, sumDy + (<usize>ch << 3), sumDyXhat + (<usize>ch << 3), 0, ct);
  }
}
