// Driver of assembly/gemm.ts (the packed, cache-blocked SGEMM, and its pack-once variant) and
// of the dot-product kernel gemmNT (assembly/gemmnt.ts): batched matmul over strided views, and the
// packing buffers that every GEMM caller (matmul, conv) reserves. A product runs as a job
// (../threads/job.ts) of tiles of C (sized by the shape alone: about 16 per product), each with
// the whole k loop: a C element's sum is the same at any tiling, so the bits do not depend on
// the tiles or the thread count. A packed product with a small C and a long k runs by k blocks
// instead, their sums added in block order afterwards (kSplitJobs: sgemm's own additions).

import type { BatchNormParams, Storage, View } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { F32, emptyF32, output, place } from '../memory/staging.js';
import { FN, Job, WORK_PER_ELEMENT } from '../threads/job.js';
import { BINARY } from './elementwise.js';
import { NO_TILE_EPILOGUE, stageTileEpilogue, tileEpilogueCalls, type TileEpilogue } from '../fused.js';

export const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;

/**
 * Largest tile of C per sgemm chunk (rows, columns), and the smallest: a tile re-packs its A
 * rows and B columns, so tiles stay big enough for that to cost little (1/tm + 1/tn floats
 * moved per multiply-add).
 */
const TILE_MAX_M = 256;
const TILE_MAX_N = 512;
const TILE_MIN_M = 32;
const TILE_MIN_N = 64;
/** A product is cut into about this many tiles (or chunks of rows) where its size allows. */
const TILES = 16;

/**
 * sgemm's tile of C (rows, columns) for an m x n product: of the tiles within the bounds above
 * that cut C into `tiles` pieces (fewer where the minimum sizes allow no more), the one that
 * packs the least (1/tm + 1/tn smallest), rows a multiple of MR and columns of NR. Measured one
 * thread (shared machine, minimums of 9): 128 x 256 x 3136 in 32 x 256 tiles 6.7 ms, in
 * 128 x 200 5.8; 256 x 128 x 3136 (A transposed) 64 x 256 6.0, 256 x 200 5.5; 3136 x 128 x 256
 * 256 x 64 5.9, 196 x 256 5.6.
 */
function sgemmTiles(m: number, n: number, MR: number, NR: number, tiles = TILES): [number, number] {
  const target = Math.min(tiles, Math.ceil(m / TILE_MIN_M) * Math.ceil(n / TILE_MIN_N));
  let best: [number, number] = [Math.min(m, TILE_MIN_M), Math.min(n, TILE_MIN_N)];
  let cost = Infinity;
  for (let rb = Math.ceil(m / TILE_MAX_M); rb <= Math.ceil(m / MR); rb++) {
    const tm = Math.min(m, roundUp(Math.ceil(m / rb), MR));
    if (tm < Math.min(m, TILE_MIN_M)) break;
    const rows = Math.ceil(m / tm);
    const tn = Math.min(n, roundUp(Math.ceil(n / Math.max(Math.ceil(n / TILE_MAX_N), Math.ceil(target / rows))), NR));
    if (tn < Math.min(n, TILE_MIN_N) || rows * Math.ceil(n / tn) < target) continue;
    const c = 1 / tm + 1 / tn;
    if (c < cost) [cost, best] = [c, [tm, tn]];
  }
  return best;
}

/** Reserve sgemm's packing buffers for an (m, n, k) product in the job's per-thread scratch: [packA, packB, tmp] offsets. */
export function gemmScratch(ctx: WasmContext, job: Job, m: number, n: number, k: number): [number, number, number] {
  const { MR, NR, KC, MC, NC } = ctx.blocking;
  const kc = Math.min(KC, Math.max(k, 1));
  return [job.scratch(roundUp(Math.min(MC, m), MR) * kc * F32), job.scratch(roundUp(Math.min(NC, n), NR) * kc * F32), job.scratch(MR * NR * F32)];
}

/** Batched C[b] = A[b] @ B[b]; a: [batch, m, k], b: [batch, k, n] float32 views. */
export function matmul(ctx: WasmContext, a: View, b: View): Storage {
  return product(ctx, a, b, null, null);
}

/**
 * A Linear layer's forward, a: [m, k], b: [k, n] float32 views (k > 0): C = A @ B, then on each
 * tile of C after its k sums the bias (+ bias[j]) and, with bn, the eval-mode BatchNorm + ReLU
 * over the n channels (fused.ts: the very kernels of the composition, while the tile is in cache).
 */
export function linear(ctx: WasmContext, a: View, b: View, bias: Storage | null, bn: BatchNormParams | null): Storage {
  const as3 = (v: View): View => ({ ...v, shape: [1, ...v.shape], strides: [0, ...v.strides] });
  return product(ctx, as3(a), as3(b), bias, bn);
}

function product(ctx: WasmContext, a: View, b: View, bias: Storage | null, bn: BatchNormParams | null): Storage {
  const [batch, m, k] = a.shape as [number, number, number];
  const n = b.shape[2]!;
  const size = batch * m * n;
  if (size === 0 || k === 0) return emptyF32(ctx, size);
  const ar = ctx.arena;
  ar.reset();
  const A = place(ctx, a);
  const B = place(ctx, b);
  // (an epilogue indexes its parameters by C's column: one product, batch 1)
  const epi = bias || bn ? stageTileEpilogue(ctx, bias, bn) : NO_TILE_EPILOGUE;
  let [sab, sam, sak] = A.strides as [number, number, number];
  const [sbb, sbk, sbn] = B.strides as [number, number, number];
  // One product of batch*m rows when B is shared by every batch and A's rows are evenly spaced.
  let rows = m;
  let batches = batch;
  if (batch > 1 && (sbb === 0 || batch === 1)) {
    if (m === 1) sam = sab;
    if (sab === m * sam) {
      rows = batch * m;
      batches = 1;
    }
  }
  if (batches === 1) sab = 0;
  const out = output(ctx, size);
  const C = out.ptr;
  if (sak === 1 && sbk === 1 && k >= 64) {
    // Both operands run contiguously along k (x @ W^T, a linear layer's forward): the
    // dot-product kernel reads them in place, no packing, and writes each C value once, after
    // its epilogue (no zeroed C, no pass over the tile after it). Chunks are tiles of C whose rows
    // of B fit in L2, so that every pair of A's rows re-reads them from there, not from memory.
    const job = new Job(2 * batches * rows * n * k);
    const [tm, tn] = ntTiles(rows, n, k);
    const [mean, invstd, weight, shift] = epi.bn ?? [0, 0, 0, 0];
    const at = (p: number, j0: number): number => (p ? p + j0 * F32 : 0);
    for (let t = 0; t < batches; t++) {
      for (let j0 = 0; j0 < n; j0 += tn) {
        for (let i0 = 0; i0 < rows; i0 += tm) {
          const cm = Math.min(tm, rows - i0), cn = Math.min(tn, n - j0), c = C + ((t * rows + i0) * n + j0) * F32;
          job.chunk().call(FN.gemmNT, [cm, cn, k, A.ptr + (t * sab + i0 * sam) * F32, sam, B.ptr + (t * sbb + j0 * sbn) * F32, sbn, c, n,
            at(epi.bias, j0), at(mean, j0), at(invstd, j0), at(weight, j0), at(shift, j0)]);
        }
      }
    }
    ctx.launch(job);
  } else {
    for (const job of sgemmJobs(ctx, batches, rows, n, k, A.ptr, sab, sam, sak, B.ptr, sbb, sbk, sbn, C, rows * n, n, epi)) ctx.launch(job);
  }
  return out.storage;
}

/** Bytes of B's rows that one gemmNT tile of C reads again for every pair of A's rows: well inside L2 (2 MiB here). */
const NT_B_BYTES = 512 << 10;

/**
 * gemmNT's tile of C (rows, columns) for an (m, n, k) product. A tile's rows of B take at most
 * NT_B_BYTES (they stay in L2 while its rows of A pass by pairs); among the splits into at
 * least TILES tiles (where the shape allows), the one that reads the least from memory (A once
 * per column block, B once per row block). Columns come in multiples of 4 and rows in
 * multiples of 2 (the kernel's 2x4 register tile). Each C element is one dot product at any
 * tiling, so the tiles change no bits. Measured one thread, 128 x 256 x 3136 (the decoder's
 * Linear forward): 11.0 ms in chunks of rows that each read all of B (3.2 MB) from memory,
 * 6.2 ms in tiles; 128 x 3136 x 256: 12.8 -> 5.8 ms (minimums of 9 runs, shared machine).
 */
function ntTiles(m: number, n: number, k: number): [number, number] {
  const maxCols = Math.max(4, Math.floor(NT_B_BYTES / (k * F32) / 4) * 4);
  const fewest = Math.ceil(n / maxCols); // column blocks
  let best: [number, number] = [m, n];
  let cost = Infinity;
  for (let cb = fewest; cb <= Math.max(fewest, Math.min(TILES, Math.ceil(n / 4))); cb++) {
    const tn = Math.min(n, roundUp(Math.ceil(n / cb), 4));
    const rb = Math.max(1, Math.min(Math.ceil(TILES / Math.ceil(n / tn)), Math.ceil(m / 2)));
    const tm = Math.min(m, roundUp(Math.ceil(m / rb), 2));
    const c = m * Math.ceil(n / tn) + n * Math.ceil(m / tm);
    if (c < cost) [cost, best] = [c, [tm, tn]];
  }
  return best;
}

/**
 * Packing once pays where the tiles would pack the same rows of A and columns of B again more
 * than this many times what the packed copies write and read back (per multiply-add: 1/tm +
 * 1/tn - 1/m - 1/n against 1/m + 1/n). Measured one thread: 128 x 3136 x 256 in 32 x 64 tiles
 * (ratio 3.0) 14% faster packed once (now by k blocks, faster still: kSplitJobs); 128 x 256 x 3136 in 128 x 200 tiles (ratio 1.1) 4-8% slower
 * (the tiles pack B from one read, in L2; a packed copy goes to memory and back).
 */
const PACK_ONCE_MIN_RATIO = 2;
/** Most bytes that the packed copies of a product's A and B may take (else its tiles pack their own parts). */
const PACK_ONCE_MAX_BYTES = 64 << 20;

/**
 * The jobs for `batches` products C[t] = A[t] . B[t] (m x n x k; A[t] at a + t * sa floats,
 * strides rsa, csa; likewise B; C[t] at c + t * sc floats, row-major with ldc), in tiles of C.
 * Tiles that pack their own rows of A and columns of B pack each of them once per tile across
 * and down; where that repeats much (small tiles: PACK_ONCE_MIN_RATIO), one job packs A and B
 * once, by row and column blocks, and a second multiplies the tiles from the packed panels.
 * Either way each C element gets sgemm's sums, so the same bits.
 */
function sgemmJobs(ctx: WasmContext, batches: number, m: number, n: number, k: number, a: number, sa: number, rsa: number, csa: number, b: number, sb: number, rsb: number, csb: number, c: number, sc: number, ldc: number, epi: TileEpilogue): Job[] {
  const { MR, NR } = ctx.blocking;
  const [tm, tn] = sgemmTiles(m, n, MR, NR);
  const mPad = roundUp(m, MR), nPad = roundUp(n, NR);
  const flops = 2 * batches * m * n * k;
  const job = new Job(flops);
  const repacked = 1 / tm + 1 / tn - 1 / m - 1 / n; // floats packed again per multiply-add by tiles that pack their own
  const packOnce = repacked > PACK_ONCE_MIN_RATIO * (1 / m + 1 / n);
  const kBlocks = Math.ceil(k / ctx.blocking.KC);
  if ((tm < m || tn < n) && kBlocks >= K_SPLIT_MIN_BLOCKS && m * n * F32 <= K_SPLIT_MAX_C_BYTES && ldc === n && sc === m * n
    && batches * (kBlocks - 1) * m * n * F32 <= PACK_ONCE_MAX_BYTES) {
    return kSplitJobs(ctx, batches, m, n, k, kBlocks, a, sa, rsa, csa, b, sb, rsb, csb, c, epi);
  }
  if (packOnce && batches * (mPad + nPad) * k * F32 <= PACK_ONCE_MAX_BYTES) {
    const pa = ctx.arena.alloc(batches * mPad * k * F32), pb = ctx.arena.alloc(batches * nPad * k * F32);
    // (a float packed is a strided gather and a store: about a memory-bound element's work; counted
    // as one flop, a 3136 x 128 x 256 product's pack job, ~1 ms, stayed on the calling thread)
    const pack = new Job(WORK_PER_ELEMENT * batches * (m + n) * k);
    const tmp = job.scratch(MR * NR * F32);
    for (let t = 0; t < batches; t++) {
      const pat = pa + t * mPad * k * F32, pbt = pb + t * nPad * k * F32;
      for (let i0 = 0; i0 < m; i0 += tm) pack.chunk().call(FN.sgemmPackA, [pat, mPad, i0, a + (t * sa + i0 * rsa) * F32, rsa, csa, Math.min(tm, m - i0), k]);
      for (let j0 = 0; j0 < n; j0 += tn) pack.chunk().call(FN.sgemmPackB, [pbt, nPad, j0, b + (t * sb + j0 * csb) * F32, rsb, csb, Math.min(tn, n - j0), k]);
      for (let i0 = 0; i0 < m; i0 += tm) {
        for (let j0 = 0; j0 < n; j0 += tn) {
          const cm = Math.min(tm, m - i0), cn = Math.min(tn, n - j0), ct = c + (t * sc + i0 * ldc + j0) * F32;
          job.chunk().call(FN.sgemmPacked, [cm, cn, k, pat, mPad, i0, pbt, nPad, j0, ct, ldc, tmp], [11]);
          tileEpilogueCalls(job, epi, ct, cm, cn, ldc, j0);
        }
      }
    }
    return [pack, job];
  }
  const [pa, pb, tmp] = gemmScratch(ctx, job, tm, tn, k);
  for (let t = 0; t < batches; t++) {
    for (let i0 = 0; i0 < m; i0 += tm) {
      for (let j0 = 0; j0 < n; j0 += tn) {
        const cm = Math.min(tm, m - i0), cn = Math.min(tn, n - j0), ct = c + (t * sc + i0 * ldc + j0) * F32;
        job.chunk().call(FN.sgemm, [cm, cn, k, a + (t * sa + i0 * rsa) * F32, rsa, csa, b + (t * sb + j0 * csb) * F32, rsb, csb, ct, ldc, 0, pa, pb, tmp], [12, 13, 14]);
        tileEpilogueCalls(job, epi, ct, cm, cn, ldc, j0);
      }
    }
  }
  return [job];
}

/** Fewest k blocks (of sgemm's KC) for which a product with a small C splits by k blocks (kSplitJobs). */
const K_SPLIT_MIN_BLOCKS = 4;
/** Largest C (bytes, one product) that splits by k blocks: with its partial sums it stays in L2. */
const K_SPLIT_MAX_C_BYTES = 256 << 10;

/**
 * The jobs for `batches` products with a small C (row-major, dense: ldc = n, C[t] m * n floats
 * apart) and a long k (a Linear layer's input gradient dY @ W: 128 x 256 from k = 3136), in
 * chunks of sgemm's k blocks. sgemm adds a C element's k blocks in order: each block's sum starts
 * at 0 and goes into C with one f32 add, C = ((s0 + s1) + s2) + ... So each chunk computes one
 * block's sums s_q for a tile of C (sgemm over that block alone), s_0 into C and the others into
 * partial buffers in the arena, and a second job, by rows of C, adds the partials to C in block
 * order (binaryF32's add: C + s_q, the micro-kernel's f32 add) then runs the epilogue: sgemm's
 * sums, the same bits at any chunking and thread count. Each chunk packs only its block of A and
 * B, so every value is packed once (twice across a tile split): tiles of C that each keep the
 * whole k (about 16 of them, 32 x 64 for 128 x 256) pack the same rows and columns again and
 * again, and packed once they stream their panels from memory. Measured one thread, 128 x 256 x
 * 3136 (kernels alone, shared machine, CPU-time medians): packed once then 16 tiles 5.7-7.3 ms,
 * by k blocks 5.6-5.8; more so while other processes run (the panels in a shared L3).
 */
function kSplitJobs(ctx: WasmContext, batches: number, m: number, n: number, k: number, kBlocks: number, a: number, sa: number, rsa: number, csa: number, b: number, sb: number, rsb: number, csb: number, c: number, epi: TileEpilogue): Job[] {
  const { MR, NR, KC } = ctx.blocking;
  const kcStep = Math.ceil(k / kBlocks); // sgemm's k blocks (assembly/gemm.ts kcStepOf)
  const [tm, tn] = sgemmTiles(m, n, MR, NR, Math.ceil(TILES / kBlocks));
  const size = m * n;
  const parts = ctx.arena.alloc(batches * (kBlocks - 1) * size * F32);
  const part = (t: number, q: number): number => (q === 0 ? c + t * size * F32 : parts + (t * (kBlocks - 1) + q - 1) * size * F32);
  const job = new Job(2 * batches * m * n * k);
  const [pa, pb, tmp] = gemmScratch(ctx, job, tm, tn, Math.min(kcStep, KC));
  for (let t = 0; t < batches; t++) {
    for (let q = 0; q < kBlocks; q++) {
      const pc = q * kcStep, kc = Math.min(kcStep, k - pc);
      for (let i0 = 0; i0 < m; i0 += tm) {
        for (let j0 = 0; j0 < n; j0 += tn) {
          job.chunk().call(FN.sgemm, [Math.min(tm, m - i0), Math.min(tn, n - j0), kc, a + (t * sa + i0 * rsa + pc * csa) * F32, rsa, csa,
            b + (t * sb + pc * rsb + j0 * csb) * F32, rsb, csb, part(t, q) + (i0 * n + j0) * F32, n, 0, pa, pb, tmp], [12, 13, 14]);
        }
      }
    }
  }
  const sum = new Job(WORK_PER_ELEMENT * batches * (kBlocks - 1) * size);
  const rows = Math.max(1, Math.ceil(m / TILES));
  for (let t = 0; t < batches; t++) {
    for (let i0 = 0; i0 < m; i0 += rows) {
      const cnt = Math.min(rows, m - i0), o = i0 * n * F32, ct = part(t, 0) + o;
      sum.chunk();
      for (let q = 1; q < kBlocks; q++) sum.call(FN.binaryF32, [BINARY.add!, ct, part(t, q) + o, ct, cnt * n]);
      tileEpilogueCalls(sum, epi, ct, cnt, n, n, 0);
    }
  }
  return [job, sum];
}
