// The optional fused kernels of the Backend contract, written as the compositions of required
// kernels they stand for. The js reference backend offers these as its fused kernels; a faster
// backend falls back to them (running its own kernels) where its fused version does not apply.
// The intermediates never leave these functions, so they are released as soon as they are used
// (Backend.release: the wasm backend's blocks; a no-op where the garbage collector frees storage).

import type { Backend, BatchNormParams, ChannelGeometry, Conv2dGeometry, Pool2dGeometry, Storage, View } from './backend.js';

/** The whole of a storage as a 1-d view. */
export const flat = (s: Storage): View => ({ storage: s, shape: [s.size], strides: [1], offset: 0 });

/** `result`, after releasing the intermediates it was made from. */
function done<T>(b: Backend, result: T, ...intermediates: Storage[]): T {
  for (const s of intermediates) b.release?.(s);
  return result;
}

/** relu(batchNormForward(x, ...)). */
export function batchNormRelu(b: Backend, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
  const y = b.batchNormForward(x, mean, invstd, weight, bias, g);
  return done(b, b.unary('relu', flat(y)), y);
}

/** batchNormBackward(mulStep(dy, y), x, ...) with y the forward's pre-ReLU output, recomputed. */
export function batchNormReluBackward(b: Backend, dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
  const y = b.batchNormForward(x, mean, invstd, weight, bias, g); // relu(y) > 0 exactly where y > 0
  const dyr = b.binary('mulStep', flat(dy), flat(y));
  return done(b, b.batchNormBackward(dyr, x, mean, invstd, weight, g, batchStats), y, dyr);
}

/** A Linear layer's forward: matmul, + bias on every row, [relu(batchNormForward) over the columns]; a: [m, k], b: [k, n]. */
export function linear(b: Backend, a: View, w: View, bias: Storage | null, bn: BatchNormParams | null): Storage {
  const [m, n] = [a.shape[0]!, w.shape[1]!];
  const y = b.matmul({ ...a, shape: [1, ...a.shape], strides: [0, ...a.strides] }, { ...w, shape: [1, ...w.shape], strides: [0, ...w.strides] });
  const rows = (s: Storage, strides: number[]): View => ({ storage: s, shape: [m, n], strides, offset: 0 });
  const z = bias ? done(b, b.binary('add', rows(y, [n, 1]), rows(bias, [0, 1])), y) : y;
  if (!bn) return z;
  const g = { n: m, c: n, s: 1 };
  return done(b, b.batchNormReluForward ? b.batchNormReluForward(z, bn.mean, bn.invstd, bn.weight, bn.bias, g) : batchNormRelu(b, z, bn.mean, bn.invstd, bn.weight, bn.bias, g), z);
}

/** maxPool2d's values alone. */
export function maxPool2dValues(b: Backend, x: Storage, g: Pool2dGeometry): Storage {
  return b.maxPool2d(x, g).out;
}

/** A backend with the fused pieces the compositions below are made of. */
export type ComposingBackend = Backend & Required<Pick<Backend, 'conv2dBias' | 'conv2dBackwardDataBias' | 'batchNormReluForward' | 'maxPool2dValues'>>;

/** Eval-mode Conv2d -> BatchNorm -> ReLU [-> MaxPool2d]. */
export function conv2dBnRelu(b: ComposingBackend, x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry, pool: Pool2dGeometry | null): Storage {
  const y = bias ? b.conv2dBias(x, w, bias, g) : b.conv2d(x, w, g);
  const z = b.batchNormReluForward(y, bn.mean, bn.invstd, bn.weight, bn.bias, { n: g.n, c: g.o, s: g.oh * g.ow });
  return pool ? done(b, b.maxPool2dValues(z, pool), y, z) : done(b, z, y);
}

/** Eval-mode ConvTranspose2d -> BatchNorm -> ReLU. */
export function convTranspose2dBnRelu(b: ComposingBackend, x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry): Storage {
  const y = bias ? b.conv2dBackwardDataBias(x, w, bias, g) : b.conv2dBackwardData(x, w, g);
  return done(b, b.batchNormReluForward(y, bn.mean, bn.invstd, bn.weight, bn.bias, { n: g.n, c: g.c, s: g.h * g.w }), y);
}

/** maxPool2d(relu(batchNormForward(x, ...)), pool). */
export function batchNormReluMaxPool(b: ComposingBackend, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry): { out: Storage; indices: Storage } {
  const z = b.batchNormReluForward(x, mean, invstd, weight, bias, g);
  return done(b, b.maxPool2d(z, pool), z);
}

/** batchNormReluBackward(maxPool2dBackward(dy, indices, pool), x, ...). */
export function batchNormReluMaxPoolBackward(b: ComposingBackend & Required<Pick<Backend, 'batchNormReluBackward'>>, dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, pool: Pool2dGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
  const dz = b.maxPool2dBackward(dy, indices, pool);
  return done(b, b.batchNormReluBackward(dz, x, mean, invstd, weight, bias, g, batchStats), dz);
}
