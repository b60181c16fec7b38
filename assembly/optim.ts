// Adam / AdamW update in float32, in place, bit for bit as the js reference
// (src/backend/js/optim.ts, which gives PyTorch 1.13's operation order): f32x4 lanes, every
// operation rounded to float32; the two multiply-adds PyTorch fuses (m's add with alpha,
// v's addcmul; the L2 decay's add with alpha) are formed in f64x2 (the float product is exact
// there) and rounded to float32 once. The scalars arrive already rounded to float32 by the
// caller (adamScalars), so that every backend uses the very same ones.
//   mode 0: no weight decay; 1: L2, g += decay * p; 2: decoupled, p *= decay

import { hi2, lo2, to4 } from './norm';

/** a * b + c (floats) rounded to float32 once; b as f64x2 halves (bl: lanes 0-1, bh: lanes 2-3). */
@inline function madd4(a: v128, bl: v128, bh: v128, c: v128): v128 {
  return to4(f64x2.add(f64x2.mul(lo2(a), bl), lo2(c)), f64x2.add(f64x2.mul(hi2(a), bh), hi2(c)));
}
@inline function madd1(a: f32, b: f32, c: f32): f32 { return <f32>(<f64>a * <f64>b + <f64>c); }

/**
 * The update of n floats in place; flag (i32) gets a value that is nonzero when some value it
 * wrote (p, m or v) is NaN or +-Infinity, else 0 (elementwise.ts nonFinite's test, x - x, on
 * the values in registers: no extra memory traffic). The test reads p + v only: a non-finite m
 * makes p or v non-finite too (m = +-Inf or NaN gives step * m / d = +-Inf or NaN unless d is
 * NaN or Infinity, and then v is), and p + v is finite when both are, except that two finite
 * values above ~1.7e38 may overflow their sum: a false alarm, which only costs the caller a read.
 * (Testing m as well took ~10% longer: the kernel is bound by its vector operations.)
 */
export function adamUpdate(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  beta1: f32, oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32,
  negStepSize: f32, sqrtBc2: f32, eps: f32, mode: i32, decay: f32, flag: usize,
): void {
  const b1 = f32x4.splat(beta1), b2 = f32x4.splat(beta2), ob2 = f32x4.splat(oneMinusBeta2);
  const ob1 = f64x2.splat(<f64>oneMinusBeta1), dc2 = f64x2.splat(<f64>decay);
  const ss = f32x4.splat(negStepSize), sb = f32x4.splat(sqrtBc2), ep = f32x4.splat(eps), dc = f32x4.splat(decay);
  let bad = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let gi = v128.load(g + o), pi = v128.load(p + o);
    if (mode == 2) pi = f32x4.mul(pi, dc);
    else if (mode == 1) gi = madd4(pi, dc2, dc2, gi);
    const mi = madd4(gi, ob1, ob1, f32x4.mul(v128.load(m + o), b1));
    const vi = madd4(f32x4.mul(ob2, gi), lo2(gi), hi2(gi), f32x4.mul(v128.load(v + o), b2));
    const d = f32x4.add(f32x4.div(f32x4.sqrt(vi), sb), ep);
    const pn = f32x4.add(pi, f32x4.div(f32x4.mul(ss, mi), d));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    v128.store(p + o, pn);
    const t = f32x4.add(pn, vi);
    bad = v128.or(bad, f32x4.sub(t, t));
  }
  let r = <i32>v128.any_true(bad);
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let gi = load<f32>(g + o), pi = load<f32>(p + o);
    if (mode == 2) pi = pi * decay;
    else if (mode == 1) gi = madd1(pi, decay, gi);
    const mi = madd1(gi, oneMinusBeta1, load<f32>(m + o) * beta1);
    const vi = madd1(oneMinusBeta2 * gi, gi, load<f32>(v + o) * beta2);
    const d = Mathf.sqrt(vi) / sqrtBc2 + eps;
    const pn = pi + (negStepSize * mi) / d;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(p + o, pn);
    const t = pn + vi;
    r |= reinterpret<i32>(t - t);
  }
  store<i32>(flag, r);
}
