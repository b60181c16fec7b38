// Driver of assembly/winograd.ts: Winograd F(2x2, 3x3).
//
// A 3x3 stride-1 convolution (no dilation, one group, padding <= 2) computes each 2x2 output
// tile from a 4x4 input tile with 16 multiplies per channel pair instead of 36, and writes no
// im2col matrix. Its input gradient is the same kind of convolution (filters transposed and
// rotated, padding 2 - p), so both run through plan() and run(), and its weight gradient is
// G^T (sum over tiles of (A dY A^T) . (B^T d B)) G, 16 GEMMs along the tiles (filterGrad).
// Rounding differs from the direct sum by a few float32 ulps of the tile's magnitude (the
// transforms add up to 4 inputs, or halve filter sums): test/conformance/winograd.test.ts
// bounds it per tile. Measured at batch 128 (node bench/run.mjs conv): see README.

import type { Conv2dGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { F32, input, output, putGeo } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';
import { imagesPerChunk, sumParts } from './chunking.js';
import { roundUp } from './gemm.js';

/** Floats of padding after each matrix of a Winograd block's V and products (XI_PAD in assembly/winograd.ts). */
export const XI_PAD = 16;

/** Arena buffers, per-thread scratch offsets and geometry of one Winograd convolution (see plan). */
export interface WinogradPlan {
  k: number; h: number; w: number; m: number; ph: number; pw: number; hp: number; wp: number;
  nb: number; u: number; geo: (nb: number) => number; xp: number; v: number; mm: number;
}

/** Whether a convolution takes the Winograd path (forward and backward-data alike). */
export function fits(ctx: WasmContext, g: Conv2dGeometry): boolean {
  return g.kh === 3 && g.kw === 3 && g.strideH === 1 && g.strideW === 1 && g.dilH === 1 && g.dilW === 1 && g.groups === 1 &&
    g.padH <= 2 && g.padW <= 2 && Math.min(g.c, g.o) >= ctx.winogradMinChannels;
}

/** Tile grid, padded plane and chunking of a Winograd convolution from k channels to m of oh x ow (m, k as the GEMMs see them). */
function layout(ctx: WasmContext, n: number, k: number, m: number, oh: number, ow: number, inPlane: number): { th: number; tw: number; hp: number; wp: number; nb: number; T: number } {
  const th = Math.ceil(oh / 2), tw = Math.ceil(ow / 2);
  const hp = 2 * th + 2, wp = 2 * tw + 2;
  // images per chunk: input, padded input and output about colTarget floats; tiles per block:
  // a block's two transformed operands about 512 KiB, so they stay in L2 beside the filters
  const nb = imagesPerChunk(ctx, n, k * (inPlane + hp * wp) + m * oh * ow);
  const T = Math.max(8, Math.floor((1 << 17) / (16 * (roundUp(k, 8) + roundUp(m, 4))) / 8) * 8);
  return { th, tw, hp, wp, nb, T };
}

/** Geometry blocks (i32[10], see assembly/winograd.ts) by images per chunk. */
export function geoBlocks(ctx: WasmContext, rest: number[]): (nb: number) => number {
  const blocks = new Map<number, number>();
  return (nb) => {
    let p = blocks.get(nb);
    if (p === undefined) blocks.set(nb, (p = putGeo(ctx, [nb, ...rest])));
    return p;
  };
}

/**
 * Plan a Winograd convolution of n k-channel h x w images into m channels of oh x ow (padding
 * ph, pw): transform its filters now (at `w` in the arena: [m][k][3][3], or [k][m][3][3] with
 * flip = 1 for the backward-data convolution) and reserve each thread's buffers in the job.
 */
export function plan(ctx: WasmContext, job: Job, w: number, flip: 0 | 1, k: number, h: number, wd: number, m: number, oh: number, ow: number, ph: number, pw: number, n: number): WinogradPlan {
  const { th, tw, hp, wp, nb, T } = layout(ctx, n, k, m, oh, ow, h * wd);
  const mp = roundUp(m, 4);
  const u = ctx.arena.allocF32(16 * mp * k);
  ctx.launchCall(FN.winogradFilter, [w, u, m, k, flip]);
  return {
    k, h, w: wd, m, ph, pw, hp, wp, nb, u, geo: geoBlocks(ctx, [k, m, th, tw, hp, wp, oh, ow, T]),
    xp: job.scratch(nb * k * hp * wp * F32), v: job.scratch(16 * (T * k + XI_PAD) * F32), mm: job.scratch((16 * mp * T + 2 * T) * F32),
  };
}

/**
 * Add the calls for dst (cur images, NCHW) = the plan's convolution of src (cur images, NCHW)
 * + bias (f32 per output channel, added as each output is stored; 0 for none) to the job's current chunk.
 */
export function runCalls(ctx: WasmContext, job: Job, p: WinogradPlan, src: number, srcScratch: boolean, dst: number, dstScratch: boolean, cur: number, bias: number): void {
  job.call(FN.padPlanes, [src, p.xp, cur * p.k, p.h, p.w, p.hp, p.wp, p.ph, p.pw], srcScratch ? [0, 1] : [1]);
  job.call(FN.winogradConv, [p.geo(cur), p.xp, p.u, dst, p.v, p.mm, bias], dstScratch ? [1, 3, 4, 5] : [1, 4, 5]);
}

/**
 * Add the calls for pooled (cur images, NCHW, oh / 2 x ow / 2 planes) = maxPool2d(relu(BN(the
 * plan's convolution of src + bias))) to the job's current chunk: 2x2 windows of stride 2 on even
 * output planes (assembly/winograd.ts winogradConvBnReluPool). bias: 0 for none; bn: the eval
 * parameters (mean, invstd, weight, bias).
 */
export function poolCalls(job: Job, p: WinogradPlan, src: number, pooled: number, cur: number, bias: number, bn: readonly number[]): void {
  job.call(FN.padPlanes, [src, p.xp, cur * p.k, p.h, p.w, p.hp, p.wp, p.ph, p.pw], [1]);
  job.call(FN.winogradConvBnReluPool, [p.geo(cur), p.xp, p.u, pooled, p.v, p.mm, bias, ...bn], [1, 4, 5]);
}

/**
 * The weight gradient of a Winograd-shaped convolution: dW = G^T (sum over tiles of
 * (A dY A^T) . (B^T d B)) G, the sums being 16 GEMMs that run along the tiles; each chunk of
 * images sums into its own buffer, and the chunks' sums are added in chunk order.
 */
export function filterGrad(ctx: WasmContext, x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
  const { th, tw, hp, wp, nb, T } = layout(ctx, g.n, g.c, g.o, g.oh, g.ow, g.h * g.w);
  return gradFromSums(ctx, x, dy, g, {
    count: 16, k: g.c, th, tw, hp, wp, nb, T, sums: FN.winogradGradSums, outSize: g.o * g.c * 9,
    geo: geoBlocks(ctx, [g.c, g.o, th, tw, hp, wp, g.oh, g.ow, T]),
    planes: (job, xb, xp, cur) => job.call(FN.padPlanes, [xb, xp, cur * g.c, g.h, g.w, hp, wp, g.padH, g.padW], [1]),
    filter: (du, dw) => ctx.launchCall(FN.winogradFilterGrad, [du, dw, g.o, g.c]),
  });
}

/** A Winograd weight gradient's shape: `count` (16 or 9) matrices per window over k transformed input channels, and its kernels. */
export interface GradSums {
  count: number; k: number; th: number; tw: number; hp: number; wp: number; nb: number; T: number;
  geo: (nb: number) => number;
  /** The kernel (FN) that sums a chunk's tiles: (geo, x planes, dY, part, v, z). */
  sums: number;
  /** Add the call that writes a chunk's cur images of x (at xb) as the kernel's input planes at xp (thread scratch). */
  planes: (job: Job, xb: number, xp: number, cur: number) => void;
  /** G^T du G into the weight gradient (outSize floats at dw). */
  filter: (du: number, dw: number) => void;
  outSize: number;
}

/**
 * A Winograd weight gradient from x and dy: per fixed chunk of nb images its transformed sums into
 * its own buffer, the chunks' sums added in chunk order (the same bits at any thread count), then
 * the filter transform once.
 */
export function gradFromSums(ctx: WasmContext, x: Storage, dy: Storage, g: Conv2dGeometry, s: GradSums): Storage {
  const { th, tw, nb, T } = s;
  const mp = roundUp(g.o, 4), kp = roundUp(s.k, 8);
  const S = g.oh * g.ow, inImg = g.c * g.h * g.w;
  const chunks = Math.ceil(g.n / nb);
  const duSize = s.count * mp * kp;
  const ar = ctx.arena;
  ar.reset();
  const xs = input(ctx, x);
  const dys = input(ctx, dy);
  const parts = ar.allocF32(chunks * duSize);
  const du = ar.allocF32(duSize);
  const dw = output(ctx, s.outSize); // the filter transform writes every element
  const job = new Job(2 * g.n * g.o * s.k * s.count * th * tw);
  const xp = job.scratch(nb * s.k * s.hp * s.wp * F32);
  const v = job.scratch(s.count * (kp * T + XI_PAD) * F32);
  const z = job.scratch(s.count * (mp * T + XI_PAD) * F32);
  for (let c = 0, n0 = 0; n0 < g.n; c++, n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const dyb = dys + n0 * g.o * S * F32;
    const part = parts + c * duSize * F32;
    job.chunk().call(FN.zero, [part, duSize]);
    s.planes(job, xs + n0 * inImg * F32, xp, cur);
    job.call(s.sums, [s.geo(cur), xp, dyb, part, v, z], [1, 4, 5]);
  }
  ctx.launch(job);
  sumParts(ctx, parts, chunks, duSize, du);
  s.filter(du, dw.ptr);
  return dw.storage;
}
