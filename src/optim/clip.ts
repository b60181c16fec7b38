// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_).

import { noGrad } from '../autograd/grad-mode.js';
import { releasedAfter } from '../autograd/saved-frees.js';
import type { Tensor } from '../tensor.js';
import { peekGrad, replaceGrad } from '../tensor.js';

/** Scale all gradients so their joint L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number, opts: { errorIfNonfinite?: boolean } = {}): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  return noGrad(() => {
    const grads = params.map(peekGrad).filter((g): g is Tensor => g !== null);
    if (!grads.length) return 0;
    // each gradient-sized square freed now, not at the next major collection
    const total = Math.sqrt(grads.reduce((s, g) => s + releasedAfter(g.square(), (sq) => sq.sum().item()), 0));
    if (!Number.isFinite(total) && opts.errorIfNonfinite) {
      throw new Error(`clipGradNorm: the total norm of the gradients is ${total}; pass errorIfNonfinite: false to clip anyway`);
    }
    const coef = maxNorm / (total + 1e-6);
    // New gradient tensors rather than in-place scaling: a gradient may be shared by two parameters.
    if (coef < 1) {
      for (const p of params) {
        const g = peekGrad(p);
        if (g) replaceGrad(p, g.mul(coef)); // the old one is freed where nobody read it
      }
    }
    return total;
  });
}
