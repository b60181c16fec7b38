// Making tensors: from nested arrays or typed arrays, constants, ranges and random draws.

import { currentBackend } from './backend/registry.js';
import type { DType, TypedArray } from './dtype.js';
import { allocArray, checkAllocation, checkDType, dtypeOfArray, scalarFor, toArrayOf } from './dtype.js';
import type { Generator } from './random.js';
import { defaultGenerator } from './random.js';
import type { Shape } from './shape.js';
import { fmtShape, numel } from './shape.js';
import type { NestedArray } from './tensor.js';
import { Tensor, fromStorage } from './tensor.js';

/** dtype (default float32) and requiresGrad of a new tensor, as PyTorch's factory keywords. */
export interface TensorOptions {
  /** The element type (default float32). */
  dtype?: DType;
  /** Record operations on it for autograd (floating-point only). */
  requiresGrad?: boolean;
}
/** TensorOptions plus the generator to draw from (default: the global one, seeded by manualSeed). */
export interface RandomOptions extends TensorOptions {
  /** The generator to draw from (default: the global one). */
  generator?: Generator;
}

function make(values: TypedArray, shape: Shape, opts: TensorOptions = {}): Tensor {
  const t = fromStorage(currentBackend().fromArray(values), shape);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function checkShape(op: string, shape: Shape): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return [...shape];
}

/** A zeroed array for a checked shape: the shape's rule, then the allocation rule, both naming `op`. */
function allocFor(op: string, shape: Shape, dtype: DType): TypedArray {
  const s = checkShape(op, shape);
  return allocArray(dtype, checkAllocation(op, s, dtype), op);
}

function nestedShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray;
    if (cur === undefined) break;
  }
  return shape;
}

/**
 * A tensor from nested arrays, a number or a typed array (float32 unless told otherwise; a typed
 * array keeps its own dtype, and a Uint8Array needs an explicit one). Values that do not fit an
 * int32 tensor are an error; floats truncate toward zero; bool stores value !== 0.
 */
export function tensor(data: NestedArray | TypedArray | boolean[], opts: TensorOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const arr = data as TypedArray;
    if (arr instanceof Uint8Array && opts.dtype === undefined) {
      throw new Error("tensor: a Uint8Array needs an explicit dtype ('bool', 'int32', 'float32' or 'float64')");
    }
    const dtype = checkDType('tensor', opts.dtype ?? dtypeOfArray(arr));
    const shape = opts.shape ? checkShape('tensor', opts.shape) : [arr.length];
    if (numel(shape) !== arr.length) throw new Error(`tensor: shape ${fmtShape(shape)} needs ${numel(shape)} values, got ${arr.length}`);
    return make(toArrayOf('tensor', dtype, arr), shape, opts);
  }
  const shape = nestedShape(data as NestedArray);
  const flat = new Array<number>(numel(shape));
  let k = 0;
  const fill = (x: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (typeof x !== 'number' && typeof x !== 'boolean') throw new Error(`tensor: expected a number at depth ${dim}, got ${JSON.stringify(x)}`);
      flat[k++] = Number(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim]) {
      throw new Error(`tensor: ragged nested array: expected length ${shape[dim]} at depth ${dim}, got ${Array.isArray(x) ? x.length : typeof x}`);
    }
    for (const y of x) fill(y, dim + 1);
  };
  fill(data, 0);
  const t = make(toArrayOf('tensor', checkDType('tensor', opts.dtype ?? 'float32'), flat), shape, opts);
  return opts.shape ? t.reshape([...opts.shape]) : t;
}

/** A tensor of `shape` filled with `value` (torch.full). */
export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  const s = checkShape('full', shape);
  const dtype = checkDType('full', opts.dtype ?? 'float32');
  return make(allocFor('full', s, dtype).fill(scalarFor('full', value, dtype)), s, opts);
}
/** A tensor of zeros (torch.zeros). */
export const zeros = (shape: Shape, opts: TensorOptions = {}): Tensor => full(shape, 0, opts);
/** A tensor of ones (torch.ones). */
export const ones = (shape: Shape, opts: TensorOptions = {}): Tensor => full(shape, 1, opts);
/** Zeros in t's shape and dtype (torch.zeros_like). */
export const zerosLike = (t: Tensor, opts: TensorOptions = {}): Tensor => full(t.shape, 0, { dtype: t.dtype, ...opts });
/** Ones in t's shape and dtype (torch.ones_like). */
export const onesLike = (t: Tensor, opts: TensorOptions = {}): Tensor => full(t.shape, 1, { dtype: t.dtype, ...opts });
/** `v` everywhere in t's shape and dtype (torch.full_like). */
export const fullLike = (t: Tensor, v: number, opts: TensorOptions = {}): Tensor => full(t.shape, v, { dtype: t.dtype, ...opts });

/** Values start, start + step, ... below end (PyTorch's arange). */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be a non-zero finite number, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error(`arange: start and end must be finite numbers, got ${start} and ${end}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const v = allocFor('arange', [n], checkDType('arange', opts.dtype ?? 'float32'));
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return make(v, [n], opts);
}

/** `steps` evenly spaced values from start to end, both included (torch.linspace). */
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`linspace: steps must be a non-negative integer, got ${steps}`);
  const v = allocFor('linspace', [steps], checkDType('linspace', opts.dtype ?? 'float32'));
  for (let i = 0; i < steps; i++) v[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1);
  return make(v, [steps], opts);
}

/** The n x m identity matrix (torch.eye). */
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  const v = allocFor('eye', [n, m], checkDType('eye', opts.dtype ?? 'float32'));
  for (let i = 0; i < Math.min(n, m); i++) v[i * m + i] = 1;
  return make(v, [n, m], opts);
}

function random(op: string, shape: Shape, opts: RandomOptions, draw: (g: Generator) => number): Tensor {
  const s = checkShape(op, shape);
  const g = opts.generator ?? defaultGenerator;
  const v = allocFor(op, s, checkDType(op, opts.dtype ?? 'float32'));
  for (let i = 0; i < v.length; i++) v[i] = draw(g);
  return make(v, s, opts);
}

/** Uniform on [0, 1). */
export const rand = (shape: Shape, opts: RandomOptions = {}): Tensor => random('rand', shape, opts, (g) => g.uniform());
/** Standard normal. */
export const randn = (shape: Shape, opts: RandomOptions = {}): Tensor => random('randn', shape, opts, (g) => g.normal());
/** Integers in [low, high), int32 unless told otherwise. */
export function randint(low: number, high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  if (!(high > low)) throw new Error(`randint: high (${high}) must be greater than low (${low})`);
  return random('randint', shape, { dtype: 'int32', ...opts }, (g) => g.int(low, high));
}
/** Uniform on [low, high). */
export const uniform = (shape: Shape, low: number, high: number, opts: RandomOptions = {}): Tensor =>
  random('uniform', shape, opts, (g) => low + (high - low) * g.uniform());
