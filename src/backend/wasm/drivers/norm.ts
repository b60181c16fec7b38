// Drivers of assembly/norm.ts' batch norm: statistics, forward (optionally with the ReLU fused
// in) and backward (optionally with the ReLU gradient fused in), with the reference's precision
// (src/backend/js/norm.ts): f64 sums, which match the reference's exactly or within 1 f32 ulp,
// and the reference's f32 elementwise steps. The ReLU fusions are bit-identical to the unfused
// composition (test/conformance/fusion.test.ts). Each runs as a job of chunks of channels (every channel's
// sums run in one chunk, in the same order whatever the split), so the bits do not depend on the
// thread count. The forward has no sums and runs by chunks of images instead.

import type { BatchNormGrads, ChannelGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { F32, input, inputs, output, takeF64AsF32 } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';

/** Elements per chunk of a batch-norm job (whole channels, at least one). */
const CHUNK_ELEMENTS = 1 << 15;
/** Job.work per element of a memory-bound kernel: about what a GEMM does in the time it takes. */
export const WORK_PER_ELEMENT = 40;

/**
 * A job over g's channels in chunks: `call(job, c0, cnt)` adds the calls of channels
 * [c0, c0 + cnt) to the current chunk. `passes` scales the work estimate; `per`, channels per
 * chunk, defaults to about CHUNK_ELEMENTS' worth.
 */
export function channelJob(g: ChannelGeometry, passes: number, call: (job: Job, c0: number, cnt: number) => void, per = channelsPerChunk(g)): Job {
  const job = new Job(passes * WORK_PER_ELEMENT * g.n * g.c * g.s);
  for (let c0 = 0; c0 < g.c; c0 += per) call(job.chunk(), c0, Math.min(per, g.c - c0));
  return job;
}

/**
 * Channels per chunk for the backward kernels, which go image by image through their channels:
 * enough that an image's runs of them span about 6 KiB (short runs far apart defeat the
 * prefetcher), but 4 chunks at least where there are 4 channels (it was 8: the decoder's
 * BatchNorm2d(32) on 14x14 at batch 128 ran in chunks of 4 channels, 3 KiB runs, and took
 * 10-15% longer than in 4 chunks of 8, at 1 and 2 threads).
 */
export function streamingChannels(g: ChannelGeometry): number {
  return Math.max(1, Math.min(Math.ceil(1536 / g.s), Math.floor(g.c / 4)));
}

/**
 * Whole channels, about CHUNK_ELEMENTS. [n, c] rows (s = 1): a chunk reads its channels' run of
 * every row, so the runs are made long: chunks of about 4 CHUNK_ELEMENTS, fewer where that
 * leaves runs over 1024 channels (4 KiB), split evenly in multiples of 4 channels (the kernels'
 * vector lanes). Runs of 256 channels, 1 KiB every 12 KiB, left the prefetcher behind: the
 * BatchNorm1d(3136) backward at batch 128 took ~20% longer than with 784.
 */
function channelsPerChunk(g: ChannelGeometry): number {
  if (g.s === 1) {
    const chunks = Math.min(Math.ceil(g.c / 4), Math.max(Math.ceil(g.c / 1024), Math.ceil((g.n * g.c) / (4 * CHUNK_ELEMENTS))));
    return Math.min(g.c, Math.ceil(g.c / chunks / 4) * 4);
  }
  return Math.max(1, Math.min(g.c, Math.floor(CHUNK_ELEMENTS / Math.max(1, g.n * g.s))));
}

/**
 * A job over g's images in chunks, all channels of each (memory in order, which streams better
 * than channel by channel), for the passes with no sums (the forward): `call(job, i0, cnt)` adds
 * the calls of images [i0, i0 + cnt) to the current chunk.
 */
export function imageJob(g: ChannelGeometry, call: (job: Job, i0: number, cnt: number) => void): Job {
  const job = new Job(WORK_PER_ELEMENT * g.n * g.c * g.s);
  const per = Math.max(1, Math.min(g.n, Math.floor(CHUNK_ELEMENTS / Math.max(1, g.c * g.s))));
  for (let i0 = 0; i0 < g.n; i0 += per) call(job.chunk(), i0, Math.min(per, g.n - i0));
  return job;
}

/** Per-channel mean and biased variance. */
export function stats(ctx: WasmContext, x: Storage, g: ChannelGeometry): { mean: Storage; variance: Storage } {
  const ar = ctx.arena;
  ar.reset();
  const xp = input(ctx, x);
  const mp = ar.alloc(g.c * 8);
  const vp = ar.alloc(g.c * 8);
  ctx.launch(channelJob(g, 2, (job, c0, cnt) => job.call(FN.bnStats, [xp + c0 * g.s * F32, g.n, cnt, g.s, mp + c0 * 8, vp + c0 * 8, g.c])));
  return { mean: takeF64AsF32(ctx, mp, g.c), variance: takeF64AsF32(ctx, vp, g.c) };
}

/** y = (x - mean) * invstd * weight + bias [then relu]. */
export function forward(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): Storage {
  ctx.arena.reset();
  const y = output(ctx, x.size);
  runForward(ctx, inputs(ctx, [x, mean, invstd, weight, bias]) as Five, y.ptr, g, relu);
  return y.storage;
}

/** Runs bnForward into the (reset) arena; y's offset (8 readable floats after it, for a pool). */
export function forwardInArena(ctx: WasmContext, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): number {
  const yp = ctx.arena.allocF32(x.size + 8);
  runForward(ctx, inputs(ctx, [x, mean, invstd, weight, bias]) as Five, yp, g, relu);
  return yp;
}

type Five = [number, number, number, number, number];

/** bnForward of x into y (pointers; mean, invstd, weight, bias f32[c]), by chunks of images. */
function runForward(ctx: WasmContext, [xp, mp, ip, wp, bp]: Five, y: number, g: ChannelGeometry, relu: boolean): void {
  ctx.launch(imageJob(g, (job, i0, cnt) => {
    const o = i0 * g.c * g.s * F32;
    job.call(FN.bnForward, [xp + o, y + o, cnt, g.c, g.s, mp, ip, wp, bp, relu ? 1 : 0, g.c]);
  }));
}

/** Places the incoming gradient (x.size floats, which the kernel only reads) after the arena's reset; its pointer. */
export type PutDy = () => number;

/** dy from a storage, in place. */
export const dyFrom = (ctx: WasmContext, dy: Storage): PutDy => () => input(ctx, dy);

/**
 * Gradients of batch norm. reluBias: the BN's bias when a ReLU follows (the kernel recomputes
 * the forward's pre-ReLU output from x and applies the ReLU gradient in both passes).
 */
export function backward(ctx: WasmContext, putDy: PutDy, x: Storage, mean: Storage, invstd: Storage, weight: Storage, reluBias: Storage | null, g: ChannelGeometry, batchStats: boolean, wantDxSum = false): BatchNormGrads {
  const ar = ctx.arena;
  ar.reset();
  const dyp = putDy();
  const [xp, mp, ip, wp] = inputs(ctx, [x, mean, invstd, weight]) as [number, number, number, number];
  const bp = reluBias ? input(ctx, reluBias) : 0;
  const dx = output(ctx, x.size);
  const sd = ar.alloc(g.c * 8);
  const sx = ar.alloc(g.c * 8);
  const coef = g.s === 1 ? ar.alloc(g.c * 4 * F32) : 0; // the [n, c] kernel's per-channel coefficients (k, a, c, shift)
  const ss = dxSumAccumulators(ctx, g, wantDxSum);
  ctx.launch(channelJob(g, 2, (job, c0, cnt) => {
    const o = c0 * g.s * F32, p = c0 * F32;
    job.call(FN.bnBackward, [dyp + o, xp + o, dx.ptr + o, g.n, cnt, g.s, mp + p, ip + p, wp + p, batchStats ? 1 : 0, sd + c0 * 8, sx + c0 * 8,
      bp ? bp + p : 0, g.c, coef ? coef + c0 * 4 * F32 : 0, ss ? ss + c0 * 8 : 0]);
  }, g.s === 1 ? undefined : streamingChannels(g)));
  return gradsOf(ctx, dx.storage, g, sd, sx, ss);
}

/**
 * Whether the kernels add up dx's channel sums (a conv's bias gradient) in the dx pass: for
 * planes (s > 1) of more than one channel, where the sums are this backend's reduce('sum', dx,
 * [0, 2, ...]) bit for bit (per channel, the runs' sums, two f64x2 lanes then the tail, added in
 * image order: drivers/reduce.ts's [R, K, R] and [K, R] patterns; with one channel the reduce
 * sees one long run and adds in another order). Rows (s = 1) are left to sumCols, whose own pass
 * over [n, c] costs no more than the sums would inside the batch norm's.
 */
export const dxSumsMatchReduce = (g: ChannelGeometry): boolean => g.s > 1 && g.c > 1;

/** f64[c] accumulators for dx's channel sums where wanted and they match the reduce; else 0. */
export const dxSumAccumulators = (ctx: WasmContext, g: ChannelGeometry, want: boolean): number => (want && dxSumsMatchReduce(g) ? ctx.arena.alloc(g.c * 8) : 0);

/** The batch-norm gradients from the kernels' f64 sums (dxSum where accumulated). */
export function gradsOf(ctx: WasmContext, dx: Storage, g: ChannelGeometry, sumDy: number, sumDyXhat: number, dxSum: number): BatchNormGrads {
  const r: BatchNormGrads = { dx, dweight: takeF64AsF32(ctx, sumDyXhat, g.c), dbias: takeF64AsF32(ctx, sumDy, g.c) };
  if (dxSum) r.dxSum = takeF64AsF32(ctx, dxSum, g.c);
  return r;
}
