// Tests for the Node file layer: atomic writes, read errors, gzip, IDX discovery/loading, safetensors files, real Fashion-MNIST.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { serializeIdx } from '../../src/io/idx.js';
import { i64ToNumbers, type SafeEntry } from '../../src/io/safetensors.js';
import {
  findIdxFiles,
  gunzipStream,
  loadIdxDataset,
  loadIdxFile,
  readFileBytes,
  readFileBytesSync,
  writeFileAtomic,
  writeFileAtomicSync,
} from '../../src/node/files.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/node/safetensors-file.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vaegrad-files-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes bytes and strings, replacing an existing file, leaving no temp file', async () => {
    const f = join(dir, 'out.bin');
    await writeFileAtomic(f, new Uint8Array([1, 2, 3]));
    expect(Array.from(readFileSync(f))).toEqual([1, 2, 3]);
    await writeFileAtomic(f, 'hello');
    expect(readFileSync(f, 'utf8')).toBe('hello');
    writeFileAtomicSync(f, new Uint8Array([9]));
    expect(Array.from(readFileSync(f))).toEqual([9]);
    expect(readdirSync(dir)).toEqual(['out.bin']);
  });

  it('writes a view of a larger buffer, not the whole buffer', async () => {
    const f = join(dir, 'v.bin');
    await writeFileAtomic(f, new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 3));
    expect(Array.from(readFileSync(f))).toEqual([1, 2]);
  });

  it('names the path when the directory does not exist', async () => {
    const f = join(dir, 'missing', 'out.bin');
    await expect(writeFileAtomic(f, 'x')).rejects.toThrow(`cannot write ${f}: directory ${join(dir, 'missing')} does not exist`);
    expect(() => writeFileAtomicSync(f, 'x')).toThrow(/does not exist/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names the path when the parent is a regular file (tests run as root, so chmod cannot make a read-only dir)', async () => {
    writeFileSync(join(dir, 'plain'), 'x');
    const f = join(dir, 'plain', 'out.bin');
    await expect(writeFileAtomic(f, 'x')).rejects.toThrow(new RegExp(`^cannot write ${f}: .*is not a directory`));
    expect(() => writeFileAtomicSync(f, 'x')).toThrow(/is not a directory/);
    expect(readdirSync(dir)).toEqual(['plain']);
  });

  it('removes its temp file when the final rename fails (target is a directory)', async () => {
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    await expect(writeFileAtomic(target, new Uint8Array(1000))).rejects.toThrow(`cannot write ${target}: it is a directory`);
    expect(() => writeFileAtomicSync(target, 'x')).toThrow(/it is a directory/);
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['inside']);
  });
});

describe('readFileBytes', () => {
  it('reads a file', async () => {
    writeFileSync(join(dir, 'a'), Buffer.from([5, 6]));
    expect(Array.from(await readFileBytes(join(dir, 'a')))).toEqual([5, 6]);
    expect(Array.from(readFileBytesSync(join(dir, 'a')))).toEqual([5, 6]);
  });

  it('says "file not found" with the path', async () => {
    const f = join(dir, 'nope.safetensors');
    await expect(readFileBytes(f)).rejects.toThrow(`file not found: ${f}`);
    expect(() => readFileBytesSync(f)).toThrow(`file not found: ${f}`);
  });

  it('says when the path is a directory', async () => {
    await expect(readFileBytes(dir)).rejects.toThrow(`cannot read ${dir}: is a directory, not a file`);
  });
});

describe('gunzipStream', () => {
  const collect = async (gz: Uint8Array, source = '<test>'): Promise<number[]> => {
    const out: number[] = [];
    await gunzipStream(gz, source, (c) => {
      out.push(...c);
      return false;
    });
    return out;
  };

  it('decompresses gzip chunk by chunk', async () => {
    const raw = Uint8Array.from({ length: 100000 }, (_, i) => i % 7);
    expect(await collect(new Uint8Array(gzipSync(raw)))).toEqual(Array.from(raw));
  });

  it('stops as soon as the consumer has enough', async () => {
    const gz = new Uint8Array(gzipSync(new Uint8Array(50_000_000)));
    let seen = 0;
    const ended = await gunzipStream(gz, 'big.gz', (c) => (seen += c.length) >= 100_000);
    expect(ended).toBe(false);
    expect(seen).toBeLessThan(1_000_000);
  });

  it('names the source on corrupt gzip', async () => {
    const gz = new Uint8Array(gzipSync(new Uint8Array(5000).fill(3)));
    await expect(collect(gz.subarray(0, gz.length - 20), 'train-images-idx3-ubyte.gz')).rejects.toThrow(/^train-images-idx3-ubyte\.gz: corrupt gzip data: /);
    const bad = gz.slice();
    bad[20] = (bad[20] ?? 0) ^ 0xff;
    bad[21] = (bad[21] ?? 0) ^ 0xff;
    await expect(collect(bad, 'x.gz')).rejects.toThrow(/^x\.gz: corrupt gzip data/);
  });
});

function writeMnistDir(d: string, opts: { gz?: boolean; dotted?: boolean; n?: number; skip?: string[] } = {}): void {
  const n = opts.n ?? 3;
  const sep = opts.dotted ? '.' : '-';
  const files: [string, Uint8Array][] = [
    [`train-images${sep}idx3-ubyte`, serializeIdx([n, 4, 5], Uint8Array.from({ length: n * 20 }, (_, i) => i & 255))],
    [`train-labels${sep}idx1-ubyte`, serializeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10))],
    [`t10k-images${sep}idx3-ubyte`, serializeIdx([2, 4, 5], new Uint8Array(40).fill(255))],
    [`t10k-labels${sep}idx1-ubyte`, serializeIdx([2], Uint8Array.from([7, 1]))],
  ];
  for (const [name, bytes] of files) {
    if (opts.skip?.some((s) => name.startsWith(s))) continue;
    writeFileSync(join(d, opts.gz ? `${name}.gz` : name), opts.gz ? gzipSync(bytes) : bytes);
  }
}

describe('IDX files', () => {
  it('loads a gzipped and a plain IDX file the same way', async () => {
    const bytes = serializeIdx([2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6]));
    writeFileSync(join(dir, 'a-idx2-ubyte'), bytes);
    writeFileSync(join(dir, 'a-idx2-ubyte.gz'), gzipSync(bytes));
    const plain = await loadIdxFile(join(dir, 'a-idx2-ubyte'));
    const gz = await loadIdxFile(join(dir, 'a-idx2-ubyte.gz'));
    expect(plain).toEqual(gz);
    expect(plain.dims).toEqual([2, 3]);
  });

  it('names the file on truncation inside a .gz', async () => {
    const f = join(dir, 't10k-images-idx3-ubyte.gz');
    writeFileSync(f, gzipSync(Uint8Array.from([0, 0, 8, 3, 0, 0, 0x27, 0x10, 0, 0, 0, 28, 0, 0, 0, 28, ...new Array<number>(123).fill(0)])));
    // The compressed size alone bounds what the gzip can hold: refused before decompressing the body.
    await expect(loadIdxFile(f)).rejects.toThrow(`${f}: invalid IDX file: header says 10000x28x28 unsigned bytes (7840000 bytes) but the source can hold at most`);
    writeFileSync(f, gzipSync(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 200, ...new Array<number>(123).fill(0)])));
    await expect(loadIdxFile(f)).rejects.toThrow(`${f}: invalid IDX file: truncated: header says 200 unsigned bytes (200 bytes) but only 123 bytes follow`);
  });

  it('reports a missing file by path', async () => {
    await expect(loadIdxFile(join(dir, 'x'))).rejects.toThrow(`file not found: ${join(dir, 'x')}`);
  });

  it.each([
    ['plain', {}],
    ['gzipped', { gz: true }],
    ['dot-spelled', { dotted: true }],
  ])('finds the four %s files and loads the dataset', async (_what, opts) => {
    writeMnistDir(dir, opts);
    const files = await findIdxFiles(dir);
    const ext = 'gz' in opts ? '.gz' : '';
    const sep = 'dotted' in opts ? '.' : '-';
    expect(files).toEqual({
      trainImages: join(dir, `train-images${sep}idx3-ubyte${ext}`),
      trainLabels: join(dir, `train-labels${sep}idx1-ubyte${ext}`),
      testImages: join(dir, `t10k-images${sep}idx3-ubyte${ext}`),
      testLabels: join(dir, `t10k-labels${sep}idx1-ubyte${ext}`),
    });
    const ds = await loadIdxDataset(dir);
    expect(ds.train).toMatchObject({ count: 3, rows: 4, cols: 5 });
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2]);
    expect(ds.test).toMatchObject({ count: 2, rows: 4, cols: 5 });
    expect(Array.from(ds.test.labels)).toEqual([7, 1]);
  });

  it('lists the missing files and the expected names', async () => {
    writeMnistDir(dir, { skip: ['train-labels', 't10k-images'] });
    await expect(findIdxFiles(dir)).rejects.toThrow(
      `${dir}: missing IDX file(s): train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] (expected the four files train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])`,
    );
  });

  it('says when the data directory does not exist or is a file', async () => {
    await expect(findIdxFiles(join(dir, 'none'))).rejects.toThrow(`data directory not found: ${join(dir, 'none')}`);
    writeFileSync(join(dir, 'f'), 'x');
    await expect(findIdxFiles(join(dir, 'f'))).rejects.toThrow(/is not a directory/);
  });

  it('rejects labels that do not match the images', async () => {
    writeMnistDir(dir, { skip: ['train-labels'] });
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), serializeIdx([5], new Uint8Array(5)));
    await expect(loadIdxDataset(dir)).rejects.toThrow(/train-labels-idx1-ubyte: 5 labels but .*train-images-idx3-ubyte has 3 images/);
  });

  it('rejects images that are not ubyte [n, rows, cols]', async () => {
    writeMnistDir(dir, { skip: ['train-images'] });
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), serializeIdx([3, 20], new Uint8Array(60)));
    await expect(loadIdxDataset(dir)).rejects.toThrow(/expected unsigned-byte images of 3 dimensions/);
  });
});

describe('safetensors files', () => {
  it('writes atomically and reads back', async () => {
    const f = join(dir, 'model.safetensors');
    const tensors: Record<string, SafeEntry> = {
      'fc_mu.weight': { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
      'encoder.1.num_batches_tracked': { dtype: 'I64', shape: [], data: new BigInt64Array([12n]) },
    };
    await writeSafetensorsFile(f, tensors, { epoch: '3' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const back = await readSafetensorsFile(f);
    expect(back.metadata).toEqual({ epoch: '3' });
    expect([...back.tensors.keys()]).toEqual(['fc_mu.weight', 'encoder.1.num_batches_tracked']);
    expect(i64ToNumbers(back.tensors.get('encoder.1.num_batches_tracked')!.data as BigInt64Array)).toEqual([12]);
  });

  it('names the path in parse errors and when the file is missing', async () => {
    const f = join(dir, 'bad.safetensors');
    writeFileSync(f, 'abc');
    await expect(readSafetensorsFile(f)).rejects.toThrow(`${f}: invalid safetensors file: file is 3 bytes`);
    await expect(readSafetensorsFile(join(dir, 'none.safetensors'))).rejects.toThrow(`file not found: ${join(dir, 'none.safetensors')}`);
  });

  it('leaves the old file intact when serialization fails', async () => {
    const f = join(dir, 'model.safetensors');
    writeFileSync(f, 'old');
    await expect(writeSafetensorsFile(f, { w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).rejects.toThrow(/has 3 elements but data has 2/);
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });
});

const FASHION = '/usr/share/datasets/fashion-mnist';
const haveFashion = existsSync(FASHION);
if (!haveFashion) console.log(`[io] ${FASHION} not found: skipping the real Fashion-MNIST test (apt-get install dataset-fashion-mnist)`);

describe('real Fashion-MNIST files (Debian dataset-fashion-mnist)', () => {
  it.skipIf(!haveFashion)('loads 60000 + 10000 images of 28x28 with labels 0..9', async () => {
    const ds = await loadIdxDataset(FASHION);
    expect(ds.train).toMatchObject({ count: 60000, rows: 28, cols: 28 });
    expect(ds.test).toMatchObject({ count: 10000, rows: 28, cols: 28 });
    expect(ds.train.images).toHaveLength(60000 * 784);
    expect(ds.test.labels).toHaveLength(10000);
    const hist = new Array<number>(10).fill(0);
    for (const l of ds.train.labels) hist[l] = (hist[l] ?? 0) + 1;
    expect(hist).toEqual(new Array<number>(10).fill(6000));
    let max = 0;
    for (const v of ds.test.images) if (v > max) max = v;
    expect(max).toBe(255);
  }, 60_000);
});
