// Fused epilogues of the wasm backend, in one place. Each is bit-identical to the kernels it
// replaces run one after another (test/conformance/fusion.test.ts):
// - the conv epilogue: on each conv output chunk, while it is in the arena, the bias, then for
//   inference the eval-mode BatchNorm + ReLU, then max pooling (Conv2d/ConvTranspose2d ->
//   BatchNorm -> ReLU [-> MaxPool2d] blocks: the full-size activations never leave the arena);
// - BatchNorm -> ReLU -> MaxPool2d for training, and its backward (the pooled gradient is
//   scattered in the arena, where the batch-norm backward reads it).
// Measured at batch 128 (this machine, medians): a training step 190 -> 170 ms, inference
// 63 -> 52 ms.

import type { BatchNormParams, ChannelGeometry, Pool2dGeometry, Storage } from '../backend.js';
import type { WasmContext } from './context.js';
import { F32, copyIn, f32, stageAll, stageEach, stageI32, takeF32, takeI32, zeroF32 } from './memory/staging.js';
import { poolGeo, poolGeoValues } from './drivers/pool.js';
import * as norm from './drivers/norm.js';

/** What a conv driver applies to each output chunk (arena offsets; 0 / null where absent). */
export interface ConvEpilogue {
  bias: number;
  bn: [number, number, number, number] | null;
  pool: Pool2dGeometry | null;
  poolGeo: number;
  poolOut: number;
}

/**
 * Stage the epilogue's parameters for a conv whose result has `channels` channels: bias, eval-mode
 * batch-norm parameters, and for pooling its geometry block and an output buffer for `nb` images.
 */
export function stageEpilogue(ctx: WasmContext, channels: number, bias: Storage | null, bn: BatchNormParams | null, pool: Pool2dGeometry | null, nb: number): ConvEpilogue {
  const ar = ctx.arena;
  return {
    bias: bias ? stageAll(ctx, bias, channels) : 0,
    bn: bn ? stageEach(ctx, [bn.mean, bn.invstd, bn.weight, bn.bias], channels) as [number, number, number, number] : null,
    pool,
    poolGeo: pool ? ar.alloc(64) : 0,
    poolOut: pool ? ar.allocF32(nb * channels * pool.oh * pool.ow) : 0,
  };
}

/** Apply the epilogue to `cur` images of `channels` planes of s pixels at y; the offset of the chunk's result. */
export function applyEpilogue(ctx: WasmContext, e: ConvEpilogue, y: number, cur: number, channels: number, s: number): number {
  if (e.bias) ctx.k.addChannelBias(y, cur, channels, s, e.bias);
  if (e.bn) ctx.k.bnForward(y, y, cur, channels, s, ...e.bn, 1);
  if (!e.pool) return y;
  ctx.arena.i32.set(poolGeoValues(e.pool, cur), e.poolGeo / F32);
  ctx.k.maxPool2d(e.poolGeo, y, e.poolOut, 0);
  return e.poolOut;
}

/** maxPool2d(relu(batchNormForward(x, ...)), pool), the activation staying in the arena. */
export function batchNormReluMaxPool(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry): { out: Storage; indices: Storage } {
  const size = pool.n * pool.c * pool.oh * pool.ow;
  const ar = ctx.arena;
  ar.reset();
  const yp = norm.forwardInArena(ctx, x, mean, invstd, weight, bias, g, true);
  const geo = poolGeo(ctx, pool);
  const op = ar.allocF32(size);
  const ip = ar.alloc(size * 4);
  ctx.k.maxPool2d(geo, yp, op, ip);
  return { out: takeF32(ctx, op, size), indices: takeI32(ctx, ip, size) };
}

/** Its gradients: batchNormReluBackward(maxPool2dBackward(dy, indices, pool), x, ...). */
export function batchNormReluMaxPoolBackward(ctx: WasmContext, dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
  return norm.backward(ctx, (dyp) => {
    const ar = ctx.arena;
    const geo = poolGeo(ctx, pool);
    const pdy = ar.allocF32(dy.size);
    const ip = stageI32(ctx, indices, dy.size);
    copyIn(ctx, f32(dy), pdy);
    zeroF32(ctx, dyp, x.size);
    ctx.k.maxPool2dBackward(geo, pdy, ip, dyp);
  }, x, mean, invstd, weight, bias, g, batchStats);
}
