// Element types: float32 (the default), float64 (for gradient checks) and int32 (indices).

export type DType = 'float32' | 'float64' | 'int32';
export type TypedArray = Float32Array | Float64Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

export function allocArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(size);
    case 'float64': return new Float64Array(size);
    case 'int32': return new Int32Array(size);
    default: throw new Error(`unknown dtype '${String(dtype)}' (expected one of ${DTYPES.join(', ')})`);
  }
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  throw new Error(`unsupported typed array ${(a as object).constructor.name} (expected Float32Array, Float64Array or Int32Array)`);
}

export function checkDType(op: string, dtype: string): DType {
  if (!DTYPES.includes(dtype as DType)) throw new Error(`${op}: unknown dtype '${dtype}' (expected one of ${DTYPES.join(', ')})`);
  return dtype as DType;
}

export const isFloat = (d: DType): boolean => d !== 'int32';
