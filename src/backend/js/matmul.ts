// Reference batched matrix product over strided [batch, m, k] x [batch, k, n] views.

import type { TypedArray } from '../../dtype.js';
import { allocArray } from '../../dtype.js';
import type { View } from '../backend.js';
import { host } from './storage.js';

export function matmul(a: View, b: View): TypedArray {
  const A = host(a.storage);
  const B = host(b.storage);
  const [batch, m, k] = a.shape as [number, number, number];
  const n = b.shape[2]!;
  const [sab, sam, sak] = a.strides as [number, number, number];
  const [sbb, sbk, sbn] = b.strides as [number, number, number];
  const out = allocArray(a.storage.dtype, batch * m * n);
  const row = new Float64Array(n);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const av = A[a.offset + t * sab + i * sam + p * sak]!;
        const bo = b.offset + t * sbb + p * sbk;
        for (let j = 0; j < n; j++) row[j]! += av * B[bo + j * sbn]!;
      }
      out.set(row, (t * m + i) * n);
    }
  }
  return out;
}
