// The reference backend: every kernel in plain TypeScript over host typed arrays, for float32
// and float64. It is the oracle that the fast backends are tested against.

import type { DType, TypedArray } from '../../dtype.js';
import { allocArray } from '../../dtype.js';
import type { AdamHyper, Backend, BatchNormParams, BinaryOp, ChannelGeometry, Conv2dGeometry, Pool2dGeometry, ReduceOp, Storage, UnaryOp, View } from '../backend.js';
import { numel } from '../../shape.js';
import { HostStorage, host } from './storage.js';
import * as ew from './elementwise.js';
import * as red from './reduce.js';
import * as indexing from './indexing.js';
import { matmul } from './matmul.js';
import * as conv from './conv.js';
import * as pool from './pool.js';
import { adamUpdate } from './optim.js';
import * as composite from '../composite.js';
import * as norm from './norm.js';

export class JsBackend implements Backend {
  readonly name: string = 'js';

  fromArray(data: TypedArray): Storage { return new HostStorage(data); }
  zeros(dtype: DType, size: number): Storage { return new HostStorage(allocArray(dtype, size)); }
  readSync(s: Storage, fresh = false): TypedArray { return fresh ? host(s).slice() : host(s); }
  read(s: Storage, fresh = false): Promise<TypedArray> { return Promise.resolve(this.readSync(s, fresh)); }
  owns(s: Storage): boolean { return s instanceof HostStorage; }

  copy(x: View, dtype: DType = x.storage.dtype): Storage {
    return new HostStorage(ew.copy(x, allocArray(dtype, numel(x.shape))));
  }
  unary(op: UnaryOp, x: View, a?: number, b?: number): Storage { return new HostStorage(ew.unary(op, x, a, b)); }
  binary(op: BinaryOp, a: View, b: View): Storage { return new HostStorage(ew.binary(op, a, b)); }
  where(cond: View, a: View, b: View): Storage { return new HostStorage(ew.where(cond, a, b)); }
  assign(dst: View, src: View): void { ew.assign(dst, src); }

  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage { return new HostStorage(red.reduce(op, x, axes)); }
  argReduce(op: 'max' | 'min', x: View, axis: number): Storage { return new HostStorage(red.argReduce(op, x, axis)); }
  allFinite(xs: readonly View[]): Storage { return new HostStorage(Uint8Array.of(red.allFinite(xs) ? 1 : 0)); }

  gather(x: View, axis: number, index: View): Storage { return new HostStorage(indexing.gather(x, axis, index)); }
  scatterAdd(base: View, axis: number, index: View, src: View): Storage { return new HostStorage(indexing.scatterAdd(base, axis, index, src)); }

  matmul(a: View, b: View): Storage { return new HostStorage(matmul(a, b)); }
  linear(a: View, b: View, bias: Storage | null, bn: BatchNormParams | null): Storage { return composite.linear(this, a, b, bias, bn); }

  conv2d(x: Storage, w: Storage, g: Conv2dGeometry): Storage { return new HostStorage(conv.conv2d(host(x), host(w), g)); }
  conv2dBackwardData(dy: Storage, w: Storage, g: Conv2dGeometry): Storage { return new HostStorage(conv.conv2dBackwardData(host(dy), host(w), g)); }
  conv2dBackwardFilter(x: Storage, dy: Storage, g: Conv2dGeometry): Storage { return new HostStorage(conv.conv2dBackwardFilter(host(x), host(dy), g)); }
  conv2dBias(x: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage {
    return new HostStorage(conv.addChannelBias(host(this.conv2d(x, w, g)), host(bias), g.n, g.o, g.oh * g.ow));
  }
  conv2dBackwardDataBias(dy: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage {
    return new HostStorage(conv.addChannelBias(host(this.conv2dBackwardData(dy, w, g)), host(bias), g.n, g.c, g.h * g.w));
  }

  maxPool2d(x: Storage, g: Pool2dGeometry): { out: Storage; indices: Storage } {
    const r = pool.maxPool2d(host(x), g);
    return { out: new HostStorage(r.out), indices: new HostStorage(r.indices) };
  }
  maxPool2dValues(x: Storage, g: Pool2dGeometry): Storage { return composite.maxPool2dValues(this, x, g); }
  maxPool2dBackward(dy: Storage, indices: Storage, g: Pool2dGeometry): Storage { return new HostStorage(pool.maxPool2dBackward(host(dy), host(indices), g)); }
  avgPool2d(x: Storage, g: Pool2dGeometry): Storage { return new HostStorage(pool.avgPool2d(host(x), g)); }
  avgPool2dBackward(dy: Storage, g: Pool2dGeometry): Storage { return new HostStorage(pool.avgPool2dBackward(host(dy), g)); }

  batchNormStats(x: Storage, g: ChannelGeometry): { mean: Storage; variance: Storage } {
    const r = norm.batchNormStats(host(x), g);
    return { mean: new HostStorage(r.mean), variance: new HostStorage(r.variance) };
  }
  batchNormForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
    return new HostStorage(norm.batchNormForward(host(x), host(mean), host(invstd), host(weight), host(bias), g));
  }
  batchNormBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
    const r = norm.batchNormBackward(host(dy), host(x), host(mean), host(invstd), host(weight), g, batchStats);
    return { dx: new HostStorage(r.dx), dweight: new HostStorage(r.dweight), dbias: new HostStorage(r.dbias) };
  }

  // The fused kernels, as the compositions they stand for (the reference for faster backends).
  batchNormReluForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
    return composite.batchNormRelu(this, x, mean, invstd, weight, bias, g);
  }
  batchNormReluBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
    return composite.batchNormReluBackward(this, dy, x, mean, invstd, weight, bias, g, batchStats);
  }
  conv2dBnRelu(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry, pool: Pool2dGeometry | null): Storage {
    return composite.conv2dBnRelu(this, x, w, bias, bn, g, pool);
  }
  convTranspose2dBnRelu(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry): Storage {
    return composite.convTranspose2dBnRelu(this, x, w, bias, bn, g);
  }

  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): void {
    adamUpdate(host(param), host(grad), host(m), host(v), h);
  }
}
