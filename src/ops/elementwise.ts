// Elementwise ops with broadcasting: unary maths, binary arithmetic, where and comparisons.
// Each differentiable op's gradient sits next to its forward, written with public ops.

import type { BinaryOp, UnaryOp } from '../backend/backend.js';
import { Function } from '../autograd/function.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { asTensor, backend, checkFloat, checkTensor, fromStorage, viewAs } from './kernel.js';
import { sumTo } from './reduce.js';
import { full } from '../creation.js';

type Deriv = (g: Tensor, x: Tensor, y: Tensor, a: number, b: number) => Tensor;

const DERIVS: Partial<Record<UnaryOp, Deriv>> = {
  neg: (g) => g.neg(),
  exp: (g, _x, y) => g.mul(y),
  log: (g, x) => g.div(x),
  log1p: (g, x) => g.div(x.add(1)),
  sqrt: (g, _x, y) => g.div(y.mul(2)),
  abs: (g, x) => g.mul(x.sign()),
  relu: (g, x) => binary('mulStep', g, x), // g * (x > 0): 0 at x = 0, as PyTorch; one kernel
  leakyRelu: (g, x, _y, a) => g.mul(x.gt(0).mul(1 - a).add(a)),
  sigmoid: (g, _x, y) => g.mul(y.mul(y.neg().add(1))),
  tanh: (g, _x, y) => g.mul(y.square().neg().add(1)),
  softplus: (g, x) => g.mul(x.sigmoid()),
  reciprocal: (g, _x, y) => g.mul(y.square()).neg(),
  square: (g, x) => g.mul(x.mul(2)),
  clamp: (g, x, _y, a, b) => g.mul(inRange(x, a, b)), // 1 on the closed interval, as PyTorch
  powScalar: (g, x, _y, a) => (a === 0 ? g.mul(0) : g.mul(x.pow(a - 1).mul(a))),
  addScalar: (g) => g,
  mulScalar: (g, _x, _y, a) => g.mul(a),
};

const INT_OK = new Set<UnaryOp>(['neg', 'abs', 'addScalar', 'mulScalar']);

class Unary extends Function {
  op!: UnaryOp;
  a = 0;
  b = 0;
  x!: Tensor;
  y!: Tensor;
  forward(x: Tensor, op: UnaryOp, a = 0, b = 0): Tensor {
    // Integer tensors allow the ops that stay integral (counters such as num_batches_tracked).
    if (!INT_OK.has(op)) checkFloat(op, x);
    Object.assign(this, { x, op, a, b });
    this.y = fromStorage(backend().unary(op, x.stridedView, a, b), x.shape);
    return this.y;
  }
  override get name(): string {
    return `${this.op[0]!.toUpperCase()}${this.op.slice(1)}Backward`;
  }
  backward(g: Tensor): Tensor[] {
    return [DERIVS[this.op]!(g, this.x, this.y, this.a, this.b)];
  }
}

function unary(op: UnaryOp, x: Tensor, a?: number, b?: number): Tensor {
  return Unary.apply(checkTensor(op, x), op, a, b);
}

export function neg(x: Tensor): Tensor { return unary('neg', x); }
export function exp(x: Tensor): Tensor { return unary('exp', x); }
export function log(x: Tensor): Tensor { return unary('log', x); }
export function log1p(x: Tensor): Tensor { return unary('log1p', x); }
export function sqrt(x: Tensor): Tensor { return unary('sqrt', x); }
export function abs(x: Tensor): Tensor { return unary('abs', x); }
export function relu(x: Tensor): Tensor { return unary('relu', x); }
export function sigmoid(x: Tensor): Tensor { return unary('sigmoid', x); }
export function tanh(x: Tensor): Tensor { return unary('tanh', x); }
export function softplus(x: Tensor): Tensor { return unary('softplus', x); }
export function reciprocal(x: Tensor): Tensor { return unary('reciprocal', x); }
export function square(x: Tensor): Tensor { return unary('square', x); }
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor { return unary('leakyRelu', x, negativeSlope); }
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (min > max) throw new Error(`clamp: min (${min}) is greater than max (${max})`);
  return unary('clamp', x, min, max);
}

/** Not differentiable: results carry no gradient. */
function constUnary(op: UnaryOp, x: Tensor, a?: number, b?: number): Tensor {
  return fromStorage(backend().unary(op, checkTensor(op, x).stridedView, a, b), x.shape);
}
export function sign(x: Tensor): Tensor { return constUnary('sign', x); }
/** 1 where min <= x <= max, else 0 (no gradient). */
export function inRange(x: Tensor, min: number, max: number): Tensor { return constUnary('inRange', x, min, max); }

class Binary extends Function {
  op!: BinaryOp;
  a!: Tensor;
  b!: Tensor;
  y!: Tensor;
  forward(a: Tensor, b: Tensor, op: BinaryOp): Tensor {
    const shape = broadcastShapes(op, a.shape, b.shape);
    Object.assign(this, { a, b, op });
    this.y = fromStorage(backend().binary(op, viewAs(a, shape), viewAs(b, shape)), shape);
    return this.y;
  }
  override get name(): string {
    return `${this.op[0]!.toUpperCase()}${this.op.slice(1)}Backward`;
  }
  backward(g: Tensor): (Tensor | null)[] {
    const { a, b, y } = this;
    const [ga, gb] = this.grads(g, a, b, y);
    return [this.needsGrad[0] ? sumTo(ga(), a.shape) : null, this.needsGrad[1] ? sumTo(gb(), b.shape) : null];
  }
  private grads(g: Tensor, a: Tensor, b: Tensor, y: Tensor): [() => Tensor, () => Tensor] {
    switch (this.op) {
      case 'add': return [() => g, () => g];
      case 'sub': return [() => g, () => g.neg()];
      case 'mul': return [() => g.mul(b), () => g.mul(a)];
      // a * step(b): linear in a; step is flat (its derivative is 0 wherever it exists)
      case 'mulStep': return [() => binary('mulStep', g, b), () => full(b.shape, 0, { dtype: b.dtype })];
      case 'div': return [() => g.div(b), () => g.mul(y).div(b).neg()];
      case 'pow': return [
        () => g.mul(b).mul(a.pow(b.sub(1))),
        // d/db a^b = a^b log a, taken as 0 where a = 0 and b >= 0 (as PyTorch does)
        () => where(a.eq(0).mul(b.ge(0)), 0, g.mul(y).mul(a.log())),
      ];
      // Ties share the gradient equally, as PyTorch's maximum/minimum do.
      case 'maximum': return [() => g.mul(a.gt(b).add(a.eq(b).mul(0.5))), () => g.mul(b.gt(a).add(a.eq(b).mul(0.5)))];
      case 'minimum': return [() => g.mul(a.lt(b).add(a.eq(b).mul(0.5))), () => g.mul(b.lt(a).add(a.eq(b).mul(0.5)))];
      default: throw new Error(`${this.op} has no gradient`);
    }
  }
}

function binary(op: BinaryOp, a: Tensor, b: Tensor | number): Tensor {
  checkTensor(op, a);
  checkFloat(op, a);
  return Binary.apply(a, asTensor(op, b, a), op);
}

export function add(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? unary('addScalar', a, b) : binary('add', a, b);
}
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? unary('addScalar', a, -b) : binary('sub', a, b);
}
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? unary('mulScalar', a, b) : binary('mul', a, b);
}
export function div(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? unary('mulScalar', a, 1 / b) : binary('div', a, b);
}
export function pow(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b !== 'number') return binary('pow', a, b);
  if (b === 2) return square(a);
  if (b === 1) return unary('mulScalar', a, 1);
  return unary('powScalar', a, b);
}
export function maximum(a: Tensor, b: Tensor | number): Tensor { return binary('maximum', a, b); }
export function minimum(a: Tensor, b: Tensor | number): Tensor { return binary('minimum', a, b); }

/** Comparisons give 1 or 0 in the inputs' dtype and carry no gradient. */
function compare(op: BinaryOp, a: Tensor, b: Tensor | number): Tensor {
  checkTensor(op, a);
  const bt = asTensor(op, b, a);
  const shape = broadcastShapes(op, a.shape, bt.shape);
  return fromStorage(backend().binary(op, viewAs(a, shape), viewAs(bt, shape)), shape);
}
export function eq(a: Tensor, b: Tensor | number): Tensor { return compare('eq', a, b); }
export function ne(a: Tensor, b: Tensor | number): Tensor { return compare('ne', a, b); }
export function lt(a: Tensor, b: Tensor | number): Tensor { return compare('lt', a, b); }
export function le(a: Tensor, b: Tensor | number): Tensor { return compare('le', a, b); }
export function gt(a: Tensor, b: Tensor | number): Tensor { return compare('gt', a, b); }
export function ge(a: Tensor, b: Tensor | number): Tensor { return compare('ge', a, b); }

class Where extends Function {
  cond!: Tensor;
  a!: Tensor;
  b!: Tensor;
  forward(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes('where', cond.shape, a.shape, b.shape);
    Object.assign(this, { cond, a, b });
    return fromStorage(backend().where(viewAs(cond, shape), viewAs(a, shape), viewAs(b, shape)), shape);
  }
  backward(g: Tensor): (Tensor | null)[] {
    const zero = g.mul(0);
    return [
      null,
      this.needsGrad[1] ? sumTo(where(this.cond, g, zero), this.a.shape) : null,
      this.needsGrad[2] ? sumTo(where(this.cond, zero, g), this.b.shape) : null,
    ];
  }
}

/** a where cond is non-zero, else b (broadcasting all three). */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  checkTensor('where', cond, 'condition');
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : cond;
  const at = asTensor('where', a, like);
  const bt = asTensor('where', b, like);
  if (cond.requiresGrad) cond = cond.detach();
  return Where.apply(cond, at, bt);
}
