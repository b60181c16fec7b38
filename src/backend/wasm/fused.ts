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
import { input, inputs, output, putGeo, stageI32, takeI32, zeroF32 } from './memory/staging.js';
import { FN, type Job } from './threads/job.js';
import { poolGeoValues, runPool } from './drivers/pool.js';
import * as norm from './drivers/norm.js';

/** What a conv driver applies to each output chunk (pointers; 0 / null where absent). */
export interface ConvEpilogue {
  bias: number;
  bn: [number, number, number, number] | null;
  pool: Pool2dGeometry | null;
  /** Pool geometry blocks by images per chunk (the last chunk may be short). */
  poolGeos: Map<number, number>;
}

/** The epilogue's parameters for a conv: bias, eval-mode batch-norm parameters, and for pooling its geometry. */
export function stageEpilogue(ctx: WasmContext, bias: Storage | null, bn: BatchNormParams | null, pool: Pool2dGeometry | null): ConvEpilogue {
  return {
    bias: bias ? input(ctx, bias) : 0,
    bn: bn ? inputs(ctx, [bn.mean, bn.invstd, bn.weight, bn.bias]) as [number, number, number, number] : null,
    pool,
    poolGeos: new Map(),
  };
}

/**
 * Add the epilogue's calls for `cur` images of `channels` planes of s pixels at y (a scratch
 * offset when yScratch) to the job's current chunk: in place, and with pooling the pooled chunk
 * is written to `pooled` (y then needs 8 readable floats after it).
 */
export function epilogueCalls(ctx: WasmContext, job: Job, e: ConvEpilogue, y: number, yScratch: boolean, cur: number, channels: number, s: number, pooled = 0): void {
  if (e.bias) job.call(FN.addChannelBias, [y, cur, channels, s, e.bias], yScratch ? [0] : []);
  if (e.bn) job.call(FN.bnForward, [y, y, cur, channels, s, ...e.bn, 1, channels], yScratch ? [0, 1] : []);
  if (!e.pool) return;
  let geo = e.poolGeos.get(cur);
  if (geo === undefined) e.poolGeos.set(cur, (geo = putGeo(ctx, poolGeoValues(e.pool, cur))));
  job.call(FN.maxPool2d, [geo, y, pooled, 0], yScratch ? [1] : []);
}

/** maxPool2d(relu(batchNormForward(x, ...)), pool), the activation staying in the arena. */
export function batchNormReluMaxPool(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry): { out: Storage; indices: Storage } {
  const size = pool.n * pool.c * pool.oh * pool.ow;
  const ar = ctx.arena;
  ar.reset();
  const yp = norm.forwardInArena(ctx, x, mean, invstd, weight, bias, g, true);
  const o = output(ctx, size);
  const ip = ar.alloc(size * 4);
  const outImg = pool.c * pool.oh * pool.ow;
  runPool(ctx, 'maxPool2d', pool, [[yp, pool.c * pool.h * pool.w], [o.ptr, outImg], [ip, outImg]]);
  return { out: o.storage, indices: takeI32(ctx, ip, size) };
}

/** Its gradients: batchNormReluBackward(maxPool2dBackward(dy, indices, pool), x, ...). */
export function batchNormReluMaxPoolBackward(ctx: WasmContext, dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
  return norm.backward(ctx, () => {
    const ip = stageI32(ctx, indices, dy.size);
    const dyp = ctx.arena.allocF32(x.size); // the pooled gradient scattered here, overwritten by the kernel
    const outImg = pool.c * pool.oh * pool.ow;
    runPool(ctx, 'maxPool2dBackward', pool, [[input(ctx, dy), outImg], [ip, outImg], [dyp, pool.c * pool.h * pool.w]]);
    return dyp;
  }, x, mean, invstd, weight, bias, g, batchStats);
}
