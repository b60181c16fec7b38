// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_).

import { noGrad } from '../autograd/grad-mode.js';
import type { Tensor } from '../tensor.js';

/** Scale all gradients so their joint L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number, opts: { errorIfNonfinite?: boolean } = {}): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  return noGrad(() => {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (!grads.length) return 0;
    const total = Math.sqrt(grads.reduce((s, g) => s + g.square().sum().item(), 0));
    if (!Number.isFinite(total) && opts.errorIfNonfinite) {
      throw new Error(`clipGradNorm: the total norm of the gradients is ${total}; pass errorIfNonfinite: false to clip anyway`);
    }
    const coef = maxNorm / (total + 1e-6);
    // New gradient tensors rather than in-place scaling: a gradient may be shared by two parameters.
    if (coef < 1) for (const p of params) if (p.grad) p.grad = p.grad.mul(coef);
    return total;
  });
}
