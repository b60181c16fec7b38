// Matrix product with PyTorch's rules: 1-D operands are promoted and squeezed back, and
// leading (batch) dims broadcast. The kernel sees [batch, m, k] x [batch, k, n] strided views.

import { OpFunction } from '../autograd/function.js';
import { broadcastShapes, fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backend, checkFloat, checkTensor, fromStorage } from './kernel.js';
import { sumTo } from './reduce.js';

class MatMul extends OpFunction {
  a!: Tensor;
  b!: Tensor;
  forward(a: Tensor, b: Tensor): Tensor {
    this.a = a;
    this.b = b;
    const m = a.shape[a.ndim - 2]!;
    const k = a.shape[a.ndim - 1]!;
    const n = b.shape[b.ndim - 1]!;
    const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    const nb = batch.reduce((p, d) => p * d, 1);
    const a3 = a.expand([...batch, m, k]).reshape([nb, m, k]);
    const b3 = b.expand([...batch, k, n]).reshape([nb, k, n]);
    return fromStorage(backend().matmul(a3.stridedView, b3.stridedView), [...batch, m, n]);
  }
  protected override savedTensors(): Record<string, Tensor | null> {
    // Each operand's gradient reads the other one.
    return { a: this.needsGrad[1] ? this.a : null, b: this.needsGrad[0] ? this.b : null };
  }
  backward(g: Tensor): (Tensor | null)[] {
    return matmulGrads(this.a, this.b, g, this.needsGrad[0]!, this.needsGrad[1]!);
  }
}

/** The gradients of a @ b (the operands as MatMul's forward saw them) for the incoming gradient g, where wanted. */
export function matmulGrads(a: Tensor, b: Tensor, g: Tensor, wantA: boolean, wantB: boolean): [Tensor | null, Tensor | null] {
  const plain = a.ndim === 2 && b.ndim === 2; // no batch dims to sum the gradients over
  return [
    wantA ? (plain && transposed(a) ? b.matmul(g.transpose(-1, -2)).transpose(-1, -2) : sumTo(g.matmul(b.transpose(-1, -2)), a.shape)) : null,
    wantB ? (plain && transposed(b) ? g.transpose(-1, -2).matmul(a).transpose(-1, -2) : sumTo(a.transpose(-1, -2).matmul(g), b.shape)) : null,
  ];
}

/**
 * A 2-D operand stored transposed (a weight used as W^T, as in linear). Its gradient is computed
 * as the product in the other order, transposed back: the same products summed in the same order,
 * but laid out like the operand, so the transpose's own backward hands the parameter a
 * contiguous gradient instead of a strided one that has to be copied.
 */
function transposed(t: Tensor): boolean {
  return t.strides[0] === 1 && t.strides[1] === t.shape[0] && t.shape[0]! > 1 && t.shape[1]! > 1;
}

/** Matrix product with PyTorch's rules: 1-D operands as vectors, batch dims broadcast (torch.matmul). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', a);
  checkTensor('matmul', b, 'other');
  checkFloat('matmul', a);
  if (a.dtype !== b.dtype) throw new Error(`matmul: dtype mismatch: ${a.dtype} and ${b.dtype}`);
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`matmul: both arguments need at least 1 dim, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const a2 = a.ndim === 1 ? a.unsqueeze(0) : a;
  const b2 = b.ndim === 1 ? b.unsqueeze(1) : b;
  if (a2.shape[a2.ndim - 1] !== b2.shape[b2.ndim - 2]) {
    throw new Error(`matmul: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be multiplied (${a2.shape[a2.ndim - 1]} != ${b2.shape[b2.ndim - 2]})`);
  }
  let out = MatMul.apply(a2, b2);
  if (a.ndim === 1) out = out.squeeze(-2);
  if (b.ndim === 1) out = out.squeeze(-1);
  return out;
}
