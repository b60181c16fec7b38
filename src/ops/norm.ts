// Batch normalisation over dim 1 of [N, C] or [N, C, ...] input, as PyTorch's F.batch_norm:
// training normalises with the biased batch variance and moves the running statistics toward
// the batch's mean and unbiased variance; eval uses the running statistics. Forward and
// backward are fused kernels (one pass each instead of a dozen elementwise ops), and so, where
// the backend offers it, is training's bookkeeping: the batch's statistics, the running ones moved
// and invstd in one call (batchNormTrainStats) instead of five.
//
// batchNormRelu is relu(batchNorm(...)) as one op, for the BatchNorm -> ReLU pairs that
// nn.Sequential finds: where the backend has the optional fused kernels, the ReLU rides on the
// batch-norm passes (forward: relu of each rounded output; backward: dy * step(y), y recomputed
// from x, in the first pass),
// saving the separate relu and mulStep passes and their memory traffic. batchNormReluMaxPool2d
// adds a following MaxPool2d, so that the full-size activation never leaves the backend (the
// pooling runs on it in place, and the backward scatters the pooled gradient where the
// batch-norm backward reads it). The kernels give the composition's results, which is what runs
// where a backend lacks them: bit for bit, except that a backend may add batch norm's float64
// sums in another order (the wasm 2x2 pool backward sums over the windows only).

import type { Backend, ChannelGeometry, Pool2dGeometry, Storage } from '../backend/backend.js';
import { releaseInternal } from '../autograd/saved-frees.js';
import type { DType } from '../dtype.js';
import { OpFunction } from '../autograd/function.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { full } from '../creation.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backend, checkFloat, checkTensor, fromStorage } from './kernel.js';
import { gradChannelSumWanted, recordChannelSum } from './channel-sum.js';
import { copy_ } from './movement.js';
import { relu } from './elementwise.js';
import type { Pair } from './conv.js';
import { maxPool2d, pool2dGeometry, type Pool2dOptions } from './pool.js';

/** Options of F.batchNorm (torch's training, momentum, eps). */
export interface BatchNormOptions {
  /** Normalise by the batch's statistics and update the running ones (default false: use the running ones). */
  training?: boolean;
  /** Weight of the new batch in the running statistics (default 0.1). */
  momentum?: number;
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
}

class BatchNormFn extends OpFunction {
  x!: Tensor;
  mean!: Tensor;
  invstd!: Tensor;
  weight!: Tensor;
  g!: ChannelGeometry;
  batchStats!: boolean;
  /** The BN's bias when a ReLU is fused in (the backward recomputes the pre-ReLU output from it). */
  reluBias: Tensor | null = null;
  /** With a fused max pooling (after the ReLU): its geometry and argmax indices. */
  pool: Pool2dGeometry | null = null;
  indices: Tensor | null = null;
  forward(x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor, invstd: Tensor, g: ChannelGeometry, batchStats: boolean, fuseRelu: boolean, pool: Pool2dGeometry | null): Tensor {
    const xc = x.contiguous();
    Object.assign(this, { x: xc, mean, invstd, weight, g, batchStats });
    const b = backend();
    const args = [xc.storage, mean.storage, invstd.storage, weight.contiguous().storage, bias.contiguous().storage, g] as const;
    if (!fuseRelu) return fromStorage(b.batchNormForward(...args), x.shape);
    this.reluBias = bias.contiguous();
    if (!pool) return fromStorage(b.batchNormReluForward!(...args), x.shape);
    this.pool = pool;
    const r = b.batchNormReluMaxPool!(...args, pool);
    this.indices = fromStorage(r.indices, [pool.n, pool.c, pool.oh, pool.ow]);
    return fromStorage(r.out, [pool.n, pool.c, pool.oh, pool.ow]);
  }
  override get name(): string {
    return this.pool ? 'BatchNormReluMaxPoolBackward' : this.reluBias ? 'BatchNormReluBackward' : 'BatchNormBackward';
  }
  /** The batch's statistics (in eval mode the mean is the running buffer and invstd is cached: not ours), the argmax indices. */
  override internalTensors(): (Tensor | null)[] {
    return [this.batchStats ? this.mean : null, this.batchStats ? this.invstd : null, this.indices];
  }
  backward(dy: Tensor): (Tensor | null)[] {
    if (isGradEnabled()) throw new Error('batchNorm: gradients of gradients (createGraph) are not supported through batchNorm');
    const { x, g, reluBias, pool } = this;
    const b = backend();
    const [ds, xs, ms, is, ws] = [dy.contiguous().storage, x.storage, this.mean.storage, this.invstd.storage, this.weight.contiguous().storage];
    const sums = this.needsGrad[0] && gradChannelSumWanted(x); // x's producer sums its gradient (a bias): dx's sums on the way
    const r = pool ? b.batchNormReluMaxPoolBackward!(ds, this.indices!.storage, xs, ms, is, ws, reluBias!.storage, g, pool, this.batchStats, sums)
      : reluBias ? b.batchNormReluBackward!(ds, xs, ms, is, ws, reluBias.storage, g, this.batchStats, sums) : b.batchNormBackward(ds, xs, ms, is, ws, g, this.batchStats, sums);
    const dx = this.needsGrad[0] ? fromStorage(r.dx, x.shape) : null;
    if (dx && r.dxSum) recordChannelSum(dx, r.dxSum);
    return [
      dx,
      this.needsGrad[1] ? fromStorage(r.dweight, [g.c]) : null,
      this.needsGrad[2] ? fromStorage(r.dbias, [g.c]) : null,
      null,
      null,
    ];
  }
}

/** Batch normalisation over dim 1 of [N, C, ...] (F.batch_norm). */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  return batchNormImpl('batchNorm', x, runningMean, runningVar, weight, bias, opts, false, null);
}

/** relu(batchNorm(...)), fused where the backend offers the kernels (same results either way). */
export function batchNormRelu(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  const b = backend();
  const fused = !!b.batchNormReluForward && !!b.batchNormReluBackward;
  const y = batchNormImpl('batchNormRelu', x, runningMean, runningVar, weight, bias, opts, fused, null);
  return fused ? y : relu(y);
}

/** maxPool2d(relu(batchNorm(...)), kernelSize, poolOpts) for NCHW input, fused where the backend offers the kernels (same results either way). */
export function batchNormReluMaxPool2d(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  opts: BatchNormOptions,
  kernelSize: Pair,
  poolOpts: Pool2dOptions = {},
): Tensor {
  const b = backend();
  const grad = isGradEnabled() && [x, weight, bias].some((t) => t?.requiresGrad);
  // without a gradient to compute, the pooling's values-only kernel (no indices) is the cheaper path
  if (!grad || !(b.batchNormReluForward && b.batchNormReluBackward && b.batchNormReluMaxPool && b.batchNormReluMaxPoolBackward)) {
    return maxPool2d(batchNormRelu(x, runningMean, runningVar, weight, bias, opts), kernelSize, poolOpts);
  }
  const pool = pool2dGeometry('batchNormReluMaxPool2d', x.shape, kernelSize, poolOpts);
  return batchNormImpl('batchNormReluMaxPool2d', x, runningMean, runningVar, weight, bias, opts, true, pool);
}

function batchNormImpl(
  op: string,
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  opts: BatchNormOptions,
  fuseRelu: boolean,
  pool: Pool2dGeometry | null,
): Tensor {
  checkTensor(op, x);
  checkFloat(op, x);
  checkParams(op, x.shape, x.dtype, runningMean, runningVar, weight, bias);
  const c = x.shape[1]!;
  const { training = false, momentum = 0.1, eps = 1e-5 } = opts;
  const g: ChannelGeometry = { n: x.shape[0]!, c, s: x.numel / (x.shape[0]! * c || 1) };
  if (!training) {
    const p = batchNormEvalParams(op, x.shape, x.dtype, runningMean, runningVar, weight, bias, eps);
    return BatchNormFn.apply(x, p.weight, p.bias, p.mean, p.invstd, g, false, fuseRelu, pool);
  }
  if (g.n * g.s <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input ${fmtShape(x.shape)}`);
  const [mean, invstd] = noGrad(() => trainStats(x, g, eps, runningMean, runningVar, momentum));
  const w = weight ?? full([c], 1, { dtype: x.dtype });
  const b = bias ?? full([c], 0, { dtype: x.dtype });
  return BatchNormFn.apply(x, w, b, mean, invstd, g, true, fuseRelu, pool);
}

/**
 * The batch's mean and invstd for training, the running statistics moved toward its mean and
 * unbiased variance: one backend call where it offers batchNormTrainStats, else the calls it
 * stands for (same bits).
 */
function trainStats(x: Tensor, g: ChannelGeometry, eps: number, runningMean: Tensor | null, runningVar: Tensor | null, momentum: number): [Tensor, Tensor] {
  const be = backend();
  const count = g.n * g.s;
  const up = { keep: 1 - momentum, meanWeight: momentum, varianceWeight: (momentum * count) / (count - 1) };
  const xs = x.contiguous().storage;
  const fused = be.batchNormTrainStats && [runningMean, runningVar].every((r) => !r || wholeF32(r, g.c))
    ? be.batchNormTrainStats(xs, g, eps, { ...up, mean: runningMean?.storage ?? null, variance: runningVar?.storage ?? null }) : null;
  if (fused) {
    runningMean?._bumpVersion(); // as copy_ does: a backward that saved it must see that it changed
    runningVar?._bumpVersion();
    return [fromStorage(fused.mean, [g.c]), fromStorage(fused.invstd, [g.c])];
  }
  const st = be.batchNormStats(xs, g);
  const m = fromStorage(st.mean, [g.c]);
  const v = fromStorage(st.variance, [g.c]);
  if (runningMean) updateRunning(runningMean, up.keep, m, up.meanWeight);
  if (runningVar) updateRunning(runningVar, up.keep, v, up.varianceWeight);
  return [m, v.add(eps).pow(-0.5)];
}

/**
 * r = r * a + x * b in place (a running statistic moving toward the batch's): one backend call
 * where the backend offers scaledAddInPlace, else mul, mul, add and copy_, with the same bits.
 */
function updateRunning(r: Tensor, a: number, x: Tensor, b: number): void {
  const be = backend();
  if (!be.scaledAddInPlace || !wholeF32(r, r.numel) || !wholeF32(x, r.numel)) {
    copy_(r, r.mul(a).add(x.mul(b)));
    return;
  }
  be.scaledAddInPlace(r.storage, a, x.storage, b);
  r._bumpVersion(); // as copy_ does: a backward that saved r must see that it changed
}

/** Whether t is all of a float32 storage of `size` values (what the in-place kernels take). */
const wholeF32 = (t: Tensor, size: number): boolean => t.dtype === 'float32' && t.isContiguous() && t.offset === 0 && t.storage.size === size;

function checkParams(op: string, shape: readonly number[], dtype: DType, ...ts: (Tensor | null | undefined)[]): void {
  if (shape.length < 2) throw new Error(`${op}: expected input of at least 2 dims [N, C, ...], got ${fmtShape(shape)}`);
  const c = shape[1]!;
  ts.forEach((t, i) => {
    const name = ['runningMean', 'runningVar', 'weight', 'bias'][i]!;
    if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new Error(`${op}: ${name} must have shape [${c}], got ${fmtShape(t.shape)}`);
    if (t && t.dtype !== dtype) throw new Error(`${op}: ${name} is ${t.dtype}, input is ${dtype}`);
  });
}

/**
 * Eval mode's per-channel parameters for an input of this shape: the running mean, invstd =
 * (runningVar + eps)^-0.5, and the affine weight and bias (1 and 0 when absent). Shared by
 * batchNorm and the fused inference block (ops/fused.ts), so both compute the same invstd.
 */
export function batchNormEvalParams(
  op: string,
  shape: readonly number[],
  dtype: DType,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  eps: number,
): { mean: Tensor; invstd: Tensor; weight: Tensor; bias: Tensor } {
  checkParams(op, shape, dtype, runningMean, runningVar, weight, bias);
  if (!runningMean || !runningVar) throw new Error(`${op}: eval mode needs runningMean and runningVar`);
  const c = shape[1]!;
  return noGrad(() => ({
    mean: runningMean.contiguous(),
    invstd: evalInvstd(runningVar, eps),
    weight: weight ?? full([c], 1, { dtype }),
    bias: bias ?? full([c], 0, { dtype }),
  }));
}

/** Eval mode's invstd of a running variance, and what it was computed from. */
interface CachedInvstd {
  storage: Storage;
  version: number;
  eps: number;
  backend: Backend;
  invstd: Tensor;
}
const invstds = new WeakMap<Tensor, CachedInvstd>();

/**
 * (runningVar + eps)^-0.5, computed again only when the running variance may have changed: its
 * storage (replaced, or moved to another backend) or its version (every in-place write bumps it:
 * a training step's update, copy_, loadStateDict), eps or the backend. Inference then runs no
 * add and pow kernels per layer and call.
 */
function evalInvstd(runningVar: Tensor, eps: number): Tensor {
  const b = backend();
  const storage = runningVar.storage;
  const c = invstds.get(runningVar);
  if (c && c.storage === storage && c.version === runningVar.version && c.eps === eps && c.backend === b) return c.invstd;
  if (c) releaseInternal(c.invstd); // freed once no recorded backward still reads it
  const invstd = runningVar.add(eps).pow(-0.5);
  invstds.set(runningVar, { storage, version: runningVar.version, eps, backend: b, invstd });
  return invstd;
}
