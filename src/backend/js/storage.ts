// Host storage: a typed array on the JavaScript heap, freed by the garbage collector like any
// other object, so users never dispose tensors. The WASM backend shares this storage type.

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

export function host(s: Storage): TypedArray {
  if (!(s instanceof HostStorage)) throw new Error('internal: storage does not belong to a host-memory backend');
  return s.data;
}
