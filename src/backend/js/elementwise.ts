// Reference elementwise kernels over strided views: one plain loop per op.

import type { TypedArray } from '../../dtype.js';
import { allocArray } from '../../dtype.js';
import type { BinaryOp, UnaryOp, View } from '../backend.js';
import { COMPARISONS } from '../backend.js';
import { numel } from '../../shape.js';
import { host } from './storage.js';
import { forEachRow } from './strided.js';

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/**
 * erf to near double precision with no table of constants (the method of CPython's former
 * math.erf): a power series below |x| = 1.5, a continued fraction for erfc above, 1 beyond 30.
 * assembly/elementwise.ts runs the same steps.
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax !== ax) return x;
  const x2 = x * x;
  if (ax < 1.5) {
    let acc = 0;
    let fk = 25.5;
    for (let i = 0; i < 25; i++, fk -= 1) acc = 2 + (x2 * acc) / fk;
    return (acc * x * Math.exp(-x2)) / 1.7724538509055159;
  }
  if (ax >= 30) return x > 0 ? 1 : -1;
  let a = 0, da = 0.5, p = 1, pLast = 0, q = da + x2, qLast = 1;
  for (let i = 0; i < 50; i++) {
    a += da;
    da += 2;
    const b = da + x2;
    const tp = p;
    p = b * p - a * pLast;
    pLast = tp;
    const tq = q;
    q = b * q - a * qLast;
    qLast = tq;
  }
  const erfc = ((p / q) * ax * Math.exp(-x2)) / 1.7724538509055159;
  return x > 0 ? 1 - erfc : erfc - 1;
}

function unaryFn(op: UnaryOp, a: number, b: number): (x: number) => number {
  switch (op) {
    case 'neg': return (x) => -x;
    case 'exp': return Math.exp;
    case 'log': return Math.log;
    case 'log1p': return Math.log1p;
    case 'sqrt': return Math.sqrt;
    case 'abs': return Math.abs;
    case 'sign': return (x) => (x > 0 ? 1 : x < 0 ? -1 : x); // keeps 0 and NaN
    case 'relu': return (x) => (x > 0 ? x : x !== x ? x : 0);
    case 'sigmoid': return sigmoid;
    case 'tanh': return Math.tanh;
    case 'softplus': return softplus;
    case 'reciprocal': return (x) => 1 / x;
    case 'square': return (x) => x * x;
    case 'step': return (x) => (x > 0 ? 1 : 0);
    case 'leakyRelu': return (x) => (x > 0 ? x : x * a);
    case 'clamp': return (x) => (x < a ? a : x > b ? b : x);
    case 'powScalar': return (x) => x ** a;
    case 'addScalar': return (x) => x + a;
    case 'mulScalar': return (x) => x * a;
    case 'inRange': return (x) => (x >= a && x <= b ? 1 : 0);
    case 'erf': return erf;
    default: throw new Error(`js backend: unknown unary op '${String(op)}'`);
  }
}

/** The ops of a training step get their own loops; the rest go through unaryFn per element. */
function unaryRow(op: UnaryOp, a: number, src: TypedArray, out: TypedArray, o: number, i: number, s: number, len: number): boolean {
  switch (op) {
    case 'neg': for (let j = 0; j < len; j++, i += s) out[o + j] = -src[i]!; return true;
    case 'relu': for (let j = 0; j < len; j++, i += s) { const v = src[i]!; out[o + j] = v > 0 || v !== v ? v : 0; } return true;
    case 'square': for (let j = 0; j < len; j++, i += s) { const v = src[i]!; out[o + j] = v * v; } return true;
    case 'mulScalar': for (let j = 0; j < len; j++, i += s) out[o + j] = src[i]! * a; return true;
    case 'addScalar': for (let j = 0; j < len; j++, i += s) out[o + j] = src[i]! + a; return true;
    case 'exp': for (let j = 0; j < len; j++, i += s) out[o + j] = Math.exp(src[i]!); return true;
    default: return false;
  }
}

export function unary(op: UnaryOp, x: View, a = 0, b = 0): TypedArray {
  const src = host(x.storage);
  const out = allocArray(x.storage.dtype, numel(x.shape));
  // int32 products need Math.imul (see binary); a is an int32 value there
  const imul = op === 'mulScalar' && out instanceof Int32Array;
  const f = imul ? (v: number): number => Math.imul(v, a) : unaryFn(op, a, b);
  forEachRow(x.shape, [x], (offs, o, len, inner) => {
    if (!imul && unaryRow(op, a, src, out, o, offs[0]!, inner[0]!, len)) return;
    for (let j = 0, i = offs[0]!, s = inner[0]!; j < len; j++, i += s) out[o + j] = f(src[i]!);
  });
  return out;
}

function binaryFn(op: BinaryOp): (x: number, y: number) => number {
  switch (op) {
    case 'add': return (x, y) => x + y;
    case 'sub': return (x, y) => x - y;
    case 'mul': return (x, y) => x * y;
    case 'div': return (x, y) => x / y;
    case 'pow': return (x, y) => x ** y;
    case 'maximum': return (x, y) => (x !== x || y !== y ? NaN : Math.max(x, y));
    case 'minimum': return (x, y) => (x !== x || y !== y ? NaN : Math.min(x, y));
    case 'eq': return (x, y) => +(x === y);
    case 'ne': return (x, y) => +(x !== y);
    case 'lt': return (x, y) => +(x < y);
    case 'le': return (x, y) => +(x <= y);
    case 'gt': return (x, y) => +(x > y);
    case 'ge': return (x, y) => +(x >= y);
    case 'mulStep': return (x, y) => x * +(y > 0);
    case 'floorDiv': return floorDiv;
    case 'remainder': return (x, y) => {
      // PyTorch's: fmod, then moved into b's sign (exact, unlike x - floor(x / y) * y)
      const m = x % y;
      return m !== 0 && (y < 0) !== (m < 0) ? m + y : m;
    };
    default: throw new Error(`js backend: unknown binary op '${String(op)}'`);
  }
}

/** PyTorch's floor division for floats (div_floor): the quotient through fmod, rounded to the nearest integer below. */
function floorDiv(x: number, y: number): number {
  if (y === 0) return x / y;
  const m = x % y;
  let d = (x - m) / y;
  if (m !== 0 && (y < 0) !== (m < 0)) d -= 1;
  if (d === 0) return 0 * (x / y); // a signed zero
  const f = Math.floor(d);
  return d - f > 0.5 ? f + 1 : f;
}

export function binary(op: BinaryOp, a: View, b: View): TypedArray {
  const x = host(a.storage);
  const y = host(b.storage);
  const out = allocArray(COMPARISONS.has(op) ? 'bool' : a.storage.dtype, numel(a.shape));
  // int32 products need Math.imul: a double product of two int32 values can lose the low bits before wrapping
  const f = op === 'mul' && out instanceof Int32Array ? Math.imul : binaryFn(op);
  forEachRow(a.shape, [a, b], (offs, o, len, inner) => {
    let i = offs[0]!;
    let k = offs[1]!;
    const si = inner[0]!;
    const sk = inner[1]!;
    // The arithmetic of a training step gets its own loops; the rest call f per element.
    switch (op) {
      case 'add': for (let j = 0; j < len; j++, i += si, k += sk) out[o + j] = x[i]! + y[k]!; return;
      case 'sub': for (let j = 0; j < len; j++, i += si, k += sk) out[o + j] = x[i]! - y[k]!; return;
      case 'mul': if (f !== Math.imul) { for (let j = 0; j < len; j++, i += si, k += sk) out[o + j] = x[i]! * y[k]!; return; } break;
      case 'div': for (let j = 0; j < len; j++, i += si, k += sk) out[o + j] = x[i]! / y[k]!; return;
      default:
    }
    for (let j = 0; j < len; j++, i += si, k += sk) out[o + j] = f(x[i]!, y[k]!);
  });
  return out;
}

export function where(cond: View, a: View, b: View): TypedArray {
  const c = host(cond.storage);
  const x = host(a.storage);
  const y = host(b.storage);
  const out = allocArray(a.storage.dtype, numel(a.shape));
  forEachRow(a.shape, [cond, a, b], (offs, o, len, inner) => {
    for (let j = 0; j < len; j++) {
      out[o + j] = c[offs[0]! + j * inner[0]!] ? x[offs[1]! + j * inner[1]!]! : y[offs[2]! + j * inner[2]!]!;
    }
  });
  return out;
}

export function copy(x: View, out: TypedArray): TypedArray {
  const src = host(x.storage);
  if (out instanceof Uint8Array && !(src instanceof Uint8Array)) {
    // a cast to bool: true for every non-zero value, NaN included (a plain store would wrap 256 to 0)
    forEachRow(x.shape, [x], (offs, o, len, inner) => {
      for (let j = 0, i = offs[0]!, s = inner[0]!; j < len; j++, i += s) out[o + j] = src[i] !== 0 ? 1 : 0;
    });
    return out;
  }
  forEachRow(x.shape, [x], (offs, o, len, inner) => {
    for (let j = 0, i = offs[0]!, s = inner[0]!; j < len; j++, i += s) out[o + j] = src[i]!;
  });
  return out;
}

export function assign(dst: View, src: View): void {
  const d = host(dst.storage);
  const s = host(src.storage);
  forEachRow(dst.shape, [dst, src], (offs, _o, len, inner) => {
    for (let j = 0; j < len; j++) d[offs[0]! + j * inner[0]!] = s[offs[1]! + j * inner[1]!]!;
  });
}
