// Source generation for GPU.js kernels. Kernels are written as JavaScript source strings so that
// shapes, strides and offsets are baked in as integer literals (one compiled kernel per geometry,
// cached by the backend) while per-call scalars (learning rate, clamp bounds) stay arguments, so
// changing them never recompiles.
//
// Index arithmetic runs in float32 on the device (GPU.js hands this.thread.x over as a float):
// integers are exact below 2^24, and floor(i / d) is computed as a float quotient corrected by the
// sign of the remainder (floorDiv), exact for every integer index below 2^24 whatever the rounding
// of GLSL's division. The backend refuses tensors of more than MAX_ELEMENTS = 2^24 elements with
// a clear error (assertIndexable) rather than index them wrongly.

import type { BinaryOp, UnaryOp, View } from '../backend.js';
import { coalesce } from '../js/strided.js';

/** The most elements of one tensor the GPU backend indexes exactly (float32 integers). */
export const MAX_ELEMENTS = 2 ** 24;

/** Throw a clear error for a tensor the float32 index arithmetic cannot address exactly. */
export function assertIndexable(n: number, what: string): void {
  if (n > MAX_ELEMENTS) {
    throw new Error(`gpu backend: ${what} has ${n.toLocaleString('en-US')} elements; GPU.js kernels index in float32, exact up to ` +
      `2^24 = ${MAX_ELEMENTS.toLocaleString('en-US')} elements per tensor: use a smaller batch, or --device cpu`);
  }
}

export const lit = (v: number): string => {
  if (!Number.isInteger(v)) throw new Error(`internal: gpu codegen literal ${v} is not an integer`);
  return v < 0 ? `(0 - ${-v})` : String(v);
};

/**
 * Statements declaring `name` = floor(num / d) for an integer-valued float `num` (any sign,
 * |num| < 2^24): the float quotient may be one off (GLSL's division is not correctly rounded),
 * and the remainder's sign corrects it. `num` must be a name or a side-effect-free expression.
 */
export function floorDiv(name: string, num: string, d: number): string {
  if (d === 1) return `const ${name} = ${num};`;
  return [
    `let ${name} = Math.floor(${num} / ${lit(d)});`,
    `const ${name}r = ${num} - ${name} * ${lit(d)};`,
    `if (${name}r < 0) { ${name} = ${name} - 1; }`,
    `if (${name}r >= ${lit(d)}) { ${name} = ${name} + 1; }`,
  ].join('\n');
}

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
    lines.push(floorDiv(`${p}q${d}`, cur, s));
    lines.push(`const ${p}${d} = ${cur} - ${p}q${d} * ${lit(s)};`);
    cur = `${p}q${d}`;
  }
  lines.push(`const ${p}0 = ${cur};`);
  return lines.join('\n');
}

/**
 * The longest per-thread loop of a kernel source, in iterations: the largest product of the
 * literal bounds of nested `for (let v = 0; v < N; ...)` loops (the launch profile reports it).
 */
export function loopIterations(src: string): number {
  let best = 1;
  const stack: { depth: number; mult: number }[] = [];
  let depth = 0;
  let pending = 0; // a loop header seen, its body's brace not yet
  const re = /for \(let \w+ = 0; \w+ < (\d+);|[{}]/g;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    if (m[1] !== undefined) pending = Number(m[1]);
    else if (m[0] === '{') {
      depth++;
      if (pending) {
        const mult = (stack.at(-1)?.mult ?? 1) * pending;
        stack.push({ depth, mult });
        best = Math.max(best, mult);
        pending = 0;
      }
    } else {
      if (stack.at(-1)?.depth === depth) stack.pop();
      depth--;
    }
  }
  return best;
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
