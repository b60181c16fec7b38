// Drivers of assembly/norm.ts' batch norm: statistics, forward (optionally with the ReLU fused
// in) and backward (optionally with the ReLU gradient fused in), f64 accumulation and f64
// elementwise arithmetic in the reference's order: results match the reference exactly or
// within 1 f32 ulp. The ReLU fusions are bit-identical to the unfused composition
// (test/conformance/fusion.test.ts).

import type { ChannelGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { input, inputCopy, inputs, output, takeF64AsF32 } from '../memory/staging.js';

/** Per-channel mean and biased variance. */
export function stats(ctx: WasmContext, x: Storage, g: ChannelGeometry): { mean: Storage; variance: Storage } {
  const ar = ctx.arena;
  ar.reset();
  const xp = input(ctx, x);
  const mp = ar.alloc(g.c * 8);
  const vp = ar.alloc(g.c * 8);
  ctx.k.bnStats(xp, g.n, g.c, g.s, mp, vp);
  return { mean: takeF64AsF32(ctx, mp, g.c), variance: takeF64AsF32(ctx, vp, g.c) };
}

/** y = (x - mean) * invstd * weight + bias [then relu]. */
export function forward(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): Storage {
  ctx.arena.reset();
  const y = output(ctx, x.size);
  const [xp, mp, ip, wp, bp] = inputs(ctx, [x, mean, invstd, weight, bias]) as [number, number, number, number, number];
  ctx.k.bnForward(xp, y.ptr, g.n, g.c, g.s, mp, ip, wp, bp, relu ? 1 : 0);
  return y.storage;
}

/** Runs bnForward into the (reset) arena; y's offset (8 readable floats after it, for a pool). */
export function forwardInArena(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): number {
  const yp = ctx.arena.allocF32(x.size + 8);
  const [xp, mp, ip, wp, bp] = inputs(ctx, [x, mean, invstd, weight, bias]) as [number, number, number, number, number];
  ctx.k.bnForward(xp, yp, g.n, g.c, g.s, mp, ip, wp, bp, relu ? 1 : 0);
  return yp;
}

/**
 * Places the incoming gradient (x.size floats) after the arena's reset; its pointer. With
 * reluBias the kernel overwrites it (dy * step(y)), so it must be a copy.
 */
export type PutDy = (overwritten: boolean) => number;

/** dy from a storage: in place, or a copy in the arena where the kernel overwrites it. */
export const dyFrom = (ctx: WasmContext, dy: Storage): PutDy => (overwritten) => (overwritten ? inputCopy(ctx, dy) : input(ctx, dy));

/**
 * Gradients of batch norm. reluBias: the BN's bias when a ReLU follows (the kernel recomputes
 * the forward's pre-ReLU output from x and applies the ReLU gradient in its first pass).
 */
export function backward(ctx: WasmContext, putDy: PutDy, x: Storage, mean: Storage, invstd: Storage, weight: Storage, reluBias: Storage | null, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
  const ar = ctx.arena;
  ar.reset();
  const dyp = putDy(reluBias !== null);
  const [xp, mp, ip, wp] = inputs(ctx, [x, mean, invstd, weight]) as [number, number, number, number];
  const bp = reluBias ? input(ctx, reluBias) : 0;
  const dx = output(ctx, x.size);
  const sd = ar.alloc(g.c * 8);
  const sx = ar.alloc(g.c * 8);
  ctx.k.bnBackward(dyp, xp, dx.ptr, g.n, g.c, g.s, mp, ip, wp, batchStats ? 1 : 0, sd, sx, bp);
  return { dx: dx.storage, dweight: takeF64AsF32(ctx, sx, g.c), dbias: takeF64AsF32(ctx, sd, g.c) };
}
