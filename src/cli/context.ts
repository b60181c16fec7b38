// What the commands share: choosing the backend, loading data and models, and output paths.

import { dirname, resolve } from 'node:path';
import { getBackendInfo, setBackend } from '../backend/registry.js';
import { setNumThreads } from '../backend/wasm/threads/config.js';
import { loadSafetensorsWithMetadata, mnistAsync } from '../node/index.js';
import { checkWritableDirectorySync, makeDirectorySync } from '../node/files.js';
import type { ImageDataset } from '../vae/data.js';
import { vaeFromStateDict } from '../vae/checkpoint.js';
import type { ModelKind, VAE } from '../vae/models.js';

export class CliError extends Error {}

/**
 * Select the backend (and, with --threads, the wasm kernels' thread count); returns a
 * description for logs ('wasm backend, 4 threads', 'gpu backend (GPU.js headlessgl mode, ANGLE
 * (...))'). On the GPU, `note` gets what renders and, for a software renderer, a warning that
 * this is not a GPU.
 */
export async function chooseBackend(device: 'cpu' | 'gpu', backend: 'wasm' | 'js', note: (line: string) => void = () => undefined, threads?: number): Promise<string> {
  if (threads !== undefined) setNumThreads(threads);
  if (device === 'gpu') {
    try {
      await setBackend('gpu');
    } catch (e) {
      throw new CliError(`--device gpu: ${(e as Error).message}\n(or use --device cpu: WebAssembly SIMD)`);
    }
    const info = getBackendInfo();
    note(`--device gpu: GPU.js ${info.mode} mode, renderer: ${info.renderer}`);
    if (info.software) note('warning: this renderer is not a GPU (a software renderer on the CPU): --device cpu (WebAssembly SIMD) is much faster here');
    return `gpu backend (GPU.js ${info.mode} mode, ${info.renderer})`;
  }
  await setBackend(backend);
  const info = getBackendInfo();
  return info.threads === undefined ? `${backend} backend` : `${backend} backend, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
}

/**
 * One split of the data: `--data DIR` (any MNIST/Fashion-MNIST IDX folder) or, by default, the
 * standard MNIST split; `limit` takes a seeded subset stratified by label, streaming the files so
 * that memory holds only those images (a hostile gzip of a million images costs what N do).
 */
export async function loadSplit(dir: string | undefined, which: 'train' | 'test', limit?: number, seed = 0): Promise<ImageDataset> {
  try {
    return await mnistAsync({ train: which === 'train', dir, limit, seed });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** A model from a training checkpoint, a vaegrad model.safetensors or a PyTorch state_dict file. */
export async function loadModel(file: string, kind?: ModelKind, latent?: number): Promise<VAE> {
  let tensors;
  let metadata: Record<string, string>;
  try {
    ({ tensors, metadata } = await loadSafetensorsWithMetadata(file));
  } catch (e) {
    const msg = (e as Error).message;
    if (/file not found/.test(msg)) throw new CliError(`checkpoint not found: ${file} (train one with \`vaegrad train\`, or pass --checkpoint FILE)`);
    throw new CliError(msg);
  }
  try {
    return vaeFromStateDict(tensors, metadata, file, { model: kind, latent, overrideHint: '--model/--latent' });
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/**
 * Make sure files can be written to `dir` before doing any work, with a message naming the path.
 * Nothing is left behind: a failing command leaves no empty directory (makeOutputDir creates
 * it just before the first file is written).
 */
export function checkWritableDir(dir: string): void {
  try {
    checkWritableDirectorySync(dir);
  } catch (e) {
    throw new CliError(`cannot write to output directory ${resolve(dir)}: ${(e as Error).message}`);
  }
}

export const checkWritableFileDir = (file: string): void => checkWritableDir(dirname(resolve(file)));

/** Create the output directory (checked by checkWritableDir) right before writing into it. */
export function makeOutputDir(dir: string): void {
  try {
    makeDirectorySync(dir);
  } catch (e) {
    throw new CliError(`cannot create output directory ${resolve(dir)}: ${(e as Error).message}`);
  }
}

export const makeFileDir = (file: string): void => makeOutputDir(dirname(resolve(file)));
