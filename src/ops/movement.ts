// Movement ops: views that share storage (reshape, permute, expand, slice, ...), and the
// copying ones (contiguous, clone, cast, cat). A view's gradient undoes the view.

import { OpFunction } from '../autograd/function.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import type { DType } from '../dtype.js';
import { checkDType, isFloat, promoteTypes } from '../dtype.js';
import type { Shape } from '../shape.js';
import { broadcastStrides, broadcastsTo, fmtShape, inferShape, mayOverlap, normDim, shapeEq, viewStrides } from '../shape.js';
import { Tensor } from '../tensor.js';
import { zeros } from '../creation.js';
import { backend, cast, checkTensor, fromStorage, viewAs } from './kernel.js';
import { sumTo } from './reduce.js';

function viewOf(x: Tensor, shape: Shape, strides: readonly number[], offset = x.offset): Tensor {
  return new Tensor(x.storage, [...shape], [...strides], offset);
}

class Reshape extends OpFunction {
  inShape!: Shape;
  forward(x: Tensor, shape: number[]): Tensor {
    this.inShape = x.shape;
    const strides = viewStrides(x.shape, x.strides, shape);
    return strides ? viewOf(x, shape, strides) : fromStorage(backend().copy(x.stridedView), shape);
  }
  backward(g: Tensor): Tensor[] {
    return [g.reshape(this.inShape)];
  }
}

/** Same data, new shape: a view when the strides allow, otherwise a copy. One dim may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = inferShape('reshape', shape, checkTensor('reshape', x).numel, x.shape);
  return shapeEq(s, x.shape) ? x : Reshape.apply(x, s);
}

/** Like reshape, but never copies: throws when the strides do not allow a view. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  const s = inferShape('view', shape, checkTensor('view', x).numel, x.shape);
  if (!viewStrides(x.shape, x.strides, s)) {
    throw new Error(`view: shape ${fmtShape(s)} is not compatible with the strides of input ${fmtShape(x.shape)}; use reshape() or contiguous() first`);
  }
  return reshape(x, s);
}

class Permute extends OpFunction {
  order!: number[];
  forward(x: Tensor, order: number[]): Tensor {
    this.order = order;
    return viewOf(x, order.map((d) => x.shape[d]!), order.map((d) => x.strides[d]!));
  }
  backward(g: Tensor): Tensor[] {
    const inv = new Array<number>(this.order.length);
    this.order.forEach((d, i) => (inv[d] = i));
    return [g.permute(inv)];
  }
}

/** A view with the dims in `order` (torch.permute). */
export function permute(x: Tensor, order: readonly number[]): Tensor {
  checkTensor('permute', x);
  const o = order.map((d) => normDim('permute', d, x.ndim));
  if (o.length !== x.ndim || new Set(o).size !== o.length) {
    throw new Error(`permute: [${order.join(', ')}] is not a permutation of the ${x.ndim} dims of ${fmtShape(x.shape)}`);
  }
  return Permute.apply(x, o);
}

/** A view with two dims swapped, the last two by default (torch.transpose). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normDim('transpose', dim0, checkTensor('transpose', x).ndim);
  const b = normDim('transpose', dim1, x.ndim);
  const order = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, order);
}

class Expand extends OpFunction {
  inShape!: Shape;
  forward(x: Tensor, shape: number[]): Tensor {
    this.inShape = x.shape;
    return viewOf(x, shape, broadcastStrides(x.shape, x.strides, shape));
  }
  backward(g: Tensor): Tensor[] {
    return [sumTo(g, this.inShape)];
  }
}

/** Broadcast size-1 dims (and new leading dims) to `shape` without copying; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', x);
  const lead = shape.length - x.ndim;
  if (lead < 0) throw new Error(`expand: target ${fmtShape(shape)} has fewer dims than input ${fmtShape(x.shape)}`);
  const s = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d));
  s.forEach((d, i) => {
    const src = i >= lead ? x.shape[i - lead]! : 1;
    if (!Number.isInteger(d) || d < 0 || (src !== 1 && src !== d)) {
      throw new Error(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)} (dim ${i}: ${src} -> ${d})`);
    }
  });
  return shapeEq(s, x.shape) ? x : Expand.apply(x, s);
}

/** A view broadcast to `shape` (torch.broadcast_to; the same as expand). */
export const broadcastTo = expand;

class Slice extends OpFunction {
  inShape!: Shape;
  args!: [number, number, number, number];
  forward(x: Tensor, dim: number, start: number, end: number, step: number): Tensor {
    this.inShape = x.shape;
    this.args = [dim, start, end, step];
    const shape = [...x.shape];
    const strides = [...x.strides];
    shape[dim] = Math.max(0, Math.ceil((end - start) / step));
    strides[dim] = x.strides[dim]! * step;
    return viewOf(x, shape, strides, x.offset + start * x.strides[dim]!);
  }
  backward(g: Tensor): Tensor[] {
    return [SliceBackward.apply(g, this.inShape, ...this.args)];
  }
}

/** Scatter a slice's gradient into zeros of the input's shape; its own gradient is the slice. */
class SliceBackward extends OpFunction {
  args!: [number, number, number, number];
  forward(g: Tensor, inShape: Shape, dim: number, start: number, end: number, step: number): Tensor {
    this.args = [dim, start, end, step];
    const out = zeros(inShape, { dtype: g.dtype });
    const window = Slice.apply(out, dim, start, end, step);
    backend().assign(window.stridedView, g.stridedView);
    return out;
  }
  backward(gg: Tensor): Tensor[] {
    return [Slice.apply(gg, ...this.args)];
  }
}

/** Elements start, start + step, ... below end along dim (negative start/end count from the end). */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  const d = normDim('slice', dim, checkTensor('slice', x).ndim);
  const n = x.shape[d]!;
  if (!Number.isInteger(step) || step <= 0) throw new Error(`slice: step must be a positive integer, got ${step}`);
  const clampIdx = (i: number): number => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = clampIdx(start);
  const e = Math.max(clampIdx(end ?? n), s);
  if (s === 0 && e === n && step === 1) return x;
  return Slice.apply(x, d, s, e, step);
}

/** A view of `length` entries from `start` along `dim` (torch.narrow). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim('narrow', dim, checkTensor('narrow', x).ndim);
  const s = start < 0 ? start + x.shape[d]! : start;
  if (s < 0 || length < 0 || s + length > x.shape[d]!) {
    throw new Error(`narrow: start ${start}, length ${length} out of range for dim ${dim} of size ${x.shape[d]}`);
  }
  return slice(x, d, s, s + length);
}

/** The index-th entry along dim, with that dim removed. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim('select', dim, checkTensor('select', x).ndim);
  const i = index < 0 ? index + x.shape[d]! : index;
  if (i < 0 || i >= x.shape[d]!) throw new Error(`select: index ${index} out of range for dim ${dim} of size ${x.shape[d]}`);
  return squeeze(narrow(x, d, i, 1), d);
}

/** A view without size-1 dims, or without `dim` when it has size 1 (torch.squeeze). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  checkTensor('squeeze', x);
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normDim('squeeze', dim, x.ndim);
  return x.shape[d] === 1 ? reshape(x, x.shape.filter((_, i) => i !== d)) : x;
}

/** A view with a size-1 dim inserted at `dim` (torch.unsqueeze). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim('unsqueeze', dim, checkTensor('unsqueeze', x).ndim + 1);
  const s = [...x.shape];
  s.splice(d, 0, 1);
  return reshape(x, s);
}

/** Dims startDim..endDim merged into one (torch.flatten). */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor('flatten', x);
  if (x.ndim === 0) return reshape(x, [1]);
  const a = normDim('flatten', startDim, x.ndim);
  const b = normDim('flatten', endDim, x.ndim);
  if (a > b) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  return reshape(x, [...x.shape.slice(0, a), -1, ...x.shape.slice(b + 1)]);
}

/** Dim `dim` split into `sizes`, one of which may be -1 (torch.unflatten). */
export function unflatten(x: Tensor, dim: number, sizes: readonly number[]): Tensor {
  const d = normDim('unflatten', dim, checkTensor('unflatten', x).ndim);
  const inner = inferShape('unflatten', sizes, x.shape[d]!, [x.shape[d]!]);
  return reshape(x, [...x.shape.slice(0, d), ...inner, ...x.shape.slice(d + 1)]);
}

class Copy extends OpFunction {
  from!: DType;
  forward(x: Tensor, dtype: DType): Tensor {
    this.from = x.dtype;
    return fromStorage(backend().copy(x.stridedView, dtype), x.shape);
  }
  backward(g: Tensor): Tensor[] {
    return [g.dtype === this.from ? g : g.to(this.from)];
  }
}

/** x itself when it is dense (row-major from offset 0 of a storage of exactly its size), else a copy. */
export function contiguous(x: Tensor): Tensor {
  // Kernels (conv, pool) read `.contiguous().storage` from index 0, so a row-major view at an
  // offset (a narrow, a strided slice of size-1 dims) must be copied too.
  const dense = checkTensor('contiguous', x).isContiguous() && x.offset === 0 && x.storage.size === x.numel;
  return dense ? x : Copy.apply(x, x.dtype);
}

/** A copy with its own storage (gradients flow through it). */
export function clone(x: Tensor): Tensor {
  return Copy.apply(checkTensor('clone', x), x.dtype);
}

/** Cast to another dtype (a no-op when it already has it); to bool is value !== 0, to int32 truncates toward zero. */
export function to(x: Tensor, dtype: DType): Tensor {
  checkDType('to', dtype);
  if (checkTensor('to', x).dtype === dtype) return x;
  if (!isFloat(dtype)) return fromStorage(backend().copy(x.stridedView, dtype), x.shape); // no gradient
  return Copy.apply(x, dtype);
}

/** The same data with no gradient history. */
export function detach(x: Tensor): Tensor {
  return new Tensor(checkTensor('detach', x).storage, x.shape, x.strides, x.offset);
}

class Cat extends OpFunction {
  dim!: number;
  sizes!: number[];
  forward(dim: number, ...xs: Tensor[]): Tensor {
    this.dim = dim;
    this.sizes = xs.map((x) => x.shape[dim]!);
    const shape = [...xs[0]!.shape];
    shape[dim] = this.sizes.reduce((a, b) => a + b, 0);
    const out = zeros(shape, { dtype: xs[0]!.dtype });
    let at = 0;
    for (const x of xs) {
      backend().assign(narrow(out, dim, at, x.shape[dim]!).stridedView, x.stridedView);
      at += x.shape[dim]!;
    }
    return out;
  }
  backward(g: Tensor): (Tensor | null)[] {
    let at = 0;
    return this.sizes.map((n, i) => {
      const gi = this.needsGrad[i] ? narrow(g, this.dim, at, n) : null;
      at += n;
      return gi;
    });
  }
}

/**
 * The tensors joined along `dim` (torch.cat): every other dim must match; mixed dtypes promote
 * as in torch.cat (int32 and float32 give float32), and gradients flow back in each input's dtype.
 */
export function cat(xs: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('cat: expected a non-empty array of tensors');
  xs.forEach((x, i) => checkTensor('cat', x, `tensor ${i}`));
  const first = xs[0]!;
  const d = normDim('cat', dim, first.ndim);
  const dtype = xs.map((x) => x.dtype).reduce(promoteTypes);
  for (const [i, x] of xs.entries()) {
    if (x.ndim !== first.ndim || x.shape.some((s: number, j: number) => j !== d && s !== first.shape[j])) {
      throw new Error(`cat: tensor ${i} has shape ${fmtShape(x.shape)}, incompatible with ${fmtShape(first.shape)} along dim ${d}`);
    }
  }
  return Cat.apply(d, ...xs.map((x) => cast(x, dtype)));
}

/** The tensors (of one shape) joined along a new dim (torch.stack). */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('stack: expected a non-empty array of tensors');
  const d = normDim('stack', dim, checkTensor('stack', xs[0]).ndim + 1);
  xs.forEach((x, i) => {
    if (!shapeEq(x.shape, xs[0]!.shape)) throw new Error(`stack: tensor ${i} has shape ${fmtShape(x.shape)}, tensor 0 has ${fmtShape(xs[0]!.shape)}`);
  });
  return cat(xs.map((x) => unsqueeze(x, d)), d);
}

/** Pieces of `size` along dim (the last may be smaller), or of the given sizes. */
export function split(x: Tensor, size: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim('split', dim, checkTensor('split', x).ndim);
  const n = x.shape[d]!;
  let sizes: number[];
  if (typeof size === 'number') {
    if (!Number.isInteger(size) || size <= 0) throw new Error(`split: size must be a positive integer, got ${size}`);
    sizes = Array.from({ length: Math.max(1, Math.ceil(n / size)) }, (_, i) => Math.min(size, n - i * size));
  } else {
    sizes = [...size];
    if (sizes.reduce((a, b) => a + b, 0) !== n) throw new Error(`split: sizes [${sizes.join(', ')}] do not add up to dim ${dim} of size ${n}`);
  }
  let at = 0;
  return sizes.map((s) => {
    const piece = narrow(x, d, at, s);
    at += s;
    return piece;
  });
}

/** At most `chunks` views of equal size (the last smaller) along `dim` (torch.chunk). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new Error(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normDim('chunk', dim, checkTensor('chunk', x).ndim);
  return split(x, Math.max(1, Math.ceil(x.shape[d]! / chunks)), d);
}

/**
 * Copy src (broadcast to this shape) into x's storage, in place; PyTorch's copy_. Every in-place
 * op writes through here, so this is where the version counter that backward checks is bumped.
 */
export function copy_(x: Tensor, src: Tensor): Tensor {
  checkTensor('copy_', x);
  checkTensor('copy_', src, 'source');
  if (isGradEnabled() && x.requiresGrad) throw new Error('copy_: a tensor that requires grad cannot be modified in place; wrap the update in noGrad()');
  if (!broadcastsTo(src.shape, x.shape)) {
    throw new Error(`copy_: source of shape ${fmtShape(src.shape)} cannot be broadcast to the destination's shape ${fmtShape(x.shape)}`);
  }
  if (mayOverlap(x.shape, x.strides)) {
    throw new Error(
      `copy_: the destination (shape ${fmtShape(x.shape)}, strides [${x.strides.join(', ')}]) has elements that share memory (an expanded view?), ` +
        'so the result would depend on the write order; copy into a contiguous() or clone() of it instead',
    );
  }
  let s = src.dtype === x.dtype ? src : to(src, x.dtype);
  // A source that shares the destination's storage would be read while it is written: read a copy.
  if (s.storage === x.storage && !(s.offset === x.offset && shapeEq(s.shape, x.shape) && shapeEq(s.strides, x.strides))) {
    s = fromStorage(backend().copy(s.stridedView), s.shape);
  }
  backend().assign(x.stridedView, viewAs(s, x.shape));
  x._bumpVersion();
  return x;
}
