// Element types and PyTorch's type promotion. float32 is the default, float64 is for gradient
// checks, int32 holds indices and labels (vaegrad has no int64: PyTorch's int64 results are
// int32 here), and bool (stored one byte per value, 0 or 1, in a Uint8Array) is what
// comparisons return.

/** The element types a tensor can have. */
export type DType = 'bool' | 'int32' | 'float32' | 'float64';
/** The host arrays behind each dtype: Uint8Array (bool), Int32Array, Float32Array, Float64Array. */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Every dtype, in promotion order (bool < int32 < float32 < float64). */
export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32', 'float64'];

/** The dtype a floating-point JS number gives when it meets an integer or bool tensor (PyTorch's default dtype). */
export const DEFAULT_FLOAT: DType = 'float32';

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { bool: 1, int32: 4, float32: 4, float64: 8 };

/**
 * The most bytes one tensor may hold (4 GiB). Beyond it JavaScript engines fail with a bare
 * RangeError ("Invalid typed array length"), so every allocation is checked against it first.
 */
export const MAX_TENSOR_BYTES = 2 ** 32;

/** 1536 -> "1.5 KiB": sizes in messages. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toPrecision(3)} ${units[u]}`;
}

/**
 * The one allocation rule: a shape of non-negative integers whose elements fit MAX_TENSOR_BYTES.
 * The error names the op, the shape and the bytes it would need.
 */
export function checkAllocation(op: string, shape: readonly number[], dtype: DType): number {
  const bad = shape.findIndex((d) => !Number.isSafeInteger(d) || d < 0);
  if (bad >= 0) throw new Error(`${op}: dimension ${bad} of shape [${shape.join(', ')}] is ${shape[bad]}, not a non-negative integer`);
  const n = shape.reduce((a, d) => a * d, 1);
  const bytes = n * (DTYPE_BYTES[dtype] ?? 8);
  if (bytes > MAX_TENSOR_BYTES) {
    throw new Error(`${op}: shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes (${formatBytes(bytes)}), beyond the ${formatBytes(MAX_TENSOR_BYTES)} one tensor may hold`);
  }
  return n;
}

/** A zeroed host array of `size` elements; `op` names the caller in the error when it cannot be had. */
export function allocArray(dtype: DType, size: number, op = 'allocate'): TypedArray {
  checkAllocation(op, [size], dtype);
  try {
    switch (dtype) {
      case 'float32': return new Float32Array(size);
      case 'float64': return new Float64Array(size);
      case 'int32': return new Int32Array(size);
      case 'bool': return new Uint8Array(size);
    }
  } catch (e) {
    // Within the limit, but the engine has no memory left for it.
    throw new Error(`${op}: cannot allocate ${size} ${dtype} elements (${formatBytes(size * DTYPE_BYTES[dtype])}): ${(e as Error).message}`);
  }
  throw new Error(`unknown dtype '${String(dtype)}' (expected one of ${DTYPES.join(', ')})`);
}

/** The dtype of a storage's host array (a Uint8Array is a bool storage). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'bool';
  throw new Error(`unsupported typed array ${(a as object).constructor.name} (expected Float32Array, Float64Array, Int32Array or Uint8Array)`);
}

export function checkDType(op: string, dtype: string): DType {
  if (!DTYPES.includes(dtype as DType)) throw new Error(`${op}: unknown dtype '${dtype}' (expected one of ${DTYPES.join(', ')})`);
  return dtype as DType;
}

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64';

/** The smallest dtype both promote to (PyTorch's promote_types on this lattice: a chain). */
export function promoteTypes(a: DType, b: DType): DType {
  return DTYPES.indexOf(a) >= DTYPES.indexOf(b) ? a : b;
}

/** An operand of an elementwise op, as type promotion sees it: a tensor's dtype and rank, or a JS number. */
export type PromotionOperand = PromotionTensor | number | boolean;

/** What type promotion needs to know of a tensor operand. */
export interface PromotionTensor {
  /** Its dtype. */
  dtype: DType;
  /** Its rank (0-d tensors count like scalars). */
  ndim: number;
}

const category = (d: DType): number => (d === 'bool' ? 0 : d === 'int32' ? 1 : 2);

/**
 * PyTorch's result_type: tensors with dims decide within a category; 0-d tensors, then JS
 * numbers, count only when they are of a higher category (bool < integer < floating). A JS
 * integer is int32-like, a non-integer JS number float32-like (the default dtype), a JS boolean
 * bool-like; so `int32 tensor + 0.5` is float32 and `float32 tensor + float64 0-d tensor` stays
 * float32. (Integers that do not fit int32 are checked where they are used.)
 */
export function resultType(...operands: PromotionOperand[]): DType {
  let dim: DType | undefined;
  let zero: DType | undefined;
  let scalar: DType | undefined;
  const up = (cur: DType | undefined, d: DType): DType => (cur === undefined ? d : promoteTypes(cur, d));
  for (const o of operands) {
    if (typeof o === 'number') scalar = up(scalar, Number.isInteger(o) ? 'int32' : DEFAULT_FLOAT);
    else if (typeof o === 'boolean') scalar = up(scalar, 'bool');
    else if (o.ndim > 0) dim = up(dim, o.dtype);
    else zero = up(zero, o.dtype);
  }
  const r = combine(dim, combine(zero, scalar));
  if (r === undefined) throw new Error('internal: resultType of no operands');
  return r;
}

/** PyTorch's combine_categories: the lower tier counts only where it is of a higher category. */
function combine(higher: DType | undefined, lower: DType | undefined): DType | undefined {
  if (higher === undefined) return lower;
  if (lower === undefined) return higher;
  if (isFloat(higher)) return higher;
  if (higher === 'bool' || category(lower) > category(higher)) return promoteTypes(higher, lower);
  return higher;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * A JS number as a value of dtype, or an error naming the value and the dtype when it does not
 * fit (PyTorch raises for a scalar that overflows the tensor's dtype). Integers truncate toward
 * zero as a cast would; bool is value !== 0.
 */
export function scalarFor(op: string, v: number, dtype: DType): number {
  if (dtype === 'int32') {
    if (!Number.isFinite(v) || v < INT32_MIN || v > INT32_MAX) throw new Error(`${op}: value ${v} does not fit dtype int32 (range ${INT32_MIN} to ${INT32_MAX})`);
    return Math.trunc(v);
  }
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  return v;
}

/** values converted into a new array of dtype, each checked as scalarFor does. */
export function toArrayOf(op: string, dtype: DType, values: ArrayLike<number>): TypedArray {
  const out = allocArray(dtype, values.length);
  if (dtype === 'float32' || dtype === 'float64') {
    out.set(values);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = scalarFor(op, values[i]!, dtype);
  }
  return out;
}
