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
import { F32 } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';
import { imagesPerChunk } from './chunking.js';
import { roundUp } from './gemm.js';
import { XI_PAD, geoBlocks, gradFromSums } from './winograd.js';


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
  ctx.launchCall(FN.winogradS2Filter, [w, u, m, k]);
  const geo = geoBlocks(ctx, [k, m, th, tw, g.h, g.w, T]);
  return {
    nb, k, ih: g.oh, iw: g.ow, hp, wp, u, geo,
    xp: job.scratch(nb * k * hp * wp * F32), v: job.scratch(9 * (roundUp(T, 8) * k + XI_PAD) * F32), mm: job.scratch((9 * 4 * m * T + 2 * T) * F32),
  };
}

/** Add the calls for dst (cur images, NCHW) = the planned transposed convolution of src (cur images, NCHW) + bias (per output channel; 0 for none) to the job's current chunk. */
export function runCalls(job: Job, p: WinogradS2Plan, src: number, dst: number, cur: number, bias: number): void {
  job.call(FN.padPlanes, [src, p.xp, cur * p.k, p.ih, p.iw, p.hp, p.wp, 1, 1], [1]);
  job.call(FN.winogradS2, [p.geo(cur), p.xp, p.u, dst, p.v, p.mm, bias], [1, 4, 5]);
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
  return { th, tw, hp, wp, nb, T, geo: geoBlocks(ctx, [k, m, th, tw, g.oh, g.ow, T]) };
}

/**
 * Plan y (n images, g.o channels of oh x ow) = the convolution of x (g.c channels of h x w) by w
 * ([o][c][4][4] at `w` in the arena): transform the filters now and reserve each thread's buffers.
 */
export function planConv(ctx: WasmContext, job: Job, w: number, g: Conv2dGeometry): WinogradS2ConvPlan {
  const k = 4 * g.c, m = g.o, mp = roundUp(m, 4);
  const { th, tw, hp, wp, nb, T, geo } = convLayout(ctx, g);
  const u = ctx.arena.allocF32(9 * mp * k);
  ctx.launchCall(FN.winogradS2ConvFilter, [w, u, m, g.c]);
  return {
    nb, c: g.c, h: g.h, w: g.w, hp, wp, geo, u,
    xp: job.scratch(nb * k * hp * wp * F32), v: job.scratch(9 * (roundUp(T, 8) * k + XI_PAD) * F32), mm: job.scratch((9 * mp + 2) * roundUp(T, 8) * F32),
  };
}

/**
 * Add the calls for dst (cur images, NCHW; in the thread's scratch where dstScratch) = the planned
 * convolution of src (cur images, NCHW) + bias (per output channel; 0 for none) to the job's current chunk.
 */
export function convCalls(job: Job, p: WinogradS2ConvPlan, src: number, dst: number, dstScratch: boolean, cur: number, bias: number): void {
  job.call(FN.phaseSplit, [src, p.xp, cur * p.c, p.h, p.w, p.hp, p.wp], [1]);
  job.call(FN.winogradS2Conv, [p.geo(cur), p.xp, p.u, dst, p.v, p.mm, bias], [1, 4, 5, ...(dstScratch ? [3] : [])]);
}

/**
 * The weight gradient ([o][c][4][4]) of convolution g (fitsConv) from x and dy by
 * winograd.ts's gradFromSums: per fixed chunk of images its transformed sums
 * (winogradS2GradSums) over the phase planes, the chunks' sums added in chunk order, then
 * G^T du G once per phase filter.
 */
export function filterGrad(ctx: WasmContext, x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
  const { th, tw, hp, wp, nb, T, geo } = convLayout(ctx, g);
  return gradFromSums(ctx, x, dy, g, {
    count: 9, k: 4 * g.c, th, tw, hp, wp, nb, T, geo, sums: FN.winogradS2GradSums, outSize: g.o * g.c * 16,
    planes: (job, xb, xp, cur) => job.call(FN.phaseSplit, [xb, xp, cur * g.c, g.h, g.w, hp, wp], [1]),
    filter: (du, dw) => ctx.launchCall(FN.winogradS2FilterGrad, [du, dw, g.o, g.c]),
  });
}
