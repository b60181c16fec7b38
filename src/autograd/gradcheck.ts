// gradcheck: analytic gradients against central finite differences in float64, like
// torch.autograd.gradcheck. Used by the property-based tests of every differentiable op.

import { tensor } from '../creation.js';
import { Generator } from '../random.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from './grad-mode.js';

/** Options of gradcheck (torch.autograd.gradcheck's eps, atol, rtol, raise_exception). */
export interface GradcheckOptions {
  /** The finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Throw with a report on failure (default); otherwise return false. */
  raiseException?: boolean;
  /** Seed of the random output weights (default 0). */
  seed?: number;
}

/**
 * Checks d(sum(fn(inputs) * v))/d(input) for a fixed random v against finite differences,
 * for every input that requires grad. Inputs and output must be float64.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): boolean {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3, raiseException = true, seed = 0 } = opts;
  for (const [i, x] of inputs.entries()) {
    if (x.dtype !== 'float64') throw new Error(`gradcheck: input ${i} is ${x.dtype}; finite differences need float64 inputs (use .to('float64'))`);
  }
  const out = fn(...inputs);
  if (out.dtype !== 'float64') throw new Error(`gradcheck: output is ${out.dtype}, expected float64`);
  const gen = new Generator(seed);
  const vData = Float64Array.from({ length: out.numel }, () => gen.normal());
  const v = tensor(vData, { shape: out.shape });
  const project = (t: Tensor): number => {
    const a = t.dataSync();
    let s = 0;
    for (let k = 0; k < a.length; k++) s += a[k]! * vData[k]!;
    return s;
  };
  for (const x of inputs) x.grad = null;
  out.mul(v).sum().backward();

  const failures: string[] = [];
  inputs.forEach((x, i) => {
    if (!x.requiresGrad) return;
    const analytic = x.grad ? x.grad.dataSync() : new Float64Array(x.numel);
    const base = x.detach().contiguous().dataSync() as Float64Array;
    const numeric = new Float64Array(x.numel);
    noGrad(() => {
      for (let k = 0; k < x.numel; k++) {
        const evalAt = (delta: number): number => {
          const p = base.slice();
          p[k]! += delta;
          const args = inputs.map((y, j) => (j === i ? tensor(p, { shape: x.shape }) : y.detach()));
          return project(fn(...args));
        };
        numeric[k] = (evalAt(eps) - evalAt(-eps)) / (2 * eps);
      }
    });
    for (let k = 0; k < x.numel; k++) {
      const a = analytic[k]!;
      const n = numeric[k]!;
      if (!(Math.abs(a - n) <= atol + rtol * Math.abs(n))) {
        failures.push(`input ${i} ${fmtShape(x.shape)} element ${k}: analytic ${a}, numeric ${n}`);
        if (failures.length > 5) break;
      }
    }
  });
  if (failures.length === 0) return true;
  if (raiseException) throw new Error(`gradcheck failed:\n  ${failures.join('\n  ')}`);
  return false;
}
