// Drivers of assembly/conv.ts (im2col / col2im + the GEMM, the dot-product weight gradient) and,
// for 3x3 stride-1 shapes, of Winograd (./winograd.ts): conv forward, input gradient (which is
// also conv-transpose forward) and weight gradient, each over chunks of images sized so that a
// chunk's im2col matrix stays in cache. Forward and input gradient take a fused epilogue
// (../fused.ts) applied to each chunk while it is in cache. Inputs are read and results
// written in place in linear memory; the arena holds the im2col matrix, packing buffers and,
// where a max pool follows, the chunk before pooling.

import type { BatchNormParams, Conv2dGeometry, Pool2dGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { applyEpilogue, stageEpilogue } from '../fused.js';
import { F32, emptyF32, input, output, zeroF32, zeroedOutput } from '../memory/staging.js';
import { gemmBuffers, roundUp } from './gemm.js';
import * as winograd from './winograd.js';

/** Images per chunk so that a chunk's im2col matrix stays near colTarget floats. */
function chunk(ctx: WasmContext, n: number, colPerImage: number): number {
  return Math.max(1, Math.min(n, Math.floor(ctx.colTarget / Math.max(colPerImage, 1))));
}

/**
 * One GEMM per image (reading/writing NCHW in place) when a plane's pixel count fills the
 * 8-wide register tile well (< 5% padding waste); else one GEMM per chunk plus a gather or
 * scatter (small planes such as 7x7 = 49 would waste 14% per image).
 */
function perImage(ctx: WasmContext, S: number): boolean {
  return roundUp(S, ctx.blocking.NR) - S <= 0.05 * S;
}

function convGeo(g: Conv2dGeometry, nb: number): number[] {
  return [nb, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, g.groups];
}

/** Conv forward, with the bias and (inference) BN + ReLU [+ max pool] epilogue applied per chunk. */
export function forward(ctx: WasmContext, x: Storage, w: Storage, bias: Storage | null, g: Conv2dGeometry, bn: BatchNormParams | null = null, pool: Pool2dGeometry | null = null): Storage {
  const S = g.oh * g.ow;
  const PS = pool ? pool.oh * pool.ow : S; // per-plane size of the result
  const size = g.n * g.o * PS;
  if (size === 0) return emptyF32(ctx);
  const cg = g.c / g.groups;
  const og = g.o / g.groups;
  const K = cg * g.kh * g.kw;
  const inImg = g.c * g.h * g.w;
  const ar = ctx.arena;
  const k = ctx.k;
  ar.reset();
  const wp = input(ctx, w);
  const X = input(ctx, x);
  const out = output(ctx, size);
  const wino = winograd.fits(ctx, g) ? winograd.plan(ctx, wp, 0, g.c, g.h, g.w, g.o, g.oh, g.ow, g.padH, g.padW, g.n) : null;
  const nb = wino ? wino.nb : chunk(ctx, g.n, K * S);
  const geo = ar.alloc(64);
  const col = wino ? 0 : ar.allocF32(K * nb * S);
  const oneGemmPerImage = nb === 1 || perImage(ctx, S);
  const ymat = oneGemmPerImage || wino ? 0 : ar.allocF32(og * nb * S);
  // the chunk's conv output: the result itself, or (pooling) an arena buffer with 8 readable floats after it
  const ybuf = pool ? ar.allocF32(nb * g.o * S + 8) : 0;
  const [pa, pb, tmp] = wino ? [0, 0, 0] : gemmBuffers(ctx, og, nb * S, K);
  const epi = stageEpilogue(ctx, bias, bn, pool);
  for (let n0 = 0; n0 < g.n; n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const xb = X + n0 * inImg * F32;
    const yb = pool ? ybuf : out.ptr + n0 * g.o * S * F32;
    if (wino) {
      winograd.run(ctx, wino, xb, yb, cur);
    } else {
      ar.i32.set(convGeo(g, cur), geo / F32);
      for (let grp = 0; grp < g.groups; grp++) {
        k.im2col(geo, xb, col, grp);
        const a = wp + grp * og * K * F32;
        if (oneGemmPerImage) {
          // one product per image, written straight into its NCHW place
          for (let i = 0; i < cur; i++) {
            k.sgemm(og, S, K, a, K, 1, col + i * S * F32, cur * S, 1, yb + (i * g.o + grp * og) * S * F32, S, 0, pa, pb, tmp);
          }
        } else {
          k.sgemm(og, cur * S, K, a, K, 1, col, cur * S, 1, ymat, cur * S, 0, pa, pb, tmp);
          k.scatterChannels(ymat, yb, cur, g.o, grp * og, og, S);
        }
      }
    }
    applyEpilogue(ctx, epi, yb, cur, g.o, S, out.ptr + n0 * g.o * PS * F32);
  }
  return out.storage;
}

/**
 * The input gradient (conv-transpose forward), with the bias and (inference) BN + ReLU epilogue
 * per chunk. Null for empty geometries that need the reference (a bias over an empty product).
 */
export function backwardData(ctx: WasmContext, dy: Storage, w: Storage, bias: Storage | null, g: Conv2dGeometry, bn: BatchNormParams | null = null): Storage | null {
  const S = g.oh * g.ow;
  const inImg = g.c * g.h * g.w;
  const size = g.n * inImg;
  if (size === 0 || S === 0 || g.o === 0) return bias ? null : emptyF32(ctx, size);
  const cg = g.c / g.groups;
  const og = g.o / g.groups;
  const K = cg * g.kh * g.kw;
  const ar = ctx.arena;
  const k = ctx.k;
  ar.reset();
  const wp = input(ctx, w);
  const DY = input(ctx, dy);
  const dx = output(ctx, size);
  // the input gradient of a 3x3 stride-1 conv is a 3x3 stride-1 conv of dy (padding 2 - p)
  const wino = winograd.fits(ctx, g) ? winograd.plan(ctx, wp, 1, g.o, g.oh, g.ow, g.c, g.h, g.w, 2 - g.padH, 2 - g.padW, g.n) : null;
  const nb = wino ? wino.nb : chunk(ctx, g.n, K * S);
  const geo = ar.alloc(64);
  const oneGemmPerImage = nb === 1 || perImage(ctx, S);
  const dymat = oneGemmPerImage || wino ? 0 : ar.allocF32(og * nb * S);
  const col = wino ? 0 : ar.allocF32(K * nb * S);
  const [pa, pb, tmp] = wino ? [0, 0, 0] : gemmBuffers(ctx, K, nb * S, og);
  const epi = stageEpilogue(ctx, bias, bn, null);
  for (let n0 = 0; n0 < g.n; n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const dyb = DY + n0 * g.o * S * F32;
    const dxb = dx.ptr + n0 * inImg * F32;
    if (wino) {
      winograd.run(ctx, wino, dyb, dxb, cur);
    } else {
      ar.i32.set(convGeo(g, cur), geo / F32);
      zeroF32(ctx, dxb, cur * inImg);
      for (let grp = 0; grp < g.groups; grp++) {
        const a = wp + grp * og * K * F32;
        if (oneGemmPerImage) {
          // col[K, i*S..] = W_g^T [K, og] . dY_g,i [og, S], per image, read in place
          for (let i = 0; i < cur; i++) {
            k.sgemm(K, S, og, a, 1, K, dyb + (i * g.o + grp * og) * S * F32, S, 1, col + i * S * F32, cur * S, 0, pa, pb, tmp);
          }
        } else {
          // col[K, cur*S] = W_g^T [K, og] . dY_g [og, cur*S]
          k.gatherChannels(dyb, dymat, cur, g.o, grp * og, og, S);
          k.sgemm(K, cur * S, og, a, 1, K, dymat, cur * S, 1, col, cur * S, 0, pa, pb, tmp);
        }
        k.col2im(geo, col, dxb, grp);
      }
    }
    applyEpilogue(ctx, epi, dxb, cur, g.c, g.h * g.w);
  }
  return dx.storage;
}

/** The weight gradient: dW_g [og, K] = sum over images of dY_g . col^T (Winograd for 3x3 stride-1 shapes). */
export function backwardFilter(ctx: WasmContext, x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
  const S = g.oh * g.ow;
  const cg = g.c / g.groups;
  const og = g.o / g.groups;
  const K = cg * g.kh * g.kw;
  const size = g.o * K;
  if (size === 0 || S === 0 || g.n === 0) return emptyF32(ctx, size);
  if (winograd.fits(ctx, g)) return winograd.filterGrad(ctx, x, dy, g);
  const inImg = g.c * g.h * g.w;
  const nb = chunk(ctx, g.n, K * S);
  const ar = ctx.arena;
  const k = ctx.k;
  ar.reset();
  const X = input(ctx, x);
  const DY = input(ctx, dy);
  const dw = zeroedOutput(ctx, size);
  const dwb = dw.ptr;
  const geo = ar.alloc(64);
  const dymat = nb > 1 ? ar.allocF32(og * nb * S) : 0;
  const col = ar.allocF32(K * nb * S);
  for (let n0 = 0; n0 < g.n; n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    ar.i32.set(convGeo(g, cur), geo / F32);
    const xb = X + n0 * inImg * F32;
    const dyb = DY + n0 * g.o * S * F32;
    for (let grp = 0; grp < g.groups; grp++) {
      k.im2col(geo, xb, col, grp);
      let ap = dyb + grp * og * S * F32;
      if (cur > 1) {
        k.gatherChannels(dyb, dymat, cur, g.o, grp * og, og, S);
        ap = dymat;
      }
      // dW_g [og, K] += dY_g [og, cur*S] . col^T [cur*S, K]: both operands run along the long
      // k = cur*S, so a dot-product kernel (no packing) beats the packed GEMM, which pads K
      // to its 8-wide tile and packs col^T transposed. Measured at batch 128 (GFLOP/s, GEMM ->
      // gemmNT): encoder.0 (K = 9) 1.7 -> 30, encoder.4 (K = 288) 36 -> 46, decoder.0 35 -> 40.
      k.gemmNT(og, K, cur * S, ap, cur * S, col, cur * S, dwb + grp * og * K * F32, K);
    }
  }
  return dw.storage;
}
