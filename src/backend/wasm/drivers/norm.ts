// Drivers of assembly/norm.ts' batch norm: statistics, forward (optionally with the ReLU fused
// in) and backward (optionally with the ReLU gradient fused in), f64 accumulation and f64
// elementwise arithmetic in the reference's order: results match the reference exactly or
// within 1 f32 ulp. The ReLU fusions are bit-identical to the unfused composition
// (test/conformance/fusion.test.ts).

import type { ChannelGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { copyIn, f32, stageAll, stageEach, takeF32, takeF64AsF32 } from '../memory/staging.js';

/** Per-channel mean and biased variance. */
export function stats(ctx: WasmContext, x: Storage, g: ChannelGeometry): { mean: Storage; variance: Storage } {
  const ar = ctx.arena;
  ar.reset();
  const xp = ar.allocF32(x.size);
  const mp = ar.alloc(g.c * 8);
  const vp = ar.alloc(g.c * 8);
  copyIn(ctx, f32(x), xp);
  ctx.k.bnStats(xp, g.n, g.c, g.s, mp, vp);
  return { mean: takeF64AsF32(ctx, mp, g.c), variance: takeF64AsF32(ctx, vp, g.c) };
}

/** y = (x - mean) * invstd * weight + bias [then relu]. */
export function forward(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): Storage {
  ctx.arena.reset();
  const yp = forwardInArena(ctx, x, mean, invstd, weight, bias, g, relu);
  return takeF32(ctx, yp, x.size);
}

/** Stages x and the parameters into the (reset) arena and runs bnForward; y's offset (8 readable floats after it, for a pool). */
export function forwardInArena(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): number {
  const ar = ctx.arena;
  const xp = ar.allocF32(x.size);
  const yp = ar.allocF32(x.size + 8);
  const [mp, ip, wp, bp] = stageEach(ctx, [mean, invstd, weight, bias], g.c) as [number, number, number, number];
  copyIn(ctx, f32(x), xp);
  ctx.k.bnForward(xp, yp, g.n, g.c, g.s, mp, ip, wp, bp, relu ? 1 : 0);
  return yp;
}

/** Writes the incoming gradient (x.size floats) at the arena offset it is given. */
export type PutDy = (at: number) => void;

/** dy staged from a storage. */
export const dyFrom = (ctx: WasmContext, dy: Storage): PutDy => (p) => copyIn(ctx, f32(dy), p);

/**
 * Gradients of batch norm. reluBias: the BN's bias when a ReLU follows (the kernel recomputes
 * the forward's pre-ReLU output from x and applies the ReLU gradient in its first pass).
 */
export function backward(ctx: WasmContext, putDy: PutDy, x: Storage, mean: Storage, invstd: Storage, weight: Storage, reluBias: Storage | null, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
  const ar = ctx.arena;
  ar.reset();
  const dyp = ar.allocF32(x.size);
  const xp = ar.allocF32(x.size);
  const dxp = ar.allocF32(x.size);
  const [mp, ip, wp] = stageEach(ctx, [mean, invstd, weight], g.c) as [number, number, number];
  const bp = reluBias ? stageAll(ctx, reluBias, g.c) : 0;
  const sd = ar.alloc(g.c * 8);
  const sx = ar.alloc(g.c * 8);
  putDy(dyp);
  copyIn(ctx, f32(x), xp);
  ctx.k.bnBackward(dyp, xp, dxp, g.n, g.c, g.s, mp, ip, wp, batchStats ? 1 : 0, sd, sx, bp);
  return { dx: takeF32(ctx, dxp, x.size), dweight: takeF64AsF32(ctx, sx, g.c), dbias: takeF64AsF32(ctx, sd, g.c) };
}
