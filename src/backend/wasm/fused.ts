// Fused epilogues of the wasm backend, in one place. Each is bit-identical to the kernels it
// replaces run one after another (test/conformance/fusion.test.ts), except that the 2x2
// BatchNorm -> ReLU -> MaxPool backward sums over the windows only (its float64 sums are the
// composition's reordered: assembly/bnpool.ts):
// - the conv epilogue: on each conv output chunk, while it is in the arena, the bias, then for
//   inference the eval-mode BatchNorm + ReLU, then max pooling (Conv2d/ConvTranspose2d ->
//   BatchNorm -> ReLU [-> MaxPool2d] blocks: the full-size activations never leave the arena; the
//   direct conv kernel with a 2x2 pool does it all in its registers, assembly/convpool.ts, and a
//   Winograd conv with a 2x2 pool of its even planes in its output transform, drivers/winograd.ts);
// - the matmul tile epilogue: on each tile of a Linear layer's product, after its k sums and
//   while it is in cache, the bias, then for inference the eval-mode BatchNorm1d + ReLU (Linear
//   [-> BatchNorm1d -> ReLU]: no separate passes over the product for the add and the norm); the
//   dot-product kernel (assembly/gemmnt.ts) applies the same operations itself, to each value
//   before its one store (drivers/gemm.ts hands it the parameters);
// - BatchNorm -> ReLU -> MaxPool2d for training, and its backward: for 2x2 windows of stride 2 on
//   even planes (assembly/bnpool.ts) neither pass writes the full-size activation or gradient
//   (only the pooled values, indices and gradient); otherwise the activation is pooled in the
//   arena and the pooled gradient scattered there, where the batch-norm backward reads it.
// Measured at batch 128 (this machine, medians): a training step 190 -> 170 ms, inference
// 63 -> 52 ms. The 2x2 kernels, one thread, cold caches (bench/bn-relu-pool.mjs against the
// previous build, shared machine): forward 9.5 -> 7.1 ms (32 channels of 28x28) and 7.0 -> 5.2
// (64 of 14x14), backward 15.1 -> 11.8 and 9.6 -> 7.5. Then batch norm's elementwise passes in
// float32 and the backward's sums over the windows only (one thread, the kernel alone, cold
// caches, interleaved with the builds before): backward 8.3 -> 6.9 -> 6.0 ms (28x28) and 6.2 ->
// 6.0 -> 4.7 (14x14), forward 3.8 -> 2.9 and 3.6 -> 2.7.

import type { BatchNormGrads, BatchNormParams, ChannelGeometry, Pool2dGeometry, Storage } from '../backend.js';
import type { WasmContext } from './context.js';
import { F32, input, inputI32, inputs, output, outputI32, putGeo } from './memory/staging.js';
import type { WasmStorage } from './memory/storage.js';
import { FN, type Job } from './threads/job.js';
import { poolGeoValues, runPool } from './drivers/pool.js';
import * as norm from './drivers/norm.js';

type Ptr4 = [number, number, number, number];

const stageBn = (ctx: WasmContext, bn: BatchNormParams | null): Ptr4 | null => (bn ? inputs(ctx, [bn.mean, bn.invstd, bn.weight, bn.bias]) as Ptr4 : null);

/** Eval-mode BatchNorm + ReLU in place on n rows of c channels of s values at y (rows ct channels apart); bn: the first channel's mean, invstd, weight, bias. */
function bnReluCall(job: Job, bn: readonly number[], y: number, yScratch: boolean, n: number, c: number, s: number, ct: number): void {
  job.call(FN.bnForward, [y, y, n, c, s, ...bn, 1, ct], yScratch ? [0, 1] : []);
}

/** What a conv driver applies to each output chunk (pointers; 0 / null where absent). */
export interface ConvEpilogue {
  bias: number;
  bn: Ptr4 | null;
  pool: Pool2dGeometry | null;
  /** Pool geometry blocks by images per chunk (the last chunk may be short). */
  poolGeos: Map<number, number>;
}

/** The epilogue's parameters for a conv: bias, eval-mode batch-norm parameters, and for pooling its geometry. */
export function stageEpilogue(ctx: WasmContext, bias: Storage | null, bn: BatchNormParams | null, pool: Pool2dGeometry | null): ConvEpilogue {
  return {
    bias: bias ? input(ctx, bias) : 0,
    bn: stageBn(ctx, bn),
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
  if (e.bn) bnReluCall(job, e.bn, y, yScratch, cur, channels, s, channels);
  if (!e.pool) return;
  let geo = e.poolGeos.get(cur);
  if (geo === undefined) e.poolGeos.set(cur, (geo = putGeo(ctx, poolGeoValues(e.pool, cur))));
  job.call(FN.maxPool2d, [geo, y, pooled, 0], yScratch ? [1] : []);
}

/** What a matmul applies to each tile of C after its k sums (pointers; 0 / null where absent): a Linear layer's bias, eval-mode BN + ReLU over C's columns. */
export interface TileEpilogue {
  bias: number;
  bn: Ptr4 | null;
}

export const NO_TILE_EPILOGUE: TileEpilogue = { bias: 0, bn: null };

/** The tile epilogue's parameters: bias [n], batch-norm parameters [n] (C's columns are the channels). */
export function stageTileEpilogue(ctx: WasmContext, bias: Storage | null, bn: BatchNormParams | null): TileEpilogue {
  return { bias: bias ? input(ctx, bias) : 0, bn: stageBn(ctx, bn) };
}

/**
 * Add the epilogue's calls for the tile of C at c (rows x cols, row-major with ldc, its first
 * column j0) to the job's current chunk, in place: addRowBias (binary add's f32 sums), then
 * bnForward with the ReLU (as batchNormReluForward runs it on [m, n] rows): the composition's bits.
 */
export function tileEpilogueCalls(job: Job, e: TileEpilogue, c: number, rows: number, cols: number, ldc: number, j0: number): void {
  if (e.bias) job.call(FN.addRowBias, [c, rows, cols, ldc, e.bias + j0 * F32]);
  if (e.bn) bnReluCall(job, e.bn.map((p) => p + j0 * F32), c, false, rows, cols, 1, ldc);
}

/**
 * The pooling of the fused kernels (assembly/bnpool.ts): 2x2 windows of stride 2, no padding, on
 * planes of even height and width (so that the windows tile the plane).
 */
export function isPool2x2(p: Pool2dGeometry): boolean {
  return p.kh === 2 && p.kw === 2 && p.strideH === 2 && p.strideW === 2 && p.padH === 0 && p.padW === 0
    && p.h % 2 === 0 && p.w % 2 === 0 && p.oh * 2 === p.h && p.ow * 2 === p.w;
}

/**
 * 2x2 windows of stride 2 with no padding, the plane's last row or column left out where odd
 * (maxPool2d's fast case): the pooling that the direct conv kernel applies in its registers
 * (assembly/convpool.ts).
 */
export function isPool2x2Floor(p: Pool2dGeometry): boolean {
  return p.kh === 2 && p.kw === 2 && p.strideH === 2 && p.strideW === 2 && p.padH === 0 && p.padW === 0 && p.oh * 2 <= p.h && p.ow * 2 <= p.w;
}

/** maxPool2d(relu(batchNormForward(x, ...)), pool): the activation never written (2x2), or pooled in the arena. */
export function batchNormReluMaxPool(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry): { out: Storage; indices: Storage } {
  const size = pool.n * pool.c * pool.oh * pool.ow;
  ctx.arena.reset();
  if (isPool2x2(pool)) {
    const [xp, mp, ip, wp, bp] = inputs(ctx, [x, mean, invstd, weight, bias]) as [number, number, number, number, number];
    const o = output(ctx, size);
    const idx = outputI32(ctx, size);
    const S = pool.oh * pool.ow;
    ctx.launch(norm.imageJob(g, (job, i0, cnt) => job.call(FN.bnReluMaxPool2x2, [xp + i0 * g.c * g.s * F32, o.ptr + i0 * g.c * S * F32,
      idx.ptr + i0 * g.c * S * 4, cnt, g.c, pool.h, pool.w, mp, ip, wp, bp, g.c])));
    return { out: o.storage, indices: idx.storage };
  }
  const yp = norm.forwardInArena(ctx, x, mean, invstd, weight, bias, g, true);
  const o = output(ctx, size);
  const idx = outputI32(ctx, size);
  const outImg = pool.c * pool.oh * pool.ow;
  runPool(ctx, 'maxPool2d', pool, [[yp, pool.c * pool.h * pool.w], [o.ptr, outImg], [idx.ptr, outImg]]);
  return { out: o.storage, indices: idx.storage };
}

/** Its gradients: batchNormReluBackward(maxPool2dBackward(dy, indices, pool), x, ...). */
export function batchNormReluMaxPoolBackward(ctx: WasmContext, dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry, batchStats: boolean, wantDxSum: boolean): BatchNormGrads {
  if (isPool2x2(pool)) {
    const r = backward2x2(ctx, dy, indices, x, mean, invstd, weight, bias, g, pool, batchStats, wantDxSum);
    if (r) return r;
  }
  return norm.backward(ctx, () => {
    const ip = inputI32(ctx, indices, dy.size);
    const dyp = ctx.arena.allocF32(x.size); // the pooled gradient scattered here
    const outImg = pool.c * pool.oh * pool.ow;
    runPool(ctx, 'maxPool2dBackward', pool, [[input(ctx, dy), outImg], [ip, outImg], [dyp, pool.c * pool.h * pool.w]]);
    return dyp;
  }, x, mean, invstd, weight, bias, g, batchStats, wantDxSum);
}

/**
 * The 2x2 kernel's gradients; null where an index lies outside its window (indices that are not
 * the forward's), which the general path handles.
 */
function backward2x2(ctx: WasmContext, dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry, batchStats: boolean, wantDxSum: boolean): BatchNormGrads | null {
  const ar = ctx.arena;
  ar.reset();
  // the kernel reads up to 3 values past the pooled buffers' ends (dy's storage has a tail too)
  const ip = inputI32(ctx, indices, dy.size + 4);
  const [dyp, xp, mp, isp, wp, bp] = inputs(ctx, [dy, x, mean, invstd, weight, bias]) as [number, number, number, number, number, number];
  const dx = output(ctx, x.size);
  const bad = ar.alloc(g.c * 4);
  const sums = norm.gradSums(ctx, g, wantDxSum);
  const S = pool.oh * pool.ow;
  const per = norm.streamingChannels(g);
  let d = -1; // the chunk's masked gradient, pooled, and one channel's at full size, in each thread's scratch
  ctx.launch(norm.channelJob(g, 2, (job, c0, cnt) => {
    const o = c0 * g.s * F32, po = c0 * S * F32, p = c0 * F32;
    if (d < 0) d = job.scratch(ctx.kernels.bnPoolBackwardScratch(g.n, per, pool.h, pool.w));
    job.call(FN.bnReluMaxPool2x2Backward, [dyp + po, ip + po, xp + o, dx.ptr + o, d, g.n, cnt, pool.h, pool.w,
      mp + p, isp + p, wp + p, bp + p, batchStats ? 1 : 0, sums.sd + c0 * 8, sums.sx + c0 * 8, bad + p, g.c, sums.ss ? sums.ss + c0 * 8 : 0], [4]);
    sums.round(job, c0, cnt);
  }, per));
  if (ar.i32.subarray(bad / 4, bad / 4 + g.c).some((v) => v !== 0)) {
    ctx.store.release(dx.storage as WasmStorage);
    sums.release();
    return null;
  }
  return sums.grads(dx.storage);
}
