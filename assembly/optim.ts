// Adam / AdamW update, in place on float32 arrays, bit-for-bit as the js reference
// (src/backend/js/optim.ts) computes it: arithmetic in f64, each array element rounded to f32
// when stored (f64x2 lanes give the same IEEE results as scalar f64). The scalar
// hyper-parameters that need pow() are computed by the caller in JavaScript, so that the
// bias corrections are the very same doubles.
//   decay: 1 - lr * weightDecay (decoupled) or weightDecay (L2); mode 0: none, 1: L2, 2: decoupled

@inline function ld2(p: usize): v128 { return f64x2.promote_low_f32x4(v128.load64_zero(p)); }
@inline function st2(p: usize, x: v128): void { v128.store64_lane(p, f32x4.demote_f64x2_zero(x), 0); }

export function adamUpdate(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  beta1: f64, oneMinusBeta1: f64, beta2: f64, oneMinusBeta2: f64,
  stepSize: f64, sqrtBc2: f64, eps: f64, mode: i32, decay: f64,
): void {
  const b1 = f64x2.splat(beta1), ob1 = f64x2.splat(oneMinusBeta1);
  const b2 = f64x2.splat(beta2), ob2 = f64x2.splat(oneMinusBeta2);
  const ss = f64x2.splat(stepSize), sb = f64x2.splat(sqrtBc2), ep = f64x2.splat(eps), dc = f64x2.splat(decay);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    let gi = ld2(g + o);
    let pi = ld2(p + o);
    if (mode == 2) {
      pi = ld2(p + o); // round through f32 as the reference stores p first
      st2(p + o, f64x2.mul(pi, dc));
      pi = ld2(p + o);
    } else if (mode == 1) {
      gi = f64x2.add(gi, f64x2.mul(dc, pi));
    }
    st2(m + o, f64x2.add(f64x2.mul(b1, ld2(m + o)), f64x2.mul(ob1, gi)));
    st2(v + o, f64x2.add(f64x2.mul(b2, ld2(v + o)), f64x2.mul(f64x2.mul(ob2, gi), gi)));
    const mi = ld2(m + o), vi = ld2(v + o);
    st2(p + o, f64x2.sub(pi, f64x2.div(f64x2.mul(ss, mi), f64x2.add(f64x2.div(f64x2.sqrt(vi), sb), ep))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let gi = <f64>load<f32>(g + o);
    if (mode == 2) store<f32>(p + o, <f32>(<f64>load<f32>(p + o) * decay));
    else if (mode == 1) gi += decay * <f64>load<f32>(p + o);
    store<f32>(m + o, <f32>(beta1 * <f64>load<f32>(m + o) + oneMinusBeta1 * gi));
    store<f32>(v + o, <f32>(beta2 * <f64>load<f32>(v + o) + oneMinusBeta2 * gi * gi));
    const mi = <f64>load<f32>(m + o), vi = <f64>load<f32>(v + o);
    store<f32>(p + o, <f32>(<f64>load<f32>(p + o) - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps)));
  }
}
