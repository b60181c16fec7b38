// Drivers of assembly/pool.ts: max pooling (with or without argmax indices) and average
// pooling, forward and backward, over contiguous NCHW float32 storages.

import type { Pool2dGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { HostStorage } from '../../js/storage.js';
import { emptyF32, input, output, putGeo, stageI32, takeI32, zeroedOutput } from '../memory/staging.js';

/** The pool kernels' geometry block, for `n` images (a chunk of g.n where a fused caller pools chunk by chunk). */
export function poolGeoValues(g: Pool2dGeometry, n = g.n): number[] {
  return [n, g.c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.countIncludePad ? 1 : 0];
}

export const poolGeo = (ctx: WasmContext, g: Pool2dGeometry): number => putGeo(ctx, poolGeoValues(g));

/** The pooled values, and the argmax indices (int32) when wanted (the kernel skips them otherwise). */
export function maxPool2d(ctx: WasmContext, x: Storage, g: Pool2dGeometry, withIndices: boolean): { out: Storage; indices: Storage | null } {
  const size = g.n * g.c * g.oh * g.ow;
  if (size === 0) return { out: emptyF32(ctx), indices: withIndices ? new HostStorage(new Int32Array(0)) : null };
  const ar = ctx.arena;
  ar.reset();
  const geo = poolGeo(ctx, g);
  const xp = input(ctx, x); // the 2x2 kernel reads up to 8 floats past a row (every block has them: storage.ts)
  const o = output(ctx, size);
  const ip = withIndices ? ar.alloc(size * 4) : 0;
  ctx.k.maxPool2d(geo, xp, o.ptr, ip);
  return { out: o.storage, indices: withIndices ? takeI32(ctx, ip, size) : null };
}

export function maxPool2dBackward(ctx: WasmContext, dy: Storage, indices: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.h * g.w;
  if (size === 0 || dy.size === 0) return emptyF32(ctx, size);
  const ar = ctx.arena;
  ar.reset();
  const geo = poolGeo(ctx, g);
  const dyp = input(ctx, dy);
  const ip = stageI32(ctx, indices, dy.size);
  const dx = zeroedOutput(ctx, size);
  ctx.k.maxPool2dBackward(geo, dyp, ip, dx.ptr);
  return dx.storage;
}

export function avgPool2d(ctx: WasmContext, x: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.oh * g.ow;
  if (size === 0) return emptyF32(ctx);
  ctx.arena.reset();
  const geo = poolGeo(ctx, g);
  const xp = input(ctx, x);
  const o = output(ctx, size);
  ctx.k.avgPool2d(geo, xp, o.ptr);
  return o.storage;
}

export function avgPool2dBackward(ctx: WasmContext, dy: Storage, g: Pool2dGeometry): Storage {
  const size = g.n * g.c * g.h * g.w;
  if (size === 0 || dy.size === 0) return emptyF32(ctx, size);
  ctx.arena.reset();
  const geo = poolGeo(ctx, g);
  const dyp = input(ctx, dy);
  const dx = zeroedOutput(ctx, size);
  ctx.k.avgPool2dBackward(geo, dyp, dx.ptr);
  return dx.storage;
}
