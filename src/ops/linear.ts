// F.linear, x @ weight^T + bias: where the backend has the optional linear kernel, one op (one
// graph node) whose forward adds the bias to each tile of the product while it is in cache,
// instead of a matmul and a separate broadcast add over the whole product. The numbers are those
// of the two ops (the kernel is bit-identical to their kernels run one after another), and so are
// the gradients: the backward runs what MatMul's and Add's backward run (the bias's gradient is
// the column sum of g). Elsewhere, and for inputs that are not [N, in] rows, the ops run one after
// another.

import { OpFunction } from '../autograd/function.js';
import { releaseInternal } from '../autograd/saved-frees.js';
import { isFloat } from '../dtype.js';
import type { BatchNormParams } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';
import { backend, fromStorage } from './kernel.js';
import { matmul, matmulGrads } from './matmul.js';
import { sumTo } from './reduce.js';

class Linear extends OpFunction {
  x!: Tensor;
  weight!: Tensor;
  bias!: Tensor;
  override get name(): string {
    return 'LinearBackward';
  }
  forward(x: Tensor, weight: Tensor, bias: Tensor): Tensor {
    Object.assign(this, { x, weight, bias });
    return linearKernel(x, weight, bias, null);
  }
  protected override savedTensors(): Record<string, Tensor | null> {
    // as MatMul: each operand's gradient reads the other one; the bias's reads neither
    return { x: this.needsGrad[1] ? this.x : null, weight: this.needsGrad[0] ? this.weight : null };
  }
  backward(g: Tensor): (Tensor | null)[] {
    const [gx, gwt] = matmulGrads(this.x, this.weight.transpose(0, 1), g, this.needsGrad[0]!, this.needsGrad[1]!);
    return [gx, gwt && gwt.transpose(0, 1), this.needsGrad[2] ? sumTo(g, this.bias.shape) : null];
  }
}

/**
 * Whether x @ weight^T + bias can run as the backend's fused linear kernel: x [N, in] and weight
 * [out, in] of one float dtype, bias [out] (anything else takes the ops, with their errors).
 */
export function fusesLinear(x: Tensor, weight: Tensor, bias: Tensor | null | undefined): boolean {
  return !!backend().linear && x.ndim === 2 && weight.ndim === 2 && x.shape[1] === weight.shape[1] && x.dtype === weight.dtype
    && isFloat(x.dtype) && (!bias || (bias.ndim === 1 && bias.shape[0] === weight.shape[0] && bias.dtype === x.dtype));
}

/** The backend's linear kernel: x @ weight^T [+ bias] [-> eval BatchNorm1d + ReLU] where fusesLinear holds, unrecorded. */
export function linearKernel(x: Tensor, weight: Tensor, bias: Tensor | null, bn: BatchNormParams | null): Tensor {
  const out = backend().linear!(x.stridedView, weight.transpose(0, 1).stridedView, bias ? bias.contiguous().storage : null, bn);
  return fromStorage(out, [x.shape[0]!, weight.shape[0]!]);
}

/** x @ weight^T + bias, weight [out, in] (F.linear). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (bias && fusesLinear(x, weight, bias)) return Linear.apply(x, weight, bias);
  const y = matmul(x, weight.transpose(0, 1));
  if (!bias) return y;
  const out = y.add(bias);
  releaseInternal(y); // the product before its bias: only the graph reaches it (add saves neither operand)
  return out;
}
