// Image datasets in memory (N x 28 x 28 float32 in [0, 1], int labels), the reference split of
// the bundled digits, and seeded shuffled batching into NCHW tensors.

import { tensor } from '../creation.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';

export interface ImageDataset {
  /** N * 784 values in [0, 1], row-major 28 x 28 images. */
  images: Float32Array;
  labels: Int32Array;
  n: number;
  name: string;
}

export const IMAGE_SIZE = 28 * 28;

export function makeDataset(images: Float32Array, labels: Int32Array, name: string): ImageDataset {
  const n = labels.length;
  if (images.length !== n * IMAGE_SIZE) throw new Error(`${name}: ${images.length} pixel values for ${n} labels (expected ${n * IMAGE_SIZE})`);
  for (let i = 0; i < images.length; i++) {
    const v = images[i]!;
    if (!(v >= 0 && v <= 1)) throw new Error(`${name}: pixel ${i % IMAGE_SIZE} of image ${Math.floor(i / IMAGE_SIZE)} is ${v}, outside [0, 1]`);
  }
  return { images, labels, n, name };
}

/** The reference split of the 10,000 bundled digits: image i is test when i % 10 == 9. */
export function splitBundled(all: ImageDataset): { train: ImageDataset; test: ImageDataset } {
  const pick = (keep: (i: number) => boolean, name: string): ImageDataset => {
    const idx = Array.from({ length: all.n }, (_, i) => i).filter(keep);
    return subset(all, idx, name);
  };
  return { train: pick((i) => i % 10 !== 9, 'train'), test: pick((i) => i % 10 === 9, 'test') };
}

export function subset(ds: ImageDataset, indices: readonly number[], name = ds.name): ImageDataset {
  const images = new Float32Array(indices.length * IMAGE_SIZE);
  const labels = new Int32Array(indices.length);
  indices.forEach((src, i) => {
    images.set(ds.images.subarray(src * IMAGE_SIZE, (src + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = ds.labels[src]!;
  });
  return { images, labels, n: indices.length, name };
}

/** The first n images (quick runs: --limit). */
export function limit(ds: ImageDataset, n: number): ImageDataset {
  if (n >= ds.n) return ds;
  return subset(ds, Array.from({ length: n }, (_, i) => i));
}

/** k indices spread evenly over 0..n-1 (the bundled test set is sorted by digit, so this shows them all). */
export function spreadIndices(n: number, k: number): Int32Array {
  const m = Math.min(n, k);
  return Int32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}

/** Fisher-Yates with the given generator: the same seed gives the same order everywhere. */
export function permutation(n: number, g: Generator): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = g.int(0, i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export interface Batch {
  x: Tensor; // [B, 1, 28, 28]
  labels: Int32Array;
  indices: Int32Array;
}

export function batchOf(ds: ImageDataset, indices: Int32Array): Batch {
  const data = new Float32Array(indices.length * IMAGE_SIZE);
  indices.forEach((src, i) => data.set(ds.images.subarray(src * IMAGE_SIZE, (src + 1) * IMAGE_SIZE), i * IMAGE_SIZE));
  return { x: tensor(data, { shape: [indices.length, 1, 28, 28] }), labels: indices.map((i) => ds.labels[i]!), indices };
}

/** Batches in a seeded shuffled order (or in order when no generator is given); the last may be short. */
export function* batches(ds: ImageDataset, batchSize: number, shuffle?: Generator): Generator_<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const order = shuffle ? permutation(ds.n, shuffle) : Int32Array.from({ length: ds.n }, (_, i) => i);
  for (let s = 0; s < ds.n; s += batchSize) yield batchOf(ds, order.subarray(s, Math.min(s + batchSize, ds.n)));
}
type Generator_<T> = globalThis.Generator<T, void, unknown>;
