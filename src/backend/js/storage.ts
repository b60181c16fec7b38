// Host storage: a typed array on the JavaScript heap, freed by the garbage collector like any
// other object, so users never dispose tensors. The WASM backend keeps its float64, int32 and
// bool storage here too, and lends its float32 storage to the reference kernels (HostLending).

import type { DType, TypedArray } from '../../dtype.js';
import { dtypeOfArray } from '../../dtype.js';
import type { Storage } from '../backend.js';

export class HostStorage implements Storage {
  readonly dtype: DType;
  constructor(readonly data: TypedArray) {
    this.dtype = dtypeOfArray(data);
  }
  get size(): number {
    return this.data.length;
  }
}

/**
 * Storage of another backend that lends its values to the reference kernels: its own host array
 * where it has one (writes then land in the storage), else a copy. The wasm backend's storage is one.
 */
export interface HostLending extends Storage {
  hostValues(): TypedArray;
}

export function host(s: Storage): TypedArray {
  if (s instanceof HostStorage) return s.data;
  if (typeof (s as Partial<HostLending>).hostValues === 'function') return (s as HostLending).hostValues();
  throw new Error('internal: storage does not belong to a host-memory backend');
}
