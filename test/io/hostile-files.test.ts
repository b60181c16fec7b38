// Hostile inputs for the file readers: devices, FIFOs and links to them are refused by name, and
// gzip IDX files are decompressed with a cap derived from the header and the items asked for.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { closeSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { parseIdx, serializeIdx } from '../../src/io/idx.js';
import { loadIdxFile, loadIdxFileSync, loadIdxSplit, loadIdxSplitAsync, readFileBytes, readFileBytesSync } from '../../src/node/files.js';
import { stratifiedIndices } from '../../src/vae/data.js';
import { readSafetensorsFile } from '../../src/node/safetensors-file.js';
import { loadSafetensors } from '../../src/node/index.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vaegrad-hostile-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The IDX header of ubyte data with these dims. */
function idxHeader(dims: number[]): Uint8Array {
  const h = new Uint8Array(4 + 4 * dims.length);
  h[2] = 0x08;
  h[3] = dims.length;
  const dv = new DataView(h.buffer);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  return h;
}

/** gzip of header + n zero bytes, compressed in pieces so that the test itself never holds the raw body. */
function gzipOfZeros(header: Uint8Array, n: number): Buffer {
  // Deflate of a long zero run is tiny; zlib's streaming API is overkill here: concatenated gzip members are one gzip stream.
  const parts: Buffer[] = [gzipSync(header)];
  const block = new Uint8Array(64 << 20);
  for (let left = n; left > 0; left -= block.length) parts.push(gzipSync(block.subarray(0, Math.min(block.length, left)), { level: 9 }));
  return Buffer.concat(parts);
}

describe('readers refuse what is not a regular file', () => {
  const readers: [string, (f: string) => Promise<unknown>][] = [
    ['readFileBytes', (f) => readFileBytes(f)],
    ['readFileBytesSync', async (f) => readFileBytesSync(f)],
    ['loadIdxFile', (f) => loadIdxFile(f)],
    ['readSafetensorsFile', (f) => readSafetensorsFile(f)],
    ['loadSafetensors', (f) => loadSafetensors(f)],
  ];

  it.each(readers)('%s refuses /dev/zero and a link to it', async (_name, read) => {
    await expect(read('/dev/zero')).rejects.toThrow('cannot read /dev/zero: it is a character device, not a regular file');
    const link = join(dir, 'train-images-idx3-ubyte');
    symlinkSync('/dev/zero', link);
    await expect(read(link)).rejects.toThrow(`cannot read ${link}: it is a character device, not a regular file`);
  });

  it.each(readers)('%s refuses a FIFO without waiting for a writer', async (_name, read) => {
    const fifo = join(dir, 'checkpoint.safetensors');
    execFileSync('mkfifo', [fifo]);
    await expect(read(fifo)).rejects.toThrow(`cannot read ${fifo}: it is a FIFO (named pipe), not a regular file`);
  });
});

describe('gzip IDX: decompression is capped', () => {
  it('refuses a gzip whose header claims 3 billion images before decompressing the body', async () => {
    const f = join(dir, 'train-images-idx3-ubyte.gz');
    // 8 MB of zeros compress to ~8 KB: a hostile file would hold far more, but the header alone condemns it.
    writeFileSync(f, gzipOfZeros(idxHeader([3_000_000_000, 28, 28]), 8 << 20));
    const before = process.memoryUsage().arrayBuffers;
    await expect(loadIdxFile(f)).rejects.toThrow(/header says 3000000000x28x28 unsigned bytes \(2352000000000 bytes\) but the source can hold at most \d+ bytes/);
    expect(() => loadIdxFileSync(f)).toThrow(/header says 3000000000x28x28 unsigned bytes \(2352000000000 bytes\) but the source can hold at most \d+ bytes/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  });

  it('reads 8 of 1.2 million blank images with bounded memory and time', async () => {
    const f = join(dir, 'train-images-idx3-ubyte.gz');
    const n = 1_200_000;
    writeFileSync(f, gzipOfZeros(idxHeader([n, 28, 28]), n * 784));
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const got = await loadIdxFile(f, { maxItems: 8 });
    clearInterval(timer);
    expect(got.dims).toEqual([8, 28, 28]);
    expect(got.total).toBe(n);
    expect(got.data.length).toBe(8 * 784);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(Math.max(peak, process.memoryUsage().arrayBuffers) - before).toBeLessThan(64 << 20);
  });

  /** A train split of 1.2 million blank images (a 0.9 MB gzip that inflates to 941 MB), labels i % 10. */
  function writeBlankSplit(): number {
    const n = 1_200_000;
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipOfZeros(idxHeader([n, 28, 28]), n * 784));
    const labels = new Uint8Array(8 + n);
    labels.set(idxHeader([n]));
    for (let i = 0; i < n; i++) labels[8 + i] = i % 10;
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(labels));
    return n;
  }

  it('loadIdxSplitAsync keeps 8 stratified images of 1.2 million, streaming: bounded memory and time', async () => {
    const n = writeBlankSplit();
    let picked: Int32Array | undefined;
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const split = await loadIdxSplitAsync(dir, 'train', { select: (labels) => (picked = stratifiedIndices(labels, 8, 0)) });
    clearInterval(timer);
    // Spread over the whole file (the last one near its end), so the stream was read nearly through.
    expect(picked![7]!).toBeGreaterThan(n / 2);
    expect(split.count).toBe(8);
    expect(split.images.length).toBe(8 * 784);
    expect(Array.from(split.labels)).toEqual(Array.from(picked!, (i) => i % 10));
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(Math.max(peak, process.memoryUsage().arrayBuffers) - before).toBeLessThan(64 << 20);
  }, 30_000);

  it("the CLI's --limit path (loadSplit) reads 8 of 1.2 million gzipped images within a small peak RSS", () => {
    writeBlankSplit();
    // A child process, so that its peak RSS (maxRSS) is this load's alone. Reading the whole split
    // first, as the CLI did, peaked at 5.4 GB here; streaming, at about 150 MB (most of it Node and tsx).
    const context = fileURLToPath(new URL('../../src/cli/context.ts', import.meta.url));
    const script = `const { loadSplit } = await import(${JSON.stringify(context)});
      const ds = await loadSplit(process.argv[1], 'train', 8, 0);
      console.log(JSON.stringify({ n: ds.n, name: ds.name, maxRssMB: process.resourceUsage().maxRSS / 1024 }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], { encoding: 'utf8', timeout: 60_000 });
    const got = JSON.parse(out) as { n: number; name: string; maxRssMB: number };
    expect(got.n).toBe(8);
    expect(got.name).toBe(`IDX data in ${dir} (train), 8 of 1200000 (stratified, seed 0)`);
    expect(got.maxRssMB).toBeLessThan(400);
  }, 90_000);

  it('a plain (not gzipped) file is streamed too: 3 chosen images of a 78 MB file, a chunk at a time', async () => {
    const f = join(dir, 'train-images-idx3-ubyte');
    const n = 100_000;
    const fd = openSync(f, 'w');
    writeSync(fd, idxHeader([n, 28, 28]));
    const block = new Uint8Array(784 * 1000);
    for (let i = 0; i < n; i += 1000) {
      block[0] = i % 251; // the first pixel of every 1000th image tells them apart
      writeSync(fd, block);
    }
    closeSync(fd);
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 1);
    const before = process.memoryUsage().arrayBuffers;
    const got = await loadIdxFile(f, { items: [99_000, 3000, 1] });
    clearInterval(timer);
    expect(got.dims).toEqual([3, 28, 28]);
    expect(got.total).toBe(n);
    expect([got.data[0], got.data[784], got.data[2 * 784 + 1]]).toEqual([99_000 % 251, 3000 % 251, 0]);
    expect(Math.max(peak, process.memoryUsage().arrayBuffers) - before).toBeLessThan(16 << 20);
    // The same answers and errors as reading the whole file.
    const whole = await readFileBytes(f);
    expect(await loadIdxFile(f, { maxItems: 2 })).toEqual(parseIdx(whole, f, { maxItems: 2 }));
    await expect(loadIdxFile(f, { items: [n] })).rejects.toThrow(`${f}: item index ${n} (position 0) is outside the file's ${n} items`);
    writeFileSync(f, whole.subarray(0, 16 + 784 * 10 + 5));
    await expect(loadIdxFile(f, { items: [3] })).rejects.toThrow(`${f}: invalid IDX file: truncated: header says 100000x28x28 unsigned bytes (78400000 bytes) but only 7845 bytes follow`);
  }, 30_000);

  it('reads chosen items only, in the order asked', async () => {
    const data = Uint8Array.from({ length: 50 * 6 }, (_, i) => Math.floor(i / 6));
    const bytes = serializeIdx([50, 2, 3], data);
    const f = join(dir, 'a-idx3-ubyte.gz');
    writeFileSync(f, gzipSync(bytes));
    const got = await loadIdxFile(f, { items: [49, 3, 3, 0] });
    expect(got.dims).toEqual([4, 2, 3]);
    expect(got.total).toBe(50);
    expect(Array.from(got.data).filter((_, i) => i % 6 === 0)).toEqual([49, 3, 3, 0]);
    expect(Array.from(parseIdx(bytes, 'raw', { items: [49, 3, 3, 0] }).data)).toEqual(Array.from(got.data));
    await expect(loadIdxFile(f, { items: [50] })).rejects.toThrow(`${f}: item index 50 (position 0) is outside the file's 50 items`);
  });

  it('stops at the first bytes beyond the body a header promised (reading everything)', async () => {
    const f = join(dir, 'x-idx1-ubyte.gz');
    writeFileSync(f, gzipOfZeros(idxHeader([2]), 64 << 20));
    await expect(loadIdxFile(f)).rejects.toThrow(/invalid IDX file: at least \d+ trailing bytes: header says 2 unsigned bytes \(2 bytes\)/);
    expect(() => loadIdxFileSync(f)).toThrow(/invalid IDX file: the gzip inflates to more than the 10 bytes its header declares/);
    // The synchronous reader gives what the asynchronous one gives on good and truncated files.
    const good = join(dir, 'g-idx3-ubyte.gz');
    const bytes = serializeIdx([50, 2, 3], Uint8Array.from({ length: 300 }, (_, i) => i & 255));
    writeFileSync(good, gzipSync(bytes));
    expect(loadIdxFileSync(good, { items: [7, 1] })).toEqual(await loadIdxFile(good, { items: [7, 1] }));
    writeFileSync(good, gzipSync(bytes).subarray(0, 60));
    expect(() => loadIdxFileSync(good)).toThrow(/g-idx3-ubyte\.gz: corrupt gzip data: unexpected end of file/);
    await expect(loadIdxFile(good)).rejects.toThrow(/g-idx3-ubyte\.gz: corrupt gzip data: unexpected end of file/);
  });

  it('loadIdxSplit reads the images a selection of the labels asks for, and cross-checks the full counts', async () => {
    const n = 20;
    const files: [string, Uint8Array][] = [
      ['train-images-idx3-ubyte.gz', serializeIdx([n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, i) => Math.floor(i / 784)))],
      ['train-labels-idx1-ubyte.gz', serializeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10))],
      ['t10k-images-idx3-ubyte.gz', serializeIdx([5, 28, 28], new Uint8Array(5 * 784))],
      ['t10k-labels-idx1-ubyte.gz', serializeIdx([5], new Uint8Array(5))],
    ];
    for (const [name, b] of files) writeFileSync(join(dir, name), gzipSync(b));
    let seen: number[] = [];
    const train = loadIdxSplit(dir, 'train', { select: (labels) => ((seen = Array.from(labels)), [13, 2]) });
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i % 10));
    expect(train.count).toBe(2);
    expect(Array.from(train.labels)).toEqual([3, 2]);
    expect(train.images[0]).toBe(13);
    expect(train.images[784]).toBe(2);
    expect(loadIdxSplit(dir, 'test', { select: () => [4] }).count).toBe(1);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(serializeIdx([4], new Uint8Array(4))));
    expect(() => loadIdxSplit(dir, 'test', { select: () => [0] })).toThrow(/t10k-labels-idx1-ubyte\.gz: 4 labels but .*t10k-images-idx3-ubyte\.gz has 5 images/);
  });
});
