// Driver of assembly/optim.ts: the Adam / AdamW update, in place on the float32
// parameter, gradient and moment blocks (float32 arithmetic and the js reference's float32
// scalars, adamScalars), for several parameters as one job of fixed ranges of elements
// (elementwise: the bits do not depend on the split), each call also flagging a non-finite
// value it wrote. One job for all of a model's parameters: the small ones (biases, batch-norm
// affines) share the pool's barrier with the big ones instead of each running alone.

import type { AdamHyper, AdamStorages } from '../../backend.js';
import { adamScalars } from '../../js/optim.js';
import type { WasmContext } from '../context.js';
import { F32, inputs } from '../memory/staging.js';
import { FN, Job, WORK_PER_ELEMENT } from '../threads/job.js';

/** Elements per call, and at most per chunk (a multiple of 4: the kernel runs f32x4 lanes); small parameters share a chunk. */
const CHUNK = 1 << 15;

/** The updates in place; per parameter, whether every value it wrote is finite (each call sets its own flag). */
export function adamUpdate(ctx: WasmContext, items: readonly AdamStorages[], h: AdamHyper): boolean[] {
  ctx.arena.reset();
  const ptrs = items.map((it) => inputs(ctx, it) as [number, number, number, number]);
  const s = adamScalars(h);
  const calls = items.reduce((k, [p]) => k + Math.ceil(p.size / CHUNK), 0);
  const flags = ctx.arena.alloc(calls * 4);
  const job = new Job(4 * WORK_PER_ELEMENT * items.reduce((k, [p]) => k + p.size, 0));
  const firstCall: number[] = [];
  let k = 0, inChunk = CHUNK;
  items.forEach(([param], j) => {
    const [pp, gp, mp, vp] = ptrs[j]!;
    firstCall.push(k);
    for (let i = 0; i < param.size; i += CHUNK) {
      const len = Math.min(CHUNK, param.size - i), o = i * F32;
      if (inChunk + len > CHUNK) {
        job.chunk();
        inChunk = 0;
      }
      job.call(FN.adamUpdate, [pp + o, gp + o, mp + o, vp + o, len, s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.negStepSize, s.sqrtBc2, s.eps, s.mode, s.decay, flags + 4 * k++]);
      inChunk += len;
    }
  });
  ctx.launch(job);
  firstCall.push(k);
  const f = ctx.arena.i32;
  return items.map((_, j) => f.subarray(flags / 4 + firstCall[j]!, flags / 4 + firstCall[j + 1]!).every((x) => x === 0));
}
