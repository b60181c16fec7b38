// Drivers of assembly/pool.ts: max pooling (with or without argmax indices) and average
// pooling, forward and backward, over contiguous NCHW float32 storages. Each runs as a job of
// chunks of images (every output depends on one image alone: the bits do not depend on the split).

import type { Pool2dGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { F32, emptyF32, input, inputI32, output, outputI32, putGeo } from '../memory/staging.js';
import { FN, Job, WORK_PER_ELEMENT } from '../threads/job.js';
import { MIN_IMAGE_CHUNKS } from './chunking.js';

type PoolOp = 'maxPool2d' | 'maxPool2dBackward' | 'avgPool2d' | 'avgPool2dBackward';

/**
 * Run a pool kernel over g's images by chunks: `ptrs` are the kernel's pointer arguments after
 * geo, each with its floats (or int32) per image; backward kernels accumulate, so their result
 * (the last pointer) is zeroed chunk by chunk first.
 */
export function runPool(ctx: WasmContext, op: PoolOp, g: Pool2dGeometry, ptrs: [number, number][]): void {
  const per = Math.max(1, Math.ceil(g.n / MIN_IMAGE_CHUNKS));
  const geos = new Map<number, number>();
  const job = new Job(WORK_PER_ELEMENT * g.n * g.c * g.h * g.w);
  const backward = op.endsWith('Backward');
  for (let n0 = 0; n0 < g.n; n0 += per) {
    const cur = Math.min(per, g.n - n0);
    let geo = geos.get(cur);
    if (geo === undefined) geos.set(cur, (geo = putGeo(ctx, poolGeoValues(g, cur))));
    const at = ptrs.map(([p, perImage]) => (p ? p + n0 * perImage * F32 : 0));
    job.chunk();
    if (backward) job.call(FN.zero, [at[at.length - 1]!, cur * ptrs[ptrs.length - 1]![1]]);
    job.call(FN[op], [geo, ...at]);
  }
  ctx.launch(job);
}

/** The pool kernels' geometry block, for `n` images (a chunk of g.n where a fused caller pools chunk by chunk). */
export function poolGeoValues(g: Pool2dGeometry, n = g.n): number[] {
  return [n, g.c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.countIncludePad ? 1 : 0];
}

export const poolGeo = (ctx: WasmContext, g: Pool2dGeometry): number => putGeo(ctx, poolGeoValues(g));

/** The pooled values, and the argmax indices (int32) when wanted (the kernel skips them otherwise). */
export function maxPool2d(ctx: WasmContext, x: Storage, g: Pool2dGeometry, withIndices: boolean): { out: Storage; indices: Storage | null } {
  const size = g.n * g.c * g.oh * g.ow;
  if (size === 0) return { out: emptyF32(ctx), indices: withIndices ? outputI32(ctx, 0).storage : null };
  ctx.arena.reset();
  const xp = input(ctx, x); // the 2x2 kernel reads up to 8 floats past a row (every block has them: storage.ts)
  const o = output(ctx, size);
  const i = withIndices ? outputI32(ctx, size) : null;
  const inImg = g.c * g.h * g.w, outImg = g.c * g.oh * g.ow;
  runPool(ctx, 'maxPool2d', g, [[xp, inImg], [o.ptr, outImg], [i?.ptr ?? 0, outImg]]);
  return { out: o.storage, indices: i?.storage ?? null };
}

export function maxPool2dBackward(ctx: WasmContext, dy: Storage, indices: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.h * g.w;
  if (size === 0 || dy.size === 0) return emptyF32(ctx, size);
  ctx.arena.reset();
  const dyp = input(ctx, dy);
  const ip = inputI32(ctx, indices, dy.size);
  const dx = output(ctx, size);
  const outImg = g.c * g.oh * g.ow;
  runPool(ctx, 'maxPool2dBackward', g, [[dyp, outImg], [ip, outImg], [dx.ptr, g.c * g.h * g.w]]);
  return dx.storage;
}

export function avgPool2d(ctx: WasmContext, x: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.oh * g.ow;
  if (size === 0) return emptyF32(ctx);
  ctx.arena.reset();
  const xp = input(ctx, x);
  const o = output(ctx, size);
  runPool(ctx, 'avgPool2d', g, [[xp, g.c * g.h * g.w], [o.ptr, g.c * g.oh * g.ow]]);
  return o.storage;
}

export function avgPool2dBackward(ctx: WasmContext, dy: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.h * g.w;
  if (size === 0 || dy.size === 0) return emptyF32(ctx, size);
  ctx.arena.reset();
  const dyp = input(ctx, dy);
  const dx = output(ctx, size);
  runPool(ctx, 'avgPool2dBackward', g, [[dyp, g.c * g.oh * g.ow], [dx.ptr, g.c * g.h * g.w]]);
  return dx.storage;
}
