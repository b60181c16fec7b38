// Driver of assembly/optim.ts: the Adam / AdamW update, in place on the float32
// parameter, gradient and moment blocks (f64 arithmetic, the same doubles as the js reference),
// as a job of fixed ranges of elements (elementwise: the bits do not depend on the split).

import type { AdamHyper, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { F32, inputs } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';
import { WORK_PER_ELEMENT } from './norm.js';

/** Elements per chunk (even: the kernel runs pairs). */
const CHUNK = 1 << 15;

export function adamUpdate(ctx: WasmContext, param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): void {
  const n = param.size;
  if (n === 0) return;
  ctx.arena.reset();
  const [pp, gp, mp, vp] = inputs(ctx, [param, grad, m, v]) as [number, number, number, number];
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const mode = h.weightDecay === 0 ? 0 : h.decoupled ? 2 : 1;
  const decay = mode === 2 ? 1 - h.lr * h.weightDecay : h.weightDecay;
  const job = new Job(4 * WORK_PER_ELEMENT * n);
  for (let i = 0; i < n; i += CHUNK) {
    const o = i * F32;
    job.chunk().call(FN.adamUpdate, [pp + o, gp + o, mp + o, vp + o, Math.min(CHUNK, n - i), h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.lr / bc1, Math.sqrt(bc2), h.eps, mode, decay]);
  }
  ctx.run(job);
}
