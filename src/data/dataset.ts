// Datasets: anything with a length and get(i) (PyTorch's map-style Dataset), TensorDataset over
// tensors that share their first dim, and collate(), which stacks samples into batch tensors.

import { noGrad } from '../autograd/grad-mode.js';
import { tensor } from '../creation.js';
import { stack } from '../ops/movement.js';
import { fmtShape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** What one dataset item may be: a tensor, a number, or a tuple or record of them. */
export type Sample = Tensor | number | readonly (Tensor | number)[] | { readonly [key: string]: Tensor | number };

/** A batch of samples S: each tensor or number becomes a tensor with a leading batch dim. */
export type Collated<S> = S extends Tensor | number ? Tensor : { -readonly [K in keyof S]: Tensor };

/** The interface DataLoader reads: a length, get(i), and optionally a whole batch at once. */
export interface DatasetLike<S extends Sample = Sample> {
  /** The number of items. */
  readonly length: number;
  /** Item i, for 0 <= i < length. */
  get(index: number): S;
  /** A fast path: the collated batch of these items in one go (DataLoader uses it when present). */
  getBatch?(indices: Int32Array): Collated<S>;
}

/** Base class for map-style datasets: override `length` and `get(i)`. */
export abstract class Dataset<S extends Sample = Sample> implements DatasetLike<S> {
  /** The number of items. */
  abstract get length(): number;
  /** Item i, for 0 <= i < length. */
  abstract get(index: number): S;
}

/** Checks that i is an item index of a dataset of n items; returns it. */
export function checkIndex(op: string, i: number, n: number): number {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${op}: index ${i} out of range for a dataset of ${n} items`);
  return i;
}

/** Items are the i-th rows of the given tensors, e.g. new TensorDataset(images, labels) gives [image, label]. */
export class TensorDataset extends Dataset<Tensor[]> {
  /** The tensors, sharing their first dim. */
  readonly tensors: readonly Tensor[];
  /** A dataset whose item i is the i-th row of each tensor (torch.utils.data.TensorDataset). */
  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new Error('TensorDataset: expected at least one tensor');
    tensors.forEach((t, i) => {
      if (!(t instanceof Tensor)) throw new Error(`TensorDataset: argument ${i} is not a Tensor`);
      if (t.ndim === 0) throw new Error(`TensorDataset: tensor ${i} is a scalar; every tensor needs a first dim to index`);
      if (t.shape[0] !== tensors[0]!.shape[0]) {
        throw new Error(`TensorDataset: tensor ${i} has shape ${fmtShape(t.shape)}, tensor 0 has ${fmtShape(tensors[0]!.shape)}: their first dims (the number of items) differ`);
      }
    });
    this.tensors = tensors;
  }
  get length(): number {
    return this.tensors[0]!.shape[0]!;
  }
  get(index: number): Tensor[] {
    checkIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => t.select(0, index));
  }
  /** One gather of rows per tensor: no per-item tensors. */
  getBatch(indices: Int32Array): Tensor[] {
    indices.forEach((i) => checkIndex('TensorDataset.getBatch', i, this.length));
    const index = tensor(indices);
    return noGrad(() => this.tensors.map((t) => t.indexSelect(0, index)));
  }
}

function collateField(values: readonly (Tensor | number)[], where: string): Tensor {
  const first = values[0];
  if (first instanceof Tensor) {
    values.forEach((v, i) => {
      if (!(v instanceof Tensor)) throw new Error(`collate: item ${i}${where} is ${typeof v}, item 0's is a Tensor`);
      if (v.dtype !== first.dtype) throw new Error(`collate: item ${i}${where} has dtype ${v.dtype}, item 0's has ${first.dtype}`);
    });
    return noGrad(() => stack(values as Tensor[]));
  }
  const nums = values.map((v, i) => {
    if (typeof v !== 'number') throw new Error(`collate: item ${i}${where} is ${v instanceof Tensor ? 'a Tensor' : typeof v}, item 0's is a number`);
    return v;
  });
  return tensor(nums, { dtype: nums.every(Number.isInteger) ? 'int32' : 'float32' });
}

/**
 * Stack samples into a batch: tensors along a new first dim, numbers into a tensor (int32 when
 * all are integers, else float32), tuples and records field by field (PyTorch's default_collate).
 */
export function collate<S extends Sample>(samples: readonly S[]): Collated<S> {
  if (samples.length === 0) throw new Error('collate: no samples');
  const first = samples[0]!;
  if (first instanceof Tensor || typeof first === 'number') return collateField(samples as readonly (Tensor | number)[], '') as Collated<S>;
  if (Array.isArray(first)) {
    return first.map((_, k) => {
      const col = samples.map((s, i) => {
        const row = s as readonly (Tensor | number)[];
        if (!Array.isArray(row) || row.length !== first.length) throw new Error(`collate: item ${i} is not a tuple of ${first.length} like item 0`);
        return row[k]!;
      });
      return collateField(col, `'s field ${k}`);
    }) as Collated<S>;
  }
  if (typeof first === 'object' && first !== null) {
    const out: Record<string, Tensor> = {};
    for (const key of Object.keys(first)) {
      out[key] = collateField(samples.map((s) => (s as Record<string, Tensor | number>)[key]!), `'s '${key}'`);
    }
    return out as Collated<S>;
  }
  throw new Error(`collate: cannot batch items of type ${typeof first}`);
}
