// Image datasets in memory (N grey 28 x 28 images in [0, 1], integer labels), seeded stratified
// subsets, and batches of them as NCHW tensors (vg.data.DataLoader shuffles and batches them).

import { tensor } from '../creation.js';
import { Generator, permutation } from '../random.js';
import type { Tensor } from '../tensor.js';
import type { DatasetLike } from '../data/dataset.js';

/** Pixels per image: 28 x 28. */
export const IMAGE_SIZE = 28 * 28;

/**
 * An image classification dataset held in memory, indexable like a torchvision dataset:
 * `ds.get(i)` is `[image [1, 28, 28] float32 in [0, 1], label]`, `ds.length` its size, and the
 * whole set is `ds.images` ([N, 1, 28, 28] float32) and `ds.labels` ([N] int32).
 */
export class ImageDataset implements DatasetLike<[Tensor, number]> {
  /** Number of images (the same as `length`). */
  readonly n: number;
  private imagesTensor: Tensor | undefined;
  private labelsTensor: Tensor | undefined;

  /**
   * A dataset of these images and labels, checked to match.
   *
   * @param pixels N * 784 values in [0, 1], row-major 28 x 28 images (checked)
   * @param labelValues N integer labels
   * @param name what the data are, for messages ("mnist (train)")
   * @param opts.inRange the pixels are known to be in [0, 1] (bytes / 255, or rows of another
   *   dataset), so the check over every pixel is skipped
   */
  constructor(readonly pixels: Float32Array, readonly labelValues: Int32Array, readonly name: string, opts: { inRange?: boolean } = {}) {
    const n = labelValues.length;
    if (pixels.length !== n * IMAGE_SIZE) throw new Error(`${name}: ${pixels.length} pixel values for ${n} labels (expected ${n * IMAGE_SIZE})`);
    for (let i = 0; !opts.inRange && i < pixels.length; i++) {
      const v = pixels[i]!;
      if (!(v >= 0 && v <= 1)) throw new Error(`${name}: pixel ${i % IMAGE_SIZE} of image ${Math.floor(i / IMAGE_SIZE)} is ${v}, outside [0, 1]`);
    }
    this.n = n;
  }

  /** Number of images. */
  get length(): number {
    return this.n;
  }

  /** Image i as a [1, 28, 28] float32 tensor, and its label. */
  get(i: number): [Tensor, number] {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) throw new RangeError(`${this.name}: index ${i} is out of range for ${this.n} images`);
    return [tensor(this.pixels.slice(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE), { shape: [1, 28, 28] }), this.labelValues[i]!];
  }

  /** Images and labels at `indices` as one batch, [B, 1, 28, 28] and [B] int32: DataLoader's fast path. */
  getBatch(indices: Int32Array): [Tensor, Tensor] {
    const { x, labels } = batchOf(this, indices);
    return [x, tensor(labels, { dtype: 'int32' })];
  }

  /** All images, [N, 1, 28, 28] float32 (made on first use). */
  get images(): Tensor {
    return (this.imagesTensor ??= tensor(this.pixels, { shape: [this.n, 1, 28, 28] }));
  }

  /** All labels, [N] int32 (made on first use). */
  get labels(): Tensor {
    return (this.labelsTensor ??= tensor(this.labelValues, { shape: [this.n], dtype: 'int32' }));
  }

  /** Number of images of each label 0..max. */
  labelCounts(): number[] {
    const counts: number[] = [];
    for (const l of this.labelValues) counts[l] = (counts[l] ?? 0) + 1;
    return Array.from(counts, (c) => c ?? 0);
  }
}

/** The pixels and labels of the images at `indices`, in that order (the one gather behind subsets and batches). */
function gatherRows(ds: ImageDataset, indices: ArrayLike<number>): { pixels: Float32Array; labels: Int32Array } {
  const pixels = new Float32Array(indices.length * IMAGE_SIZE);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]!;
    pixels.set(ds.pixels.subarray(src * IMAGE_SIZE, (src + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = ds.labelValues[src]!;
  }
  return { pixels, labels };
}

/** The images at `indices`, in that order. */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = ds.name): ImageDataset {
  const { pixels, labels } = gatherRows(ds, indices);
  return new ImageDataset(pixels, labels, name, { inRange: true });
}

/**
 * Indices of a seeded random subset of n labels, stratified: each label gets its share of n
 * (largest remainders, ties to the smaller label), drawn at random within the label. The same
 * seed gives the same subset; the indices come back in increasing order.
 */
export function stratifiedIndices(labels: ArrayLike<number>, n: number, seed: number): Int32Array {
  const total = labels.length;
  if (!Number.isInteger(n) || n < 0) throw new Error(`subset size must be a non-negative integer, got ${n}`);
  if (n >= total) return Int32Array.from({ length: total }, (_, i) => i);
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < total; i++) {
    const l = labels[i]!;
    let list = byLabel.get(l);
    if (list === undefined) byLabel.set(l, (list = []));
    list.push(i);
  }
  const classes = [...byLabel.keys()].sort((a, b) => a - b);
  const share = classes.map((l) => (byLabel.get(l)!.length * n) / total);
  const take = share.map(Math.floor);
  let left = n - take.reduce((s, t) => s + t, 0);
  const byRemainder = classes.map((_, k) => k).sort((a, b) => share[b]! - take[b]! - (share[a]! - take[a]!) || a - b);
  for (const k of byRemainder) {
    if (left === 0) break;
    take[k]!++;
    left--;
  }
  const g = new Generator(seed);
  const picked: number[] = [];
  classes.forEach((l, k) => {
    const members = byLabel.get(l)!;
    const order = permutation(members.length, g);
    for (let j = 0; j < take[k]!; j++) picked.push(members[order[j]!]!);
  });
  return Int32Array.from(picked.sort((a, b) => a - b));
}

/** A seeded random subset of n images, stratified by label (see stratifiedIndices); the whole set when n >= its size. */
export function stratifiedSubset(ds: ImageDataset, n: number, seed: number): ImageDataset {
  if (n >= ds.n) return ds;
  return subset(ds, stratifiedIndices(ds.labelValues, n, seed), `${ds.name}, ${n} of ${ds.n} (stratified, seed ${seed})`);
}

/** k indices spread evenly over 0..n-1 (a fixed, varied choice of test images to show). */
export function spreadIndices(n: number, k: number): Int32Array {
  const m = Math.min(n, k);
  return Int32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}

export { permutation };

/** A batch of images: the tensor, their labels and their indices in the dataset. */
export interface Batch {
  /** The images, [B, 1, 28, 28]. */
  x: Tensor; // [B, 1, 28, 28]
  /** Their labels. */
  labels: Int32Array;
  /** Their indices in the dataset. */
  indices: Int32Array;
}

/** The images at `indices` as one [B, 1, 28, 28] tensor, with their labels. */
export function batchOf(ds: ImageDataset, indices: Int32Array): Batch {
  const { pixels, labels } = gatherRows(ds, indices);
  return { x: tensor(pixels, { shape: [indices.length, 1, 28, 28] }), labels, indices };
}
