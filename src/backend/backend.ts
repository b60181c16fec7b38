// The backend contract: opaque storage plus a table of named kernels. Everything above the ops
// layer sees only Tensor; the ops layer sees only this interface, never a concrete backend.

import type { DType, TypedArray } from '../dtype.js';

/**
 * A kernel call that needs more working memory than its backend can ever have (the WebAssembly
 * module's maximum). The ops layer adds the op's name; the message says how many bytes were needed.
 */
export class MemoryLimitError extends Error {
  constructor(
    readonly neededBytes: number,
    readonly availableBytes: number,
  ) {
    super(
      `one kernel call needs ${neededBytes} bytes (${(neededBytes / 2 ** 30).toFixed(2)} GiB) of WebAssembly memory, ` +
        `but the memory cannot grow beyond ${(availableBytes / 2 ** 30).toFixed(2)} GiB: use smaller batches or tensors (or the js backend)`,
    );
    this.name = 'MemoryLimitError';
  }
}

/** Backend-owned memory. Opaque above the backend: read it through Backend.readSync/read. */
export interface Storage {
  readonly dtype: DType;
  readonly size: number;
}

/** A strided window on a storage: element (i0, i1, ...) lives at offset + sum(ik * strides[k]). */
export interface View {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'log1p' | 'sqrt' | 'abs' | 'sign' | 'relu' | 'sigmoid' | 'tanh' | 'softplus'
  | 'reciprocal' | 'square' | 'step' // step: 1 where x > 0, else 0
  | 'leakyRelu' // param a: negative slope
  | 'clamp' // params a, b: min, max (either may be +-Infinity)
  | 'powScalar' // param a: exponent
  | 'addScalar' | 'mulScalar' // param a
  | 'inRange' // 1 where a <= x <= b, else 0
  | 'erf'; // the error function (GELU)

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'floorDiv' | 'remainder' // floor(a / b) and a - floor(a / b) * b (integers: b is never 0 here)
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' // these return bool storage
  | 'mulStep'; // a * step(b) = a * (b > 0 ? 1 : 0), i.e. a.mul(b.gt(0)) in one pass (the ReLU gradient)

/** The comparisons: their results are bool whatever the inputs' dtype. */
export const COMPARISONS: ReadonlySet<BinaryOp> = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

export type ReduceOp = 'sum' | 'max' | 'min';

/** Geometry of a 2-D convolution in PyTorch's NCHW / [O, C/groups, kH, kW] layout. */
export interface Conv2dGeometry {
  n: number; c: number; h: number; w: number; // input
  o: number; kh: number; kw: number; // weight [o, c / groups, kh, kw]
  oh: number; ow: number; // output
  strideH: number; strideW: number;
  padH: number; padW: number;
  dilH: number; dilW: number;
  groups: number;
}

/** Geometry of 2-D pooling over NCHW input. */
export interface Pool2dGeometry {
  n: number; c: number; h: number; w: number;
  oh: number; ow: number;
  kh: number; kw: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  /** avg pooling: divide by the full window (true) or only the in-bounds part (false). */
  countIncludePad: boolean;
}

/** Batch-norm layout: x is contiguous [n, c, s] (s = product of the spatial dims, 1 for [N, C]). */
export interface ChannelGeometry {
  n: number; c: number; s: number;
}

/** Eval-mode batch-norm parameters (all [c], contiguous): y = (x - mean) * invstd * weight + bias. */
export interface BatchNormParams {
  mean: Storage; invstd: Storage; weight: Storage; bias: Storage;
}

export interface AdamHyper {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  /** 'adam' adds weight decay to the gradient (L2); 'adamw' decays the weights directly. */
  decoupled: boolean;
  step: number; // 1-based, for bias correction
}

/** The storages of one parameter's Adam update: [param, grad, m, v] (contiguous, one size, updated in place). */
export type AdamStorages = readonly [param: Storage, grad: Storage, m: Storage, v: Storage];

/** What a backend holds in memory it manages itself (vg.memoryStats()). Bytes; 0 where it manages none. */
export interface MemoryStats {
  /** The backend's name. */
  backend: string;
  /** Size of the WebAssembly linear memory (the wasm backend; it never shrinks, but can be replaced when idle). */
  wasmBytes: number;
  /** Bytes in blocks in use (tensor data the backend keeps in its own memory, and scratch buffers). */
  liveBytes: number;
  /** Blocks in use. */
  liveBlocks: number;
  /** Freed bytes kept for reuse. */
  cachedBytes: number;
  /** Tensor data moved out to the JavaScript heap under memory pressure. */
  spilledBytes: number;
  /** Of liveBytes, the per-call scratch buffers kept between calls. */
  scratchBytes: number;
  /** Of liveBytes, tensor data (the wasm backend's float32 storage in its linear memory). */
  tensorBytes?: number;
  /** Of liveBlocks, the blocks holding tensor data. */
  tensorBlocks?: number;
  /** Resident tensor bytes above which least recently used tensors move to the JS heap (vg.setMemoryBudget). */
  budgetBytes?: number;
  /** Tensor blocks moved out under memory pressure so far. */
  spills?: number;
}

/** The gradients of a batch-norm kernel. */
export interface BatchNormGrads {
  /** With respect to the input. */
  dx: Storage;
  /** With respect to the per-channel scale. */
  dweight: Storage;
  /** With respect to the per-channel shift. */
  dbias: Storage;
  /**
   * Only where the caller asked for it (wantDxSum) and the backend added it up in its dx pass:
   * dx summed over every dim but the channels, [c], bit-identical to this backend's own
   * reduce('sum', dx, [0, 2, ...]) (the bias gradient of a conv feeding the batch norm, without
   * reading dx again). Absent, the ops run that reduce.
   */
  dxSum?: Storage;
}

/** A max pool's values and, for backward, the index of each window's maximum. */
export interface MaxPoolResult {
  /** The pooled values. */
  out: Storage;
  /** Where each maximum is in the input (int32). */
  indices: Storage;
}

/**
 * How batchNormTrainStats moves the running statistics (whole float32 storages of c values, or
 * null: not kept): running = running * keep + batch's * weight, as scaledAddInPlace does it.
 */
export interface RunningUpdate {
  /** The running mean, or null. */
  mean: Storage | null;
  /** The running (unbiased) variance, or null. */
  variance: Storage | null;
  /** What each running statistic keeps of itself (1 - momentum). */
  keep: number;
  /** The batch mean's weight (momentum). */
  meanWeight: number;
  /** Applied to the biased variance (the unbiased correction is folded in). */
  varianceWeight: number;
}

/** What batchNormTrainStats gives: the batch's statistics as the normalisation uses them. */
export interface TrainStats {
  /** The mean of each channel. */
  mean: Storage;
  /** 1 / sqrt(variance + eps) of each channel (the biased variance). */
  invstd: Storage;
}

/** Per-channel batch statistics. */
export interface BatchStats {
  /** The mean of each channel. */
  mean: Storage;
  /** The variance of each channel. */
  variance: Storage;
}

/** The kernels and storage of one backend (js, wasm, gpu): every op above runs through this interface. */
export interface Backend {
  /** The backend's name ('js', 'wasm', 'gpu'). */
  readonly name: string;

  /** Optional: what the backend holds in memory it manages itself (backends without such memory leave it out). */
  memoryStats?(): MemoryStats;
  /** Optional: the bytes of tensor data the backend keeps in its own memory before moving some to the JS heap. */
  setMemoryBudget?(bytes: number): void;
  /**
   * Optional: free a storage now, because the caller proves nothing will read it again (the
   * autograd engine's consumed gradients). Backends whose storage the garbage collector frees leave it out.
   */
  release?(s: Storage): void;

  // ---- storage ----
  /** Wrap or copy host data into backend storage (the backend may keep the array: callers hand it over). */
  fromArray(data: TypedArray): Storage;
  /** A new storage of `size` zeros of `dtype`. */
  zeros(dtype: DType, size: number): Storage;
  /**
   * The whole storage on the host, or null where the backend can only read asynchronously. With
   * `fresh`, a new array the caller owns; without, it may be the storage's own array (read it,
   * never write it): backends whose storage is a host array skip the copy, the others copy anyway.
   */
  readSync(s: Storage, fresh?: boolean): TypedArray | null;
  /** The whole storage on the host (every backend can read asynchronously); `fresh` as in readSync. */
  read(s: Storage, fresh?: boolean): Promise<TypedArray>;
  /** Does this backend own the storage (so kernels may use it directly)? */
  owns(s: Storage): boolean;

  // ---- elementwise (inputs are views already broadcast to outShape, of one dtype except where's
  // condition; outputs are contiguous, in the inputs' dtype, bool for comparisons). Integer
  // arithmetic wraps modulo 2^32 as int32 does in PyTorch. ----
  /** A dense copy of a view, optionally cast to `dtype`. */
  copy(x: View, dtype?: DType): Storage; // materialise a view, optionally casting
  /** An elementwise op of one input (a, b: its scalar parameters), dense output. */
  unary(op: UnaryOp, x: View, a?: number, b?: number): Storage;
  /** An elementwise op of two views of the same shape (broadcast by strides), dense output. */
  binary(op: BinaryOp, a: View, b: View): Storage;
  /** a where cond is nonzero, else b, over three views of one shape. */
  where(cond: View, a: View, b: View): Storage;
  /** Write src (same shape) into dst's window of dst.storage, in place. */
  assign(dst: View, src: View): void;
  /**
   * Optional: dst = dst * a + src * b in place, on whole float32 storages of one size, with the
   * bits of add(mul(dst, a), mul(src, b)) (a and b doubles, as mulScalar takes them): batch
   * norm's running statistics in one call instead of three kernels and an assign.
   */
  scaledAddInPlace?(dst: Storage, a: number, src: Storage, b: number): void;

  // ---- reductions: output has x's shape with `axes` set to 1 (keepdim), contiguous ----
  /** A reduction over `axes` (the output keeps them as size 1). */
  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage;
  /** Index (int32) of the first max/min along one axis; output shape as reduce. */
  argReduce(op: 'max' | 'min', x: View, axis: number): Storage;
  /**
   * Optional: whether every value of every view (any dtype; integer and bool values are finite)
   * is neither NaN nor +-Infinity, as a bool storage of one value. Where a backend leaves it out,
   * the ops compose max(|t|) per tensor (ops/finite.ts allFinite).
   */
  allFinite?(xs: readonly View[]): Storage;

  // ---- indexing along one axis (index: int32 values already checked to lie in range) ----
  /** out[p] = x[p with its `axis` coordinate replaced by index[p]], out contiguous with index's shape (x viewed with index's shape off the axis). */
  gather(x: View, axis: number, index: View): Storage;
  /** A contiguous copy of base, plus src[p] added at base[p with its `axis` coordinate replaced by index[p]] (index and src share a shape). */
  scatterAdd(base: View, axis: number, index: View, src: View): Storage;

  // ---- linear algebra ----
  /** Batched C[b] = A[b] @ B[b]; a: [batch, m, k], b: [batch, k, n] views (any strides, batch stride may be 0). */
  matmul(a: View, b: View): Storage;

  /**
   * Optional: a Linear layer's forward on rows, a: [m, k] and b: [k, n] views (the weight [n, k]
   * seen as its transpose): matmul(a, b), then + bias[j] on every row where bias ([n]) is given
   * (binary 'add' with the bias broadcast), then, where bn is given (eval mode, for inference),
   * batchNormReluForward over the n channels ({ n: m, c: n, s: 1 }). A backend may apply the bias
   * and the norm to each tile of the product while it is in cache; the result must be
   * bit-identical to those kernels run one after another.
   */
  linear?(a: View, b: View, bias: Storage | null, bn: BatchNormParams | null): Storage;

  // ---- convolution (contiguous NCHW storages); conv-transpose is conv2dBackwardData ----
  /** 2-D convolution (cross-correlation) of NCHW x with OIHW w. */
  conv2d(x: Storage, w: Storage, g: Conv2dGeometry): Storage;
  /** The gradient of conv2d with respect to its input (also conv-transpose's forward). */
  conv2dBackwardData(dy: Storage, w: Storage, g: Conv2dGeometry): Storage;
  /** The gradient of conv2d with respect to its weight. */
  conv2dBackwardFilter(x: Storage, dy: Storage, g: Conv2dGeometry): Storage;
  // Optional fused forms (a backend may leave them out: the ops then run the kernel above and a
  // broadcast add). bias is [channels of the result], contiguous; the result must equal the
  // unfused composition (kernel, then the float32 add of the bias).
  /** conv2d(x, w, g) + bias[o] on every output channel. */
  conv2dBias?(x: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage;
  /** conv2dBackwardData(dy, w, g) + bias[c] on every channel of the result: conv-transpose with bias. */
  conv2dBackwardDataBias?(dy: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage;

  /**
   * Optional, for inference (no gradient): an eval-mode Conv2d -> BatchNorm -> ReLU [-> MaxPool2d]
   * block, i.e. batchNormReluForward of conv2dBias (conv2d when bias is null) with bn's
   * parameters over the conv's channels, then maxPool2dValues with `pool` when given. A backend
   * may run it chunk by chunk while the conv output is in cache; the result must be
   * bit-identical to those kernels run one after another (no folding of the BN into the conv).
   */
  conv2dBnRelu?(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry, pool: Pool2dGeometry | null): Storage;
  /** The same for ConvTranspose2d -> BatchNorm -> ReLU: batchNormReluForward of conv2dBackwardDataBias (or conv2dBackwardData). */
  convTranspose2dBnRelu?(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry): Storage;

  // ---- optional fused loss (contiguous float32 storages of one size) ----
  /**
   * Binary cross-entropy with logits per element, bit-identical to the composition of this
   * backend's kernels that src/ops/loss.ts runs without it: (w == 0 ? 0 : |l| * w) + softplus(-|l|),
   * w = l > 0 ? 1 - t : t.
   */
  bceWithLogits?(logits: Storage, target: Storage): Storage;
  /** Its gradient with respect to the logits, g * (sigmoid(l) - t), bit-identical to mul(g, sub(sigmoid(l), t)). */
  bceWithLogitsBackward?(logits: Storage, target: Storage, g: Storage): Storage;

  // ---- pooling (contiguous NCHW storages) ----
  /** Max pooling: the values and the int32 index of each window's maximum (for backward). */
  maxPool2d(x: Storage, g: Pool2dGeometry): MaxPoolResult;
  /** The gradient of maxPool2d: dy scattered to the recorded maxima. */
  maxPool2dBackward(dy: Storage, indices: Storage, g: Pool2dGeometry): Storage;
  /** Optional: maxPool2d's values alone, for a forward that wants no gradient (no indices written). */
  maxPool2dValues?(x: Storage, g: Pool2dGeometry): Storage;
  /** Average pooling. */
  avgPool2d(x: Storage, g: Pool2dGeometry): Storage;
  /** The gradient of avgPool2d: dy spread evenly over each window. */
  avgPool2dBackward(dy: Storage, g: Pool2dGeometry): Storage;

  // ---- batch norm (contiguous storages; mean, invstd, weight, bias are [c]) ----
  /** Per-channel mean and biased variance. */
  batchNormStats(x: Storage, g: ChannelGeometry): BatchStats;
  /**
   * Optional: training's statistics in one call, with the bits of the calls it stands for:
   * batchNormStats; scaledAddInPlace(running, keep, batch's, weight) for each running statistic
   * given; invstd = unary powScalar(unary addScalar(variance, eps), -0.5). Null where the
   * backend cannot (the caller makes those calls).
   */
  batchNormTrainStats?(x: Storage, g: ChannelGeometry, eps: number, running: RunningUpdate): TrainStats | null;
  /** y = (x - mean) * invstd * weight + bias, per channel. */
  batchNormForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage;
  /**
   * Gradients of batchNormForward. With batchStats, mean and invstd are the batch's own
   * statistics and dx includes their dependence on x; otherwise they are constants (eval).
   * wantDxSum (here and in the fused backwards below): also dx's channel sums where the backend
   * can add them up on the way (BatchNormGrads.dxSum); a backend may ignore it.
   */
  batchNormBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, g: ChannelGeometry, batchStats: boolean, wantDxSum?: boolean): BatchNormGrads;
  // Optional fused BatchNorm + ReLU (the ops run the kernels above plus unary 'relu' / binary
  // 'mulStep' where a backend leaves them out). Results must be bit-identical to that composition.
  /** relu(batchNormForward(x, ...)). */
  batchNormReluForward?(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage;
  /**
   * Gradients of batchNormReluForward: batchNormBackward(mulStep(dy, y), x, ...) with y =
   * batchNormForward(x, mean, invstd, weight, bias) (the forward's pre-ReLU output, which a
   * backend recomputes from x rather than reading it back: the same operations give the same bits).
   */
  batchNormReluBackward?(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, batchStats: boolean, wantDxSum?: boolean): BatchNormGrads;
  /**
   * Optional BatchNorm -> ReLU -> MaxPool2d for training: maxPool2d(batchNormReluForward(x, ...),
   * pool), the full-size activation staying inside the backend (the backward recomputes it from
   * x). pool is over the BN's [n, c, h, w] (pool.n = n, pool.c = c, pool.h * pool.w = g.s).
   */
  batchNormReluMaxPool?(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry): MaxPoolResult;
  /**
   * Its gradients: batchNormReluBackward(maxPool2dBackward(dy, indices, pool), x, ...), bit for bit
   * except that the float64 sums (dbias, dweight, and through them dx's coefficients) may be
   * added in another order, e.g. over the windows only, where x and the mean are finite.
   */
  batchNormReluMaxPoolBackward?(dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry, batchStats: boolean, wantDxSum?: boolean): BatchNormGrads;

  // ---- optimiser update, in place on contiguous storages of equal size ----
  /**
   * One Adam (or AdamW) step in place on a parameter and its two moments. A backend may return
   * whether every value it wrote is finite (true lets vg.allFinite skip the three until they are
   * written again); undefined where it does not check.
   */
  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): boolean | void;
  /**
   * Optional: adamUpdate of several parameters with the same hyperparameters at once, the same
   * bits as one call each (a backend may run them as one job, so that small parameters share a
   * barrier with the big ones); per parameter, what adamUpdate returns.
   */
  adamUpdateMany?(items: readonly AdamStorages[], h: AdamHyper): (boolean | void)[];
}
