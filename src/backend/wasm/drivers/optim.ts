// Driver of assembly/optim.ts: the Adam / AdamW update, in place on the float32
// parameter, gradient and moment blocks (float32 arithmetic and the js reference's float32
// scalars, adamScalars), as a job of fixed ranges of elements (elementwise: the bits do not
// depend on the split), each also flagging a non-finite value it wrote.

import type { AdamHyper, Storage } from '../../backend.js';
import { adamScalars } from '../../js/optim.js';
import type { WasmContext } from '../context.js';
import { F32, inputs } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';
import { WORK_PER_ELEMENT } from './norm.js';

/** Elements per chunk (a multiple of 4: the kernel runs f32x4 lanes). */
const CHUNK = 1 << 15;

/** The update in place; whether every value it wrote is finite (each range sets its own flag). */
export function adamUpdate(ctx: WasmContext, param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): boolean {
  const n = param.size;
  if (n === 0) return true;
  ctx.arena.reset();
  const [pp, gp, mp, vp] = inputs(ctx, [param, grad, m, v]) as [number, number, number, number];
  const s = adamScalars(h);
  const chunks = Math.ceil(n / CHUNK);
  const flags = ctx.arena.alloc(chunks * 4);
  const job = new Job(4 * WORK_PER_ELEMENT * n);
  for (let i = 0, k = 0; i < n; i += CHUNK, k++) {
    const o = i * F32;
    job.chunk().call(FN.adamUpdate, [pp + o, gp + o, mp + o, vp + o, Math.min(CHUNK, n - i), s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.negStepSize, s.sqrtBc2, s.eps, s.mode, s.decay, flags + 4 * k]);
  }
  ctx.run(job);
  return ctx.arena.i32.subarray(flags / 4, flags / 4 + chunks).every((f) => f === 0);
}
