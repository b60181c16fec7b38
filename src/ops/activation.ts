// Activations composed from elementwise ops (their gradients follow by the chain rule):
// GELU (exact and tanh), SiLU, ELU.

import type { Tensor } from '../tensor.js';
import { erf, where } from './elementwise.js';
import { checkFloat, checkTensor } from './kernel.js';

/** Options of gelu and nn.GELU. */
export interface GeluOptions {
  /** 'none' (default): x * Phi(x) with the exact erf; 'tanh': PyTorch's tanh approximation. */
  approximate?: 'none' | 'tanh';
}

/** x * Phi(x), Phi the standard normal CDF (PyTorch's gelu). */
export function gelu(x: Tensor, opts: GeluOptions = {}): Tensor {
  checkFloat('gelu', checkTensor('gelu', x));
  const approximate = opts.approximate ?? 'none';
  if (approximate === 'none') return x.mul(erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5);
  if (approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(inner.tanh().add(1)).mul(0.5);
}

/** x * sigmoid(x) (also called swish). */
export function silu(x: Tensor): Tensor {
  checkFloat('silu', checkTensor('silu', x));
  return x.mul(x.sigmoid());
}

/** x for x > 0, alpha * (exp(x) - 1) otherwise. */
export function elu(x: Tensor, alpha = 1): Tensor {
  checkFloat('elu', checkTensor('elu', x));
  // exp of min(x, 0): the branch where() discards must not overflow, or its zero gradient would be 0 * inf.
  return where(x.gt(0), x, x.clamp(-Infinity, 0).exp().sub(1).mul(alpha));
}
