// Indexing along one dim with an int32 index tensor: gather, indexSelect and scatterAdd (PyTorch's
// gather, index_select and scatter_add). gather and scatterAdd are the primitives, each other's
// gradient; indexSelect is a gather through an index broadcast along the other dims.

import { OpFunction } from '../autograd/function.js';
import { zeros } from '../creation.js';
import type { Shape } from '../shape.js';
import { fmtShape, normDim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backend, checkTensor, fromStorage } from './kernel.js';
import { cat } from './movement.js';

class Gather extends OpFunction {
  inShape!: Shape;
  dim!: number;
  index!: Tensor;
  forward(x: Tensor, dim: number, index: Tensor): Tensor {
    Object.assign(this, { inShape: x.shape, dim, index });
    const xv = { ...x.stridedView, shape: index.shape };
    return fromStorage(backend().gather(xv, dim, index.stridedView), index.shape);
  }
  backward(g: Tensor): (Tensor | null)[] {
    return [ScatterAdd.apply(zeros(this.inShape, { dtype: g.dtype }), this.dim, this.index, g), null];
  }
}

class ScatterAdd extends OpFunction {
  dim!: number;
  index!: Tensor;
  srcShape!: Shape;
  forward(base: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
    Object.assign(this, { dim, index, srcShape: src.shape });
    const sv = { ...src.stridedView, shape: index.shape };
    return fromStorage(backend().scatterAdd(base.stridedView, dim, index.stridedView, sv), base.shape);
  }
  backward(g: Tensor): (Tensor | null)[] {
    // src positions beyond index's shape are never read: their gradient is zero
    const gs = this.needsGrad[2] ? padTo(Gather.apply(g, this.dim, this.index), this.srcShape) : null;
    return [this.needsGrad[0] ? g : null, null, gs];
  }
}

/** t padded with zeros at the end of each dim up to `shape` (differentiable: built by cat). */
function padTo(t: Tensor, shape: Shape): Tensor {
  let out = t;
  shape.forEach((n, d) => {
    const have = out.shape[d]!;
    if (have < n) {
      const padShape = out.shape.map((s, k) => (k === d ? n - have : s));
      out = cat([out, zeros(padShape, { dtype: t.dtype })], d);
    }
  });
  return out;
}

/** Check that index is int32 and every value lies in [0, size); the error names the first offender. */
function checkIndexValues(op: string, index: Tensor, size: number, dim: number, inShape: Shape): void {
  if (index.numel === 0) return;
  const lo = index.min().item();
  const hi = index.max().item();
  const bad = lo < 0 ? lo : hi >= size ? hi : null;
  if (bad !== null) throw new Error(`${op}: index ${bad} is out of range for dim ${dim} of size ${size} (input shape ${fmtShape(inShape)})`);
}

function checkIndexTensor(op: string, index: unknown): Tensor {
  const t = checkTensor(op, index, 'index');
  if (t.dtype !== 'int32') throw new Error(`${op}: index must be an int32 tensor, got ${t.dtype} ${fmtShape(t.shape)}; cast it with .to('int32')`);
  return t;
}

/** Gather along dim: out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (out has index's shape). */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor('gather', x);
  const idx = checkIndexTensor('gather', index);
  const d = normDim('gather', dim, Math.max(x.ndim, 1));
  if (idx.ndim !== x.ndim) throw new Error(`gather: index has ${idx.ndim} dims ${fmtShape(idx.shape)} but input has ${x.ndim} ${fmtShape(x.shape)}`);
  idx.shape.forEach((n, k) => {
    if (k !== d && n > x.shape[k]!) throw new Error(`gather: index shape ${fmtShape(idx.shape)} is larger than input shape ${fmtShape(x.shape)} in dim ${k} (only dim ${d} may differ)`);
  });
  if (x.ndim === 0) return x.reshape([1]).gather(0, idx.reshape([1])).reshape([]);
  checkIndexValues('gather', idx, x.shape[d]!, d, x.shape);
  return Gather.apply(x, d, idx);
}

/** The slices of x at the given positions along dim (index: 1-d int32); PyTorch's index_select. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor('indexSelect', x);
  const idx = checkIndexTensor('indexSelect', index);
  if (idx.ndim > 1) throw new Error(`indexSelect: index must be 1-d, got shape ${fmtShape(idx.shape)}`);
  if (x.ndim === 0) throw new Error('indexSelect: input must have at least one dim, got a 0-d tensor');
  const d = normDim('indexSelect', dim, x.ndim);
  checkIndexValues('indexSelect', idx, x.shape[d]!, d, x.shape);
  const k = idx.numel;
  const outShape = x.shape.map((n, i) => (i === d ? k : n));
  const spread = idx.reshape(x.shape.map((_, i) => (i === d ? k : 1))).expand(outShape);
  return Gather.apply(x, d, spread);
}

/** A copy of x with src[i][j][k] added at x[index[i][j][k]][j][k] for dim 0; PyTorch's scatter_add (out of place). */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  checkTensor('scatterAdd', x);
  checkTensor('scatterAdd', src, 'src');
  const idx = checkIndexTensor('scatterAdd', index);
  if (src.dtype !== x.dtype) throw new Error(`scatterAdd: src has dtype ${src.dtype} but input has ${x.dtype}`);
  if (x.dtype === 'bool') throw new Error('scatterAdd: bool tensors cannot be added; cast to int32 or float32');
  const d = normDim('scatterAdd', dim, Math.max(x.ndim, 1));
  if (idx.ndim !== x.ndim || src.ndim !== x.ndim) {
    throw new Error(`scatterAdd: input ${fmtShape(x.shape)}, index ${fmtShape(idx.shape)} and src ${fmtShape(src.shape)} must have the same number of dims`);
  }
  idx.shape.forEach((n, k) => {
    if (n > src.shape[k]!) throw new Error(`scatterAdd: index shape ${fmtShape(idx.shape)} is larger than src shape ${fmtShape(src.shape)} in dim ${k}`);
    if (k !== d && n > x.shape[k]!) throw new Error(`scatterAdd: index shape ${fmtShape(idx.shape)} is larger than input shape ${fmtShape(x.shape)} in dim ${k} (only dim ${d} may differ)`);
  });
  if (x.ndim === 0) return scatterAdd(x.reshape([1]), 0, idx.reshape([1]), src.reshape([1])).reshape([]);
  checkIndexValues('scatterAdd', idx, x.shape[d]!, d, x.shape);
  return ScatterAdd.apply(x, d, idx, src);
}

