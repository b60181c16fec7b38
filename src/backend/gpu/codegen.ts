// Source generation for GPU.js kernels. Kernels are written as JavaScript source strings so that
// shapes, strides and offsets are baked in as integer literals (one compiled kernel per geometry,
// cached by the backend) while per-call scalars (learning rate, clamp bounds) stay arguments, so
// changing them never recompiles. Index arithmetic is done in floats with Math.floor((i + 0.5) / d):
// GLSL's float division is not correctly rounded, and the half keeps the quotient away from an
// integer, exact for indices below 2^22.

import type { BinaryOp, UnaryOp, View } from '../backend.js';
import { coalesce } from '../js/strided.js';

export const lit = (v: number): string => {
  if (!Number.isInteger(v)) throw new Error(`internal: gpu codegen literal ${v} is not an integer`);
  return v < 0 ? `(0 - ${-v})` : String(v);
};

/**
 * Statements that split the flat index `t` (a float) of a contiguous [shape] array into
 * coordinates `${p}0..${p}{r-1}`.
 */
export function decompose(t: string, shape: readonly number[], p: string): string {
  const r = shape.length;
  if (r === 0) return '';
  const lines: string[] = [];
  let cur = t;
  for (let d = r - 1; d >= 1; d--) {
    const s = shape[d]!;
    if (s === 1) {
      lines.push(`const ${p}${d} = 0;`);
      continue;
    }
    lines.push(`const ${p}q${d} = Math.floor((${cur} + 0.5) / ${lit(s)});`);
    lines.push(`const ${p}${d} = ${cur} - ${p}q${d} * ${lit(s)};`);
    cur = `${p}q${d}`;
  }
  lines.push(`const ${p}0 = ${cur};`);
  return lines.join('\n');
}

/** offset + sum(coord_k * stride_k) as an expression. */
export function index(p: string, strides: readonly number[], offset: number): string {
  const terms = [lit(offset)];
  strides.forEach((s, d) => { if (s !== 0) terms.push(`${p}${d} * ${lit(s)}`); });
  return terms.join(' + ');
}

/**
 * Merge dims that all views walk alike (the js backend's coalescing): most elementwise views
 * become rank 1 or 2, so kernels do few divisions and fewer distinct kernels compile.
 */
export function coalesceViews(shape: readonly number[], views: readonly View[]): { shape: number[]; strides: number[][]; offsets: number[] } {
  const c = coalesce(shape, views);
  return { shape: c.shape, strides: c.views.map((v) => v.strides), offsets: c.views.map((v) => v.offset) };
}

/** The float32 expression of a unary op on `x`, with per-call scalars `pa`, `pb`. */
export function unaryExpr(op: UnaryOp): string {
  switch (op) {
    case 'neg': return '-x';
    case 'exp': return 'Math.exp(x)';
    case 'log': return 'Math.log(x)';
    case 'log1p': return 'Math.log1p(x)';
    case 'sqrt': return 'Math.sqrt(x)';
    case 'abs': return 'Math.abs(x)';
    case 'sign': return '(x > 0 ? 1.0 : (x < 0 ? -1.0 : x))';
    case 'relu': return '(x > 0 ? x : (x !== x ? x : 0.0))';
    case 'sigmoid': return '(x >= 0 ? 1.0 / (1.0 + Math.exp(-x)) : Math.exp(x) / (1.0 + Math.exp(x)))';
    case 'tanh': return 'Math.tanh(x)';
    case 'softplus': return '(Math.max(x, 0.0) + Math.log1p(Math.exp(-Math.abs(x))))';
    case 'reciprocal': return '(1.0 / x)';
    case 'square': return '(x * x)';
    case 'step': return '(x > 0 ? 1.0 : 0.0)';
    case 'leakyRelu': return '(x > 0 ? x : x * pa)';
    case 'clamp': return '(x < pa ? pa : (x > pb ? pb : x))';
    case 'powScalar': return 'Math.pow(x, pa)';
    case 'addScalar': return '(x + pa)';
    case 'mulScalar': return '(x * pa)';
    case 'inRange': return '(x >= pa && x <= pb ? 1.0 : 0.0)';
    // Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, below float32's resolution of erf's values.
    case 'erf': return '((x < 0.0 ? -1.0 : 1.0) * (1.0 - (((((1.061405429 / (1.0 + 0.3275911 * Math.abs(x)) - 1.453152027) / (1.0 + 0.3275911 * Math.abs(x)) + 1.421413741) / (1.0 + 0.3275911 * Math.abs(x)) - 0.284496736) / (1.0 + 0.3275911 * Math.abs(x)) + 0.254829592) / (1.0 + 0.3275911 * Math.abs(x))) * Math.exp(-x * x)))';
    default: throw new Error(`gpu backend: unknown unary op '${String(op satisfies never)}'`); // a new UnaryOp fails to typecheck here
  }
}

export function binaryExpr(op: BinaryOp): string {
  switch (op) {
    case 'add': return '(x + y)';
    case 'sub': return '(x - y)';
    case 'mul': return '(x * y)';
    case 'div': return '(x / y)';
    case 'pow': return 'Math.pow(x, y)';
    case 'maximum': return '(x !== x ? x : (y !== y ? y : Math.max(x, y)))';
    case 'minimum': return '(x !== x ? x : (y !== y ? y : Math.min(x, y)))';
    case 'eq': return '(x === y ? 1.0 : 0.0)';
    case 'ne': return '(x !== y ? 1.0 : 0.0)';
    case 'lt': return '(x < y ? 1.0 : 0.0)';
    case 'le': return '(x <= y ? 1.0 : 0.0)';
    case 'gt': return '(x > y ? 1.0 : 0.0)';
    case 'ge': return '(x >= y ? 1.0 : 0.0)';
    case 'mulStep': return '(x * (y > 0 ? 1.0 : 0.0))'; // the fused ReLU gradient
    case 'floorDiv': case 'remainder': throw new Error(`gpu backend: '${op}' runs on the host`);
    default: throw new Error(`gpu backend: unknown binary op '${String(op satisfies never)}'`); // a new BinaryOp fails to typecheck here
  }
}
