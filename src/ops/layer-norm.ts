// Layer normalisation over the trailing dims, composed from reductions (the gradient follows).

import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkFloat, checkTensor } from './kernel.js';

/** (x - mean) / sqrt(var + eps) over the last normalizedShape.length dims (biased variance), then * weight + bias. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  checkFloat('layerNorm', checkTensor('layerNorm', x));
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  if (k === 0 || k > x.ndim || shape.some((d, i) => d !== x.shape[x.ndim - k + i])) {
    throw new Error(`layerNorm: normalizedShape ${fmtShape(shape)} must be the trailing dims of the input, got input ${fmtShape(x.shape)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== k || t.shape.some((d, i) => d !== shape[i]))) throw new Error(`layerNorm: ${name} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
  }
  const dims = shape.map((_, i) => x.ndim - k + i);
  const centred = x.sub(x.mean(dims, true));
  const y = centred.div(centred.square().mean(dims, true).add(eps).sqrt());
  const scaled = weight ? y.mul(weight) : y;
  return bias ? scaled.add(bias) : scaled;
}
