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
import { F32, input, output, zeroF32 } from '../memory/staging.js';
import { roundUp } from './gemm.js';

/** Floats of padding after each of the 16 matrices of a Winograd block (XI_PAD in assembly/winograd.ts). */
const XI_PAD = 16;

/** Buffers (arena byte offsets) and geometry of one Winograd convolution (see plan). */
export interface WinogradPlan {
  k: number; h: number; w: number; m: number; ph: number; pw: number; hp: number; wp: number;
  nb: number; u: number; geo: number; xp: number; v: number; mm: number;
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
  const nb = Math.max(1, Math.min(n, Math.floor(ctx.colTarget / (k * (inPlane + hp * wp) + m * oh * ow))));
  const T = Math.max(8, Math.floor((1 << 17) / (16 * (roundUp(k, 8) + roundUp(m, 4))) / 8) * 8);
  return { th, tw, hp, wp, nb, T };
}

/**
 * Reserve the buffers of a Winograd convolution of n k-channel h x w images into m channels of
 * oh x ow (padding ph, pw) and transform its filters (at `w` in the arena: [m][k][3][3], or
 * [k][m][3][3] with flip = 1 for the backward-data convolution).
 */
export function plan(ctx: WasmContext, w: number, flip: 0 | 1, k: number, h: number, wd: number, m: number, oh: number, ow: number, ph: number, pw: number, n: number): WinogradPlan {
  const ar = ctx.arena;
  const { th, tw, hp, wp, nb, T } = layout(ctx, n, k, m, oh, ow, h * wd);
  const mp = roundUp(m, 4);
  const u = ar.allocF32(16 * mp * k);
  ctx.k.winogradFilter(w, u, m, k, flip);
  const geo = ar.alloc(64);
  ar.i32.set([0, k, m, th, tw, hp, wp, oh, ow, T], geo / F32);
  return { k, h, w: wd, m, ph, pw, hp, wp, nb, u, geo, xp: ar.allocF32(nb * k * hp * wp), v: ar.allocF32(16 * (T * k + XI_PAD)), mm: ar.allocF32(16 * (mp * T + XI_PAD)) };
}

/** dst (cur images, NCHW) = the plan's convolution of src (cur images, NCHW), both in the arena. */
export function run(ctx: WasmContext, p: WinogradPlan, src: number, dst: number, cur: number): void {
  ctx.k.winogradPad(src, p.xp, cur * p.k, p.h, p.w, p.hp, p.wp, p.ph, p.pw);
  ctx.arena.i32[p.geo / F32] = cur;
  ctx.k.winogradConv(p.geo, p.xp, p.u, dst, p.v, p.mm);
}

/**
 * The weight gradient of a Winograd-shaped convolution: dW = G^T (sum over tiles of
 * (A dY A^T) . (B^T d B)) G, the sums being 16 GEMMs that run along the tiles.
 */
export function filterGrad(ctx: WasmContext, x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
  const size = g.o * g.c * 9;
  const { th, tw, hp, wp, nb, T } = layout(ctx, g.n, g.c, g.o, g.oh, g.ow, g.h * g.w);
  const mp = roundUp(g.o, 4), kp = roundUp(g.c, 8);
  const S = g.oh * g.ow, inImg = g.c * g.h * g.w;
  const padDy = g.oh % 2 !== 0 || g.ow % 2 !== 0; // dY tiles read 2x2 blocks: odd sizes get a zero edge
  const ar = ctx.arena;
  const k = ctx.k;
  ar.reset();
  const X = input(ctx, x);
  const DY = input(ctx, dy);
  const dw = output(ctx, size); // winogradFilterGrad writes every element
  const geo = ar.alloc(64);
  const xp = ar.allocF32(nb * g.c * hp * wp);
  const dyPad = padDy ? ar.allocF32(nb * g.o * 4 * th * tw) : 0;
  const du = ar.allocF32(16 * mp * kp);
  const v = ar.allocF32(16 * (kp * T + XI_PAD));
  const z = ar.allocF32(16 * (mp * T + XI_PAD));
  zeroF32(ctx, du, 16 * mp * kp);
  ar.i32.set([0, g.c, g.o, th, tw, hp, wp, g.oh, g.ow, T], geo / F32);
  for (let n0 = 0; n0 < g.n; n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const xb = X + n0 * inImg * F32;
    const dyb = DY + n0 * g.o * S * F32;
    const dyp = padDy ? dyPad : dyb;
    k.winogradPad(xb, xp, cur * g.c, g.h, g.w, hp, wp, g.padH, g.padW);
    if (padDy) k.winogradPad(dyb, dyp, cur * g.o, g.oh, g.ow, 2 * th, 2 * tw, 0, 0);
    ar.i32[geo / F32] = cur;
    k.winogradGradSums(geo, xp, dyp, du, v, z);
  }
  k.winogradFilterGrad(du, dw.ptr, g.o, g.c);
  return dw.storage;
}
