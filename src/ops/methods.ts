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
    backward(grad?: Tensor, opts?: BackwardOptions): void;
    neg(): Tensor; exp(): Tensor; log(): Tensor; log1p(): Tensor; sqrt(): Tensor; abs(): Tensor; sign(): Tensor;
    relu(): Tensor; sigmoid(): Tensor; tanh(): Tensor; softplus(): Tensor; reciprocal(): Tensor; square(): Tensor; erf(): Tensor;
    leakyRelu(negativeSlope?: number): Tensor;
    clamp(min?: number, max?: number): Tensor;
    add(o: Operand): Tensor; sub(o: Operand): Tensor; mul(o: Operand): Tensor; div(o: Operand): Tensor; pow(o: Operand): Tensor;
    maximum(o: Operand): Tensor; minimum(o: Operand): Tensor;
    eq(o: Operand): Tensor; ne(o: Operand): Tensor; lt(o: Operand): Tensor; le(o: Operand): Tensor; gt(o: Operand): Tensor; ge(o: Operand): Tensor;
    floorDivide(o: Operand): Tensor; remainder(o: Operand): Tensor;
    isnan(): Tensor; isfinite(): Tensor; isinf(): Tensor;
    logicalNot(): Tensor; logicalAnd(o: Tensor): Tensor; logicalOr(o: Tensor): Tensor; logicalXor(o: Tensor): Tensor;
    maskedFill(mask: Tensor, value: number | Tensor): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    indexSelect(dim: number, index: Tensor): Tensor;
    scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor;
    sum(dims?: Dims, keepdim?: boolean): Tensor;
    mean(dims?: Dims, keepdim?: boolean): Tensor;
    max(dims?: Dims, keepdim?: boolean): Tensor;
    min(dims?: Dims, keepdim?: boolean): Tensor;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    argmin(dim?: number, keepdim?: boolean): Tensor;
    var(dims?: Dims, opts?: { unbiased?: boolean; keepdim?: boolean }): Tensor;
    logsumexp(dims?: Dims, keepdim?: boolean): Tensor;
    softmax(dim: number): Tensor;
    logSoftmax(dim: number): Tensor;
    matmul(o: Tensor): Tensor;
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    permute(order: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    readonly T: Tensor;
    expand(shape: readonly number[]): Tensor;
    broadcastTo(shape: readonly number[]): Tensor;
    slice(dim: number, start?: number, end?: number, step?: number): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    select(dim: number, index: number): Tensor;
    squeeze(dim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    unflatten(dim: number, sizes: readonly number[]): Tensor;
    split(size: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    contiguous(): Tensor;
    clone(): Tensor;
    detach(): Tensor;
    to(dtype: DType): Tensor;
    copy_(src: Tensor): Tensor;
    /** In place (no gradient recorded; refused on a tensor that requires grad outside noGrad): bump the version backward checks. */
    add_(other: Tensor | number): Tensor; sub_(other: Tensor | number): Tensor;
    mul_(other: Tensor | number): Tensor; div_(other: Tensor | number): Tensor;
    fill_(value: number): Tensor; zero_(): Tensor;
    zerosLike(): Tensor; onesLike(): Tensor; fullLike(v: number): Tensor;
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
