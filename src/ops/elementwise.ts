// Elementwise ops with broadcasting: unary maths, binary arithmetic, where, comparisons and
// masks. Operands meet in the dtype PyTorch's type promotion gives (dtype.ts resultType); a
// cast is a differentiable op, so gradients reach float operands of another dtype.
// Each differentiable op's gradient sits next to its forward, written with public ops.

import type { BinaryOp, UnaryOp } from '../backend/backend.js';
import { OpFunction } from '../autograd/function.js';
import type { DType } from '../dtype.js';
import { DEFAULT_FLOAT, isFloat, scalarFor } from '../dtype.js';
import { broadcastShapes, fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backend, cast, checkTensor, computeType, fromStorage, operandAs, viewAs } from './kernel.js';
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
  leakyRelu: (g, x, _y, a) => where(x.gt(0), g, g.mul(a)), // exact in the input's dtype
  sigmoid: (g, _x, y) => g.mul(y.mul(y.neg().add(1))),
  tanh: (g, _x, y) => g.mul(y.square().neg().add(1)),
  softplus: (g, x) => g.mul(x.sigmoid()),
  reciprocal: (g, _x, y) => g.mul(y.square()).neg(),
  square: (g, x) => g.mul(x.mul(2)),
  clamp: (g, x, _y, a, b) => g.mul(inRange(x, a, b)), // 1 on the closed interval, as PyTorch
  powScalar: (g, x, _y, a) => (a === 0 ? g.mul(0) : g.mul(x.pow(a - 1).mul(a))),
  addScalar: (g) => g,
  mulScalar: (g, _x, _y, a) => g.mul(a),
  erf: (g, x) => g.mul(x.square().neg().exp().mul(2 / Math.sqrt(Math.PI))),
};

// Ops that keep an integer tensor integral (PyTorch's integer kernels); every other unary op
// computes an integer or bool input in float32, as PyTorch's unary float ops do.
const INT_OK = new Set<UnaryOp>(['neg', 'abs', 'sign', 'relu', 'square', 'clamp', 'addScalar', 'mulScalar', 'powScalar']);

/** What each derivative above reads (x by default), for the in-place check of backward. */
const READS_OUTPUT = new Set<UnaryOp>(['exp', 'sqrt', 'sigmoid', 'tanh', 'reciprocal']);
const READS_NOTHING = new Set<UnaryOp>(['neg', 'addScalar', 'mulScalar']);

class Unary extends OpFunction {
  op!: UnaryOp;
  a = 0;
  b = 0;
  x!: Tensor;
  y!: Tensor;
  forward(x: Tensor, op: UnaryOp, a = 0, b = 0): Tensor {
    Object.assign(this, { x, op, a, b });
    this.y = fromStorage(backend().unary(op, x.stridedView, a, b), x.shape);
    return this.y;
  }
  override get name(): string {
    return `${this.op[0]!.toUpperCase()}${this.op.slice(1)}Backward`;
  }
  protected override savedTensors(): Record<string, Tensor> {
    return READS_NOTHING.has(this.op) ? {} : READS_OUTPUT.has(this.op) ? { y: this.y } : { x: this.x };
  }
  backward(g: Tensor): Tensor[] {
    return [DERIVS[this.op]!(g, this.x, this.y, this.a, this.b)];
  }
}

/** The dtype a unary op computes an input of dtype d in. */
function unaryType(op: UnaryOp, d: DType): DType {
  if (isFloat(d)) return d;
  if (!INT_OK.has(op)) return DEFAULT_FLOAT;
  if (d === 'bool' && (op === 'neg' || op === 'abs')) {
    throw new Error(`${op}: not supported on bool tensors; use logicalNot() or cast with .to('int32')`);
  }
  return 'int32';
}

function unary(op: UnaryOp, x: Tensor, a?: number, b?: number): Tensor {
  checkTensor(op, x);
  return Unary.apply(cast(x, unaryType(op, x.dtype)), op, a, b);
}

/** -x (torch.neg). */
export function neg(x: Tensor): Tensor { return unary('neg', x); }
/** e^x (torch.exp). */
export function exp(x: Tensor): Tensor { return unary('exp', x); }
/** Natural logarithm (torch.log). */
export function log(x: Tensor): Tensor { return unary('log', x); }
/** log(1 + x), accurate near 0 (torch.log1p). */
export function log1p(x: Tensor): Tensor { return unary('log1p', x); }
/** Square root (torch.sqrt). */
export function sqrt(x: Tensor): Tensor { return unary('sqrt', x); }
/** |x|; gradient sign(x), 0 at 0 (torch.abs). */
export function abs(x: Tensor): Tensor { return unary('abs', x); }
/** max(x, 0); gradient 0 at 0, as PyTorch (torch.relu). */
export function relu(x: Tensor): Tensor { return unary('relu', x); }
/** 1 / (1 + e^-x) (torch.sigmoid). */
export function sigmoid(x: Tensor): Tensor { return unary('sigmoid', x); }
/** Hyperbolic tangent (torch.tanh). */
export function tanh(x: Tensor): Tensor { return unary('tanh', x); }
/** log(1 + e^x), computed without overflow (F.softplus). */
export function softplus(x: Tensor): Tensor { return unary('softplus', x); }
/** 1 / x (torch.reciprocal). */
export function reciprocal(x: Tensor): Tensor { return unary('reciprocal', x); }
/** x * x (torch.square). */
export function square(x: Tensor): Tensor { return unary('square', x); }
/** The error function, 2/sqrt(pi) * integral of exp(-t^2) from 0 to x. */
export function erf(x: Tensor): Tensor { return unary('erf', x); }
/** x where x > 0, else negativeSlope * x (F.leaky_relu). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor { return unary('leakyRelu', x, negativeSlope); }
/** Values limited to [min, max]; an integer tensor with a non-integer bound computes in float32. */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (min > max) throw new Error(`clamp: min (${min}) is greater than max (${max})`);
  checkTensor('clamp', x);
  const bounds = [min, max].filter((v) => Number.isFinite(v));
  const dtype = computeType('clamp', x, ...bounds);
  if (!isFloat(dtype)) bounds.forEach((v) => scalarFor('clamp', v, dtype));
  return unary('clamp', cast(x, dtype), min, max);
}

/** Not differentiable: results carry no gradient. */
function constUnary(op: UnaryOp, x: Tensor, a?: number, b?: number): Tensor {
  checkTensor(op, x);
  return fromStorage(backend().unary(op, cast(x, unaryType(op, x.dtype)).stridedView, a, b), x.shape);
}
/** -1, 0 or 1 by the sign of x; no gradient (torch.sign). */
export function sign(x: Tensor): Tensor { return constUnary('sign', x); }
/** 1 where min <= x <= max, else 0 (no gradient). */
export function inRange(x: Tensor, min: number, max: number): Tensor { return constUnary('inRange', x, min, max); }

class Binary extends OpFunction {
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
  protected override savedTensors(): Record<string, Tensor> {
    const { a, b, y } = this;
    switch (this.op) {
      case 'add': case 'sub': case 'floorDiv': return {};
      case 'mulStep': return { b };
      case 'div': return { b, y };
      case 'pow': return { a, b, y };
      default: return { a, b };
    }
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
      // d/db (a - floor(a / b) b) = -floor(a / b); the floor is piecewise constant (no graph through it)
      case 'remainder': return [() => g, () => g.mul(floorDivide(a.detach(), b.detach())).neg()];
      case 'floorDiv': throw new Error('backward: floorDivide has no gradient (as in PyTorch, where the derivative of floor_divide is not implemented); detach() its inputs, or run it under noGrad()');
      default: throw new Error(`${this.op} has no gradient`);
    }
  }
}

function binary(op: BinaryOp, a: Tensor, b: Tensor | number): Tensor {
  checkTensor(op, a);
  const dtype = computeType(op, a, b);
  return Binary.apply(cast(a, dtype), operandAs(op, b, dtype), op);
}

/** a (op) b for the arithmetic ops: PyTorch's type promotion, with a fast path for a JS number. */
function arith(op: 'add' | 'sub' | 'mul', a: Tensor, b: Tensor | number): Tensor {
  checkTensor(op, a);
  const dtype = computeType(op, a, b);
  if (dtype === 'bool') {
    // bool + bool is logical or and bool * bool logical and, as in PyTorch; bool - bool is refused
    if (op === 'sub') throw new Error('sub: subtracting bool tensors is not supported; use logicalXor() or cast with .to(\'int32\')');
    return binary(op === 'add' ? 'maximum' : 'mul', a, b);
  }
  if (typeof b !== 'number') return binary(op, a, b);
  const v = scalarFor(op, b, dtype);
  const x = cast(a, dtype);
  return op === 'mul' ? unary('mulScalar', x, v) : unary('addScalar', x, op === 'sub' ? -v : v);
}

/** a + b with broadcasting and type promotion (bool + bool is logical or). */
export function add(a: Tensor, b: Tensor | number): Tensor { return arith('add', a, b); }
/** a - b with broadcasting and type promotion (refused for two bools). */
export function sub(a: Tensor, b: Tensor | number): Tensor { return arith('sub', a, b); }
/** a * b with broadcasting and type promotion (bool * bool is logical and; int32 wraps). */
export function mul(a: Tensor, b: Tensor | number): Tensor { return arith('mul', a, b); }
/** True division: integer and bool operands divide in float32, as in PyTorch. */
export function div(a: Tensor, b: Tensor | number): Tensor {
  checkTensor('div', a);
  const t = computeType('div', a, b);
  const dtype = isFloat(t) ? t : DEFAULT_FLOAT;
  return typeof b === 'number' ? unary('mulScalar', cast(a, dtype), 1 / b) : binary('div', cast(a, dtype), cast(b, dtype));
}
/** a ** b; an integer tensor to a non-negative integer power stays integral (a negative one is refused, as in PyTorch). */
export function pow(a: Tensor, b: Tensor | number): Tensor {
  checkTensor('pow', a);
  const dtype = computeType('pow', a, b);
  if (dtype === 'bool') throw new Error('pow: not supported on bool tensors; cast with .to(\'int32\')');
  if (typeof b !== 'number') {
    if (!isFloat(dtype) && b.lt(0).sum().item() > 0) throw new Error('pow: integers to negative integer powers are not allowed');
    return binary('pow', a, b);
  }
  if (!isFloat(dtype) && b < 0) throw new Error(`pow: integers to negative integer powers are not allowed (exponent ${b})`);
  const x = cast(a, dtype);
  if (b === 2) return square(x);
  if (b === 1) return unary('mulScalar', x, 1);
  return unary('powScalar', x, b);
}
/** Elementwise maximum (NaN propagates; ties share the gradient). */
export function maximum(a: Tensor, b: Tensor | number): Tensor { return binary('maximum', a, b); }
/** Elementwise minimum (NaN propagates; ties share the gradient). */
export function minimum(a: Tensor, b: Tensor | number): Tensor { return binary('minimum', a, b); }

/**
 * floor(a / b) and the remainder, through Binary (so float inputs get PyTorch's gradients): bool
 * is refused, and integer division by zero (which has no value) is an error.
 */
function floorBinary(op: 'floorDiv' | 'remainder', name: string, a: Tensor, b: Tensor | number): Tensor {
  checkTensor(name, a);
  const dtype = computeType(name, a, b);
  if (dtype === 'bool') throw new Error(`${name}: not supported on bool tensors; cast with .to('int32')`);
  const bt = operandAs(name, b, dtype);
  if (!isFloat(dtype) && bt.eq(0).sum().item() > 0) throw new Error(`${name}: integer division by zero`);
  return Binary.apply(cast(a, dtype), bt, op);
}
/**
 * floor(a / b) (PyTorch's floor_divide, rounding toward negative infinity). Not differentiable,
 * as in PyTorch 1.13: backward() through it throws (torch: "derivative for aten::floor_divide is
 * not implemented"); detach() the inputs, or use a.div(b) for a differentiable quotient.
 */
export function floorDivide(a: Tensor, b: Tensor | number): Tensor { return floorBinary('floorDiv', 'floorDivide', a, b); }
/**
 * a - floorDivide(a, b) * b: the remainder with the sign of b (Python's %, torch.remainder).
 * Gradients as PyTorch's: 1 for a, -floorDivide(a, b) for b (the jumps of the floor are ignored).
 */
export function remainder(a: Tensor, b: Tensor | number): Tensor { return floorBinary('remainder', 'remainder', a, b); }

/** Comparisons compute in the promoted dtype of their operands and return bool; no gradient. */
function compare(op: BinaryOp, a: Tensor, b: Tensor | number): Tensor {
  checkTensor(op, a);
  let dtype = computeType(op, a, b);
  // an integer beyond int32 still compares exactly (in float64), as PyTorch's int64 scalar does
  if (dtype === 'int32' && typeof b === 'number' && (b > 2147483647 || b < -2147483648)) dtype = 'float64';
  const at = cast(a, dtype);
  const bt = operandAs(op, b, dtype);
  const shape = broadcastShapes(op, at.shape, bt.shape);
  return fromStorage(backend().binary(op, viewAs(at, shape), viewAs(bt, shape)), shape);
}
/** a == b elementwise, as bool. */
export function eq(a: Tensor, b: Tensor | number): Tensor { return compare('eq', a, b); }
/** a != b elementwise, as bool. */
export function ne(a: Tensor, b: Tensor | number): Tensor { return compare('ne', a, b); }
/** a < b elementwise, as bool. */
export function lt(a: Tensor, b: Tensor | number): Tensor { return compare('lt', a, b); }
/** a <= b elementwise, as bool. */
export function le(a: Tensor, b: Tensor | number): Tensor { return compare('le', a, b); }
/** a > b elementwise, as bool. */
export function gt(a: Tensor, b: Tensor | number): Tensor { return compare('gt', a, b); }
/** a >= b elementwise, as bool. */
export function ge(a: Tensor, b: Tensor | number): Tensor { return compare('ge', a, b); }

/** True where x is NaN (bool; always false for integer and bool tensors). */
export function isnan(x: Tensor): Tensor { return compare('ne', x, x); }
/** True where x is neither infinite nor NaN (bool). */
export function isfinite(x: Tensor): Tensor {
  return isFloat(checkTensor('isfinite', x).dtype) ? compare('lt', x.abs(), Infinity) : compare('eq', x, x);
}
/** True where x is +Infinity or -Infinity (bool). */
export function isinf(x: Tensor): Tensor {
  return isFloat(checkTensor('isinf', x).dtype) ? compare('eq', x.abs(), Infinity) : compare('ne', x, x);
}
/** Elementwise not: true where x is zero (bool). */
export function logicalNot(x: Tensor): Tensor { return compare('eq', x, 0); }
/** Elementwise and of the truth values (non-zero) of a and b (bool). */
export function logicalAnd(a: Tensor, b: Tensor): Tensor { return compare('ne', a, 0).mul(compare('ne', b, 0)); }
/** Elementwise or of the truth values (non-zero) of a and b (bool). */
export function logicalOr(a: Tensor, b: Tensor): Tensor { return compare('ne', a, 0).add(compare('ne', b, 0)); }
/** Elementwise exclusive or of the truth values (non-zero) of a and b (bool). */
export function logicalXor(a: Tensor, b: Tensor): Tensor { return compare('ne', compare('ne', a, 0), compare('ne', b, 0)); }

class Where extends OpFunction {
  cond!: Tensor;
  a!: Tensor;
  b!: Tensor;
  forward(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    const shape = broadcastShapes('where', cond.shape, a.shape, b.shape);
    Object.assign(this, { cond, a, b });
    return fromStorage(backend().where(viewAs(cond, shape), viewAs(a, shape), viewAs(b, shape)), shape);
  }
  protected override savedTensors(): Record<string, Tensor> {
    return { cond: this.cond }; // a and b only lend their shapes
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

/**
 * a where cond is true, else b (broadcasting all three). cond is bool, or any dtype read as
 * non-zero = true; a and b promote as in PyTorch (two JS numbers give int32 or float32).
 */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  checkTensor('where', cond, 'condition');
  const dtype = computeType('where', a, b);
  const at = operandAs('where', a, dtype);
  const bt = operandAs('where', b, dtype);
  if (cond.requiresGrad) cond = cond.detach();
  return Where.apply(cond, at, bt);
}

/** x with value written where mask (bool) is true; value is cast to x's dtype (PyTorch's masked_fill). */
export function maskedFill(x: Tensor, mask: Tensor, value: number | Tensor): Tensor {
  checkTensor('maskedFill', x);
  checkTensor('maskedFill', mask, 'mask');
  if (mask.dtype !== 'bool') throw new Error(`maskedFill: mask must be a bool tensor, got ${mask.dtype} ${fmtShape(mask.shape)}; make one with a comparison such as x.gt(0)`);
  if (typeof value !== 'number' && value.ndim !== 0) throw new Error(`maskedFill: value must be a number or a 0-d tensor, got shape ${fmtShape(value.shape)}`);
  broadcastShapes('maskedFill', x.shape, mask.shape);
  const out = where(mask, operandAs('maskedFill', value, x.dtype), x);
  return out.shape.length === x.shape.length ? out : out.expand(x.shape);
}
