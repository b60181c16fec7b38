// Tensor methods (x.add(y), x.sum(), ...) attached to the Tensor class, so that tensor.ts
// stays below the ops layer while users get PyTorch's method style.

import type { BackwardOptions } from '../autograd/engine.js';
import { backward } from '../autograd/engine.js';
import type { DType } from '../dtype.js';
import { fullLike, onesLike, zerosLike } from '../creation.js';
import { Tensor } from '../tensor.js';
import * as ew from './elementwise.js';
import * as ip from './inplace.js';
import * as mv from './movement.js';
import * as ix from './indexing.js';
import * as red from './reduce.js';
import type { Dims } from './reduce.js';
import { matmul } from './matmul.js';

type Operand = Tensor | number;

declare module '../tensor.js' {
  interface Tensor {
    /** Gradients of this tensor (a scalar, or with `grad` of its shape) into every leaf's `.grad` (torch.Tensor.backward). */
    backward(grad?: Tensor, opts?: BackwardOptions): void;
    /** -x (torch.neg). */
    neg(): Tensor;
    /** e^x (torch.exp). */
    exp(): Tensor;
    /** Natural logarithm (torch.log). */
    log(): Tensor;
    /** log(1 + x), accurate near 0 (torch.log1p). */
    log1p(): Tensor;
    /** Square root (torch.sqrt). */
    sqrt(): Tensor;
    /** |x| (torch.abs). */
    abs(): Tensor;
    /** -1, 0 or 1 by the sign of x; no gradient (torch.sign). */
    sign(): Tensor;
    /** max(x, 0) (torch.relu). */
    relu(): Tensor;
    /** 1 / (1 + e^-x) (torch.sigmoid). */
    sigmoid(): Tensor;
    /** Hyperbolic tangent (torch.tanh). */
    tanh(): Tensor;
    /** log(1 + e^x), computed without overflow (F.softplus). */
    softplus(): Tensor;
    /** 1 / x (torch.reciprocal). */
    reciprocal(): Tensor;
    /** x * x (torch.square). */
    square(): Tensor;
    /** The error function (torch.erf). */
    erf(): Tensor;
    /** x where x > 0, else negativeSlope * x (default 0.01; F.leaky_relu). */
    leakyRelu(negativeSlope?: number): Tensor;
    /** Values limited to [min, max] (torch.clamp). */
    clamp(min?: number, max?: number): Tensor;
    /** this + o, broadcasting, with PyTorch's type promotion (torch.add). */
    add(o: Operand): Tensor;
    /** this - o, broadcasting (torch.sub). */
    sub(o: Operand): Tensor;
    /** this * o, broadcasting (torch.mul). */
    mul(o: Operand): Tensor;
    /** True division this / o; integers divide in float32 (torch.div). */
    div(o: Operand): Tensor;
    /** this ** o (torch.pow). */
    pow(o: Operand): Tensor;
    /** Elementwise maximum of this and o (torch.maximum). */
    maximum(o: Operand): Tensor;
    /** Elementwise minimum of this and o (torch.minimum). */
    minimum(o: Operand): Tensor;
    /** this == o elementwise, as bool (torch.eq). */
    eq(o: Operand): Tensor;
    /** this != o elementwise, as bool (torch.ne). */
    ne(o: Operand): Tensor;
    /** this < o elementwise, as bool (torch.lt). */
    lt(o: Operand): Tensor;
    /** this <= o elementwise, as bool (torch.le). */
    le(o: Operand): Tensor;
    /** this > o elementwise, as bool (torch.gt). */
    gt(o: Operand): Tensor;
    /** this >= o elementwise, as bool (torch.ge). */
    ge(o: Operand): Tensor;
    /** floor(this / o); not differentiable (torch.floor_divide). */
    floorDivide(o: Operand): Tensor;
    /** The remainder with the sign of o, Python's % (torch.remainder). */
    remainder(o: Operand): Tensor;
    /** Where the values are NaN, as bool (torch.isnan). */
    isnan(): Tensor;
    /** Where the values are neither NaN nor infinite, as bool (torch.isfinite). */
    isfinite(): Tensor;
    /** Where the values are +-Infinity, as bool (torch.isinf). */
    isinf(): Tensor;
    /** Logical not of the values taken as booleans (torch.logical_not). */
    logicalNot(): Tensor;
    /** Logical and, as bool (torch.logical_and). */
    logicalAnd(o: Tensor): Tensor;
    /** Logical or, as bool (torch.logical_or). */
    logicalOr(o: Tensor): Tensor;
    /** Logical exclusive or, as bool (torch.logical_xor). */
    logicalXor(o: Tensor): Tensor;
    /** `value` where the bool `mask` is true, this elsewhere (torch.Tensor.masked_fill). */
    maskedFill(mask: Tensor, value: number | Tensor): Tensor;
    /** Values picked along `dim` by an int32 index of the same rank (torch.gather). */
    gather(dim: number, index: Tensor): Tensor;
    /** The slices at an int32 index along `dim` (torch.index_select). */
    indexSelect(dim: number, index: Tensor): Tensor;
    /** A copy of this with `src` added at the positions `index` gives along `dim` (torch.scatter_add). */
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    /** Sum over `dims` (all by default) (torch.sum). */
    sum(dims?: Dims, keepdim?: boolean): Tensor;
    /** Mean over `dims` (all by default) (torch.mean). */
    mean(dims?: Dims, keepdim?: boolean): Tensor;
    /** Maximum over `dims` (all by default); ties share the gradient (torch.amax). */
    max(dims?: Dims, keepdim?: boolean): Tensor;
    /** Minimum over `dims` (all by default); ties share the gradient (torch.amin). */
    min(dims?: Dims, keepdim?: boolean): Tensor;
    /** Index of the largest value along `dim` (of the flattened tensor without one), int32 (torch.argmax). */
    argmax(dim?: number, keepdim?: boolean): Tensor;
    /** Index of the smallest value along `dim` (of the flattened tensor without one), int32 (torch.argmin). */
    argmin(dim?: number, keepdim?: boolean): Tensor;
    /** Variance over `dims`, unbiased by default (torch.var). */
    var(dims?: Dims, opts?: { unbiased?: boolean; keepdim?: boolean }): Tensor;
    /** log(sum(exp(x))) over `dims`, computed stably (torch.logsumexp). */
    logsumexp(dims?: Dims, keepdim?: boolean): Tensor;
    /** Softmax along `dim` (torch.softmax). */
    softmax(dim: number): Tensor;
    /** log(softmax) along `dim`, computed stably (torch.log_softmax). */
    logSoftmax(dim: number): Tensor;
    /** Matrix product, batched with broadcast batch dims (torch.matmul). */
    matmul(o: Tensor): Tensor;
    /** The same values in another shape (one dim may be -1): a view when the layout allows, else a copy (torch.reshape). */
    reshape(shape: readonly number[]): Tensor;
    /** The same storage in another shape; the tensor must be contiguous enough for a view (torch.Tensor.view). */
    view(shape: readonly number[]): Tensor;
    /** A view with the dims in `order` (torch.permute). */
    permute(order: readonly number[]): Tensor;
    /** A view with two dims swapped (the last two by default) (torch.transpose). */
    transpose(dim0?: number, dim1?: number): Tensor;
    /** The transpose of a 2-D tensor (torch.Tensor.T). */
    readonly T: Tensor;
    /** A view repeating size-1 dims to `shape` (-1 keeps a dim) without copying (torch.Tensor.expand). */
    expand(shape: readonly number[]): Tensor;
    /** A view broadcast to `shape` (torch.broadcast_to). */
    broadcastTo(shape: readonly number[]): Tensor;
    /** A view of start:end:step along `dim` (Python slicing; out-of-range bounds clamp). */
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    /** A view of `length` entries from `start` along `dim` (torch.narrow). */
    narrow(dim: number, start: number, length: number): Tensor;
    /** A view of one index along `dim`, without that dim (torch.select). */
    select(dim: number, index: number): Tensor;
    /** A view without size-1 dims (or only `dim`) (torch.squeeze). */
    squeeze(dim?: number): Tensor;
    /** A view with a size-1 dim inserted at `dim` (torch.unsqueeze). */
    unsqueeze(dim: number): Tensor;
    /** Dims startDim..endDim merged into one (torch.flatten). */
    flatten(startDim?: number, endDim?: number): Tensor;
    /** Dim `dim` split into `sizes` (torch.unflatten). */
    unflatten(dim: number, sizes: readonly number[]): Tensor;
    /** Views of pieces of `size` (or the given sizes) along `dim` (torch.split). */
    split(size: number | readonly number[], dim?: number): Tensor[];
    /** `chunks` views of near-equal size along `dim` (torch.chunk). */
    chunk(chunks: number, dim?: number): Tensor[];
    /** This tensor if its layout is dense row-major, else a dense copy (torch.Tensor.contiguous). */
    contiguous(): Tensor;
    /** A copy with its own storage that keeps the gradient path (torch.clone). */
    clone(): Tensor;
    /** The same data without gradient history (torch.Tensor.detach). */
    detach(): Tensor;
    /** A copy cast to `dtype` (float -> int32 truncates toward zero), differentiable between floats (torch.Tensor.to). */
    to(dtype: DType): Tensor;
    /** Copies `src` (broadcast to this shape) into this tensor in place (torch.Tensor.copy_). */
    copy_(src: Tensor): Tensor;
    /** In place (no gradient recorded; refused on a tensor that requires grad outside noGrad): bump the version backward checks. */
    add_(other: Tensor | number): Tensor;
    /** this -= other in place (torch.Tensor.sub_). */
    sub_(other: Tensor | number): Tensor;
    /** this *= other in place (torch.Tensor.mul_). */
    mul_(other: Tensor | number): Tensor;
    /** this /= other in place (torch.Tensor.div_). */
    div_(other: Tensor | number): Tensor;
    /** Sets every element to `value` in place (torch.Tensor.fill_). */
    fill_(value: number): Tensor;
    /** Sets every element to 0 in place (torch.Tensor.zero_). */
    zero_(): Tensor;
    /** Zeros of this shape and dtype (torch.zeros_like). */
    zerosLike(): Tensor;
    /** Ones of this shape and dtype (torch.ones_like). */
    onesLike(): Tensor;
    /** `v` everywhere, in this shape and dtype (torch.full_like). */
    fullLike(v: number): Tensor;
  }
}

type Methods = Partial<Record<keyof Tensor, unknown>>;
const methods: Methods = {
  backward(this: Tensor, grad?: Tensor, opts?: BackwardOptions) { backward(this, grad, opts); },
  neg(this: Tensor) { return ew.neg(this); },
  exp(this: Tensor) { return ew.exp(this); },
  log(this: Tensor) { return ew.log(this); },
  log1p(this: Tensor) { return ew.log1p(this); },
  sqrt(this: Tensor) { return ew.sqrt(this); },
  abs(this: Tensor) { return ew.abs(this); },
  sign(this: Tensor) { return ew.sign(this); },
  relu(this: Tensor) { return ew.relu(this); },
  sigmoid(this: Tensor) { return ew.sigmoid(this); },
  tanh(this: Tensor) { return ew.tanh(this); },
  softplus(this: Tensor) { return ew.softplus(this); },
  reciprocal(this: Tensor) { return ew.reciprocal(this); },
  square(this: Tensor) { return ew.square(this); },
  erf(this: Tensor) { return ew.erf(this); },
  leakyRelu(this: Tensor, s?: number) { return ew.leakyRelu(this, s); },
  clamp(this: Tensor, lo?: number, hi?: number) { return ew.clamp(this, lo, hi); },
  add(this: Tensor, o: Operand) { return ew.add(this, o); },
  sub(this: Tensor, o: Operand) { return ew.sub(this, o); },
  mul(this: Tensor, o: Operand) { return ew.mul(this, o); },
  div(this: Tensor, o: Operand) { return ew.div(this, o); },
  pow(this: Tensor, o: Operand) { return ew.pow(this, o); },
  maximum(this: Tensor, o: Operand) { return ew.maximum(this, o); },
  minimum(this: Tensor, o: Operand) { return ew.minimum(this, o); },
  eq(this: Tensor, o: Operand) { return ew.eq(this, o); },
  ne(this: Tensor, o: Operand) { return ew.ne(this, o); },
  lt(this: Tensor, o: Operand) { return ew.lt(this, o); },
  le(this: Tensor, o: Operand) { return ew.le(this, o); },
  gt(this: Tensor, o: Operand) { return ew.gt(this, o); },
  ge(this: Tensor, o: Operand) { return ew.ge(this, o); },
  floorDivide(this: Tensor, o: Operand) { return ew.floorDivide(this, o); },
  remainder(this: Tensor, o: Operand) { return ew.remainder(this, o); },
  isnan(this: Tensor) { return ew.isnan(this); },
  isfinite(this: Tensor) { return ew.isfinite(this); },
  isinf(this: Tensor) { return ew.isinf(this); },
  logicalNot(this: Tensor) { return ew.logicalNot(this); },
  logicalAnd(this: Tensor, o: Tensor) { return ew.logicalAnd(this, o); },
  logicalOr(this: Tensor, o: Tensor) { return ew.logicalOr(this, o); },
  logicalXor(this: Tensor, o: Tensor) { return ew.logicalXor(this, o); },
  maskedFill(this: Tensor, m: Tensor, v: number | Tensor) { return ew.maskedFill(this, m, v); },
  gather(this: Tensor, d: number, i: Tensor) { return ix.gather(this, d, i); },
  indexSelect(this: Tensor, d: number, i: Tensor) { return ix.indexSelect(this, d, i); },
  scatterAdd(this: Tensor, d: number, i: Tensor, s: Tensor) { return ix.scatterAdd(this, d, i, s); },
  sum(this: Tensor, d?: Dims, k?: boolean) { return red.sum(this, d, k); },
  mean(this: Tensor, d?: Dims, k?: boolean) { return red.mean(this, d, k); },
  max(this: Tensor, d?: Dims, k?: boolean) { return red.max(this, d, k); },
  min(this: Tensor, d?: Dims, k?: boolean) { return red.min(this, d, k); },
  argmax(this: Tensor, d?: number, k?: boolean) { return red.argmax(this, d, k); },
  argmin(this: Tensor, d?: number, k?: boolean) { return red.argmin(this, d, k); },
  var(this: Tensor, d?: Dims, o?: { unbiased?: boolean; keepdim?: boolean }) { return red.variance(this, d, o); },
  logsumexp(this: Tensor, d?: Dims, k?: boolean) { return red.logsumexp(this, d, k); },
  softmax(this: Tensor, d: number) { return red.softmax(this, d); },
  logSoftmax(this: Tensor, d: number) { return red.logSoftmax(this, d); },
  matmul(this: Tensor, o: Tensor) { return matmul(this, o); },
  reshape(this: Tensor, s: readonly number[]) { return mv.reshape(this, s); },
  view(this: Tensor, s: readonly number[]) { return mv.view(this, s); },
  permute(this: Tensor, o: readonly number[]) { return mv.permute(this, o); },
  transpose(this: Tensor, a?: number, b?: number) { return mv.transpose(this, a, b); },
  expand(this: Tensor, s: readonly number[]) { return mv.expand(this, s); },
  broadcastTo(this: Tensor, s: readonly number[]) { return mv.expand(this, s); },
  slice(this: Tensor, d: number, s?: number, e?: number, st?: number) { return mv.slice(this, d, s, e, st); },
  narrow(this: Tensor, d: number, s: number, l: number) { return mv.narrow(this, d, s, l); },
  select(this: Tensor, d: number, i: number) { return mv.select(this, d, i); },
  squeeze(this: Tensor, d?: number) { return mv.squeeze(this, d); },
  unsqueeze(this: Tensor, d: number) { return mv.unsqueeze(this, d); },
  flatten(this: Tensor, a?: number, b?: number) { return mv.flatten(this, a, b); },
  unflatten(this: Tensor, d: number, s: readonly number[]) { return mv.unflatten(this, d, s); },
  split(this: Tensor, s: number | readonly number[], d?: number) { return mv.split(this, s, d); },
  chunk(this: Tensor, c: number, d?: number) { return mv.chunk(this, c, d); },
  contiguous(this: Tensor) { return mv.contiguous(this); },
  clone(this: Tensor) { return mv.clone(this); },
  detach(this: Tensor) { return mv.detach(this); },
  to(this: Tensor, d: DType) { return mv.to(this, d); },
  copy_(this: Tensor, s: Tensor) { return mv.copy_(this, s); },
  add_(this: Tensor, o: Operand) { return ip.add_(this, o); },
  sub_(this: Tensor, o: Operand) { return ip.sub_(this, o); },
  mul_(this: Tensor, o: Operand) { return ip.mul_(this, o); },
  div_(this: Tensor, o: Operand) { return ip.div_(this, o); },
  fill_(this: Tensor, v: number) { return ip.fill_(this, v); },
  zero_(this: Tensor) { return ip.zero_(this); },
  zerosLike(this: Tensor) { return zerosLike(this); },
  onesLike(this: Tensor) { return onesLike(this); },
  fullLike(this: Tensor, v: number) { return fullLike(this, v); },
};

for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true });
}
Object.defineProperty(Tensor.prototype, 'T', {
  get(this: Tensor) { return mv.permute(this, this.shape.map((_, i) => this.ndim - 1 - i)); },
  configurable: true,
});
