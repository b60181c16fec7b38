// DataLoader: batches from a dataset in order or in a seeded shuffled order, resumable mid-epoch
// through stateDict()/loadStateDict() (the epoch's order and how many batches were handed out).

import { tensor } from '../creation.js';
import type { Generator, GeneratorState } from '../random.js';
import { defaultGenerator, permutation } from '../random.js';
import { Tensor } from '../tensor.js';
import type { Collated, DatasetLike, Sample } from './dataset.js';
import { checkIndex, collate } from './dataset.js';

/** Options of DataLoader (torch.utils.data.DataLoader's batch_size, shuffle, drop_last, generator). */
export interface DataLoaderOptions {
  /** Items per batch (default 1). */
  batchSize?: number;
  /** A new random order every epoch (default false: items in index order). */
  shuffle?: boolean;
  /** Drop the last batch when it is short (default false). */
  dropLast?: boolean;
  /** Draws each epoch's order (default: the global generator, seeded by manualSeed). */
  generator?: Generator;
}

/** Where a loader stands: enough for a new loader over the same dataset to continue at the same batch. */
export interface DataLoaderState {
  /** Epochs begun before the current one. */
  epoch: number;
  /** Batches of the current epoch already handed out. */
  position: number;
  /** The current epoch's item order (int32), or null between epochs. */
  order: Tensor | null;
  /** The state of the loader's own generator (null when it uses the global one). */
  generator: GeneratorState | null;
}

/**
 * Iterable over batches: `for (const [x, y] of loader)`. Each loop is one epoch. A loop that
 * stops early leaves stateDict() describing where it stopped; the next loop starts a new epoch,
 * unless loadStateDict() was given a mid-epoch state, which the next loop continues.
 */
export class DataLoader<S extends Sample = Sample> implements Iterable<Collated<S>> {
  /** Items per batch. */
  readonly batchSize: number;
  /** A new random order each epoch. */
  readonly shuffle: boolean;
  /** Leave out a last batch smaller than batchSize. */
  readonly dropLast: boolean;
  /** The generator of the shuffles (undefined: the global one). */
  readonly generator: Generator | undefined;
  private epoch = 0;
  private order: Int32Array | null = null;
  private position = 0;
  private resuming = false;

  /** A loader of batches of `dataset` (batchSize 1, in order, by default). */
  constructor(
    /** The dataset batches are drawn from. */
    readonly dataset: DatasetLike<S>,
    opts: DataLoaderOptions = {},
  ) {
    if (!dataset || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length) || dataset.length < 0) {
      throw new Error('DataLoader: dataset must have an integer length and a get(index) method');
    }
    this.batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.generator = opts.generator;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The batches of one epoch, collated into tensors (a new shuffled order each epoch; after loadStateDict, the rest of that epoch). */
  *[Symbol.iterator](): Iterator<Collated<S>> {
    if (!this.resuming) {
      if (this.order) this.epoch++; // an epoch left early counts as begun
      const n = this.dataset.length;
      this.order = this.shuffle ? permutation(n, this.generator ?? defaultGenerator) : Int32Array.from({ length: n }, (_, i) => i);
      this.position = 0;
    }
    this.resuming = false;
    const order = this.order!;
    while (this.position < this.length) {
      const start = this.position * this.batchSize;
      const indices = order.subarray(start, Math.min(start + this.batchSize, order.length));
      this.position++;
      yield this.fetch(indices);
    }
    this.epoch++;
    this.order = null;
    this.position = 0;
  }

  private fetch(indices: Int32Array): Collated<S> {
    const ds = this.dataset;
    if (ds.getBatch) return ds.getBatch(indices);
    return collate(Array.from(indices, (i) => ds.get(i)));
  }

  /** Where the loader is: the epoch, its order and the batches handed out (save it to resume mid-epoch). */
  stateDict(): DataLoaderState {
    return {
      epoch: this.epoch,
      position: this.position,
      order: this.order ? tensor(this.order) : null,
      generator: this.generator ? this.generator.getState() : null,
    };
  }

  /** Continue from a state: the next loop resumes a mid-epoch state at its next batch. */
  loadStateDict(state: DataLoaderState): void {
    const n = this.dataset.length;
    if (!state || !Number.isInteger(state.epoch) || state.epoch < 0) throw new Error('DataLoader.loadStateDict: epoch must be a non-negative integer');
    if (!Number.isInteger(state.position) || state.position < 0 || state.position > this.length) {
      throw new Error(`DataLoader.loadStateDict: position ${state.position} out of range for ${this.length} batches per epoch`);
    }
    let order: Int32Array | null = null;
    if (state.order !== null && state.order !== undefined) {
      if (!(state.order instanceof Tensor) || state.order.dtype !== 'int32' || state.order.ndim !== 1) throw new Error('DataLoader.loadStateDict: order must be a 1-d int32 tensor or null');
      if (state.order.numel !== n) throw new Error(`DataLoader.loadStateDict: the state's order has ${state.order.numel} items, the dataset has ${n}`);
      order = state.order.dataSync() as Int32Array;
      const seen = new Uint8Array(n);
      for (const i of order) {
        if (seen[checkIndex('DataLoader.loadStateDict: order', i, n)]) throw new Error(`DataLoader.loadStateDict: order lists item ${i} twice`);
        seen[i] = 1;
      }
    }
    if (state.generator) {
      if (!this.generator) throw new Error('DataLoader.loadStateDict: the state has a generator state, but this loader was given no generator');
      this.generator.setState(state.generator);
    }
    this.epoch = state.epoch;
    this.order = order;
    this.position = order ? state.position : 0;
    this.resuming = order !== null && state.position < this.length;
    if (order && !this.resuming) {
      // The saved epoch had handed out all its batches: the next loop is a new epoch.
      this.epoch++;
      this.order = null;
      this.position = 0;
    }
  }
}
