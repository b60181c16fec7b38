// The WASM SIMD backend: the js reference backend with its heavy float32 kernels replaced by
// AssemblyScript ones (assembly/). Storage is shared with the js backend (HostStorage: typed
// arrays on the JS heap, garbage-collected); a kernel call copies its inputs into the arena in
// linear memory, runs, and copies the result out. float64, int32 and bool calls use the js reference.
//
// Which kernels earn a wasm version was measured (bench/, and the numbers in the comments):
// GEMM, conv (im2col + GEMM; the weight gradient by a dot-product kernel; optional fused bias),
// pooling, Adam, batch norm (f64 accumulation), float32 sums over axes, and float32
// unary/binary/copy (the js reference pays a closure call per element: 5-20x slower than
// copy-in + SIMD + copy-out). max/min reductions, where, assign, argReduce and int32/float64
// work stay on the js reference.
//
// Fused kernels (optional in the Backend table; each bit-identical to the kernels it replaces,
// test/conformance/fusion.test.ts): BatchNorm + ReLU forward and backward (the ReLU rides on the
// batch-norm passes; the backward recomputes the pre-ReLU sign from x instead of reading a mask),
// max pooling without indices (no gradient wanted), and for inference the eval-mode
// Conv2d/ConvTranspose2d -> BatchNorm -> ReLU [-> MaxPool2d] blocks, applied to each conv output
// chunk while it is in the arena. Measured at batch 128 (this machine, medians): a training
// step 190 -> 170 ms, inference 63 -> 52 ms.

import { COMPARISONS } from '../backend.js';
import type { AdamHyper, BatchNormParams, BinaryOp, ChannelGeometry, Conv2dGeometry, Pool2dGeometry, ReduceOp, Storage, UnaryOp, View } from '../backend.js';
import type { DType } from '../../dtype.js';
import { JsBackend } from '../js/index.js';
import { HostStorage, host } from '../js/storage.js';
import { Arena } from './arena.js';
import type { KernelExports, LoadedKernels } from './loader.js';

const F32 = 4;

const isF32 = (s: Storage): boolean => s.dtype === 'float32';

// op codes of assembly/elementwise.ts
const UNARY: Partial<Record<UnaryOp, number>> = {
  neg: 0, exp: 1, log: 2, log1p: 3, sqrt: 4, abs: 5, sign: 6, relu: 7, sigmoid: 8, tanh: 9, softplus: 10,
  reciprocal: 11, square: 12, step: 13, leakyRelu: 14, clamp: 15, powScalar: 16, addScalar: 17, mulScalar: 18, inRange: 19, erf: 20,
};
const BINARY: Partial<Record<BinaryOp, number>> = {
  add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, eq: 6, ne: 7, lt: 8, le: 9, gt: 10, ge: 11, mulStep: 12,
};

/**
 * Drop size-1 dims and merge dims that are contiguous in every view, so most views become
 * 1-d (contiguous) or a few strided dims. Returns null above 4 dims (the gather's limit).
 */
function coalesce(shape: readonly number[], views: readonly View[]): { shape: number[]; strides: number[][] } | null {
  const sh: number[] = [];
  const st: number[][] = views.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = sh.length - 1;
    if (last >= 0 && views.every((v, k) => st[k]![last] === v.strides[d]! * shape[d]!)) {
      sh[last]! *= shape[d]!;
      views.forEach((v, k) => { st[k]![last] = v.strides[d]!; });
    } else {
      sh.push(shape[d]!);
      views.forEach((v, k) => st[k]!.push(v.strides[d]!));
    }
  }
  if (sh.length > 4) return null;
  while (sh.length < 4) {
    sh.unshift(1);
    st.forEach((s) => s.unshift(0));
  }
  return { shape: sh, strides: st };
}
const f32 = (s: Storage): Float32Array => host(s) as Float32Array;

/** Row-major contiguous (size-1 dims may have any stride). */
function isDense(v: View): boolean {
  for (let d = v.shape.length - 1, s = 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== s) return false;
    s *= v.shape[d]!;
  }
  return true;
}
const roundUp = (x: number, m: number): number => Math.ceil(x / m) * m;
/** Floats of padding after each of the 16 matrices of a Winograd block (XI_PAD in assembly/winograd.ts). */
const XI_PAD = 16;

/** Buffers (arena byte offsets) and geometry of one Winograd convolution (see winogradPlan). */
interface WinogradPlan {
  k: number; h: number; w: number; m: number; ph: number; pw: number; hp: number; wp: number;
  nb: number; u: number; geo: number; xp: number; v: number; mm: number;
}

interface Staged {
  ptr: number; // byte offset of element (0, 0, ...) of the view
  strides: number[];
}

export class WasmBackend extends JsBackend {
  override readonly name: string = 'wasm';
  readonly flavor: string;
  /** Target size (floats) of one conv chunk's im2col matrix: about L2-sized (1 MiB), so it stays cached. */
  colTarget = 1 << 18;
  /**
   * Fewest input and output channels for which a 3x3 stride-1 convolution runs by Winograd
   * F(2x2, 3x3) instead of im2col + GEMM. Measured (forward / input gradient / weight gradient,
   * im2col time over Winograd time, batch 16-64, this machine): 4 -> 4 at 28x28 1.5 / 1.4 / 1.7,
   * 8 -> 64 at 14x14 2.0 / 1.5 / 1.9, 32 -> 64 at 14x14 2.1 / 2.0 / 2.1, 128 -> 128 at 14x14
   * 2.2 / 2.1 / 2.0; but 3 -> 16 at 32x32 1.7 / 1.2 / 0.8 (an RGB input layer's weight gradient).
   */
  winogradMinChannels = 4;
  private readonly k: KernelExports;
  readonly arena: Arena;
  private readonly MR: number;
  private readonly NR: number;
  private readonly KC: number;
  private readonly MC: number;
  private readonly NC: number;

  constructor(loaded: LoadedKernels) {
    super();
    this.k = loaded.exports;
    this.flavor = loaded.flavor;
    this.arena = new Arena(loaded.memory, this.k.heapBase());
    [this.MR, this.NR, this.KC, this.MC, this.NC] = [0, 1, 2, 3, 4].map((i) => this.k.gemmBlocking(i)) as [number, number, number, number, number];
  }

  // ---------------------------------------------------------------- helpers

  /** Reserve sgemm's packing buffers for an (m, n, k) product. */
  private gemmBuffers(m: number, n: number, k: number): [number, number, number] {
    const kc = Math.min(this.KC, Math.max(k, 1));
    const pa = this.arena.allocF32(roundUp(Math.min(this.MC, m), this.MR) * kc);
    const pb = this.arena.allocF32(roundUp(Math.min(this.NC, n), this.NR) * kc);
    const tmp = this.arena.allocF32(this.MR * this.NR);
    return [pa, pb, tmp];
  }

  /**
   * Copy the part of the storage a view spans into the arena, keeping its strides, so that the
   * GEMM packs straight from them. A view that spans far more than its elements (a small window
   * of a big storage) is materialised contiguously first instead.
   */
  private stage(v: View): Staged {
    const data = f32(v.storage);
    let lo = v.offset;
    let hi = v.offset;
    let count = 1;
    for (let d = 0; d < v.shape.length; d++) {
      const ext = (v.shape[d]! - 1) * v.strides[d]!;
      if (ext < 0) lo += ext;
      else hi += ext;
      count *= v.shape[d]!;
    }
    if (hi - lo + 1 > 2 * count + 4096) {
      const dense = f32(super.copy(v));
      const p = this.arena.allocF32(dense.length);
      this.arena.f32.set(dense, p / F32);
      const strides = new Array<number>(v.shape.length);
      for (let d = v.shape.length - 1, s = 1; d >= 0; d--) {
        strides[d] = s;
        s *= v.shape[d]!;
      }
      return { ptr: p, strides };
    }
    const p = this.arena.allocF32(hi - lo + 1);
    this.arena.f32.set(data.subarray(lo, hi + 1), p / F32);
    return { ptr: p + (v.offset - lo) * F32, strides: [...v.strides] };
  }

  private putGeo(values: number[]): number {
    const p = this.arena.alloc(64);
    this.arena.i32.set(values, p / F32);
    return p;
  }

  /** Copy each of these float32 storages (`count` floats each: per-channel parameters) into the arena; their offsets. */
  private stageEach(ts: readonly Storage[], count: number): number[] {
    return ts.map((t) => {
      const p = this.arena.allocF32(count);
      this.copyIn(f32(t), p);
      return p;
    });
  }

  private copyIn(src: Float32Array, p: number): void {
    this.arena.f32.set(src, p / F32);
  }

  private copyOut(p: number, count: number, dst: Float32Array, at = 0): void {
    dst.set(this.arena.f32.subarray(p / F32, p / F32 + count), at);
  }

  // ---------------------------------------------------------------- elementwise
  //
  // Measured (bench of 128x32x28x28 = 3.2M float32, single thread, this machine under load):
  // js reference relu 45 ms, sigmoid 114 ms, exp 65 ms, add 12 ms, broadcast sub 42 ms; the
  // wasm path's copy in + copy out costs ~1.3 ms, so elementwise ops earn a wasm kernel.

  /**
   * Copy the views (same shape) into dense float32 buffers in the arena. Returns their byte
   * offsets, or null when a view cannot be gathered (rank > 4 after coalescing, or a view
   * spanning far more memory than its elements).
   */
  private stageDense(shape: readonly number[], views: readonly View[]): number[] | null {
    const c = coalesce(shape, views);
    if (!c) return null;
    const count = c.shape.reduce((p, q) => p * q, 1);
    const spans = views.map((v, k) => {
      let lo = v.offset, hi = v.offset;
      c.strides[k]!.forEach((s, d) => { const e = (c.shape[d]! - 1) * s; if (e < 0) lo += e; else hi += e; });
      return [lo, hi] as const;
    });
    if (spans.some(([lo, hi]) => hi - lo + 1 > 4 * count + 65536)) return null;
    const ar = this.arena;
    const ptrs: number[] = [];
    let geo = -1;
    views.forEach((v, k) => {
      const data = f32(v.storage);
      const [lo, hi] = spans[k]!;
      const st = c.strides[k]!;
      const dense = c.shape[0]! * c.shape[1]! * c.shape[2]! === 1 && st[3] === 1;
      if (dense) {
        const p = ar.allocF32(count);
        ar.f32.set(data.subarray(v.offset, v.offset + count), p / F32);
        ptrs.push(p);
        return;
      }
      if (geo < 0) geo = ar.alloc(32);
      const raw = ar.allocF32(hi - lo + 1);
      ar.f32.set(data.subarray(lo, hi + 1), raw / F32);
      const p = ar.allocF32(count);
      ar.i32.set([...c.shape, ...st], geo / F32);
      this.k.gather4(raw + (v.offset - lo) * F32, p, geo);
      ptrs.push(p);
    });
    return ptrs;
  }

  override copy(x: View, dtype: DType = x.storage.dtype): Storage {
    if (!isF32(x.storage) || dtype !== 'float32') return super.copy(x, dtype);
    const n = x.shape.reduce((p, q) => p * q, 1);
    if (n === 0) return new HostStorage(new Float32Array(0));
    // a dense view (clone(), leaf gradients): one host copy instead of a copy in and out of the arena
    if (isDense(x)) return new HostStorage(f32(x.storage).slice(x.offset, x.offset + n));
    this.arena.reset();
    const ptrs = this.stageDense(x.shape, [x]);
    if (!ptrs) return super.copy(x, dtype);
    const out = new Float32Array(n);
    this.copyOut(ptrs[0]!, n, out);
    return new HostStorage(out);
  }

  override unary(op: UnaryOp, x: View, a = 0, b = 0): Storage {
    const code = UNARY[op];
    if (!isF32(x.storage) || code === undefined) return super.unary(op, x, a, b);
    const n = x.shape.reduce((p, q) => p * q, 1);
    if (n === 0) return new HostStorage(new Float32Array(0));
    this.arena.reset();
    const ptrs = this.stageDense(x.shape, [x]);
    if (!ptrs) return super.unary(op, x, a, b);
    const op0 = this.arena.allocF32(n);
    this.k.unaryF32(code, ptrs[0]!, op0, n, a, b);
    const out = new Float32Array(n);
    this.copyOut(op0, n, out);
    return new HostStorage(out);
  }

  override binary(op: BinaryOp, a: View, b: View): Storage {
    const code = BINARY[op];
    if (!isF32(a.storage) || !isF32(b.storage) || code === undefined) return super.binary(op, a, b);
    const n = a.shape.reduce((p, q) => p * q, 1);
    const cmp = COMPARISONS.has(op); // the kernel writes 0.0 / 1.0; the result is a bool storage
    if (n === 0) return new HostStorage(cmp ? new Uint8Array(0) : new Float32Array(0));
    this.arena.reset();
    const ptrs = this.stageDense(a.shape, [a, b]);
    if (!ptrs) return super.binary(op, a, b);
    const op0 = this.arena.allocF32(n);
    this.k.binaryF32(code, ptrs[0]!, ptrs[1]!, op0, n);
    const out = cmp ? new Uint8Array(n) : new Float32Array(n);
    out.set(this.arena.f32.subarray(op0 / F32, op0 / F32 + n));
    return new HostStorage(out);
  }

  // ---------------------------------------------------------------- linear algebra

  override matmul(a: View, b: View): Storage {
    if (!isF32(a.storage) || !isF32(b.storage)) return super.matmul(a, b);
    const [batch, m, k] = a.shape as [number, number, number];
    const n = b.shape[2]!;
    const out = new Float32Array(batch * m * n);
    if (out.length === 0 || k === 0) return new HostStorage(out);
    const ar = this.arena;
    ar.reset();
    const A = this.stage(a);
    const B = this.stage(b);
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
    const C = ar.allocF32(out.length);
    if (sak === 1 && sbk === 1 && k >= 64) {
      // Both operands run contiguously along k (x @ W^T, a linear layer's forward): the
      // dot-product kernel reads them in place, no packing, and runs ~12% faster than the packed
      // GEMM here (53 vs 47 GFLOP/s at 128 x 3136 x 256, this machine).
      ar.f32.fill(0, C / F32, C / F32 + out.length);
      for (let t = 0; t < batches; t++) {
        this.k.gemmNT(rows, n, k, A.ptr + t * sab * F32, sam, B.ptr + t * sbb * F32, sbn, C + t * rows * n * F32, n);
      }
    } else {
      const [pa, pb, tmp] = this.gemmBuffers(rows, n, k);
      for (let t = 0; t < batches; t++) {
        this.k.sgemm(rows, n, k, A.ptr + t * sab * F32, sam, sak, B.ptr + t * sbb * F32, sbk, sbn, C + t * rows * n * F32, n, 0, pa, pb, tmp);
      }
    }
    this.copyOut(C, out.length, out);
    return new HostStorage(out);
  }

  // ---------------------------------------------------------------- convolution

  /** Images per chunk so that a chunk's im2col matrix stays near colTarget floats. */
  private chunk(n: number, colPerImage: number): number {
    return Math.max(1, Math.min(n, Math.floor(this.colTarget / Math.max(colPerImage, 1))));
  }

  /**
   * One GEMM per image (reading/writing NCHW in place) when a plane's pixel count fills the
   * 8-wide register tile well (< 5% padding waste); else one GEMM per chunk plus a gather or
   * scatter (small planes such as 7x7 = 49 would waste 14% per image).
   */
  private perImage(S: number): boolean {
    return roundUp(S, this.NR) - S <= 0.05 * S;
  }

  private convGeo(g: Conv2dGeometry, nb: number): number[] {
    return [nb, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, g.groups];
  }

  override conv2d(x: Storage, w: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(x) || !isF32(w)) return super.conv2d(x, w, g);
    return this.convForward(x, w, null, g);
  }

  /** The bias is added to each output chunk while it is in cache (instead of a separate broadcast add over the whole output). */
  override conv2dBias(x: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(x) || !isF32(w) || !isF32(bias)) return super.conv2dBias(x, w, bias, g);
    return this.convForward(x, w, bias, g);
  }

  /**
   * Eval-mode Conv -> BN -> ReLU [-> MaxPool] for inference: each chunk's conv output gets its
   * bias, then bnForward (with relu) in place, then the pooling, while it is in cache, so the
   * full-size activations never leave the arena. The same kernels as the unfused path, so the
   * same bits.
   */
  override conv2dBnRelu(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry, pool: Pool2dGeometry | null): Storage {
    const all = [x, w, bn.mean, bn.invstd, bn.weight, bn.bias, ...(bias ? [bias] : [])];
    if (!all.every(isF32) || (pool && (pool.n !== g.n || pool.c !== g.o || pool.h !== g.oh || pool.w !== g.ow))) return super.conv2dBnRelu(x, w, bias, bn, g, pool);
    return this.convForward(x, w, bias, g, { bn, pool });
  }

  private convForward(x: Storage, w: Storage, bias: Storage | null, g: Conv2dGeometry, epi?: { bn: BatchNormParams; pool: Pool2dGeometry | null }): Storage {
    const S = g.oh * g.ow;
    const pool = epi?.pool ?? null;
    const PS = pool ? pool.oh * pool.ow : S; // per-plane size of the result
    const out = new Float32Array(g.n * g.o * PS);
    if (out.length === 0) return new HostStorage(out);
    const X = f32(x);
    const cg = g.c / g.groups;
    const og = g.o / g.groups;
    const K = cg * g.kh * g.kw;
    const inImg = g.c * g.h * g.w;
    const ar = this.arena;
    ar.reset();
    const wp = ar.allocF32(g.o * K);
    this.copyIn(f32(w), wp);
    const wino = this.winogradFits(g) ? this.winogradPlan(wp, 0, g.c, g.h, g.w, g.o, g.oh, g.ow, g.padH, g.padW, g.n) : null;
    const nb = wino ? wino.nb : this.chunk(g.n, K * S);
    const geo = ar.alloc(64);
    const xb = ar.allocF32(nb * inImg);
    const col = wino ? 0 : ar.allocF32(K * nb * S);
    const perImage = nb === 1 || this.perImage(S);
    const ymat = perImage || wino ? 0 : ar.allocF32(og * nb * S);
    const yb = ar.allocF32(nb * g.o * S);
    const [pa, pb, tmp] = wino ? [0, 0, 0] : this.gemmBuffers(og, nb * S, K);
    const bp = bias ? ar.allocF32(g.o) : 0;
    if (bias) this.copyIn(f32(bias), bp);
    const bnp = epi ? this.stageEach([epi.bn.mean, epi.bn.invstd, epi.bn.weight, epi.bn.bias], g.o) as [number, number, number, number] : null;
    const pgeo = pool ? ar.alloc(64) : 0;
    const pbuf = pool ? ar.allocF32(nb * g.o * PS) : 0;
    for (let n0 = 0; n0 < g.n; n0 += nb) {
      const cur = Math.min(nb, g.n - n0);
      this.copyIn(X.subarray(n0 * inImg, (n0 + cur) * inImg), xb);
      if (wino) {
        this.winograd(wino, xb, yb, cur);
      } else {
        ar.i32.set(this.convGeo(g, cur), geo / F32);
        for (let grp = 0; grp < g.groups; grp++) {
          this.k.im2col(geo, xb, col, grp);
          const a = wp + grp * og * K * F32;
          if (perImage) {
            // one product per image, written straight into its NCHW place
            for (let i = 0; i < cur; i++) {
              this.k.sgemm(og, S, K, a, K, 1, col + i * S * F32, cur * S, 1, yb + (i * g.o + grp * og) * S * F32, S, 0, pa, pb, tmp);
            }
          } else {
            this.k.sgemm(og, cur * S, K, a, K, 1, col, cur * S, 1, ymat, cur * S, 0, pa, pb, tmp);
            this.k.scatterChannels(ymat, yb, cur, g.o, grp * og, og, S);
          }
        }
      }
      if (bias) this.k.addChannelBias(yb, cur, g.o, S, bp);
      if (bnp) this.k.bnForward(yb, yb, cur, g.o, S, ...bnp, 1);
      if (pool) {
        ar.i32.set([cur, pool.c, pool.h, pool.w, pool.oh, pool.ow, pool.kh, pool.kw, pool.strideH, pool.strideW, pool.padH, pool.padW, pool.countIncludePad ? 1 : 0], pgeo / F32);
        this.k.maxPool2d(pgeo, yb, pbuf, 0);
        this.copyOut(pbuf, cur * g.o * PS, out, n0 * g.o * PS);
      } else {
        this.copyOut(yb, cur * g.o * S, out, n0 * g.o * S);
      }
    }
    return new HostStorage(out);
  }

  // ---------------------------------------------------------------- Winograd F(2x2, 3x3)
  //
  // A 3x3 stride-1 convolution (no dilation, one group, padding <= 2) computes each 2x2 output
  // tile from a 4x4 input tile with 16 multiplies per channel pair instead of 36 (assembly/
  // winograd.ts), and writes no im2col matrix. Its input gradient is the same kind of
  // convolution (filters transposed and rotated, padding 2 - p), so both run here, and its
  // weight gradient is G^T (sum over tiles of (A dY A^T) . (B^T d B)) G, 16 GEMMs along the tiles.
  // Rounding differs from the direct sum by a few float32 ulps of the tile's magnitude (the
  // transforms add up to 4 inputs, or halve filter sums): test/conformance/winograd.test.ts
  // bounds it per tile. Measured at batch 128 (node bench/run.mjs conv): see README.

  /** Whether a convolution takes the Winograd path (forward and backward-data alike). */
  private winogradFits(g: Conv2dGeometry): boolean {
    return g.kh === 3 && g.kw === 3 && g.strideH === 1 && g.strideW === 1 && g.dilH === 1 && g.dilW === 1 && g.groups === 1 &&
      g.padH <= 2 && g.padW <= 2 && Math.min(g.c, g.o) >= this.winogradMinChannels;
  }

  /** Tile grid, padded plane and chunking of a Winograd convolution from k channels to m of oh x ow (m, k as the GEMMs see them). */
  private winogradLayout(n: number, k: number, m: number, oh: number, ow: number, inPlane: number): { th: number; tw: number; hp: number; wp: number; nb: number; T: number } {
    const th = Math.ceil(oh / 2), tw = Math.ceil(ow / 2);
    const hp = 2 * th + 2, wp = 2 * tw + 2;
    // images per chunk: input, padded input and output about colTarget floats; tiles per block:
    // a block's two transformed operands about 512 KiB, so they stay in L2 beside the filters
    const nb = Math.max(1, Math.min(n, Math.floor(this.colTarget / (k * (inPlane + hp * wp) + m * oh * ow))));
    const T = Math.max(8, Math.floor((1 << 17) / (16 * (roundUp(k, 8) + roundUp(m, 4))) / 8) * 8);
    return { th, tw, hp, wp, nb, T };
  }

  /**
   * Reserve the buffers of a Winograd convolution of n k-channel h x w images into m channels of
   * oh x ow (padding ph, pw) and transform its filters (at `w` in the arena: [m][k][3][3], or
   * [k][m][3][3] with flip = 1 for the backward-data convolution).
   */
  private winogradPlan(w: number, flip: 0 | 1, k: number, h: number, wd: number, m: number, oh: number, ow: number, ph: number, pw: number, n: number): WinogradPlan {
    const ar = this.arena;
    const { th, tw, hp, wp, nb, T } = this.winogradLayout(n, k, m, oh, ow, h * wd);
    const mp = roundUp(m, 4);
    const u = ar.allocF32(16 * mp * k);
    this.k.winogradFilter(w, u, m, k, flip);
    const geo = ar.alloc(64);
    ar.i32.set([0, k, m, th, tw, hp, wp, oh, ow, T], geo / F32);
    return { k, h, w: wd, m, ph, pw, hp, wp, nb, u, geo, xp: ar.allocF32(nb * k * hp * wp), v: ar.allocF32(16 * (T * k + XI_PAD)), mm: ar.allocF32(16 * (mp * T + XI_PAD)) };
  }

  /** dst (cur images, NCHW) = the plan's convolution of src (cur images, NCHW), both in the arena. */
  private winograd(p: WinogradPlan, src: number, dst: number, cur: number): void {
    this.k.winogradPad(src, p.xp, cur * p.k, p.h, p.w, p.hp, p.wp, p.ph, p.pw);
    this.arena.i32[p.geo / F32] = cur;
    this.k.winogradConv(p.geo, p.xp, p.u, dst, p.v, p.mm);
  }

  /**
   * The weight gradient of a Winograd-shaped convolution: dW = G^T (sum over tiles of
   * (A dY A^T) . (B^T d B)) G, the sums being 16 GEMMs that run along the tiles.
   */
  private winogradFilterGrad(X: Float32Array, DY: Float32Array, g: Conv2dGeometry, dw: Float32Array): Storage {
    const { th, tw, hp, wp, nb, T } = this.winogradLayout(g.n, g.c, g.o, g.oh, g.ow, g.h * g.w);
    const mp = roundUp(g.o, 4), kp = roundUp(g.c, 8);
    const S = g.oh * g.ow, inImg = g.c * g.h * g.w;
    const padDy = g.oh % 2 !== 0 || g.ow % 2 !== 0; // dY tiles read 2x2 blocks: odd sizes get a zero edge
    const ar = this.arena;
    ar.reset();
    const geo = ar.alloc(64);
    const xb = ar.allocF32(nb * inImg);
    const dyb = ar.allocF32(nb * g.o * S);
    const xp = ar.allocF32(nb * g.c * hp * wp);
    const dyp = padDy ? ar.allocF32(nb * g.o * 4 * th * tw) : dyb;
    const du = ar.allocF32(16 * mp * kp);
    const v = ar.allocF32(16 * (kp * T + XI_PAD));
    const z = ar.allocF32(16 * (mp * T + XI_PAD));
    const dwb = ar.allocF32(dw.length);
    ar.f32.fill(0, du / F32, du / F32 + 16 * mp * kp);
    ar.i32.set([0, g.c, g.o, th, tw, hp, wp, g.oh, g.ow, T], geo / F32);
    for (let n0 = 0; n0 < g.n; n0 += nb) {
      const cur = Math.min(nb, g.n - n0);
      this.copyIn(X.subarray(n0 * inImg, (n0 + cur) * inImg), xb);
      this.copyIn(DY.subarray(n0 * g.o * S, (n0 + cur) * g.o * S), dyb);
      this.k.winogradPad(xb, xp, cur * g.c, g.h, g.w, hp, wp, g.padH, g.padW);
      if (padDy) this.k.winogradPad(dyb, dyp, cur * g.o, g.oh, g.ow, 2 * th, 2 * tw, 0, 0);
      ar.i32[geo / F32] = cur;
      this.k.winogradGradSums(geo, xp, dyp, du, v, z);
    }
    this.k.winogradFilterGrad(du, dwb, g.o, g.c);
    this.copyOut(dwb, dw.length, dw);
    return new HostStorage(dw);
  }

  override conv2dBackwardData(dy: Storage, w: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(dy) || !isF32(w)) return super.conv2dBackwardData(dy, w, g);
    return this.convBackwardData(dy, w, null, g);
  }

  override conv2dBackwardDataBias(dy: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(dy) || !isF32(w) || !isF32(bias)) return super.conv2dBackwardDataBias(dy, w, bias, g);
    return this.convBackwardData(dy, w, bias, g);
  }

  /** Eval-mode ConvTranspose -> BN -> ReLU for inference: bnForward in place on each chunk (as conv2dBnRelu). */
  override convTranspose2dBnRelu(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry): Storage {
    const all = [x, w, bn.mean, bn.invstd, bn.weight, bn.bias, ...(bias ? [bias] : [])];
    if (!all.every(isF32) || g.n * g.c * g.h * g.w === 0 || g.oh * g.ow === 0 || g.o === 0) return super.convTranspose2dBnRelu(x, w, bias, bn, g);
    return this.convBackwardData(x, w, bias, g, bn);
  }

  private convBackwardData(dy: Storage, w: Storage, bias: Storage | null, g: Conv2dGeometry, bn?: BatchNormParams): Storage {
    const S = g.oh * g.ow;
    const inImg = g.c * g.h * g.w;
    const dx = new Float32Array(g.n * inImg);
    if (dx.length === 0 || S === 0 || g.o === 0) return bias ? super.conv2dBackwardDataBias(dy, w, bias, g) : new HostStorage(dx);
    const DY = f32(dy);
    const cg = g.c / g.groups;
    const og = g.o / g.groups;
    const K = cg * g.kh * g.kw;
    const ar = this.arena;
    ar.reset();
    const wp = ar.allocF32(g.o * K);
    this.copyIn(f32(w), wp);
    // the input gradient of a 3x3 stride-1 conv is a 3x3 stride-1 conv of dy (padding 2 - p)
    const wino = this.winogradFits(g) ? this.winogradPlan(wp, 1, g.o, g.oh, g.ow, g.c, g.h, g.w, 2 - g.padH, 2 - g.padW, g.n) : null;
    const nb = wino ? wino.nb : this.chunk(g.n, K * S);
    const geo = ar.alloc(64);
    const dyb = ar.allocF32(nb * g.o * S);
    const perImage = nb === 1 || this.perImage(S);
    const dymat = perImage || wino ? 0 : ar.allocF32(og * nb * S);
    const col = wino ? 0 : ar.allocF32(K * nb * S);
    const dxb = ar.allocF32(nb * inImg);
    const [pa, pb, tmp] = wino ? [0, 0, 0] : this.gemmBuffers(K, nb * S, og);
    const bp = bias ? ar.allocF32(g.c) : 0;
    if (bias) this.copyIn(f32(bias), bp);
    const bnp = bn ? this.stageEach([bn.mean, bn.invstd, bn.weight, bn.bias], g.c) as [number, number, number, number] : null;
    for (let n0 = 0; n0 < g.n; n0 += nb) {
      const cur = Math.min(nb, g.n - n0);
      this.copyIn(DY.subarray(n0 * g.o * S, (n0 + cur) * g.o * S), dyb);
      if (wino) {
        this.winograd(wino, dyb, dxb, cur);
      } else {
        ar.i32.set(this.convGeo(g, cur), geo / F32);
        ar.f32.fill(0, dxb / F32, dxb / F32 + cur * inImg);
        for (let grp = 0; grp < g.groups; grp++) {
          const a = wp + grp * og * K * F32;
          if (perImage) {
            // col[K, i*S..] = W_g^T [K, og] . dY_g,i [og, S], per image, read in place
            for (let i = 0; i < cur; i++) {
              this.k.sgemm(K, S, og, a, 1, K, dyb + (i * g.o + grp * og) * S * F32, S, 1, col + i * S * F32, cur * S, 0, pa, pb, tmp);
            }
          } else {
            // col[K, cur*S] = W_g^T [K, og] . dY_g [og, cur*S]
            this.k.gatherChannels(dyb, dymat, cur, g.o, grp * og, og, S);
            this.k.sgemm(K, cur * S, og, a, 1, K, dymat, cur * S, 1, col, cur * S, 0, pa, pb, tmp);
          }
          this.k.col2im(geo, col, dxb, grp);
        }
      }
      if (bias) this.k.addChannelBias(dxb, cur, g.c, g.h * g.w, bp);
      if (bnp) this.k.bnForward(dxb, dxb, cur, g.c, g.h * g.w, ...bnp, 1);
      this.copyOut(dxb, cur * inImg, dx, n0 * inImg);
    }
    return new HostStorage(dx);
  }

  override conv2dBackwardFilter(x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(x) || !isF32(dy)) return super.conv2dBackwardFilter(x, dy, g);
    const S = g.oh * g.ow;
    const cg = g.c / g.groups;
    const og = g.o / g.groups;
    const K = cg * g.kh * g.kw;
    const dw = new Float32Array(g.o * K);
    if (dw.length === 0 || S === 0 || g.n === 0) return new HostStorage(dw);
    const X = f32(x);
    const DY = f32(dy);
    const inImg = g.c * g.h * g.w;
    if (this.winogradFits(g)) return this.winogradFilterGrad(X, DY, g, dw);
    const nb = this.chunk(g.n, K * S);
    const ar = this.arena;
    ar.reset();
    const geo = ar.alloc(64);
    const xb = ar.allocF32(nb * inImg);
    const dyb = ar.allocF32(nb * g.o * S);
    const dymat = nb > 1 ? ar.allocF32(og * nb * S) : 0;
    const col = ar.allocF32(K * nb * S);
    const dwb = ar.allocF32(g.o * K);
    ar.f32.fill(0, dwb / F32, dwb / F32 + g.o * K);
    for (let n0 = 0; n0 < g.n; n0 += nb) {
      const cur = Math.min(nb, g.n - n0);
      ar.i32.set(this.convGeo(g, cur), geo / F32);
      this.copyIn(X.subarray(n0 * inImg, (n0 + cur) * inImg), xb);
      this.copyIn(DY.subarray(n0 * g.o * S, (n0 + cur) * g.o * S), dyb);
      for (let grp = 0; grp < g.groups; grp++) {
        this.k.im2col(geo, xb, col, grp);
        let ap = dyb + grp * og * S * F32;
        if (cur > 1) {
          this.k.gatherChannels(dyb, dymat, cur, g.o, grp * og, og, S);
          ap = dymat;
        }
        // dW_g [og, K] += dY_g [og, cur*S] . col^T [cur*S, K]: both operands run along the long
        // k = cur*S, so a dot-product kernel (no packing) beats the packed GEMM, which pads K
        // to its 8-wide tile and packs col^T transposed. Measured at batch 128 (GFLOP/s, GEMM ->
        // gemmNT): encoder.0 (K = 9) 1.7 -> 30, encoder.4 (K = 288) 36 -> 46, decoder.0 35 -> 40.
        this.k.gemmNT(og, K, cur * S, ap, cur * S, col, cur * S, dwb + grp * og * K * F32, K);
      }
    }
    this.copyOut(dwb, dw.length, dw);
    return new HostStorage(dw);
  }

  // ---------------------------------------------------------------- pooling

  private poolGeo(g: Pool2dGeometry): number {
    return this.putGeo([g.n, g.c, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, g.countIncludePad ? 1 : 0]);
  }

  override maxPool2d(x: Storage, g: Pool2dGeometry): { out: Storage; indices: Storage } {
    if (!isF32(x)) return super.maxPool2d(x, g);
    const indices = new Int32Array(g.n * g.c * g.oh * g.ow);
    return { out: this.maxPoolForward(x, g, indices), indices: new HostStorage(indices) };
  }

  override maxPool2dValues(x: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(x)) return super.maxPool2dValues(x, g);
    return this.maxPoolForward(x, g, null);
  }

  /** The pooled values; the argmax indices into `indices` when given (the kernel skips them otherwise). */
  private maxPoolForward(x: Storage, g: Pool2dGeometry, indices: Int32Array | null): Storage {
    const size = g.n * g.c * g.oh * g.ow;
    const out = new Float32Array(size);
    if (size > 0) {
      const ar = this.arena;
      ar.reset();
      const geo = this.poolGeo(g);
      const xp = ar.allocF32(x.size + 8); // the 2x2 kernel reads up to 8 floats past a row (it stores only valid lanes)
      const op = ar.allocF32(size);
      const ip = indices ? ar.alloc(size * 4) : 0;
      this.copyIn(f32(x), xp);
      this.k.maxPool2d(geo, xp, op, ip);
      this.copyOut(op, size, out);
      if (indices) indices.set(ar.i32.subarray(ip / 4, ip / 4 + size));
    }
    return new HostStorage(out);
  }

  override maxPool2dBackward(dy: Storage, indices: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(dy) || indices.dtype !== 'int32') return super.maxPool2dBackward(dy, indices, g);
    const size = g.n * g.c * g.h * g.w;
    const dx = new Float32Array(size);
    if (size > 0 && dy.size > 0) {
      const ar = this.arena;
      ar.reset();
      const geo = this.poolGeo(g);
      const dyp = ar.allocF32(dy.size);
      const ip = ar.alloc(dy.size * 4);
      const dxp = ar.allocF32(size);
      this.copyIn(f32(dy), dyp);
      ar.i32.set(host(indices) as Int32Array, ip / 4);
      ar.f32.fill(0, dxp / F32, dxp / F32 + size);
      this.k.maxPool2dBackward(geo, dyp, ip, dxp);
      this.copyOut(dxp, size, dx);
    }
    return new HostStorage(dx);
  }

  override avgPool2d(x: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(x)) return super.avgPool2d(x, g);
    const size = g.n * g.c * g.oh * g.ow;
    const out = new Float32Array(size);
    if (size > 0) {
      const ar = this.arena;
      ar.reset();
      const geo = this.poolGeo(g);
      const xp = ar.allocF32(x.size);
      const op = ar.allocF32(size);
      this.copyIn(f32(x), xp);
      this.k.avgPool2d(geo, xp, op);
      this.copyOut(op, size, out);
    }
    return new HostStorage(out);
  }

  override avgPool2dBackward(dy: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(dy)) return super.avgPool2dBackward(dy, g);
    const size = g.n * g.c * g.h * g.w;
    const dx = new Float32Array(size);
    if (size > 0 && dy.size > 0) {
      const ar = this.arena;
      ar.reset();
      const geo = this.poolGeo(g);
      const dyp = ar.allocF32(dy.size);
      const dxp = ar.allocF32(size);
      this.copyIn(f32(dy), dyp);
      ar.f32.fill(0, dxp / F32, dxp / F32 + size);
      this.k.avgPool2dBackward(geo, dyp, dxp);
      this.copyOut(dxp, size, dx);
    }
    return new HostStorage(dx);
  }

  // ---------------------------------------------------------------- reductions
  //
  // Sums of float32 (bias gradients: [N, C, H, W] -> C, [N, F] -> F; per-image loss sums): the
  // input is staged densely, its dims are merged into alternating kept/reduced groups, and the
  // patterns [R], [K, R], [R, K], [K, R, K] and [R, K, R] run as row sums or column sums with
  // float64 accumulators (as the reference). max/min and other patterns use the reference.

  override reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    if (op !== 'sum' || !isF32(x.storage)) return super.reduce(op, x, axes);
    // groups of consecutive dims (size-1 dims dropped): [size, reduced?]
    const groups: [number, boolean][] = [];
    let outSize = 1;
    for (let d = 0; d < x.shape.length; d++) {
      const n = x.shape[d]!;
      const r = axes.includes(d);
      if (!r) outSize *= n;
      if (n === 1) continue;
      const last = groups[groups.length - 1];
      if (last && last[1] === r) last[0] *= n;
      else groups.push([n, r]);
    }
    const total = x.shape.reduce((p, q) => p * q, 1);
    const pat = groups.map((g) => (g[1] ? 'R' : 'K')).join('');
    if (total === 0 || !['R', 'KR', 'RK', 'KRK', 'RKR'].includes(pat)) return super.reduce(op, x, axes);
    const ar = this.arena;
    ar.reset();
    const ptrs = this.stageDense(x.shape, [x]);
    if (!ptrs) return super.reduce(op, x, axes);
    const xp = ptrs[0]!;
    const acc = ar.alloc(outSize * 8);
    new Float64Array(ar.memory.buffer, acc, outSize).fill(0);
    const sz = groups.map((g) => g[0]);
    switch (pat) {
      case 'R': this.k.sumRows(xp, 1, sz[0]!, acc); break;
      case 'KR': this.k.sumRows(xp, sz[0]!, sz[1]!, acc); break;
      case 'RK': this.k.sumCols(xp, sz[0]!, sz[1]!, acc); break;
      case 'KRK': {
        const [a, b, c] = sz as [number, number, number];
        for (let i = 0; i < a; i++) this.k.sumCols(xp + i * b * c * F32, b, c, acc + i * c * 8);
        break;
      }
      default: {
        const [a, b, c] = sz as [number, number, number];
        for (let i = 0; i < a; i++) this.k.sumRows(xp + i * b * c * F32, b, c, acc);
      }
    }
    const out = new Float32Array(outSize);
    out.set(new Float64Array(ar.memory.buffer, acc, outSize));
    return new HostStorage(out);
  }

  // ---------------------------------------------------------------- batch norm
  //
  // Fused kernels (assembly/norm.ts), f64 accumulation and f64 elementwise arithmetic in the
  // reference's order: results match the reference exactly or within 1 f32 ulp.

  override batchNormStats(x: Storage, g: ChannelGeometry): { mean: Storage; variance: Storage } {
    if (!isF32(x) || x.size === 0) return super.batchNormStats(x, g);
    const ar = this.arena;
    ar.reset();
    const xp = ar.allocF32(x.size);
    const mp = ar.alloc(g.c * 8);
    const vp = ar.alloc(g.c * 8);
    this.copyIn(f32(x), xp);
    this.k.bnStats(xp, g.n, g.c, g.s, mp, vp);
    const mean = new Float32Array(g.c);
    const variance = new Float32Array(g.c);
    mean.set(new Float64Array(ar.memory.buffer, mp, g.c));
    variance.set(new Float64Array(ar.memory.buffer, vp, g.c));
    return { mean: new HostStorage(mean), variance: new HostStorage(variance) };
  }

  override batchNormForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
    if (![x, mean, invstd, weight, bias].every(isF32) || x.size === 0) return super.batchNormForward(x, mean, invstd, weight, bias, g);
    return this.bnForward(x, mean, invstd, weight, bias, g, false);
  }

  /** BatchNorm + ReLU in one pass: saves the relu kernel's copy in, pass and copy out. */
  override batchNormReluForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
    if (![x, mean, invstd, weight, bias].every(isF32) || x.size === 0) return super.batchNormReluForward(x, mean, invstd, weight, bias, g);
    return this.bnForward(x, mean, invstd, weight, bias, g, true);
  }

  private bnForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): Storage {
    const ar = this.arena;
    ar.reset();
    const yp = this.bnForwardInArena(x, mean, invstd, weight, bias, g, relu);
    const y = new Float32Array(x.size);
    this.copyOut(yp, x.size, y);
    return new HostStorage(y);
  }

  /** Copies x and the parameters into the (reset) arena and runs bnForward; returns y's offset (8 readable floats after it, for the pool). */
  private bnForwardInArena(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, relu: boolean): number {
    const ar = this.arena;
    const xp = ar.allocF32(x.size);
    const yp = ar.allocF32(x.size + 8);
    const [mp, ip, wp, bp] = this.stageEach([mean, invstd, weight, bias], g.c) as [number, number, number, number];
    this.copyIn(f32(x), xp);
    this.k.bnForward(xp, yp, g.n, g.c, g.s, mp, ip, wp, bp, relu ? 1 : 0);
    return yp;
  }

  /**
   * BatchNorm -> ReLU -> MaxPool2d for training: the pooling runs on the activation in the arena,
   * so the full-size output is never copied out (nor copied back in by a separate pooling call).
   */
  batchNormReluMaxPool(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry): { out: Storage; indices: Storage } {
    if (![x, mean, invstd, weight, bias].every(isF32) || x.size === 0) return this.maxPool2d(this.batchNormReluForward(x, mean, invstd, weight, bias, g), pool);
    const size = pool.n * pool.c * pool.oh * pool.ow;
    const ar = this.arena;
    ar.reset();
    const yp = this.bnForwardInArena(x, mean, invstd, weight, bias, g, true);
    const geo = this.poolGeo(pool);
    const op = ar.allocF32(size);
    const ip = ar.alloc(size * 4);
    this.k.maxPool2d(geo, yp, op, ip);
    const out = new Float32Array(size);
    this.copyOut(op, size, out);
    return { out: new HostStorage(out), indices: new HostStorage(ar.i32.slice(ip / 4, ip / 4 + size)) };
  }

  /** Its backward: the pooled gradient is scattered into the arena, where the batch-norm backward reads it. */
  batchNormReluMaxPoolBackward(dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
    if (![dy, x, mean, invstd, weight, bias].every(isF32) || indices.dtype !== 'int32' || x.size === 0) {
      return this.batchNormReluBackward(this.maxPool2dBackward(dy, indices, pool), x, mean, invstd, weight, bias, g, batchStats);
    }
    return this.bnBackward((dyp) => {
      const ar = this.arena;
      const geo = this.poolGeo(pool);
      const pdy = ar.allocF32(dy.size);
      const ip = ar.alloc(dy.size * 4);
      this.copyIn(f32(dy), pdy);
      ar.i32.set(host(indices) as Int32Array, ip / 4);
      ar.f32.fill(0, dyp / F32, dyp / F32 + x.size);
      this.k.maxPool2dBackward(geo, pdy, ip, dyp);
    }, x, mean, invstd, weight, bias, g, batchStats);
  }

  override batchNormBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
    if (![dy, x, mean, invstd, weight].every(isF32) || x.size === 0) return super.batchNormBackward(dy, x, mean, invstd, weight, g, batchStats);
    return this.bnBackward((p) => this.copyIn(f32(dy), p), x, mean, invstd, weight, null, g, batchStats);
  }

  /**
   * The ReLU gradient (dy * step(y)) is applied in the kernel's first pass, y recomputed from x
   * (no mask to copy in or read): saves the mulStep kernel, its copies, and the forward's output.
   */
  override batchNormReluBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
    if (![dy, x, mean, invstd, weight, bias].every(isF32) || x.size === 0) return super.batchNormReluBackward(dy, x, mean, invstd, weight, bias, g, batchStats);
    return this.bnBackward((p) => this.copyIn(f32(dy), p), x, mean, invstd, weight, bias, g, batchStats);
  }

  /**
   * reluBias: the BN's bias when a ReLU follows (the kernel recomputes the forward's output).
   * putDy writes the incoming gradient (x.size floats) at the offset it is given.
   */
  private bnBackward(putDy: (at: number) => void, x: Storage, mean: Storage, invstd: Storage, weight: Storage, reluBias: Storage | null, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
    const ar = this.arena;
    ar.reset();
    const dyp = ar.allocF32(x.size);
    const xp = ar.allocF32(x.size);
    const dxp = ar.allocF32(x.size);
    const [mp, ip, wp] = this.stageEach([mean, invstd, weight], g.c) as [number, number, number];
    const bp = reluBias ? ar.allocF32(g.c) : 0;
    if (reluBias) this.copyIn(f32(reluBias), bp);
    const sd = ar.alloc(g.c * 8);
    const sx = ar.alloc(g.c * 8);
    putDy(dyp);
    this.copyIn(f32(x), xp);
    this.k.bnBackward(dyp, xp, dxp, g.n, g.c, g.s, mp, ip, wp, batchStats ? 1 : 0, sd, sx, bp);
    const dx = new Float32Array(x.size);
    this.copyOut(dxp, x.size, dx);
    const dweight = new Float32Array(g.c);
    const dbias = new Float32Array(g.c);
    dweight.set(new Float64Array(ar.memory.buffer, sx, g.c));
    dbias.set(new Float64Array(ar.memory.buffer, sd, g.c));
    return { dx: new HostStorage(dx), dweight: new HostStorage(dweight), dbias: new HostStorage(dbias) };
  }

  // ---------------------------------------------------------------- optimiser

  override adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): void {
    if (!isF32(param) || !isF32(grad) || !isF32(m) || !isF32(v)) return super.adamUpdate(param, grad, m, v, h);
    const n = param.size;
    if (n === 0) return;
    const P = f32(param), G = f32(grad), M = f32(m), V = f32(v);
    const ar = this.arena;
    ar.reset();
    const pp = ar.allocF32(n), gp = ar.allocF32(n), mp = ar.allocF32(n), vp = ar.allocF32(n);
    this.copyIn(P, pp);
    this.copyIn(G, gp);
    this.copyIn(M, mp);
    this.copyIn(V, vp);
    // the same doubles as the js reference computes
    const bc1 = 1 - h.beta1 ** h.step;
    const bc2 = 1 - h.beta2 ** h.step;
    const mode = h.weightDecay === 0 ? 0 : h.decoupled ? 2 : 1;
    const decay = mode === 2 ? 1 - h.lr * h.weightDecay : h.weightDecay;
    this.k.adamUpdate(pp, gp, mp, vp, n, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.lr / bc1, Math.sqrt(bc2), h.eps, mode, decay);
    this.copyOut(pp, n, P);
    this.copyOut(mp, n, M);
    this.copyOut(vp, n, V);
  }
}
