// 2-D max and average pooling (NCHW). Max pooling keeps the argmax indices for its backward.

import type { Pool2dGeometry } from '../backend/backend.js';
import { OpFunction } from '../autograd/function.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { Pair } from './conv.js';
import { pair } from './conv.js';
import { backend, checkFloat, checkTensor, fromStorage } from './kernel.js';
import { tensor } from '../creation.js';

/** Options of the 2-D pools (torch's stride, padding). */
export interface Pool2dOptions {
  /** Step of the window (default: the kernel size). */
  stride?: Pair;
  /** Implicit padding on each side (default 0). */
  padding?: Pair;
}
/** Options of F.avgPool2d: the pool's, plus countIncludePad. */
export interface AvgPool2dOptions extends Pool2dOptions {
  /** Count padded zeros in each window's average (default true, as PyTorch). */
  countIncludePad?: boolean;
}

function geometry(op: string, x: Tensor, kernelSize: Pair, opts: AvgPool2dOptions): Pool2dGeometry {
  checkTensor(op, x);
  checkFloat(op, x);
  return pool2dGeometry(op, x.shape, kernelSize, opts);
}

/** The geometry of 2-D pooling over an input of this shape (checked). */
export function pool2dGeometry(op: string, shape: readonly number[], kernelSize: Pair, opts: AvgPool2dOptions): Pool2dGeometry {
  if (shape.length !== 4) throw new Error(`${op}: expected 4-D input [N, C, H, W], got ${fmtShape(shape)}`);
  const [kh, kw] = pair(op, 'kernelSize', kernelSize, 1, 1);
  const [strideH, strideW] = pair(op, 'stride', opts.stride ?? [kh, kw], 1, 1);
  const [padH, padW] = pair(op, 'padding', opts.padding, 0);
  if (2 * padH > kh || 2 * padW > kw) throw new Error(`${op}: padding (${padH}, ${padW}) must be at most half the kernel (${kh}, ${kw})`);
  const [n, c, h, w] = shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * padH - kh) / strideH) + 1;
  const ow = Math.floor((w + 2 * padW - kw) / strideW) + 1;
  if (oh < 1 || ow < 1) throw new Error(`${op}: input ${fmtShape(shape)} is smaller than the kernel (${kh}, ${kw})`);
  return { n, c, h, w, oh, ow, kh, kw, strideH, strideW, padH, padW, countIncludePad: opts.countIncludePad ?? true };
}

class MaxPool2dFn extends OpFunction {
  indices!: Tensor;
  g!: Pool2dGeometry;
  forward(x: Tensor, g: Pool2dGeometry): Tensor {
    this.g = g;
    const { out, indices } = backend().maxPool2d(x.contiguous().storage, g);
    this.indices = fromStorage(indices, [g.n, g.c, g.oh, g.ow]);
    return fromStorage(out, [g.n, g.c, g.oh, g.ow]);
  }
  override internalTensors(): Tensor[] {
    return [this.indices];
  }
  backward(dy: Tensor): Tensor[] {
    const g = this.g;
    return [fromStorage(backend().maxPool2dBackward(dy.contiguous().storage, this.indices.storage, g), [g.n, g.c, g.h, g.w])];
  }
}

class AvgPool2dFn extends OpFunction {
  g!: Pool2dGeometry;
  forward(x: Tensor, g: Pool2dGeometry): Tensor {
    this.g = g;
    return fromStorage(backend().avgPool2d(x.contiguous().storage, g), [g.n, g.c, g.oh, g.ow]);
  }
  backward(dy: Tensor): Tensor[] {
    const g = this.g;
    return [fromStorage(backend().avgPool2dBackward(dy.contiguous().storage, g), [g.n, g.c, g.h, g.w])];
  }
}

/** PyTorch's F.max_pool2d (stride defaults to the kernel size). */
export function maxPool2d(x: Tensor, kernelSize: Pair, opts: Pool2dOptions = {}): Tensor {
  const g = geometry('maxPool2d', x, kernelSize, opts);
  const b = backend();
  // No gradient wanted (noGrad, inference): the values alone, without computing the indices.
  if (b.maxPool2dValues && !(isGradEnabled() && x.requiresGrad)) return fromStorage(b.maxPool2dValues(x.contiguous().storage, g), [g.n, g.c, g.oh, g.ow]);
  return MaxPool2dFn.apply(x, g);
}

/** PyTorch's F.avg_pool2d (stride defaults to the kernel size; padding counted unless told otherwise). */
export function avgPool2d(x: Tensor, kernelSize: Pair, opts: AvgPool2dOptions = {}): Tensor {
  return AvgPool2dFn.apply(x, geometry('avgPool2d', x, kernelSize, opts));
}

/** [out, size] averaging weights: row i averages PyTorch's adaptive window floor(i*size/out) .. ceil((i+1)*size/out). */
function adaptiveWeights(size: number, out: number, dtype: Tensor['dtype']): Tensor {
  const w = new Float64Array(out * size);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    for (let j = start; j < end; j++) w[i * size + j] = 1 / (end - start);
  }
  return tensor(w, { shape: [out, size], dtype });
}

/**
 * Average pooling to a fixed output size [oh, ow] (null keeps that dim), over 4-D [N, C, H, W] or
 * 3-D [C, H, W] input, in windows of PyTorch's adaptive sizes (two matmuls with averaging matrices).
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly (number | null)[]): Tensor {
  checkFloat('adaptiveAvgPool2d', checkTensor('adaptiveAvgPool2d', x));
  if (x.ndim !== 3 && x.ndim !== 4) throw new Error(`adaptiveAvgPool2d: expected 3-D [C, H, W] or 4-D [N, C, H, W] input, got ${fmtShape(x.shape)}`);
  const sizes = typeof outputSize === 'number' ? [outputSize, outputSize] : [...outputSize];
  const [h, w] = x.shape.slice(-2) as [number, number];
  if (sizes.length !== 2) throw new Error(`adaptiveAvgPool2d: outputSize must be a number or [oh, ow], got ${JSON.stringify(outputSize)}`);
  const [oh, ow] = [sizes[0] ?? h, sizes[1] ?? w];
  if (![oh, ow].every((s) => Number.isInteger(s) && s >= 1)) throw new Error(`adaptiveAvgPool2d: output size must be positive integers, got ${JSON.stringify(outputSize)}`);
  if (h === 0 || w === 0) throw new Error(`adaptiveAvgPool2d: input ${fmtShape(x.shape)} has an empty spatial dim`);
  return adaptiveWeights(h, oh, x.dtype).matmul(x.matmul(adaptiveWeights(w, ow, x.dtype).transpose(0, 1)));
}
