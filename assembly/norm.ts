// Batch-norm kernels and sum reductions over contiguous float32 data. Batch norm's precision
// contract is the js reference's (src/backend/js/norm.ts, which states the formulas): PyTorch's
// CPU choice, reductions in float64 and the elementwise passes in float32.
//
// Sums: every sum is carried in f64 (two f64x2 accumulators per run, four lanes of partial
// sums), so the result differs from the reference's sequential f64 sum only by the reordering of
// f64 additions: a relative error of about n * 2^-53 of sum|x|, far below one f32 ulp for the
// sizes here (<= 2^24 terms), i.e. after rounding to f32 the results agree with the reference
// exactly or within 1 ulp.
//
// Elementwise passes (normalise; the ReLU mask's recomputed y; dx): f32x4 operations, each
// rounded (no fused multiply-add), with per-channel f32 coefficients: y = x * scale + shift, and
// dx = dy * k + ((x - mean) * a + c) where a and c come from the f64 sums (rounded once). Given
// the same coefficients these are the reference's Math.fround steps exactly.
//
// Layout: x is [n, ct, s]; each (image, channel) pair owns a run of s consecutive floats. A call
// covers c consecutive channels of the ct (pointers at the first one), so that the thread pool
// can split a batch norm by channels: each channel's sums run in the same order whatever the
// split (bits independent of it). With s == 1 ([n, ct] rows) likewise: rows are ct floats apart.
// Per-channel f64 results go to caller-provided f64[c] buffers.

@inline export function lo2(v: v128): v128 { return f64x2.promote_low_f32x4(v); }
@inline export function hi2(v: v128): v128 { return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)); }
@inline export function hsum(a: v128, b: v128): f64 {
  const s = f64x2.add(a, b);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}
@inline export function to4(a: v128, b: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(a), f32x4.demote_f64x2_zero(b), 0, 1, 4, 5);
}
/** relu in f32, as unaryF32's RELU: v where v > 0 or v is NaN, else +0. */
@inline export function relu4(v: v128): v128 {
  return v128.and(v, v128.or(f32x4.gt(v, f32x4.splat(0)), f32x4.ne(v, v)));
}
@inline function relu1(v: f32): f32 { return v > 0 ? v : v != v ? v : 0; }
/** dy * step(y), as binaryF32's MUL_POS (the ReLU gradient): an f32 product with 1 or 0. */
@inline export function mulStep4(d: v128, y: v128): v128 {
  return f32x4.mul(d, v128.and(f32x4.gt(y, f32x4.splat(0)), f32x4.splat(1)));
}
@inline function mulStep1(d: f32, y: f32): f32 { return d * (y > 0 ? <f32>1 : <f32>0); }

/** A term of a run's sum: x itself or, with squares, (x - mu)^2 (two f64 lanes; m2 = splat(mu)). */
@inline function term2(v: v128, squares: bool, m2: v128): v128 {
  if (!squares) return v;
  const d = f64x2.sub(v, m2);
  return f64x2.mul(d, d);
}
@inline function term1(v: f64, squares: bool, mu: f64): f64 {
  if (!squares) return v;
  const d = v - mu;
  return d * d;
}

/** Sum of the terms of s floats at p, in f64: four lanes, then the tail. */
@inline function runTerms(p: usize, s: i32, squares: bool, mu: f64): f64 {
  const m2 = f64x2.splat(mu);
  let a = f64x2.splat(0), b = f64x2.splat(0);
  let j = 0;
  for (; j + 4 <= s; j += 4) {
    const v = v128.load(p + (<usize>j << 2));
    a = f64x2.add(a, term2(lo2(v), squares, m2));
    b = f64x2.add(b, term2(hi2(v), squares, m2));
  }
  let r = hsum(a, b);
  for (; j < s; j++) r += term1(<f64>load<f32>(p + (<usize>j << 2)), squares, mu);
  return r;
}

/** Sum of s floats at p, in f64 (sumRows' order: the reduce's). */
@inline export function runSum(p: usize, s: i32): f64 { return runTerms(p, s, false, 0); }

/**
 * Sum over a channel's n runs (s floats each, stride bytes apart, from x0) of their terms, the
 * runs' sums added in image order; each run is summed as runTerms sums it, eight runs at a time
 * (independent accumulators: the f64 adds' latency, not their count, bounds one run's sum; and
 * eight streams (one per image) keep more loads in flight: with two, the pass waited on
 * memory, 3.2 -> 2.4 ms for batch 128 x 32 channels of 28x28, one thread, cold caches).
 */
@inline function channelSum(x0: usize, n: i32, s: i32, stride: usize, squares: bool, mu: f64): f64 {
  const m2 = f64x2.splat(mu);
  let sum: f64 = 0;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = x0 + <usize>i * stride;
    let a0 = f64x2.splat(0), b0 = f64x2.splat(0), a1 = f64x2.splat(0), b1 = f64x2.splat(0);
    let a2 = f64x2.splat(0), b2 = f64x2.splat(0), a3 = f64x2.splat(0), b3 = f64x2.splat(0);
    let a4 = f64x2.splat(0), b4 = f64x2.splat(0), a5 = f64x2.splat(0), b5 = f64x2.splat(0);
    let a6 = f64x2.splat(0), b6 = f64x2.splat(0), a7 = f64x2.splat(0), b7 = f64x2.splat(0);
    let j = 0;
    for (; j + 4 <= s; j += 4) { // run k's lanes in a_k (positions 4m, 4m + 1) and b_k (4m + 2, 4m + 3)
      const q = p + (<usize>j << 2);
      const v0 = v128.load(q), v1 = v128.load(q + stride), v2 = v128.load(q + 2 * stride), v3 = v128.load(q + 3 * stride);
      a0 = f64x2.add(a0, term2(lo2(v0), squares, m2)); b0 = f64x2.add(b0, term2(hi2(v0), squares, m2));
      a1 = f64x2.add(a1, term2(lo2(v1), squares, m2)); b1 = f64x2.add(b1, term2(hi2(v1), squares, m2));
      a2 = f64x2.add(a2, term2(lo2(v2), squares, m2)); b2 = f64x2.add(b2, term2(hi2(v2), squares, m2));
      a3 = f64x2.add(a3, term2(lo2(v3), squares, m2)); b3 = f64x2.add(b3, term2(hi2(v3), squares, m2));
      const v4 = v128.load(q + 4 * stride), v5 = v128.load(q + 5 * stride), v6 = v128.load(q + 6 * stride), v7 = v128.load(q + 7 * stride);
      a4 = f64x2.add(a4, term2(lo2(v4), squares, m2)); b4 = f64x2.add(b4, term2(hi2(v4), squares, m2));
      a5 = f64x2.add(a5, term2(lo2(v5), squares, m2)); b5 = f64x2.add(b5, term2(hi2(v5), squares, m2));
      a6 = f64x2.add(a6, term2(lo2(v6), squares, m2)); b6 = f64x2.add(b6, term2(hi2(v6), squares, m2));
      a7 = f64x2.add(a7, term2(lo2(v7), squares, m2)); b7 = f64x2.add(b7, term2(hi2(v7), squares, m2));
    }
    let r0 = hsum(a0, b0), r1 = hsum(a1, b1), r2 = hsum(a2, b2), r3 = hsum(a3, b3);
    let r4 = hsum(a4, b4), r5 = hsum(a5, b5), r6 = hsum(a6, b6), r7 = hsum(a7, b7);
    for (; j < s; j++) {
      const q = p + (<usize>j << 2);
      r0 += term1(<f64>load<f32>(q), squares, mu);
      r1 += term1(<f64>load<f32>(q + stride), squares, mu);
      r2 += term1(<f64>load<f32>(q + 2 * stride), squares, mu);
      r3 += term1(<f64>load<f32>(q + 3 * stride), squares, mu);
      r4 += term1(<f64>load<f32>(q + 4 * stride), squares, mu);
      r5 += term1(<f64>load<f32>(q + 5 * stride), squares, mu);
      r6 += term1(<f64>load<f32>(q + 6 * stride), squares, mu);
      r7 += term1(<f64>load<f32>(q + 7 * stride), squares, mu);
    }
    sum += r0; sum += r1; sum += r2; sum += r3; sum += r4; sum += r5; sum += r6; sum += r7;
  }
  for (; i < n; i++) sum += runTerms(x0 + <usize>i * stride, s, squares, mu);
  return sum;
}

/** mean[c], variance[c] (f64, biased) of x [n, c, s]: two passes (channelSum), as the reference. */
export function bnStats(x: usize, n: i32, c: i32, s: i32, mean: usize, variance: usize, ct: i32): void {
  if (s == 1) { bnStatsRows(x, n, c, mean, variance, ct); return; }
  const count = <f64>n * <f64>s;
  const stride = (<usize>ct * s) << 2; // from one image's run to the next one's
  for (let ch = 0; ch < c; ch++) {
    const x0 = x + ((<usize>ch * s) << 2);
    const mu = channelSum(x0, n, s, stride, false, 0) / count;
    const ss = channelSum(x0, n, s, stride, true, mu);
    store<f64>(mean + (<usize>ch << 3), mu);
    store<f64>(variance + (<usize>ch << 3), ss / count);
  }
}

/** y = x * scale + shift: an f32 product, then an f32 sum (sc, sh: the channel's splats). */
@inline export function affine4(v: v128, sc: v128, sh: v128): v128 { return f32x4.add(f32x4.mul(v, sc), sh); }
/** The forward's per-channel scale = invstd * w (f32, as PyTorch's; pointers at the channel). */
@inline export function bnScale(invstd: usize, w: usize): f32 { return load<f32>(invstd) * load<f32>(w); }
/** Its shift = b - mean * scale (f32). */
@inline export function bnShift(b: usize, mean: usize, scale: f32): f32 { return load<f32>(b) - load<f32>(mean) * scale; }
/** dx = dy * k + ((x - mean) * a + c), five f32 roundings (splats of the channel's coefficients). */
@inline export function dx4(d: v128, v: v128, k: v128, m: v128, a: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(d, k), f32x4.add(f32x4.mul(f32x4.sub(v, m), a), c));
}
@inline function dx1(d: f32, v: f32, k: f32, m: f32, a: f32, c: f32): f32 { return d * k + ((v - m) * a + c); }
/** The backward's a = -(invstd * w) * invstd * (dweight / count) (f64 from the f64 sum, rounded once). */
@inline export function coefA(invstd: f32, w: f32, sumDyXhat: f64, count: f64): f32 { return <f32>(-(<f64>invstd * <f64>w) * <f64>invstd * (sumDyXhat / count)); }
/** Its c = -(invstd * w) * dbias / count. */
@inline export function coefC(invstd: f32, w: f32, sumDy: f64, count: f64): f32 { return <f32>(-(<f64>invstd * <f64>w) * (sumDy / count)); }

/**
 * y = x * scale + shift per channel (f32[c] inputs; bnScale, bnShift). relu != 0: y = relu(that)
 * (bit-identical to bnForward followed by unaryF32 RELU).
 */
export function bnForward(x: usize, y: usize, n: i32, c: i32, s: i32, mean: usize, invstd: usize, w: usize, b: usize, relu: i32, ct: i32): void {
  if (s == 1) { bnForwardRows(x, y, n, c, mean, invstd, w, b, relu, ct); return; }
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (<usize>(i * ct + ch) * s) << 2;
      const k = <usize>ch << 2;
      const scale = bnScale(invstd + k, w + k), shift = bnShift(b + k, mean + k, scale);
      const sc = f32x4.splat(scale), sh = f32x4.splat(shift);
      let j = 0;
      for (; j + 4 <= s; j += 4) {
        const r = affine4(v128.load(x + o + (<usize>j << 2)), sc, sh);
        v128.store(y + o + (<usize>j << 2), relu ? relu4(r) : r);
      }
      for (; j < s; j++) {
        const q = o + (<usize>j << 2);
        const r = load<f32>(x + q) * scale + shift;
        store<f32>(y + q, relu ? relu1(r) : r);
      }
    }
  }
}

/**
 * Batch-norm backward. sumDy, sumDyXhat: f64[c] outputs (= dbias, dweight: sum(dy) and
 * sum(dy * (x - mean)) * invstd). With batchStats, dx = dy * k + ((x - mean) * a + c) (dx4);
 * otherwise dx = dy * k. k = bnScale. coef: f32[4c] scratch, used where s == 1.
 * reluBias != 0 (BatchNorm followed by ReLU; reluBias = the BN's bias b, f32[c]): both passes
 * recompute the forward's output y = x * scale + shift exactly as bnForward does and use
 * dy * step(y) (the same f32 product as binaryF32's MUL_POS: the ReLU gradient) for dy, so the
 * result is bit-identical to mulStep followed by this kernel, without reading a mask from
 * memory or writing the masked gradient (dy is only read: no copy of it, no third stream).
 * dxSum != 0 (f64[c]; s > 1 only): also dx's channel sums, added up as the dx pass writes it, in
 * sumRows' order (the reduce of a bias gradient): per run, two f64x2 lanes over its whole
 * vectors, then the tail in order (runSum); per channel, the runs in image order; the same f64
 * additions, so the same bits. (Over [n, c] rows sumCols' own pass is as fast: not offered.)
 */
export function bnBackward(dy: usize, x: usize, dx: usize, n: i32, c: i32, s: i32, mean: usize, invstd: usize, w: usize,
  batchStats: i32, sumDy: usize, sumDyXhat: usize, reluBias: usize, ct: i32, coef: usize, dxSum: usize): void {
  if (s == 1) bnBackwardRows(dy, x, dx, n, c, mean, invstd, w, batchStats, sumDy, sumDyXhat, reluBias, ct, coef);
  else bnBackwardRuns(dy, ct, x, dx, n, c, s, mean, invstd, w, batchStats, sumDy, sumDyXhat, reluBias, ct, dxSum);
}

/** bnBackward for s > 1, with dy laid out as [n, dct, s] (dct = ct, or 1 for one channel's gradient staged apart). */
export function bnBackwardRuns(dy: usize, dct: i32, x: usize, dx: usize, n: i32, c: i32, s: i32, mean: usize, invstd: usize, w: usize,
  batchStats: i32, sumDy: usize, sumDyXhat: usize, reluBias: usize, ct: i32, dxSum: usize): void {
  memory.fill(sumDy, 0, <usize>c << 3);
  memory.fill(sumDyXhat, 0, <usize>c << 3);
  if (dxSum) memory.fill(dxSum, 0, <usize>c << 3);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (<usize>(i * ct + ch) * s) << 2, od = dy + ((<usize>(i * dct + ch) * s) << 2);
      const k = <usize>ch << 2;
      const mu = <f64>load<f32>(mean + k);
      const m2 = f64x2.splat(mu);
      // the forward's per-channel affine, as bnForward computes it (only used with reluBias)
      const scale = bnScale(invstd + k, w + k);
      const shift = reluBias ? bnShift(reluBias + k, mean + k, scale) : 0;
      const sc = f32x4.splat(scale), sh = f32x4.splat(shift);
      let a0 = f64x2.splat(0), a1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
      let j = 0;
      for (; j + 4 <= s; j += 4) {
        let d = v128.load(od + (<usize>j << 2));
        const v = v128.load(x + o + (<usize>j << 2));
        if (reluBias) d = mulStep4(d, affine4(v, sc, sh));
        const d0 = lo2(d), d1 = hi2(d);
        a0 = f64x2.add(a0, d0);
        a1 = f64x2.add(a1, d1);
        b0 = f64x2.add(b0, f64x2.mul(d0, f64x2.sub(lo2(v), m2)));
        b1 = f64x2.add(b1, f64x2.mul(d1, f64x2.sub(hi2(v), m2)));
      }
      let ra = hsum(a0, a1), rb = hsum(b0, b1);
      for (; j < s; j++) {
        const q = o + (<usize>j << 2);
        let d32 = load<f32>(od + (<usize>j << 2));
        if (reluBias) d32 = mulStep1(d32, load<f32>(x + q) * scale + shift);
        const d = <f64>d32;
        ra += d;
        rb += d * (<f64>load<f32>(x + q) - mu);
      }
      const qa = sumDy + (<usize>ch << 3), qb = sumDyXhat + (<usize>ch << 3);
      store<f64>(qa, load<f64>(qa) + ra);
      store<f64>(qb, load<f64>(qb) + rb);
    }
  }
  for (let ch = 0; ch < c; ch++) {
    const qb = sumDyXhat + (<usize>ch << 3);
    store<f64>(qb, load<f64>(qb) * <f64>load<f32>(invstd + (<usize>ch << 2)));
  }
  const count = <f64>n * <f64>s;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (<usize>(i * ct + ch) * s) << 2, od = dy + ((<usize>(i * dct + ch) * s) << 2);
      const k = <usize>ch << 2;
      const is = load<f32>(invstd + k), wc = load<f32>(w + k), scale = is * wc;
      const k4 = f32x4.splat(scale);
      // without batch statistics dx = dy * k (the steps below with a = c = 0 would differ: -0 + 0, Infinity * 0)
      const mu = batchStats ? load<f32>(mean + k) : 0;
      const a = batchStats ? coefA(is, wc, load<f64>(sumDyXhat + (<usize>ch << 3)), count) : 0;
      const cc = batchStats ? coefC(is, wc, load<f64>(sumDy + (<usize>ch << 3)), count) : 0;
      const m4 = f32x4.splat(mu), a4 = f32x4.splat(a), c4 = f32x4.splat(cc);
      const shift = reluBias ? bnShift(reluBias + k, mean + k, scale) : 0, sh = f32x4.splat(shift); // pass 1's
      let e0 = f64x2.splat(0), e1 = f64x2.splat(0); // dx's run sum (dxSum): runSum's lanes
      let j = 0;
      if (batchStats) {
        for (; j + 4 <= s; j += 4) {
          const q = <usize>j << 2;
          const v = v128.load(x + o + q);
          let d = v128.load(od + q);
          if (reluBias) d = mulStep4(d, affine4(v, k4, sh));
          const r = dx4(d, v, k4, m4, a4, c4);
          v128.store(dx + o + q, r);
          if (dxSum) {
            e0 = f64x2.add(e0, lo2(r));
            e1 = f64x2.add(e1, hi2(r));
          }
        }
      } else {
        for (; j + 4 <= s; j += 4) {
          const q = <usize>j << 2;
          let d = v128.load(od + q);
          if (reluBias) d = mulStep4(d, affine4(v128.load(x + o + q), k4, sh));
          const r = f32x4.mul(d, k4);
          v128.store(dx + o + q, r);
          if (dxSum) {
            e0 = f64x2.add(e0, lo2(r));
            e1 = f64x2.add(e1, hi2(r));
          }
        }
      }
      let re = hsum(e0, e1);
      for (; j < s; j++) {
        const q = <usize>j << 2;
        const v = load<f32>(x + o + q);
        let d = load<f32>(od + q);
        if (reluBias) d = mulStep1(d, v * scale + shift);
        const r = batchStats ? dx1(d, v, scale, mu, a, cc) : d * scale;
        store<f32>(dx + o + q, r);
        re += <f64>r;
      }
      if (dxSum) {
        const qe = dxSum + (<usize>ch << 3);
        store<f64>(qe, load<f64>(qe) + re);
      }
    }
  }
}

// ---- s == 1 ([n, c] input, BatchNorm1d): rows of c channels, vectorised across channels.
//
// The general loops above work per (image, channel) run of s floats; with s = 1 each run is one
// float and all the per-run setup is paid per element. These loops run row by row (streaming
// memory) with several channels per vector instead (the statistics two per f64x2, the forward and
// backward four per f32x4; the backward's second pass reads its per-channel coefficients from a
// scratch, computed once), doing per element the very same operations in the same order, and
// summing over
// images sequentially as the general loops do (there each run's partial sum is 0 + term, equal
// to the term: adding +-0 to a sum that starts at +0 never changes it), so the results are
// bit-identical to the general path.

@inline function ld2(p: usize): v128 { return f64x2.promote_low_f32x4(v128.load64_zero(p)); }

function bnStatsRows(x: usize, n: i32, c: i32, mean: usize, variance: usize, ct: i32): void {
  const count = <f64>n;
  memory.fill(mean, 0, <usize>c << 3);
  memory.fill(variance, 0, <usize>c << 3);
  for (let i = 0; i < n; i++) {
    const row = x + ((<usize>i * ct) << 2);
    let ch = 0;
    for (; ch + 2 <= c; ch += 2) {
      const q = mean + (<usize>ch << 3);
      v128.store(q, f64x2.add(v128.load(q), ld2(row + (<usize>ch << 2))));
    }
    for (; ch < c; ch++) {
      const q = mean + (<usize>ch << 3);
      store<f64>(q, load<f64>(q) + <f64>load<f32>(row + (<usize>ch << 2)));
    }
  }
  for (let ch = 0; ch < c; ch++) {
    const q = mean + (<usize>ch << 3);
    store<f64>(q, load<f64>(q) / count);
  }
  for (let i = 0; i < n; i++) {
    const row = x + ((<usize>i * ct) << 2);
    let ch = 0;
    for (; ch + 2 <= c; ch += 2) {
      const q = variance + (<usize>ch << 3);
      const d = f64x2.sub(ld2(row + (<usize>ch << 2)), v128.load(mean + (<usize>ch << 3)));
      v128.store(q, f64x2.add(v128.load(q), f64x2.mul(d, d)));
    }
    for (; ch < c; ch++) {
      const q = variance + (<usize>ch << 3);
      const d = <f64>load<f32>(row + (<usize>ch << 2)) - load<f64>(mean + (<usize>ch << 3));
      store<f64>(q, load<f64>(q) + d * d);
    }
  }
  for (let ch = 0; ch < c; ch++) {
    const q = variance + (<usize>ch << 3);
    store<f64>(q, load<f64>(q) / count);
  }
}

function bnForwardRows(x: usize, y: usize, n: i32, c: i32, mean: usize, invstd: usize, w: usize, b: usize, relu: i32, ct: i32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i * ct) << 2;
    let ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      const k = <usize>ch << 2;
      const sc = f32x4.mul(v128.load(invstd + k), v128.load(w + k));
      const r = affine4(v128.load(x + o + k), sc, f32x4.sub(v128.load(b + k), f32x4.mul(v128.load(mean + k), sc)));
      v128.store(y + o + k, relu ? relu4(r) : r);
    }
    for (; ch < c; ch++) {
      const k = <usize>ch << 2;
      const scale = bnScale(invstd + k, w + k);
      const r = load<f32>(x + o + k) * scale + bnShift(b + k, mean + k, scale);
      store<f32>(y + o + k, relu ? relu1(r) : r);
    }
  }
}

/** bnBackward for s == 1; coef: f32[4c] scratch (the channels' k, a, c and, with reluBias, the forward's shift). */
function bnBackwardRows(dy: usize, x: usize, dx: usize, n: i32, c: i32, mean: usize, invstd: usize, w: usize,
  batchStats: i32, sumDy: usize, sumDyXhat: usize, reluBias: usize, ct: i32, coef: usize): void {
  memory.fill(sumDy, 0, <usize>c << 3);
  memory.fill(sumDyXhat, 0, <usize>c << 3);
  // per channel: k = bnScale (also the forward's scale) and, with reluBias, the forward's shift
  const ka = coef, aa = coef + (<usize>c << 2), ca = coef + (<usize>c << 3), sa = coef + (<usize>c * 12);
  for (let ch = 0; ch < c; ch++) {
    const k = <usize>ch << 2, scale = bnScale(invstd + k, w + k);
    store<f32>(ka + k, scale);
    if (reluBias) store<f32>(sa + k, bnShift(reluBias + k, mean + k, scale));
  }
  for (let i = 0; i < n; i++) {
    const o = (<usize>i * ct) << 2;
    let ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      const k = <usize>ch << 2, k8 = <usize>ch << 3;
      let d = v128.load(dy + o + k);
      const v = v128.load(x + o + k), m4 = v128.load(mean + k);
      if (reluBias) d = mulStep4(d, affine4(v, v128.load(ka + k), v128.load(sa + k)));
      const d0 = lo2(d), d1 = hi2(d);
      v128.store(sumDy + k8, f64x2.add(v128.load(sumDy + k8), d0));
      v128.store(sumDy + k8, f64x2.add(v128.load(sumDy + k8, 16), d1), 16);
      v128.store(sumDyXhat + k8, f64x2.add(v128.load(sumDyXhat + k8), f64x2.mul(d0, f64x2.sub(lo2(v), lo2(m4)))));
      v128.store(sumDyXhat + k8, f64x2.add(v128.load(sumDyXhat + k8, 16), f64x2.mul(d1, f64x2.sub(hi2(v), hi2(m4)))), 16);
    }
    for (; ch < c; ch++) {
      const k = <usize>ch << 2, k8 = <usize>ch << 3;
      let d32 = load<f32>(dy + o + k);
      if (reluBias) d32 = mulStep1(d32, load<f32>(x + o + k) * load<f32>(ka + k) + load<f32>(sa + k));
      const d = <f64>d32;
      store<f64>(sumDy + k8, load<f64>(sumDy + k8) + d);
      store<f64>(sumDyXhat + k8, load<f64>(sumDyXhat + k8) + d * (<f64>load<f32>(x + o + k) - <f64>load<f32>(mean + k)));
    }
  }
  // dweight = sum(dy * (x - mean)) * invstd; the second pass's coefficients, once per channel
  const count = <f64>n;
  for (let ch = 0; ch < c; ch++) {
    const k = <usize>ch << 2, k8 = <usize>ch << 3;
    const is = load<f32>(invstd + k), wc = load<f32>(w + k);
    const sx = load<f64>(sumDyXhat + k8) * <f64>is;
    store<f64>(sumDyXhat + k8, sx);
    store<f32>(aa + k, coefA(is, wc, sx, count));
    store<f32>(ca + k, coefC(is, wc, load<f64>(sumDy + k8), count));
  }
  for (let i = 0; i < n; i++) {
    const o = (<usize>i * ct) << 2;
    let ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      const k = <usize>ch << 2;
      const k4 = v128.load(ka + k), v = v128.load(x + o + k);
      let d = v128.load(dy + o + k);
      if (reluBias) d = mulStep4(d, affine4(v, k4, v128.load(sa + k)));
      v128.store(dx + o + k, batchStats
        ? dx4(d, v, k4, v128.load(mean + k), v128.load(aa + k), v128.load(ca + k))
        : f32x4.mul(d, k4));
    }
    for (; ch < c; ch++) {
      const k = <usize>ch << 2;
      const v = load<f32>(x + o + k);
      let d = load<f32>(dy + o + k);
      if (reluBias) d = mulStep1(d, v * load<f32>(ka + k) + load<f32>(sa + k));
      store<f32>(dx + o + k, batchStats
        ? dx1(d, v, load<f32>(ka + k), load<f32>(mean + k), load<f32>(aa + k), load<f32>(ca + k))
        : d * load<f32>(ka + k));
    }
  }
}

/** acc[r] += sum of row r (len floats), for r < rows; acc is f64[rows]. */
export function sumRows(x: usize, rows: i32, len: i32, acc: usize): void {
  for (let r = 0; r < rows; r++) {
    const q = acc + (<usize>r << 3);
    store<f64>(q, load<f64>(q) + runSum(x + ((<usize>r * len) << 2), len));
  }
}

/** acc[j] += sum over rows of x[r, j], for j < cols; acc is f64[cols]. */
export function sumCols(x: usize, rows: i32, cols: i32, acc: usize): void {
  for (let r = 0; r < rows; r++) {
    const p = x + ((<usize>r * cols) << 2);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const v = v128.load(p + (<usize>j << 2));
      const q = acc + (<usize>j << 3);
      v128.store(q, f64x2.add(v128.load(q), lo2(v)));
      v128.store(q, f64x2.add(v128.load(q, 16), hi2(v)), 16);
    }
    for (; j < cols; j++) {
      const q = acc + (<usize>j << 3);
      store<f64>(q, load<f64>(q) + <f64>load<f32>(p + (<usize>j << 2)));
    }
  }
}

/** out (f32) = acc (f64), rounded. */
export function f64ToF32(acc: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), <f32>load<f64>(acc + (<usize>i << 3)));
}
