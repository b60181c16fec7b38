// Drivers of assembly/pool.ts: max pooling (with or without argmax indices) and average
// pooling, forward and backward, over contiguous NCHW float32 storages.

import type { Pool2dGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { HostStorage } from '../../js/storage.js';
import { copyIn, emptyF32, f32, putGeo, stageAll, stageI32, takeF32, takeI32, zeroF32 } from '../memory/staging.js';

/** The pool kernels' geometry block, for `n` images (a chunk of g.n where a fused caller pools chunk by chunk). */
export function poolGeoValues(g: Pool2dGeometry, n = g.n): number[] {
  return [n, g.c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.countIncludePad ? 1 : 0];
}

export const poolGeo = (ctx: WasmContext, g: Pool2dGeometry): number => putGeo(ctx, poolGeoValues(g));

/** The pooled values, and the argmax indices (int32) when wanted (the kernel skips them otherwise). */
export function maxPool2d(ctx: WasmContext, x: Storage, g: Pool2dGeometry, withIndices: boolean): { out: Storage; indices: Storage | null } {
  const size = g.n * g.c * g.oh * g.ow;
  if (size === 0) return { out: emptyF32(), indices: withIndices ? new HostStorage(new Int32Array(0)) : null };
  const ar = ctx.arena;
  ar.reset();
  const geo = poolGeo(ctx, g);
  const xp = ar.allocF32(x.size + 8); // the 2x2 kernel reads up to 8 floats past a row (it stores only valid lanes)
  const op = ar.allocF32(size);
  const ip = withIndices ? ar.alloc(size * 4) : 0;
  copyIn(ctx, f32(x), xp);
  ctx.k.maxPool2d(geo, xp, op, ip);
  return { out: takeF32(ctx, op, size), indices: withIndices ? takeI32(ctx, ip, size) : null };
}

export function maxPool2dBackward(ctx: WasmContext, dy: Storage, indices: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.h * g.w;
  if (size === 0 || dy.size === 0) return emptyF32(size);
  const ar = ctx.arena;
  ar.reset();
  const geo = poolGeo(ctx, g);
  const dyp = stageAll(ctx, dy);
  const ip = stageI32(ctx, indices, dy.size);
  const dxp = ar.allocF32(size);
  zeroF32(ctx, dxp, size);
  ctx.k.maxPool2dBackward(geo, dyp, ip, dxp);
  return takeF32(ctx, dxp, size);
}

export function avgPool2d(ctx: WasmContext, x: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.oh * g.ow;
  if (size === 0) return emptyF32();
  ctx.arena.reset();
  const geo = poolGeo(ctx, g);
  const xp = stageAll(ctx, x);
  const op = ctx.arena.allocF32(size);
  ctx.k.avgPool2d(geo, xp, op);
  return takeF32(ctx, op, size);
}

export function avgPool2dBackward(ctx: WasmContext, dy: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.h * g.w;
  if (size === 0 || dy.size === 0) return emptyF32(size);
  ctx.arena.reset();
  const geo = poolGeo(ctx, g);
  const dyp = stageAll(ctx, dy);
  const dxp = ctx.arena.allocF32(size);
  zeroF32(ctx, dxp, size);
  ctx.k.avgPool2dBackward(geo, dyp, dxp);
  return takeF32(ctx, dxp, size);
}
