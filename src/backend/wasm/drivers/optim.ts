// Driver of assembly/optim.ts: the Adam / AdamW update, in place on the float32
// parameter, gradient and moment blocks (f64 arithmetic, the same doubles as the js reference).

import type { AdamHyper, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { inputs } from '../memory/staging.js';

export function adamUpdate(ctx: WasmContext, param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): void {
  const n = param.size;
  if (n === 0) return;
  ctx.arena.reset();
  const [pp, gp, mp, vp] = inputs(ctx, [param, grad, m, v]) as [number, number, number, number];
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const mode = h.weightDecay === 0 ? 0 : h.decoupled ? 2 : 1;
  const decay = mode === 2 ? 1 - h.lr * h.weightDecay : h.weightDecay;
  ctx.k.adamUpdate(pp, gp, mp, vp, n, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.lr / bc1, Math.sqrt(bc2), h.eps, mode, decay);
}
