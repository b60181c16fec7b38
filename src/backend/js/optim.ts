// Reference Adam / AdamW update, in place, exactly as torch.optim.Adam (non-amsgrad) computes it.

import type { TypedArray } from '../../dtype.js';
import type { AdamHyper } from '../backend.js';

export function adamUpdate(p: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray, h: AdamHyper): void {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const stepSize = h.lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    let gi = g[i]!;
    if (h.weightDecay !== 0) {
      if (h.decoupled) p[i]! *= 1 - h.lr * h.weightDecay;
      else gi += h.weightDecay * p[i]!;
    }
    m[i] = h.beta1 * m[i]! + (1 - h.beta1) * gi;
    v[i] = h.beta2 * v[i]! + (1 - h.beta2) * gi * gi;
    p[i]! -= (stepSize * m[i]!) / (Math.sqrt(v[i]!) / sqrtBc2 + h.eps);
  }
}
