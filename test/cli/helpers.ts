// Shared by the CLI tests: run `main()` in-process with captured streams, spawn the real bin,
// scratch directories, small IDX data sets, and PNG headers.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { main } from '../../src/cli/index.js';
import { serializeIdx } from '../../src/io/idx.js';
import { spawnNode, type SpawnOptions, type SpawnResult } from '../spawn-node.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin/vaegrad.js');
/** bin/vaegrad.js runs dist/: the spawning tests need `npm run build` (npm test does it). */
export const BUILT = existsSync(join(ROOT, 'dist/src/cli/index.js'));
export const FASHION = '/usr/share/datasets/fashion-mnist';

export interface Captured {
  write(chunk: string | Uint8Array): boolean;
  text: string;
  isTTY?: boolean;
  columns?: number;
}

export function capture(opts: { isTTY?: boolean; columns?: number; onWrite?: (chunk: string) => void } = {}): Captured {
  const s: Captured = {
    text: '',
    isTTY: opts.isTTY ?? false,
    columns: opts.columns,
    write(chunk) {
      const str = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      s.text += str;
      opts.onWrite?.(str);
      return true;
    },
  };
  return s;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `vaegrad ARGV...` in this process (much faster than spawning). */
export async function run(argv: string[], opts: { isTTY?: boolean; onStderr?: (chunk: string) => void } = {}): Promise<RunResult> {
  const stdout = capture();
  const stderr = capture({ isTTY: opts.isTTY, columns: 100, onWrite: opts.onStderr });
  const code = await main(argv, { stdout: stdout as never, stderr: stderr as never });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** `node bin/vaegrad.js ARGV...` as a child process; `onStderr` sees the child and its output as it comes. */
export function spawnCli(argv: string[], opts: SpawnOptions = {}): Promise<SpawnResult> {
  return spawnNode([BIN, ...argv], { ...opts, cwd: opts.cwd ?? ROOT });
}

/** A fresh scratch directory; remove it with cleanup(). */
export function scratch(prefix: string): { dir: string; path: (...p: string[]) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vaegrad-${prefix}-`));
  return { dir, path: (...p) => join(dir, ...p), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Names in a directory, sorted (hidden temp files included); [] when it does not exist. */
export function ls(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export const IDX_NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** A small MNIST-format data set (random strokes, labels 0..9) of the four IDX files, gzipped or not. */
export function writeIdxDir(dir: string, opts: { train?: number; test?: number; gzip?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 0x1000000;
  const images = (n: number): Uint8Array => {
    const a = new Uint8Array(n * 784);
    for (let i = 0; i < a.length; i++) a[i] = rand() < 0.2 ? Math.floor(rand() * 256) : 0;
    return a;
  };
  const labels = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 10);
  const train = opts.train ?? 96;
  const test = opts.test ?? 40;
  const files: [string, Uint8Array][] = [
    [IDX_NAMES[0]!, serializeIdx([train, 28, 28], images(train))],
    [IDX_NAMES[1]!, serializeIdx([train], labels(train))],
    [IDX_NAMES[2]!, serializeIdx([test, 28, 28], images(test))],
    [IDX_NAMES[3]!, serializeIdx([test], labels(test))],
  ];
  for (const [name, bytes] of files) {
    if (opts.gzip) writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes));
    else writeFileSync(join(dir, name), bytes);
  }
}

/** Width and height from a PNG's IHDR, after checking the signature. */
export function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length < 33 || sig.some((v, i) => b[i] !== v) || b.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${file}: not a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Control characters other than newline (a progress bar's \r and escape sequences). */
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;
