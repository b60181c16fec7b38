// Reductions over any set of dims (keepdim or not), and the ops built from them:
// mean, var, logsumexp, softmax, logSoftmax, argmax/argmin, and sumTo for broadcast gradients.

import { OpFunction } from '../autograd/function.js';
import type { Shape } from '../shape.js';
import { fmtShape, normDim, normDims, numel, shapeEq } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { isFloat } from '../dtype.js';
import { backend, cast, checkFloat, checkTensor, fromStorage } from './kernel.js';
import { where } from './elementwise.js';
import { takeChannelSum } from './channel-sum.js';

export type Dims = number | readonly number[];

function keptShape(shape: Shape, dims: readonly number[]): number[] {
  return shape.map((d, i) => (dims.includes(i) ? 1 : d));
}

function finish(out: Tensor, shape: Shape, dims: readonly number[], keepdim: boolean): Tensor {
  return keepdim ? out : out.reshape(shape.filter((_, i) => !dims.includes(i)));
}

class Sum extends OpFunction {
  inShape!: Shape;
  keep!: number[];
  forward(x: Tensor, dims: number[], keepdim: boolean): Tensor {
    this.inShape = x.shape;
    this.keep = keptShape(x.shape, dims);
    const s = takeChannelSum(x, dims) ?? backend().reduce('sum', x.stridedView, dims); // a bias gradient a batch norm added up
    return finish(fromStorage(s, this.keep), x.shape, dims, keepdim);
  }
  backward(g: Tensor): Tensor[] {
    return [g.reshape(this.keep).expand(this.inShape)];
  }
}

/** max / min over dims; ties share the gradient equally (as torch.amax). */
class Extreme extends OpFunction {
  x!: Tensor;
  y!: Tensor;
  dims!: number[];
  forward(x: Tensor, op: 'max' | 'min', dims: number[], keepdim: boolean): Tensor {
    const keep = keptShape(x.shape, dims);
    if (dims.some((d) => x.shape[d] === 0)) throw new Error(`${op}: cannot reduce over an empty dimension of shape ${fmtShape(x.shape)}`);
    this.x = x;
    this.dims = dims;
    this.y = fromStorage(backend().reduce(op, x.stridedView, dims), keep);
    return finish(this.y, x.shape, dims, keepdim);
  }
  backward(g: Tensor): Tensor[] {
    const mask = this.x.eq(this.y).to(g.dtype);
    const count = mask.sum(this.dims, true);
    return [mask.div(count).mul(g.reshape(this.y.shape))];
  }
}

/** Sum over dims (all by default); integer and bool tensors sum to int32 (PyTorch: int64), wrapping past 2^31. */
export function sum(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  checkTensor('sum', x);
  return Sum.apply(cast(x, isFloat(x.dtype) ? x.dtype : 'int32'), normDims('sum', dims, x.ndim), keepdim);
}

/** Mean over dims; floating-point tensors only, as in PyTorch. */
export function mean(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  checkFloat('mean', checkTensor('mean', x));
  const d = normDims('mean', dims, x.ndim);
  const n = d.reduce((p, i) => p * x.shape[i]!, 1);
  return sum(x, d, keepdim).div(n);
}

/** Max over dims (any dtype); ties share the gradient. */
export function max(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  checkTensor('max', x);
  return Extreme.apply(x, 'max', normDims('max', dims, x.ndim), keepdim);
}

/** Min over dims (any dtype); ties share the gradient. */
export function min(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  checkTensor('min', x);
  return Extreme.apply(x, 'min', normDims('min', dims, x.ndim), keepdim);
}

function argReduce(op: 'max' | 'min', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  checkTensor(`arg${op}`, x);
  if (dim === undefined) return argReduce(op, x.reshape([-1]), 0, false);
  const d = normDim(`arg${op}`, dim, x.ndim);
  if (x.ndim === 0) return fromStorage(backend().zeros('int32', 1), []);
  const out = fromStorage(backend().argReduce(op, x.stridedView, d), keptShape(x.shape, [d]));
  return finish(out, x.shape, [d], keepdim);
}
/** Index of the first maximum along dim (over the flattened tensor when dim is omitted), int32. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor { return argReduce('max', x, dim, keepdim); }
/** Index of the first minimum along dim (over the flattened tensor when dim is omitted), int32 (torch.argmin). */
export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor { return argReduce('min', x, dim, keepdim); }

/** Variance; unbiased (divide by n - 1) unless told otherwise, as PyTorch's default. */
export function variance(x: Tensor, dims?: Dims, opts: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
  const d = normDims('var', dims, checkTensor('var', x).ndim);
  const n = d.reduce((p, i) => p * x.shape[i]!, 1);
  const denom = opts.unbiased === false ? n : n - 1;
  const centred = x.sub(x.mean(d, true));
  return centred.square().sum(d, opts.keepdim ?? false).div(denom);
}

/** The (constant) max over dims for a stable exp; an infinite max shifts by 0 instead (m * 0 would be NaN). */
function stableShift(x: Tensor, dims: number[]): Tensor {
  const m = x.detach().max(dims, true);
  return where(m.abs().lt(Infinity), m, 0);
}

/** log(sum(exp(x))) over dims, shifted by the max so it neither overflows nor underflows (torch.logsumexp). */
export function logsumexp(x: Tensor, dims?: Dims, keepdim = false): Tensor {
  const d = normDims('logsumexp', dims, checkTensor('logsumexp', x).ndim);
  const shift = stableShift(x, d);
  const out = x.sub(shift).exp().sum(d, true).log().add(shift);
  return finish(out, x.shape, d, keepdim);
}

/** log(softmax(x)) along dim, computed stably (torch.log_softmax). */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  // (x - max) - log(sum(exp(x - max))): adding the max back first would cost float32 precision for large x.
  const z = x.sub(stableShift(x, normDims('logSoftmax', dim, checkTensor('logSoftmax', x).ndim)));
  return z.sub(z.exp().sum(dim, true).log());
}

/** exp(x) / sum(exp(x)) along dim, computed stably (torch.softmax). */
export function softmax(x: Tensor, dim: number): Tensor {
  return logSoftmax(x, dim).exp();
}

/** Sum a broadcast gradient back down to `shape` (the inverse of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (shapeEq(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  const s = dims.length ? g.sum(dims, true) : g;
  return numel(s.shape) === numel(shape) ? s.reshape(shape) : s;
}
