// Driver of assembly/winogradStride2.ts: Winograd F(2x2, 2x2) by output phases, for the input
// gradient of 4x4 stride-2 padding-1 convolutions (ConvTranspose2d(kernel 4, stride 2, padding 1)'s
// forward: the decoder's upsampling layers). Each 3x3 window of the input feeds a 4x4 block of
// the output (all four phases of 2x2), 9 multiplies per 4 outputs per channel pair instead of
// im2col's 16, and no 16x-the-output column matrix nor col2im pass. Rounding differs from the
// direct sum by a few float32 ulps of the tile's magnitude (the transforms add up to 4 inputs or
// 4 taps, and 4 products on the way back): test/conformance/winograd-stride2.test.ts bounds it.
// The forward convolution of that geometry (the transposed convolution's input gradient) runs by
// input phases the same way (planConv): one 2x2 convolution of 4 c phase planes; and so does its
// weight gradient (filterGrad: Winograd's transformed sums over tiles, by fixed chunks of images).

import type { Conv2dGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { F32, input, output, putGeo } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';
import { imagesPerChunk, sumParts } from './chunking.js';
import { roundUp } from './gemm.js';

/** Floats of padding after each of the 9 matrices of a block's V (XI_PAD in assembly/winograd.ts). */
const XI_PAD = 16;

/** Arena buffers, per-thread scratch offsets and geometry of one phase-Winograd transposed convolution (see plan). */
export interface WinogradS2Plan {
  nb: number; k: number; ih: number; iw: number; hp: number; wp: number;
  u: number; geo: (nb: number) => number; xp: number; v: number; mm: number;
}

/**
 * Whether the input gradient of convolution g (a transposed convolution from g.o channels of
 * oh x ow to g.c of h x w) takes this path: 4x4 kernel, stride 2, padding 1, no dilation, one
 * group, and enough channels.
 */
export function fits(ctx: WasmContext, g: Conv2dGeometry): boolean {
  return g.kh === 4 && g.kw === 4 && g.strideH === 2 && g.strideW === 2 && g.padH === 1 && g.padW === 1 &&
    g.dilH === 1 && g.dilW === 1 && g.groups === 1 && g.h >= 2 && g.w >= 2 &&
    g.oh === Math.floor((g.h - 2) / 2) + 1 && g.ow === Math.floor((g.w - 2) / 2) + 1 &&
    Math.min(g.c, g.o) >= ctx.winogradS2MinChannels;
}

/**
 * Plan the input gradient dx (n images, g.c channels of h x w) of dy (g.o channels of oh x ow)
 * through weight w ([o][c][4][4] at `w` in the arena): transform the filters now and reserve
 * each thread's buffers in the job.
 */
export function plan(ctx: WasmContext, job: Job, w: number, g: Conv2dGeometry): WinogradS2Plan {
  const k = g.o, m = g.c; // the transposed convolution's input and output channels
  // tile (ty, tx) writes output rows 4 ty - 1 .. 4 ty + 2: enough tiles to reach row h - 1
  const th = Math.ceil((g.h + 1) / 4), tw = Math.ceil((g.w + 1) / 4);
  const hp = 2 * th + 1, wp = 2 * tw + 2;
  // images per chunk: input, padded input and output about colTarget floats; tiles per block:
  // a block's two transformed operands about 512 KiB, so they stay in L2 beside the filters
  const nb = imagesPerChunk(ctx, g.n, k * (g.oh * g.ow + hp * wp) + m * g.h * g.w);
  const T = Math.max(8, Math.floor((1 << 17) / (9 * (k + 4 * m)) / 8) * 8);
  const u = ctx.arena.allocF32(9 * 4 * m * k);
  ctx.k.winogradS2Filter(w, u, m, k);
  const blocks = new Map<number, number>();
  const geo = (cur: number): number => {
    let p = blocks.get(cur);
    if (p === undefined) blocks.set(cur, (p = putGeo(ctx, [cur, k, m, th, tw, g.h, g.w, T])));
    return p;
  };
  return {
    nb, k, ih: g.oh, iw: g.ow, hp, wp, u, geo,
    xp: job.scratch(nb * k * hp * wp * F32), v: job.scratch(9 * (roundUp(T, 8) * k + XI_PAD) * F32), mm: job.scratch((9 * 4 * m * T + 2 * T) * F32),
  };
}

/** Add the calls for dst (cur images, NCHW) = the planned transposed convolution of src (cur images, NCHW) to the job's current chunk. */
export function runCalls(job: Job, p: WinogradS2Plan, src: number, dst: number, cur: number): void {
  job.call(FN.padPlanes, [src, p.xp, cur * p.k, p.ih, p.iw, p.hp, p.wp, 1, 1], [1]);
  job.call(FN.winogradS2, [p.geo(cur), p.xp, p.u, dst, p.v, p.mm], [1, 4, 5]);
}

/** Whether convolution g's forward takes the input-phase path: the geometry of fits, enough channels. */
export function fitsConv(ctx: WasmContext, g: Conv2dGeometry): boolean {
  return fits(ctx, g);
}

/** Arena buffers, per-thread scratch offsets and geometry of one phase-Winograd forward convolution (see planConv). */
export interface WinogradS2ConvPlan {
  nb: number; c: number; h: number; w: number; hp: number; wp: number;
  geo: (nb: number) => number; u: number; xp: number; v: number; mm: number;
}

/** Tiles, phase planes, images per chunk, tiles per block and geometry blocks of the input-phase path (forward and weight gradient). */
function convLayout(ctx: WasmContext, g: Conv2dGeometry): { th: number; tw: number; hp: number; wp: number; nb: number; T: number; geo: (nb: number) => number } {
  const k = 4 * g.c, m = g.o;
  // tile (ty, tx) makes outputs 2 ty, 2 ty + 1 (columns alike) from rows 2 ty .. 2 ty + 2 of each phase plane
  const th = Math.ceil(g.oh / 2), tw = Math.ceil(g.ow / 2);
  const hp = 2 * th + 1, wp = 2 * tw + 2;
  const nb = imagesPerChunk(ctx, g.n, g.c * g.h * g.w + k * hp * wp + m * g.oh * g.ow);
  const T = Math.max(8, Math.floor((1 << 17) / (9 * (roundUp(k, 8) + roundUp(m, 4))) / 8) * 8);
  const blocks = new Map<number, number>();
  const geo = (cur: number): number => {
    let p = blocks.get(cur);
    if (p === undefined) blocks.set(cur, (p = putGeo(ctx, [cur, k, m, th, tw, g.oh, g.ow, T])));
    return p;
  };
  return { th, tw, hp, wp, nb, T, geo };
}

/**
 * Plan y (n images, g.o channels of oh x ow) = the convolution of x (g.c channels of h x w) by w
 * ([o][c][4][4] at `w` in the arena): transform the filters now and reserve each thread's buffers.
 */
export function planConv(ctx: WasmContext, job: Job, w: number, g: Conv2dGeometry): WinogradS2ConvPlan {
  const k = 4 * g.c, m = g.o, mp = roundUp(m, 4);
  const { th, tw, hp, wp, nb, T, geo } = convLayout(ctx, g);
  const u = ctx.arena.allocF32(9 * mp * k);
  ctx.k.winogradS2ConvFilter(w, u, m, g.c);
  return {
    nb, c: g.c, h: g.h, w: g.w, hp, wp, geo, u,
    xp: job.scratch(nb * k * hp * wp * F32), v: job.scratch(9 * (roundUp(T, 8) * k + XI_PAD) * F32), mm: job.scratch(9 * mp * roundUp(T, 8) * F32),
  };
}

/**
 * Add the calls for dst (cur images, NCHW; in the thread's scratch where dstScratch) = the planned
 * convolution of src (cur images, NCHW) to the job's current chunk.
 */
export function convCalls(job: Job, p: WinogradS2ConvPlan, src: number, dst: number, dstScratch: boolean, cur: number): void {
  job.call(FN.phaseSplit, [src, p.xp, cur * p.c, p.h, p.w, p.hp, p.wp], [1]);
  job.call(FN.winogradS2Conv, [p.geo(cur), p.xp, p.u, dst, p.v, p.mm], [1, 4, 5, ...(dstScratch ? [3] : [])]);
}

/**
 * The weight gradient ([o][c][4][4]) of convolution g (fitsConv) from x and dy: per fixed chunk of
 * images its transformed sums (winogradS2GradSums) into its own buffer, the chunks' sums added in
 * chunk order (the same bits at any thread count), then G^T du G once.
 */
export function filterGrad(ctx: WasmContext, x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
  const { th, tw, hp, wp, nb, T, geo } = convLayout(ctx, g);
  const k = 4 * g.c, mp = roundUp(g.o, 4), kp = roundUp(k, 8);
  const S = g.oh * g.ow, inImg = g.c * g.h * g.w;
  const padDy = g.oh % 2 !== 0 || g.ow % 2 !== 0; // dY tiles read 2x2 blocks: odd sizes get a zero edge
  const chunks = Math.ceil(g.n / nb);
  const duSize = 9 * mp * kp;
  ctx.arena.reset();
  const xs = input(ctx, x);
  const dys = input(ctx, dy);
  const parts = ctx.arena.allocF32(chunks * duSize);
  const du = ctx.arena.allocF32(duSize);
  const dw = output(ctx, g.o * g.c * 16); // winogradS2FilterGrad writes every element
  const job = new Job(2 * g.n * g.o * k * 9 * th * tw);
  const xp = job.scratch(nb * k * hp * wp * F32);
  const dyp = padDy ? job.scratch(nb * g.o * 4 * th * tw * F32) : 0;
  const v = job.scratch(9 * (kp * T + XI_PAD) * F32);
  const z = job.scratch(9 * (mp * T + XI_PAD) * F32);
  for (let c = 0, n0 = 0; n0 < g.n; c++, n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const dyb = dys + n0 * g.o * S * F32;
    const part = parts + c * duSize * F32;
    job.chunk().call(FN.zero, [part, duSize]);
    job.call(FN.phaseSplit, [xs + n0 * inImg * F32, xp, cur * g.c, g.h, g.w, hp, wp], [1]);
    if (padDy) job.call(FN.padPlanes, [dyb, dyp, cur * g.o, g.oh, g.ow, 2 * th, 2 * tw, 0, 0], [1]);
    job.call(FN.winogradS2GradSums, [geo(cur), xp, padDy ? dyp : dyb, part, v, z], padDy ? [1, 2, 4, 5] : [1, 4, 5]);
  }
  ctx.run(job);
  sumParts(ctx, parts, chunks, duSize, du);
  ctx.k.winogradS2FilterGrad(du, dw.ptr, g.o, g.c);
  return dw.storage;
}
