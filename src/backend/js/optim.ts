// Reference Adam / AdamW update, in place, in the order of PyTorch 1.13's _single_tensor_adam
// (torch/optim/adam.py, adamw.py; non-amsgrad), in the parameter's own precision:
//   AdamW:  p = p * (1 - lr * wd)                     Adam + L2:  g = g + wd * p
//   m = m * beta1 + (1 - beta1) * g                   (exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1))
//   v = v * beta2 + ((1 - beta2) * g) * g             (exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2))
//   d = sqrt(v) / sqrt(bc2) + eps                     (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
//   p = p + (-step_size * m) / d                      (param.addcdiv_(exp_avg, denom, value=-step_size))
// float32: every operation rounds to float32, as PyTorch's float kernels do, and the scalars
// PyTorch derives from the hyper-parameters in Python doubles (step_size = lr / bc1, sqrt(bc2),
// 1 - beta, eps, wd, 1 - lr * wd) are rounded to float32 once, as its CPU kernels cast a double
// Scalar for a float tensor. PyTorch's vectorised add-with-alpha and addcmul end in a fused
// multiply-add (measured: scripts/make-adam-fixtures.py); here a * b + c is formed in float64
// (where the product of two floats is exact) and rounded to float32 once: the fused result,
// except where the float64 sum is itself rounded onto a float32 tie (a float64 rounding of an
// exact sum wider than 53 bits: about 2^-29 of the cases where the addends' exponents are far
// apart). wasm (assembly/optim.ts) and the GPU backend do the same operations, bit for bit.
// float64 (no fusion, no rounding) follows the same order.

import type { TypedArray } from '../../dtype.js';
import type { AdamHyper } from '../backend.js';

/** The scalars of one Adam step, in the parameter's precision (`round`: Math.fround for float32). */
export interface AdamScalars {
  beta1: number; oneMinusBeta1: number; beta2: number; oneMinusBeta2: number;
  /** -lr / (1 - beta1^step) */
  negStepSize: number;
  /** sqrt(1 - beta2^step) */
  sqrtBc2: number;
  eps: number;
  /** 0: no weight decay, 1: L2 (Adam), 2: decoupled (AdamW) */
  mode: 0 | 1 | 2;
  /** L2: weightDecay; decoupled: 1 - lr * weightDecay */
  decay: number;
}

const same = (x: number): number => x;

/** The step's scalars, computed in float64 as PyTorch's Python code does, then rounded by `round` once each. */
export function adamScalars(h: AdamHyper, round: (x: number) => number = Math.fround): AdamScalars {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const mode = h.weightDecay === 0 ? 0 : h.decoupled ? 2 : 1;
  return {
    beta1: round(h.beta1), oneMinusBeta1: round(1 - h.beta1), beta2: round(h.beta2), oneMinusBeta2: round(1 - h.beta2),
    negStepSize: round(-(h.lr / bc1)), sqrtBc2: round(Math.sqrt(bc2)), eps: round(h.eps),
    mode, decay: round(mode === 2 ? 1 - h.lr * h.weightDecay : h.weightDecay),
  };
}

export function adamUpdate(p: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray, h: AdamHyper): void {
  const r = p instanceof Float32Array ? Math.fround : same;
  const s = adamScalars(h, r);
  for (let i = 0; i < p.length; i++) {
    let gi = g[i]!, pi = p[i]!;
    if (s.mode === 2) pi = r(pi * s.decay);
    else if (s.mode === 1) gi = r(pi * s.decay + gi);
    const mi = r(r(m[i]! * s.beta1) + gi * s.oneMinusBeta1);
    const vi = r(r(v[i]! * s.beta2) + r(s.oneMinusBeta2 * gi) * gi);
    const d = r(r(r(Math.sqrt(vi)) / s.sqrtBc2) + s.eps);
    m[i] = mi;
    v[i] = vi;
    p[i] = r(pi + r(r(s.negStepSize * mi) / d));
  }
}
