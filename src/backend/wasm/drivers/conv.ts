// Drivers of assembly/conv.ts (im2col / col2im + the GEMM, the direct forward kernel for
// stride-1 convs with a small K, the dot-product weight gradient) and, for 3x3 stride-1 shapes,
// of Winograd (./winograd.ts): conv forward, input gradient (which is also conv-transpose
// forward) and weight gradient; 4x4 stride-2 padding-1 forwards and input gradients run by phase
// Winograd (./winograd-stride2.ts). Each runs as a job (../threads/job.ts) of
// chunks of images: a chunk's im2col matrix stays in cache, and there are enough chunks for
// every thread. Forward and input gradient take a fused epilogue (../fused.ts) applied to each
// chunk while it is in cache; the weight gradient sums each chunk into its own buffer and adds
// the chunks' sums in chunk order, so the bits do not depend on the thread count. Inputs are read
// and results written in place in linear memory; each thread's scratch (../threads/run.ts) holds
// its im2col matrix, packing buffers and, where a max pool follows, its chunk before pooling
// (except where the direct kernel pools a 2x2 max pool in its registers: convDirectBnReluPool2x2).

import type { BatchNormParams, Conv2dGeometry, Pool2dGeometry, Storage } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { epilogueCalls, isPool2x2, isPool2x2Floor, stageEpilogue } from '../fused.js';
import { F32, emptyF32, input, output, putGeo } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';
import { imagesPerChunk, sumParts } from './chunking.js';
import { gemmScratch, roundUp } from './gemm.js';
import * as winograd from './winograd.js';
import * as winogradS2 from './winograd-stride2.js';

/**
 * One GEMM per image (reading/writing NCHW in place) when a plane's pixel count fills the
 * 8-wide register tile well (< 5% padding waste); else one GEMM per chunk plus a gather or
 * scatter (small planes such as 7x7 = 49 would waste 14% per image).
 */
function perImage(ctx: WasmContext, S: number): boolean {
  return roundUp(S, ctx.blocking.NR) - S <= 0.05 * S;
}

/** Padded input planes in per-thread scratch for the direct kernel (assembly/conv.ts convDirect). */
interface DirectPlan {
  /** Scratch offsets: the chunk's padded planes, and the kernel's tmp (rows under 4 pixels wide, its tap tables, the pooled kernel's per-channel coefficients). */
  xp: number;
  tmp: number;
  /** Padded plane height and width: room for every window and a 4-wide block, and for the image at (padH, padW). */
  hp: number;
  wp: number;
}

/**
 * The direct kernel's plan for a stride-1 conv with K <= ctx.directMaxK, else null. pooled: the
 * pooled width where the kernel that pools (convDirectBnReluPool2x2) runs, which reads up to
 * twice that rounded up to 4 pixels per row, and needs 4 o + 3 K words of tmp (convDirect 16 + 5 K).
 */
function directPlan(ctx: WasmContext, job: Job, g: Conv2dGeometry, nb: number, pooled: number | null): DirectPlan | null {
  const K = (g.c / g.groups) * g.kh * g.kw;
  // Not for 1x1 kernels (their im2col is a copy, and the GEMM ran them ~10% faster) nor strides
  // (decoder.3's input gradient, 1 -> 32 4x4 stride 2 on 14-pixel rows, ran no faster either way)
  if (g.strideH !== 1 || g.strideW !== 1 || g.kh * g.kw === 1 || K > ctx.directMaxK || K > ctx.blocking.KC) return null;
  const hp = Math.max(g.oh + (g.kh - 1) * g.dilH, g.h + g.padH);
  const rowRead = pooled === null ? Math.max(g.ow, 4) : Math.max(roundUp(2 * pooled, 4), 4);
  const wp = Math.max(rowRead + (g.kw - 1) * g.dilW, g.w + g.padW);
  return { xp: job.scratch(nb * g.c * hp * wp * F32), tmp: job.scratch((pooled === null ? 16 + 5 * K : 4 * g.o + 3 * K) * F32), hp, wp };
}

/** Conv geometry blocks in the arena by images per chunk (a batch's last chunk may be shorter). */
function geoBlocks(ctx: WasmContext, g: Conv2dGeometry): (nb: number) => number {
  const blocks = new Map<number, number>();
  return (nb) => {
    let p = blocks.get(nb);
    if (p === undefined) {
      p = putGeo(ctx, [nb, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, g.groups]);
      blocks.set(nb, p);
    }
    return p;
  };
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
  ctx.arena.reset();
  const wp = input(ctx, w);
  const xp = input(ctx, x);
  const res = output(ctx, size);
  const out = res.ptr;
  const job = new Job(2 * g.n * g.o * K * S);
  const wino = winograd.fits(ctx, g) ? winograd.plan(ctx, job, wp, 0, g.c, g.h, g.w, g.o, g.oh, g.ow, g.padH, g.padW, g.n) : null;
  // a 4x4 stride-2 padding-1 conv is one 2x2 conv of the input's four phases (4 c channels)
  const phases = !wino && winogradS2.fitsConv(ctx, g) ? winogradS2.planConv(ctx, job, wp, g) : null;
  const nb = wino ? wino.nb : phases ? phases.nb : imagesPerChunk(ctx, g.n, K * S);
  // eval BN + ReLU + 2x2 max pool in the direct kernel's registers: no full-size activation
  const pooledInKernel = bn !== null && pool !== null && isPool2x2Floor(pool);
  const direct = wino || phases ? null : directPlan(ctx, job, g, nb, pooledInKernel ? pool!.ow : null);
  const fusedPool = direct !== null && pooledInKernel;
  const gemm = !wino && !phases && !direct;
  const col = gemm ? job.scratch(K * nb * S * F32) : 0;
  const oneGemmPerImage = nb === 1 || perImage(ctx, S);
  const ymat = gemm && !oneGemmPerImage ? job.scratch(og * nb * S * F32) : 0;
  // Winograd with eval BN + ReLU + a 2x2 pool on even planes: each output tile is one pool window,
  // pooled as the tile leaves the output transform (no full-size chunk at all)
  const winoPool = wino !== null && bn !== null && pool !== null && isPool2x2(pool) && pool.h === g.oh && pool.w === g.ow;
  const yScr = pool !== null && !fusedPool && !winoPool; // pooled after: the full-size chunk lives in scratch (+8 floats the pool may read)
  const ys = yScr ? job.scratch((nb * g.o * S + 8) * F32) : 0;
  const [pa, pb, tmp] = gemm ? gemmScratch(ctx, job, og, nb * S, K) : [0, 0, 0];
  const epi = stageEpilogue(ctx, bias, bn, pool);
  const geo = geoBlocks(ctx, g);
  for (let n0 = 0; n0 < g.n; n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const xb = xp + n0 * inImg * F32;
    const yb = yScr ? ys : out + n0 * g.o * S * F32;
    const ym = yScr ? [1] : [];
    job.chunk();
    if (winoPool) {
      winograd.poolCalls(job, wino!, xb, out + n0 * g.o * PS * F32, cur, epi.bias, epi.bn!);
      continue;
    }
    if (wino) {
      winograd.runCalls(ctx, job, wino, xb, false, yb, yScr, cur, epi.bias);
    } else if (phases) {
      winogradS2.convCalls(job, phases, xb, yb, yScr, cur, epi.bias);
    } else if (direct) {
      // the bias is added in the kernel, to each output as it leaves the registers
      job.call(FN.padPlanes, [xb, direct.xp, cur * g.c, g.h, g.w, direct.hp, direct.wp, g.padH, g.padW], [1]);
      if (fusedPool) {
        job.call(FN.convDirectBnReluPool2x2, [geo(cur), direct.xp, direct.hp, direct.wp, wp, epi.bias, ...epi.bn!, out + n0 * g.o * PS * F32, pool!.oh, pool!.ow, direct.tmp], [1, 13]);
        continue;
      }
      job.call(FN.convDirect, [geo(cur), direct.xp, direct.hp, direct.wp, wp, epi.bias, yb, direct.tmp], [1, 7, ...(yScr ? [6] : [])]);
    } else {
      for (let grp = 0; grp < g.groups; grp++) {
        job.call(FN.im2col, [geo(cur), xb, col, grp], [2]);
        const a = wp + grp * og * K * F32;
        if (oneGemmPerImage) {
          // one product per image, written straight into its NCHW place
          for (let i = 0; i < cur; i++) {
            job.call(FN.sgemm, [og, S, K, a, K, 1, col + i * S * F32, cur * S, 1, yb + (i * g.o + grp * og) * S * F32, S, 0, pa, pb, tmp], [6, 12, 13, 14, ...(yScr ? [9] : [])]);
          }
        } else {
          job.call(FN.sgemm, [og, cur * S, K, a, K, 1, col, cur * S, 1, ymat, cur * S, 0, pa, pb, tmp], [6, 9, 12, 13, 14]);
          job.call(FN.scatterChannels, [ymat, yb, cur, g.o, grp * og, og, S], [0, ...ym]);
        }
      }
    }
    // the direct and Winograd kernels add the bias to each output as they store it
    epilogueCalls(ctx, job, gemm ? epi : { ...epi, bias: 0 }, yb, yScr, cur, g.o, S, out + n0 * g.o * PS * F32);
  }
  ctx.launch(job);
  return res.storage;
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
  ctx.arena.reset();
  const wp = input(ctx, w);
  const dyp = input(ctx, dy);
  const res = output(ctx, size);
  const dx = res.ptr;
  const job = new Job(2 * g.n * g.o * K * S);
  // the input gradient of a 3x3 stride-1 conv is a 3x3 stride-1 conv of dy (padding 2 - p)
  const wino = winograd.fits(ctx, g) ? winograd.plan(ctx, job, wp, 1, g.o, g.oh, g.ow, g.c, g.h, g.w, 2 - g.padH, 2 - g.padW, g.n) : null;
  // and that of a 4x4 stride-2 padding-1 conv is four 2x2 convs of dy, one per output phase
  const phases = !wino && winogradS2.fits(ctx, g) ? winogradS2.plan(ctx, job, wp, g) : null;
  const gemm = !wino && !phases;
  const nb = wino ? wino.nb : phases ? phases.nb : imagesPerChunk(ctx, g.n, K * S);
  const oneGemmPerImage = nb === 1 || perImage(ctx, S);
  const dymat = oneGemmPerImage || !gemm ? 0 : job.scratch(og * nb * S * F32);
  // col2im's masked vector steps read (and ignore) a few floats either side of col: scratch
  const col = gemm ? job.scratch(K * nb * S * F32) : 0;
  const [pa, pb, tmp] = gemm ? gemmScratch(ctx, job, K, nb * S, og) : [0, 0, 0];
  const taps = gemm ? job.scratch(g.h * (2 + g.strideW * (1 + 2 * g.kh * g.kw)) * F32) : 0; // col2im's plan of each dx row
  const epi = stageEpilogue(ctx, bias, bn, null);
  const geo = geoBlocks(ctx, g);
  for (let n0 = 0; n0 < g.n; n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const dyb = dyp + n0 * g.o * S * F32;
    const dxb = dx + n0 * inImg * F32;
    job.chunk();
    if (wino) {
      winograd.runCalls(ctx, job, wino, dyb, false, dxb, false, cur, epi.bias);
    } else if (phases) {
      winogradS2.runCalls(job, phases, dyb, dxb, cur, epi.bias);
    } else {
      for (let grp = 0; grp < g.groups; grp++) {
        const a = wp + grp * og * K * F32;
        if (oneGemmPerImage) {
          // col[K, i*S..] = W_g^T [K, og] . dY_g,i [og, S], per image, read in place
          for (let i = 0; i < cur; i++) {
            job.call(FN.sgemm, [K, S, og, a, 1, K, dyb + (i * g.o + grp * og) * S * F32, S, 1, col + i * S * F32, cur * S, 0, pa, pb, tmp], [9, 12, 13, 14]);
          }
        } else {
          // col[K, cur*S] = W_g^T [K, og] . dY_g [og, cur*S]
          job.call(FN.gatherChannels, [dyb, dymat, cur, g.o, grp * og, og, S], [1]);
          job.call(FN.sgemm, [K, cur * S, og, a, 1, K, dymat, cur * S, 1, col, cur * S, 0, pa, pb, tmp], [6, 9, 12, 13, 14]);
        }
        job.call(FN.col2im, [geo(cur), col, dxb, grp, taps], [1, 4]); // writes every dx element of the group
      }
    }
    epilogueCalls(ctx, job, gemm ? epi : { ...epi, bias: 0 }, dxb, false, cur, g.c, g.h * g.w, 0); // (Winograd adds the bias in its kernel)
  }
  ctx.launch(job);
  return res.storage;
}

/** The weight gradient: dW_g [og, K] = sum over images of dY_g . col^T (Winograd for 3x3 stride-1 and 4x4 stride-2 padding-1 shapes). */
export function backwardFilter(ctx: WasmContext, x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
  const S = g.oh * g.ow;
  const cg = g.c / g.groups;
  const og = g.o / g.groups;
  const K = cg * g.kh * g.kw;
  const size = g.o * K;
  if (size === 0 || S === 0 || g.n === 0) return emptyF32(ctx, size);
  if (winograd.fits(ctx, g)) return winograd.filterGrad(ctx, x, dy, g);
  if (winogradS2.fitsConv(ctx, g)) return winogradS2.filterGrad(ctx, x, dy, g);
  const inImg = g.c * g.h * g.w;
  const nb = imagesPerChunk(ctx, g.n, K * S);
  const chunks = Math.ceil(g.n / nb);
  ctx.arena.reset();
  const xp = input(ctx, x);
  const dyp = input(ctx, dy);
  const parts = ctx.arena.allocF32(chunks * size); // each chunk's sum, added in chunk order below
  const dw = output(ctx, size);
  const job = new Job(2 * g.n * g.o * K * S);
  const dymat = nb > 1 ? job.scratch(og * nb * S * F32) : 0;
  const col = job.scratch(K * nb * S * F32);
  const geo = geoBlocks(ctx, g);
  for (let c = 0, n0 = 0; n0 < g.n; c++, n0 += nb) {
    const cur = Math.min(nb, g.n - n0);
    const xb = xp + n0 * inImg * F32;
    const dyb = dyp + n0 * g.o * S * F32;
    const part = parts + c * size * F32;
    job.chunk(); // (gemmNT writes each value of the chunk's part once: no zeroing)
    for (let grp = 0; grp < g.groups; grp++) {
      job.call(FN.im2col, [geo(cur), xb, col, grp], [2]);
      let ap = dyb + grp * og * S * F32;
      if (cur > 1) {
        job.call(FN.gatherChannels, [dyb, dymat, cur, g.o, grp * og, og, S], [1]);
        ap = dymat;
      }
      // dW_g [og, K] = dY_g [og, cur*S] . col^T [cur*S, K]: both operands run along the long
      // k = cur*S, so a dot-product kernel (no packing) beats the packed GEMM, which pads K
      // to its 8-wide tile and packs col^T transposed. Measured at batch 128 (GFLOP/s, GEMM ->
      // gemmNT): encoder.0 (K = 9) 1.7 -> 30, encoder.4 (K = 288) 36 -> 46, decoder.0 35 -> 40.
      job.call(FN.gemmNT, [og, K, cur * S, ap, cur * S, col, cur * S, part + grp * og * K * F32, K, 0, 0, 0, 0, 0], cur > 1 ? [3, 5] : [5]);
    }
  }
  ctx.launch(job);
  sumParts(ctx, parts, chunks, size, dw.ptr);
  return dw.storage;
}
