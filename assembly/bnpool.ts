// BatchNorm -> ReLU -> MaxPool2d(2) for training, fused over the pooled layout, for 2x2 windows of
// stride 2 with no padding on planes of even height and width (the others take the general path:
// bnForward, maxPool2d, maxPool2dBackward, bnBackward in turn).
//
// Forward: per four windows, the two input rows are normalised (bnForward's f32 operations),
// rectified and pooled (maxWindows with relu: the ReLU of the maximum, which is the maximum of
// the ReLUs, with the ReLU's ties) in registers: only the pooled values and the argmax indices
// are written, never the full-size activation. Bit-identical to the general path.
//
// Backward: the general path scatters the pooled gradient into a zeroed full-size buffer (0 + dy
// at each window's argmax), and bnBackward's first pass replaces it by its product with the ReLU
// step of the recomputed y and sums it (and its product with x - mean) over every position,
// three quarters of the terms zero; its second pass writes dx. Here, channel by channel, pass 1
// runs over the windows: y recomputed at the argmax only, the masked gradient kept pooled (in
// scratch, in cache), the sums over the windows alone; pass 2 writes dx at every position from
// x and the masked gradient scattered in registers, with bnBackward's f32 steps. No zero fill,
// no full-size gradient, one pass over x fewer, a quarter of the f64 sums. The sums are the
// general path's reordered (so dweight, dbias and, through their coefficients, dx may differ
// from it in the last bit: test/conformance/fusion.test.ts bounds them), except in a channel
// where x or the mean is not finite, which takes the general path's operations (there the zero
// terms matter: 0 * inf is NaN). The indices must be the forward's (each inside its window): a
// channel where one is not gets bad[ch] = 1, and the driver takes the general path.

import { affine4 as affine, bnBackwardRuns, bnScale, bnShift, coefA, coefC, dx4, hi2, hsum, lo2, mulStep4, runSum } from './norm';
import { maxWindows, storeLanes, windowStarts } from './pool';

@inline function evens(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 2, 4, 6); }
@inline function odds(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 1, 3, 5, 7); }

/** Windows ox..ox + 3 of output row oy (rows r0, r1 of the input): normalised, rectified, pooled; `count` stored. */
@inline function bnReluPool4(r0: usize, r1: usize, ox: i32, sc: v128, sh: v128, oy: i32, w: i32, out: usize, indices: usize, count: i32): void {
  const col = <usize>ox << 3;
  const a0 = affine(v128.load(r0 + col), sc, sh), b0 = affine(v128.load(r0 + col, 16), sc, sh);
  const a1 = affine(v128.load(r1 + col), sc, sh), b1 = affine(v128.load(r1 + col, 16), sc, sh);
  maxWindows(evens(a0, b0), odds(a0, b0), evens(a1, b1), odds(a1, b1), windowStarts(oy, ox, w), w, out, indices, count, true);
}

/**
 * out, indices = maxPool2d(relu(bnForward(x))) for 2x2 windows of stride 2; x is [n, ct, h, w]
 * (h, w even), out and indices [n, ct, h/2, w/2]; c channels from the pointers' first one.
 */
export function bnReluMaxPool2x2(x: usize, out: usize, indices: usize, n: i32, c: i32, h: i32, w: i32,
  mean: usize, invstd: usize, wt: usize, b: usize, ct: i32): void {
  const oh = h >> 1, ow = w >> 1, s = h * w, S = oh * ow;
  for (let i = 0; i < n; i++) { // memory in order
    for (let ch = 0; ch < c; ch++) {
      const k = <usize>ch << 2;
      const scale = bnScale(invstd + k, wt + k);
      const sc = f32x4.splat(scale), sh = f32x4.splat(bnShift(b + k, mean + k, scale));
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

/** Positions 2 ox .. 2 ox + 2 count - 1 of a row at p from their values lo (the first four) and hi. */
@inline function storePositions(p: usize, lo: v128, hi: v128, count: i32): void {
  storeLanes(p, lo, min(2 * count, 4));
  if (count > 2) storeLanes(p + 16, hi, 2 * count - 4);
}

/** Lanes below `count` (of 4). */
@inline function lanesBelow(count: i32): v128 { return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(count)); }

/** Bytes of a channel's state in the backward's scratch: pass 1's sums and suspect lanes, then pass 2's coefficients. */
const STATE = 80;
/** What a channel's pass 2 does (state + 12 after pass 1): nothing (bad indices), dx (DX, DX_RUNNING), or the general path. */
const SKIP = 0, DX = 1, DX_RUNNING = 2, GENERAL = 3;
/** What spreadRun writes: d itself. */
const SCATTER = 4;

/** Floats of a run's pooled values in the backward's scratch: its rows padded to whole vectors (lanes past a row +0). */
@inline function paddedRun(oh: i32, ow: i32): i32 { return oh * ((ow + 3) & ~3); }

/**
 * Gradients of bnReluMaxPool2x2 (= bnBackward with reluBias of the scattered dy). dy, indices:
 * [n, ct, h/2, w/2] (both read up to 3 elements past their end); d: scratch (bnPoolBackwardScratch
 * bytes); sumDy, sumDyXhat: f64[c] (= dbias, dweight); bad: i32[c]; dxSum: f64[c] for dx's
 * channel sums (bnBackward's: each run summed as runSum sums it, once an image's runs are
 * written, in cache), or 0.
 *
 * Pass 1 runs over the windows: the masked gradient m = (0 + dy) * step(y) at each window's
 * argmax (y recomputed there only), kept pooled in the scratch, and each channel's f64 sums of m
 * and m * (x - mean) over the windows: the general path's sums without its zero terms (a quarter
 * of them), in another order (four lanes by window position mod 4 over the channel's rows in
 * order, image after image, then (L0 + L2) + (L1 + L3)). Pass 2 writes dx at every position from
 * x and m (+0 off the argmax, as the scatter leaves it), with bnBackward's f32 steps. Both go
 * image by image through the c channels (memory in order). Zero terms change no sum unless x or
 * the mean is infinite or NaN (0 * inf is NaN): a channel where one is (found in pass 1) runs the
 * general path's operations instead (scatterGeneral), so that its NaNs are the general path's.
 */
export function bnReluMaxPool2x2Backward(dy: usize, indices: usize, x: usize, dx: usize, d: usize, n: i32, c: i32, h: i32, w: i32,
  mean: usize, invstd: usize, wt: usize, bias: usize, batchStats: i32, sumDy: usize, sumDyXhat: usize, bad: usize, ct: i32, dxSum: usize): void {
  const oh = h >> 1, ow = w >> 1, s = h * w, S = oh * ow, P = paddedRun(oh, ow);
  if (dxSum) memory.fill(dxSum, 0, <usize>c << 3);
  const pooled = d + ((<usize>n * s) << 2); // m, [n, c, P]
  const xa = pooled + ((<usize>c * n * P) << 2); // one run's x at the argmax, [P]
  const state = (xa + (<usize>P << 2) + 15) & ~<usize>15; // STATE bytes per channel
  memory.fill(state, 0, <usize>c * STATE);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const k = <usize>ch << 2, run = <usize>(i * ct + ch);
      const scale = bnScale(invstd + k, wt + k);
      sumWindows(state + <usize>ch * STATE, dy + ((run * S) << 2), indices + ((run * S) << 2), x + ((run * s) << 2),
        pooled + ((<usize>(i * c + ch) * P) << 2), xa, oh, ow, w, f32x4.splat(scale), f32x4.splat(bnShift(bias + k, mean + k, scale)),
        f64x2.splat(<f64>load<f32>(mean + k)));
    }
  }
  const count = <f64>n * <f64>s;
  for (let ch = 0; ch < c; ch++) {
    const k = <usize>ch << 2, st = state + <usize>ch * STATE;
    const suspect = v128.load(st, 64), mu = load<f32>(mean + k);
    const t = f64x2.add(v128.load(st, 32), v128.load(st, 48));
    const xBad = v128.any_true(f32x4.ne(suspect, suspect));
    let isBad = false;
    if (xBad || v128.any_true(f64x2.ne(t, t))) { // x not finite, an index outside its window, or a NaN gradient: which?
      for (let i = 0; i < n && !isBad; i++) isBad = !indicesInWindows(indices + ((<usize>(i * ct + ch) * S) << 2), oh, ow, w);
    }
    store<i32>(bad + k, isBad ? 1 : 0);
    const what = isBad ? SKIP : xBad || mu - mu != 0 ? GENERAL : batchStats ? DX : DX_RUNNING;
    if (what == DX || what == DX_RUNNING) {
      const is = load<f32>(invstd + k), wc = load<f32>(wt + k);
      const sd = hsum(v128.load(st), v128.load(st, 16)), sx = hsum(v128.load(st, 32), v128.load(st, 48)) * <f64>is;
      store<f64>(sumDy + (<usize>ch << 3), sd);
      store<f64>(sumDyXhat + (<usize>ch << 3), sx);
      store<f32>(st, is * wc);
      store<f32>(st, coefA(is, wc, sx, count), 4);
      store<f32>(st, coefC(is, wc, sd, count), 8);
    }
    store<i32>(st, what, 12);
  }
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const st = state + <usize>ch * STATE, what = load<i32>(st, 12);
      if (what != DX && what != DX_RUNNING) continue;
      const run = <usize>(i * ct + ch);
      spreadRun(pooled + ((<usize>(i * c + ch) * P) << 2), indices + ((run * S) << 2), x + ((run * s) << 2), dx + ((run * s) << 2), oh, ow, w, what,
        f32x4.splat(load<f32>(st)), f32x4.splat(load<f32>(mean + (<usize>ch << 2))), f32x4.splat(load<f32>(st, 4)), f32x4.splat(load<f32>(st, 8)));
    }
    // the image's runs, in cache (those of channels that take the general path are summed again there, from 0)
    if (dxSum) addRunSums(dx + ((<usize>(i * ct) * s) << 2), s, c, dxSum);
  }
  for (let ch = 0; ch < c; ch++) {
    if (load<i32>(state + <usize>ch * STATE, 12) == GENERAL) {
      scatterGeneral(d, pooled, c, indices, x, dx, n, ch, h, w, mean, invstd, wt, batchStats, sumDy, sumDyXhat, ct, dxSum);
    }
  }
}

/** Bytes of scratch bnReluMaxPool2x2Backward needs for c channels of n planes of h x w. */
export function bnPoolBackwardScratch(n: i32, c: i32, h: i32, w: i32): usize {
  const P = <usize>paddedRun(h >> 1, w >> 1);
  return ((<usize>n * h * w + (<usize>c * n + 1) * P) << 2) + 16 + <usize>c * STATE;
}

/**
 * Pass 1 for `count` (1-4) windows ox..ox + 3 of a row (dy, indices at ox; r0, r1: x's two rows
 * at 2 ox; starts: the windows' top-left positions): stores the masked gradient m at mp and x at
 * the argmax at xp, lanes past `count` +0 (an index outside its window selects no x: NaN there
 * instead, which m * (x - mean) carries into the sums). Returns lanes that are NaN where some of
 * the windows' x (or the sums of two pairs of them) is not finite, else +-0.
 */
@inline function argmaxWindows(dy: usize, indices: usize, r0: usize, r1: usize, starts: v128, wB: v128, wB1: v128, sc: v128, sh: v128, mp: usize, xp: usize, count: i32): v128 {
  const rel = i32x4.sub(v128.load(indices), starts);
  const mTL = i32x4.eq(rel, i32x4.splat(0)), mTR = i32x4.eq(rel, i32x4.splat(1));
  const mBL = i32x4.eq(rel, wB), mBR = i32x4.eq(rel, wB1);
  let a0 = v128.load(r0), b0 = v128.load(r0, 16), a1 = v128.load(r1), b1 = v128.load(r1, 16);
  // x at the argmax (one mask per window holds)
  let xa = v128.or(v128.or(v128.and(evens(a0, b0), mTL), v128.and(odds(a0, b0), mTR)),
    v128.or(v128.and(evens(a1, b1), mBL), v128.and(odds(a1, b1), mBR)));
  let mv = mulStep4(f32x4.add(f32x4.splat(0), v128.load(dy)), affine(xa, sc, sh));
  xa = v128.or(xa, v128.not(v128.or(v128.or(mTL, mTR), v128.or(mBL, mBR)))); // all ones (a NaN) outside
  if (count < 4) { // a row's last 1-3 windows: the lanes past them are not this row's
    const valid = lanesBelow(count);
    const pa = lanesBelow(2 * count), pb = i32x4.lt_s(i32x4(4, 5, 6, 7), i32x4.splat(2 * count));
    a0 = v128.and(a0, pa); b0 = v128.and(b0, pb); a1 = v128.and(a1, pa); b1 = v128.and(b1, pb);
    mv = v128.and(mv, valid);
    xa = v128.and(xa, valid);
  }
  v128.store(mp, mv);
  v128.store(xp, xa);
  return f32x4.mul(f32x4.add(f32x4.add(a0, b0), f32x4.add(a1, b1)), f32x4.splat(0));
}

/**
 * Pass 1 over one run's windows (pointers at the run; m: its pooled masked gradient, rows padded
 * to whole vectors; xa: scratch for the run's x at the argmax, laid out as m): adds to the
 * channel's state (st: s0, s1 the lanes of sum(m); t0, t1 of sum(m * (x - mean)), NaN where an
 * index lies outside its window; suspect: NaN where some x is not finite). Two loops, so that
 * neither keeps more vectors live than there are registers: the windows' m and x at the argmax
 * (each row's whole groups of four windows, then its last 1-3 masked), then the sums over them
 * (the padding lanes add +0, which changes no sum: one never holds -0).
 */
function sumWindows(st: usize, dy: usize, indices: usize, x: usize, m: usize, xa: usize, oh: i32, ow: i32, w: i32, sc: v128, sh: v128, mu2: v128): void {
  const full = ow & ~3, ow4 = (ow + 3) & ~3; // windows in whole groups of four per row; padded row
  const wB = i32x4.splat(w), wB1 = i32x4.splat(w + 1);
  let suspect = v128.load(st, 64);
  for (let oy = 0; oy < oh; oy++) {
    const r0 = x + (<usize>oy * 2 * w << 2), r1 = r0 + (<usize>w << 2);
    const q = <usize>oy * ow << 2, p = <usize>oy * ow4 << 2;
    let starts = windowStarts(oy, 0, w);
    let ox = 0;
    for (; ox < full; ox += 4, starts = i32x4.add(starts, i32x4.splat(8))) {
      const o = <usize>ox << 2, col = <usize>ox << 3;
      suspect = f32x4.add(suspect, argmaxWindows(dy + q + o, indices + q + o, r0 + col, r1 + col, starts, wB, wB1, sc, sh, m + p + o, xa + p + o, 4));
    }
    if (ox < ow) {
      const o = <usize>ox << 2, col = <usize>ox << 3;
      suspect = f32x4.add(suspect, argmaxWindows(dy + q + o, indices + q + o, r0 + col, r1 + col, starts, wB, wB1, sc, sh, m + p + o, xa + p + o, ow - ox));
    }
  }
  v128.store(st, suspect, 64);
  let s0 = v128.load(st), s1 = v128.load(st, 16), t0 = v128.load(st, 32), t1 = v128.load(st, 48);
  const end = <usize>(oh * ow4) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    const mv = v128.load(m + o), xv = v128.load(xa + o);
    const m0 = lo2(mv), m1 = hi2(mv);
    s0 = f64x2.add(s0, m0);
    s1 = f64x2.add(s1, m1);
    t0 = f64x2.add(t0, f64x2.mul(m0, f64x2.sub(lo2(xv), mu2)));
    t1 = f64x2.add(t1, f64x2.mul(m1, f64x2.sub(hi2(xv), mu2)));
  }
  v128.store(st, s0); v128.store(st, s1, 16); v128.store(st, t0, 32); v128.store(st, t1, 48);
}

/** Whether every index of one run's windows (pointer at the run's) lies inside its window. */
function indicesInWindows(indices: usize, oh: i32, ow: i32, w: i32): bool {
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const rel = load<i32>(indices + (<usize>(oy * ow + ox) << 2)) - (oy * 2 * w + ox * 2);
      if (rel != 0 && rel != 1 && rel != w && rel != w + 1) return false;
    }
  }
  return true;
}

/**
 * Pass 2 for `count` (1-4) windows ox..ox + 3 of a row (m, indices at ox; starts: the windows'
 * top-left positions; x0, x1 and o0, o1: x's and out's two rows at 2 ox): spreadRun's values at
 * their 2 count positions of each row.
 */
@inline function spreadWindows(m: usize, indices: usize, starts: v128, wB: v128, wB1: v128, x0: usize, x1: usize, o0: usize, o1: usize,
  what: i32, k4: v128, m4: v128, a4: v128, c4: v128, count: i32): void {
  const rel = i32x4.sub(v128.load(indices), starts);
  const mv = v128.load(m);
  const lt = v128.and(mv, i32x4.eq(rel, i32x4.splat(0))), rt = v128.and(mv, i32x4.eq(rel, i32x4.splat(1)));
  const lb = v128.and(mv, i32x4.eq(rel, wB)), rb = v128.and(mv, i32x4.eq(rel, wB1));
  let e0 = posLo(lt, rt), e1 = posHi(lt, rt), e2 = posLo(lb, rb), e3 = posHi(lb, rb);
  if (what == DX) {
    e0 = dx4(e0, v128.load(x0), k4, m4, a4, c4);
    e1 = dx4(e1, v128.load(x0, 16), k4, m4, a4, c4);
    e2 = dx4(e2, v128.load(x1), k4, m4, a4, c4);
    e3 = dx4(e3, v128.load(x1, 16), k4, m4, a4, c4);
  } else if (what == DX_RUNNING) {
    e0 = f32x4.mul(e0, k4); e1 = f32x4.mul(e1, k4); e2 = f32x4.mul(e2, k4); e3 = f32x4.mul(e3, k4);
  }
  if (count == 4) {
    v128.store(o0, e0); v128.store(o0, e1, 16);
    v128.store(o1, e2); v128.store(o1, e3, 16);
  } else {
    storePositions(o0, e0, e1, count);
    storePositions(o1, e2, e3, count);
  }
}

/**
 * Spreads one run's pooled masked gradient m (rows padded as pass 1 leaves them) over the run's
 * positions, by the argmax indices (pointers at the run), writing at each position (out) the
 * masked gradient d there (+0 off the argmax) itself (SCATTER), bnBackward's dx = d * k + ((x -
 * mean) * a + c) (DX, with k4, m4, a4, c4 the splats of k, mean, a, c) or dx = d * k (DX_RUNNING).
 * Each row's whole groups of four windows in one loop, its last 1-3 after it.
 */
function spreadRun(m: usize, indices: usize, x: usize, out: usize, oh: i32, ow: i32, w: i32, what: i32, k4: v128, m4: v128, a4: v128, c4: v128): void {
  const full = ow & ~3, ow4 = (ow + 3) & ~3;
  const wB = i32x4.splat(w), wB1 = i32x4.splat(w + 1);
  for (let oy = 0; oy < oh; oy++) {
    const r0 = <usize>oy * 2 * w << 2, r1 = r0 + (<usize>w << 2);
    const q = indices + (<usize>oy * ow << 2), p = m + (<usize>oy * ow4 << 2);
    let starts = windowStarts(oy, 0, w);
    let ox = 0;
    for (; ox < full; ox += 4, starts = i32x4.add(starts, i32x4.splat(8))) {
      const o = <usize>ox << 2, col = <usize>ox << 3;
      spreadWindows(p + o, q + o, starts, wB, wB1, x + r0 + col, x + r1 + col, out + r0 + col, out + r1 + col, what, k4, m4, a4, c4, 4);
    }
    if (ox < ow) {
      const o = <usize>ox << 2, col = <usize>ox << 3;
      spreadWindows(p + o, q + o, starts, wB, wB1, x + r0 + col, x + r1 + col, out + r0 + col, out + r1 + col, what, k4, m4, a4, c4, ow - ox);
    }
  }
}

/**
 * Adds to sum[k] (f64[count]) the sum of run k of the `count` runs of s floats at p (s a multiple
 * of 4), each summed as runSum sums it (two f64 lanes of positions 0, 1 and 2, 3 mod 4, then
 * their hsum): two runs at a time, as a run's sum alone waits on its adds' latency.
 */
function addRunSums(p: usize, s: i32, count: i32, sum: usize): void {
  const bytes = <usize>s << 2;
  let k = 0;
  for (; k + 2 <= count; k += 2) {
    const u = p + <usize>k * bytes, v = u + bytes;
    let a0 = f64x2.splat(0), b0 = f64x2.splat(0), a1 = f64x2.splat(0), b1 = f64x2.splat(0);
    for (let j: usize = 0; j < bytes; j += 16) {
      const x0 = v128.load(u + j), x1 = v128.load(v + j);
      a0 = f64x2.add(a0, lo2(x0)); b0 = f64x2.add(b0, hi2(x0));
      a1 = f64x2.add(a1, lo2(x1)); b1 = f64x2.add(b1, hi2(x1));
    }
    const q = sum + (<usize>k << 3);
    store<f64>(q, load<f64>(q) + hsum(a0, b0));
    store<f64>(q, load<f64>(q, 8) + hsum(a1, b1), 8);
  }
  if (k < count) {
    const q = sum + (<usize>k << 3);
    store<f64>(q, load<f64>(q) + runSum(p + <usize>k * bytes, s));
  }
}

/**
 * One channel (ch) the general path's way: its masked gradient (pooled, from pass 1: [n, c, S])
 * at each window's argmax, +0 elsewhere, written at full size into d (n h w floats), then
 * bnBackward's two passes over it (bnBackwardRuns, the ReLU already applied): the same
 * operations as maxPool2dBackward into zeros and bnBackward with reluBias, so the same bits.
 */
function scatterGeneral(d: usize, pooled: usize, c: i32, indices: usize, x: usize, dx: usize, n: i32, ch: i32, h: i32, w: i32,
  mean: usize, invstd: usize, wt: usize, batchStats: i32, sumDy: usize, sumDyXhat: usize, ct: i32, dxSum: usize): void {
  const oh = h >> 1, ow = w >> 1, s = h * w, S = oh * ow, P = paddedRun(oh, ow), k = <usize>ch << 2, z = f32x4.splat(0);
  for (let i = 0; i < n; i++) {
    spreadRun(pooled + ((<usize>(i * c + ch) * P) << 2), indices + ((<usize>(i * ct + ch) * S) << 2), 0, d + ((<usize>i * s) << 2), oh, ow, w, SCATTER, z, z, z, z);
  }
  bnBackwardRuns(d, 1, x + ((<usize>ch * s) << 2), dx + ((<usize>ch * s) << 2), n, 1, s, mean + k, invstd + k, wt + k,
    batchStats, sumDy + (<usize>ch << 3), sumDyXhat + (<usize>ch << 3), 0, ct, dxSum ? dxSum + (<usize>ch << 3) : 0);
}
