// The ops layer's doorway to the running backend: turning tensors into kernel views and
// kernel storage back into tensors. Nothing above ops/ imports this.

import type { Backend, View } from '../backend/backend.js';
import type { DType } from '../dtype.js';
import { isFloat, resultType, scalarFor } from '../dtype.js';
import { currentBackend } from '../backend/registry.js';
import type { Shape } from '../shape.js';
import { broadcastStrides, fmtShape } from '../shape.js';
import { Tensor, fromStorage } from '../tensor.js';
import { full } from '../creation.js';

export const backend = (): Backend => currentBackend();

/** t read as if broadcast to `shape` (stride 0 on broadcast dims). */
export function viewAs(t: Tensor, shape: Shape): View {
  return { storage: t.storage, shape, strides: broadcastStrides(t.shape, t.strides, shape), offset: t.offset };
}

export { fromStorage };

/** A number becomes a 0-d tensor of `like`'s dtype; tensors must match `like`'s dtype. */
export function asTensor(op: string, x: Tensor | number, like: Tensor): Tensor {
  if (typeof x === 'number') return full([], x, { dtype: like.dtype });
  if (!(x instanceof Tensor)) throw new Error(`${op}: expected a Tensor or a number, got ${typeof x}`);
  if (x.dtype !== like.dtype) {
    throw new Error(`${op}: dtype mismatch: ${like.dtype} ${fmtShape(like.shape)} and ${x.dtype} ${fmtShape(x.shape)}; cast one with .to('${like.dtype}')`);
  }
  return x;
}

export function checkTensor(op: string, x: unknown, name = 'input'): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor, got ${x === null ? 'null' : typeof x}`);
  return x;
}

export function checkFloat(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw new Error(`${op}: expected a floating-point tensor, got ${x.dtype} ${fmtShape(x.shape)}; cast it with .to('float32')`);
}

/** x as dtype: x itself when it has it, else a cast (differentiable between float dtypes). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : x.to(dtype);
}

/** The dtype an elementwise op computes in (PyTorch's result_type over tensors and JS numbers). */
export function computeType(op: string, ...xs: (Tensor | number)[]): DType {
  return resultType(...xs.map((x) => {
    if (typeof x === 'number') return x;
    return checkTensor(op, x, 'operand');
  }));
}

/** An operand in dtype: a tensor cast to it, or a JS number as a 0-d tensor (an error when it does not fit). */
export function operandAs(op: string, x: Tensor | number, dtype: DType): Tensor {
  if (typeof x === 'number') return full([], scalarFor(op, x, dtype), { dtype });
  return cast(x, dtype);
}
