// Batch-norm kernels and sum reductions over contiguous float32 data, accumulating in float64
// like the js reference (src/backend/js/norm.ts, reduce.ts).
//
// Precision choice: every sum is carried in f64 (two f64x2 accumulators per run, four lanes of
// partial sums), so the result differs from the reference's sequential f64 sum only by the
// reordering of f64 additions: a relative error of about n * 2^-53 of sum|x|, far below one f32
// ulp for the sizes here (<= 2^24 terms), i.e. after rounding to f32 the results agree with the
// reference exactly or within 1 ulp. The elementwise passes (normalise, dx) also compute in f64
// in the reference's order, so they round to the same f32 values.
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
@inline function st4(p: usize, a: v128, b: v128): void {
  v128.store(p, to4(a, b));
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

/** Sum of s floats at p, in f64. */
@inline function runSum(p: usize, s: i32): f64 { return runTerms(p, s, false, 0); }

/**
 * Sum over a channel's n runs (s floats each, stride bytes apart, from x0) of their terms, the
 * runs' sums added in image order; each run is summed as runTerms sums it, two runs at a time
 * (independent accumulators: the f64 adds' latency, not their count, bounds one run's sum).
 */
@inline function channelSum(x0: usize, n: i32, s: i32, stride: usize, squares: bool, mu: f64): f64 {
  const m2 = f64x2.splat(mu);
  let sum: f64 = 0;
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const p = x0 + <usize>i * stride, q = p + stride;
    let a = f64x2.splat(0), b = f64x2.splat(0), e = f64x2.splat(0), f = f64x2.splat(0);
    let j = 0;
    for (; j + 4 <= s; j += 4) {
      const v = v128.load(p + (<usize>j << 2)), u = v128.load(q + (<usize>j << 2));
      a = f64x2.add(a, term2(lo2(v), squares, m2));
      b = f64x2.add(b, term2(hi2(v), squares, m2));
      e = f64x2.add(e, term2(lo2(u), squares, m2));
      f = f64x2.add(f, term2(hi2(u), squares, m2));
    }
    let r = hsum(a, b), t = hsum(e, f);
    for (; j < s; j++) {
      r += term1(<f64>load<f32>(p + (<usize>j << 2)), squares, mu);
      t += term1(<f64>load<f32>(q + (<usize>j << 2)), squares, mu);
    }
    sum += r;
    sum += t;
  }
  if (i < n) sum += runTerms(x0 + <usize>i * stride, s, squares, mu);
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

/**
 * y = x * scale + shift per channel, with scale = invstd * w and shift = b - mean * scale in f64
 * (f32[c] inputs). relu != 0: y = relu(that), applied to the rounded f32 value (bit-identical to
 * bnForward followed by unaryF32 RELU).
 */
export function bnForward(x: usize, y: usize, n: i32, c: i32, s: i32, mean: usize, invstd: usize, w: usize, b: usize, relu: i32, ct: i32): void {
  if (s == 1) { bnForwardRows(x, y, n, c, mean, invstd, w, b, relu, ct); return; }
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (<usize>(i * ct + ch) * s) << 2;
      const k = <usize>ch << 2;
      const scale = <f64>load<f32>(invstd + k) * <f64>load<f32>(w + k);
      const shift = <f64>load<f32>(b + k) - <f64>load<f32>(mean + k) * scale;
      const sc = f64x2.splat(scale), sh = f64x2.splat(shift);
      let j = 0;
      for (; j + 4 <= s; j += 4) {
        const v = v128.load(x + o + (<usize>j << 2));
        const r = to4(f64x2.add(f64x2.mul(lo2(v), sc), sh), f64x2.add(f64x2.mul(hi2(v), sc), sh));
        v128.store(y + o + (<usize>j << 2), relu ? relu4(r) : r);
      }
      for (; j < s; j++) {
        const q = o + (<usize>j << 2);
        const r = <f32>(<f64>load<f32>(x + q) * scale + shift);
        store<f32>(y + q, relu ? relu1(r) : r);
      }
    }
  }
}

/**
 * Batch-norm backward. sumDy, sumDyXhat: f64[c] outputs (= dbias, dweight). With batchStats,
 * dx = k * (dy - mean(dy) - xhat * mean(dy * xhat)), k = invstd * w; otherwise dx = dy * k.
 * reluBias != 0 (BatchNorm followed by ReLU; reluBias = the BN's bias b, f32[c]): the first pass
 * recomputes the forward's output y = x * scale + shift exactly as bnForward does (same f64
 * operations, same rounding), replaces dy in place by dy * step(y) (the same f32 product as
 * binaryF32's MUL_POS: the ReLU gradient) and the second pass reads that, so the result is
 * bit-identical to mulStep followed by this kernel, without reading a mask from memory.
 */
export function bnBackward(dy: usize, x: usize, dx: usize, n: i32, c: i32, s: i32, mean: usize, invstd: usize, w: usize,
  batchStats: i32, sumDy: usize, sumDyXhat: usize, reluBias: usize, ct: i32): void {
  if (s == 1) bnBackwardRows(dy, x, dx, n, c, mean, invstd, w, batchStats, sumDy, sumDyXhat, reluBias, ct);
  else bnBackwardRuns(dy, ct, x, dx, n, c, s, mean, invstd, w, batchStats, sumDy, sumDyXhat, reluBias, ct);
}

/** bnBackward for s > 1, with dy laid out as [n, dct, s] (dct = ct, or 1 for one channel's gradient staged apart). */
export function bnBackwardRuns(dy: usize, dct: i32, x: usize, dx: usize, n: i32, c: i32, s: i32, mean: usize, invstd: usize, w: usize,
  batchStats: i32, sumDy: usize, sumDyXhat: usize, reluBias: usize, ct: i32): void {
  memory.fill(sumDy, 0, <usize>c << 3);
  memory.fill(sumDyXhat, 0, <usize>c << 3);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (<usize>(i * ct + ch) * s) << 2, od = dy + ((<usize>(i * dct + ch) * s) << 2);
      const mu = <f64>load<f32>(mean + (<usize>ch << 2));
      const is = <f64>load<f32>(invstd + (<usize>ch << 2));
      const m2 = f64x2.splat(mu), i2 = f64x2.splat(is);
      // the forward's per-channel affine, as bnForward computes it (only used with reluBias)
      const scale = is * <f64>load<f32>(w + (<usize>ch << 2));
      const shift = reluBias ? <f64>load<f32>(reluBias + (<usize>ch << 2)) - mu * scale : 0;
      const sc = f64x2.splat(scale), sh = f64x2.splat(shift);
      let a0 = f64x2.splat(0), a1 = f64x2.splat(0), b0 = f64x2.splat(0), b1 = f64x2.splat(0);
      let j = 0;
      for (; j + 4 <= s; j += 4) {
        let d = v128.load(od + (<usize>j << 2));
        const v = v128.load(x + o + (<usize>j << 2));
        if (reluBias) {
          d = mulStep4(d, to4(f64x2.add(f64x2.mul(lo2(v), sc), sh), f64x2.add(f64x2.mul(hi2(v), sc), sh)));
          v128.store(od + (<usize>j << 2), d);
        }
        const d0 = lo2(d), d1 = hi2(d);
        a0 = f64x2.add(a0, d0);
        a1 = f64x2.add(a1, d1);
        b0 = f64x2.add(b0, f64x2.mul(f64x2.mul(d0, f64x2.sub(lo2(v), m2)), i2));
        b1 = f64x2.add(b1, f64x2.mul(f64x2.mul(d1, f64x2.sub(hi2(v), m2)), i2));
      }
      let ra = hsum(a0, a1), rb = hsum(b0, b1);
      for (; j < s; j++) {
        const q = o + (<usize>j << 2);
        let d32 = load<f32>(od + (<usize>j << 2));
        if (reluBias) {
          d32 = mulStep1(d32, <f32>(<f64>load<f32>(x + q) * scale + shift));
          store<f32>(od + (<usize>j << 2), d32);
        }
        const d = <f64>d32;
        ra += d;
        rb += d * (<f64>load<f32>(x + q) - mu) * is;
      }
      const qa = sumDy + (<usize>ch << 3), qb = sumDyXhat + (<usize>ch << 3);
      store<f64>(qa, load<f64>(qa) + ra);
      store<f64>(qb, load<f64>(qb) + rb);
    }
  }
  const count = <f64>n * <f64>s;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (<usize>(i * ct + ch) * s) << 2, od = dy + ((<usize>(i * dct + ch) * s) << 2);
      const mu = <f64>load<f32>(mean + (<usize>ch << 2));
      const is = <f64>load<f32>(invstd + (<usize>ch << 2));
      const k = is * <f64>load<f32>(w + (<usize>ch << 2));
      const k2 = f64x2.splat(k);
      let j = 0;
      if (!batchStats) {
        for (; j + 4 <= s; j += 4) {
          const d = v128.load(od + (<usize>j << 2));
          st4(dx + o + (<usize>j << 2), f64x2.mul(lo2(d), k2), f64x2.mul(hi2(d), k2));
        }
        for (; j < s; j++) {
          const q = o + (<usize>j << 2);
          store<f32>(dx + q, <f32>(<f64>load<f32>(od + (<usize>j << 2)) * k));
        }
        continue;
      }
      const mDy = load<f64>(sumDy + (<usize>ch << 3)) / count;
      const mDyXhat = load<f64>(sumDyXhat + (<usize>ch << 3)) / count;
      const m2 = f64x2.splat(mu), i2 = f64x2.splat(is), md = f64x2.splat(mDy), mx = f64x2.splat(mDyXhat);
      for (; j + 4 <= s; j += 4) {
        const d = v128.load(od + (<usize>j << 2));
        const v = v128.load(x + o + (<usize>j << 2));
        const r0 = f64x2.mul(k2, f64x2.sub(f64x2.sub(lo2(d), md), f64x2.mul(f64x2.mul(f64x2.sub(lo2(v), m2), i2), mx)));
        const r1 = f64x2.mul(k2, f64x2.sub(f64x2.sub(hi2(d), md), f64x2.mul(f64x2.mul(f64x2.sub(hi2(v), m2), i2), mx)));
        st4(dx + o + (<usize>j << 2), r0, r1);
      }
      for (; j < s; j++) {
        const q = o + (<usize>j << 2);
        store<f32>(dx + q, <f32>(k * (<f64>load<f32>(od + (<usize>j << 2)) - mDy - (<f64>load<f32>(x + q) - mu) * is * mDyXhat)));
      }
    }
  }
}

// ---- s == 1 ([n, c] input, BatchNorm1d): rows of c channels, vectorised across channels.
//
// The general loops above work per (image, channel) run of s floats; with s = 1 each run is one
// float and all the per-run setup is paid per element. These loops take two channels per f64x2
// instead, doing per element the very same f64 operations in the same order, and summing over
// images sequentially as the general loops do (there each run's partial sum is 0 + term, equal
// to the term: adding +-0 to a sum that starts at +0 never changes it), so the results are
// bit-identical to the general path.

@inline function ld2(p: usize): v128 { return f64x2.promote_low_f32x4(v128.load64_zero(p)); }
@inline function st2(p: usize, v: v128): void { v128.store64_lane(p, f32x4.demote_f64x2_zero(v), 0); }

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
    for (; ch + 2 <= c; ch += 2) {
      const k = <usize>ch << 2;
      const scale = f64x2.mul(ld2(invstd + k), ld2(w + k));
      const shift = f64x2.sub(ld2(b + k), f64x2.mul(ld2(mean + k), scale));
      const r = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(ld2(x + o + k), scale), shift));
      v128.store64_lane(y + o + k, relu ? relu4(r) : r, 0);
    }
    for (; ch < c; ch++) {
      const k = <usize>ch << 2;
      const scale = <f64>load<f32>(invstd + k) * <f64>load<f32>(w + k);
      const shift = <f64>load<f32>(b + k) - <f64>load<f32>(mean + k) * scale;
      const r = <f32>(<f64>load<f32>(x + o + k) * scale + shift);
      store<f32>(y + o + k, relu ? relu1(r) : r);
    }
  }
}

function bnBackwardRows(dy: usize, x: usize, dx: usize, n: i32, c: i32, mean: usize, invstd: usize, w: usize,
  batchStats: i32, sumDy: usize, sumDyXhat: usize, reluBias: usize, ct: i32): void {
  memory.fill(sumDy, 0, <usize>c << 3);
  memory.fill(sumDyXhat, 0, <usize>c << 3);
  for (let i = 0; i < n; i++) {
    const o = (<usize>i * ct) << 2;
    let ch = 0;
    for (; ch + 2 <= c; ch += 2) {
      const k = <usize>ch << 2;
      let d4 = v128.load64_zero(dy + o + k);
      if (reluBias) {
        const scale = f64x2.mul(ld2(invstd + k), ld2(w + k));
        const shift = f64x2.sub(ld2(reluBias + k), f64x2.mul(ld2(mean + k), scale));
        d4 = mulStep4(d4, f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(ld2(x + o + k), scale), shift)));
        v128.store64_lane(dy + o + k, d4, 0);
      }
      const d = f64x2.promote_low_f32x4(d4);
      const qa = sumDy + (<usize>ch << 3), qb = sumDyXhat + (<usize>ch << 3);
      v128.store(qa, f64x2.add(v128.load(qa), d));
      v128.store(qb, f64x2.add(v128.load(qb), f64x2.mul(f64x2.mul(d, f64x2.sub(ld2(x + o + k), ld2(mean + k))), ld2(invstd + k))));
    }
    for (; ch < c; ch++) {
      const k = <usize>ch << 2;
      let d32 = load<f32>(dy + o + k);
      if (reluBias) {
        const scale = <f64>load<f32>(invstd + k) * <f64>load<f32>(w + k);
        const shift = <f64>load<f32>(reluBias + k) - <f64>load<f32>(mean + k) * scale;
        d32 = mulStep1(d32, <f32>(<f64>load<f32>(x + o + k) * scale + shift));
        store<f32>(dy + o + k, d32);
      }
      const d = <f64>d32;
      const qa = sumDy + (<usize>ch << 3), qb = sumDyXhat + (<usize>ch << 3);
      store<f64>(qa, load<f64>(qa) + d);
      store<f64>(qb, load<f64>(qb) + d * (<f64>load<f32>(x + o + k) - <f64>load<f32>(mean + k)) * <f64>load<f32>(invstd + k));
    }
  }
  const count = <f64>n;
  const cnt2 = f64x2.splat(count);
  for (let i = 0; i < n; i++) {
    const o = (<usize>i * ct) << 2;
    let ch = 0;
    for (; ch + 2 <= c; ch += 2) {
      const k = <usize>ch << 2;
      const d = ld2(dy + o + k);
      const is = ld2(invstd + k);
      const kk = f64x2.mul(is, ld2(w + k));
      if (!batchStats) {
        st2(dx + o + k, f64x2.mul(d, kk));
        continue;
      }
      const md = f64x2.div(v128.load(sumDy + (<usize>ch << 3)), cnt2);
      const mx = f64x2.div(v128.load(sumDyXhat + (<usize>ch << 3)), cnt2);
      st2(dx + o + k, f64x2.mul(kk, f64x2.sub(f64x2.sub(d, md), f64x2.mul(f64x2.mul(f64x2.sub(ld2(x + o + k), ld2(mean + k)), is), mx))));
    }
    for (; ch < c; ch++) {
      const k = <usize>ch << 2;
      const d = load<f32>(dy + o + k);
      const is = <f64>load<f32>(invstd + k);
      const kk = is * <f64>load<f32>(w + k);
      if (!batchStats) {
        store<f32>(dx + o + k, <f32>(<f64>d * kk));
        continue;
      }
      const mDy = load<f64>(sumDy + (<usize>ch << 3)) / count;
      const mDyXhat = load<f64>(sumDyXhat + (<usize>ch << 3)) / count;
      store<f32>(dx + o + k, <f32>(kk * (<f64>d - mDy - (<f64>load<f32>(x + o + k) - <f64>load<f32>(mean + k)) * is * mDyXhat)));
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
