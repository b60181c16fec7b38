// Drivers of assembly/norm.ts' batch norm: statistics, forward (optionally with the ReLU fused
// in) and backward (optionally with the ReLU gradient fused in), with the reference's precision
// (src/backend/js/norm.ts): f64 sums, which match the reference's exactly or within 1 f32 ulp,
// and the reference's f32 elementwise steps. The ReLU fusions are bit-identical to the unfused
// composition (test/conformance/fusion.test.ts). Each runs as a job of chunks of channels (every channel's
// sums run in one chunk, in the same order whatever the split), so the bits do not depend on the
// thread count. The forward has no sums and runs by chunks of images instead.

import type { BatchNormGrads, BatchStats, ChannelGeometry, RunningUpdate, Storage, TrainStats } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { F32, input, inputs, output } from '../memory/staging.js';
import { isWasmStorage } from '../memory/storage.js';
import { FN, Job, WORK_PER_ELEMENT } from '../threads/job.js';
import { scaledAddCalls, UNARY } from './elementwise.js';

/** Elements per chunk of a batch-norm job (whole channels, at least one). */
const CHUNK_ELEMENTS = 1 << 15;

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
export function stats(ctx: WasmContext, x: Storage, g: ChannelGeometry): BatchStats {
  ctx.arena.reset();
  const xp = input(ctx, x);
  const mean = output(ctx, g.c), variance = output(ctx, g.c);
  launchStats(ctx, xp, g, mean.ptr, variance.ptr);
  return { mean: mean.storage, variance: variance.storage };
}

/**
 * Training statistics in one job (Backend.batchNormTrainStats): each chunk of channels computes
 * its mean and variance, moves the running statistics toward them and takes invstd, with the
 * kernels and arguments of stats, scaledAddInPlace, addScalar and powScalar one after another.
 */
export function trainStats(ctx: WasmContext, x: Storage, g: ChannelGeometry, eps: number, run: RunningUpdate): TrainStats {
  const ar = ctx.arena;
  ar.reset();
  const xp = input(ctx, x);
  const [rm, rv] = [run.mean, run.variance].map((r) => (r ? input(ctx, r) : 0)) as [number, number];
  const v = ar.allocF32(g.c), t = ar.allocF32(g.c), u = ar.allocF32(g.c); // the variance in float32, two temporaries
  const mean = output(ctx, g.c), invstd = output(ctx, g.c);
  launchStats(ctx, xp, g, mean.ptr, v, (job, c0, cnt) => {
    const p = c0 * F32;
    if (rm) scaledAddCalls(job, rm + p, run.keep, mean.ptr + p, run.meanWeight, t + p, u + p, cnt);
    if (rv) scaledAddCalls(job, rv + p, run.keep, v + p, run.varianceWeight, t + p, u + p, cnt);
    job.call(FN.unaryF32, [UNARY.addScalar!, v + p, t + p, cnt, eps, 0]).call(FN.unaryF32, [UNARY.powScalar!, t + p, invstd.ptr + p, cnt, -0.5, 0]);
  });
  return { mean: mean.storage, invstd: invstd.storage };
}

/**
 * The statistics' job, by chunks of channels: each chunk's float64 sums rounded into mean and
 * variance (float32[c] at those offsets), then `then`'s calls for the same channels.
 */
function launchStats(ctx: WasmContext, xp: number, g: ChannelGeometry, mean: number, variance: number, then?: (job: Job, c0: number, cnt: number) => void): void {
  const mp = ctx.arena.alloc(g.c * 8), vp = ctx.arena.alloc(g.c * 8);
  ctx.launch(channelJob(g, 2, (job, c0, cnt) => {
    job.call(FN.bnStats, [xp + c0 * g.s * F32, g.n, cnt, g.s, mp + c0 * 8, vp + c0 * 8, g.c]);
    roundSums(job, [[mp, mean], [vp, variance]], c0, cnt);
    then?.(job, c0, cnt);
  }));
}

/** Appends to a chunk the rounding of its channels' float64 sums to float32: [sums, out] pairs, channels [c0, c0 + cnt). */
export function roundSums(job: Job, pairs: readonly (readonly [number, number])[], c0: number, cnt: number): void {
  for (const [acc, out] of pairs) job.call(FN.f64ToF32, [acc + c0 * 8, out + c0 * F32, cnt]);
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
  const coef = g.s === 1 ? ar.alloc(g.c * 4 * F32) : 0; // the [n, c] kernel's per-channel coefficients (k, a, c, shift)
  const sums = gradSums(ctx, g, wantDxSum);
  ctx.launch(channelJob(g, 2, (job, c0, cnt) => {
    const o = c0 * g.s * F32, p = c0 * F32;
    job.call(FN.bnBackward, [dyp + o, xp + o, dx.ptr + o, g.n, cnt, g.s, mp + p, ip + p, wp + p, batchStats ? 1 : 0, sums.sd + c0 * 8, sums.sx + c0 * 8,
      bp ? bp + p : 0, g.c, coef ? coef + c0 * 4 * F32 : 0, sums.ss ? sums.ss + c0 * 8 : 0]);
    sums.round(job, c0, cnt);
  }, g.s === 1 ? undefined : streamingChannels(g)));
  return sums.grads(dx.storage);
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

/**
 * A batch-norm backward's float64 sums (sd: of dy, sx: of dy * xhat, ss: of dx where wanted and
 * they match the reduce, else 0) and the float32 gradients they round to, each chunk rounding its
 * own channels (round) in the job that adds them up.
 */
export interface GradSums {
  sd: number; sx: number; ss: number;
  round(job: Job, c0: number, cnt: number): void;
  grads(dx: Storage): BatchNormGrads;
  /** Give the rounded gradients back (a job whose results are dropped). */
  release(): void;
}

export function gradSums(ctx: WasmContext, g: ChannelGeometry, wantDxSum: boolean): GradSums {
  const ar = ctx.arena;
  const sd = ar.alloc(g.c * 8), sx = ar.alloc(g.c * 8);
  const ss = wantDxSum && dxSumsMatchReduce(g) ? ar.alloc(g.c * 8) : 0;
  const dweight = output(ctx, g.c), dbias = output(ctx, g.c), dxSum = ss ? output(ctx, g.c) : null;
  const pairs: [number, number][] = [[sx, dweight.ptr], [sd, dbias.ptr]];
  if (dxSum) pairs.push([ss, dxSum.ptr]);
  const outs = [dweight, dbias, dxSum].filter((o) => o !== null);
  return {
    sd, sx, ss,
    round: (job, c0, cnt) => roundSums(job, pairs, c0, cnt),
    grads: (dx) => ({ dx, dweight: dweight.storage, dbias: dbias.storage, ...(dxSum && { dxSum: dxSum.storage }) }),
    release: () => outs.forEach((o) => isWasmStorage(o.storage) && ctx.store.release(o.storage)),
  };
}
