// vaegrad/node: the Node-only part of the API: files (atomic writes), safetensors checkpoints
// on disk, data loading and PNG output.

// The core barrel installs tensor methods and registers the backends: every entry point loads it.
import '../index.js';

import type { Tensor } from '../tensor.js';
import { safetensorsToStateDict, stateDictToSafetensors } from '../io/state-dict.js';
import type { StateDictWithMetadata } from '../io/state-dict.js';
import { readFileBytes, writeFileAtomic } from './files.js';
import type { Saveable } from '../io/serialize.js';
import { loadBytes, saveBytes } from '../io/serialize.js';

/** A state dict (PyTorch names) from a safetensors file, e.g. one written by safetensors.torch.save_file. */
export async function loadSafetensors(file: string): Promise<Map<string, Tensor>> {
  return safetensorsToStateDict(await readFileBytes(file), file).tensors;
}

/** The tensors and the `__metadata__` strings of a safetensors file. */
export async function loadSafetensorsWithMetadata(file: string): Promise<StateDictWithMetadata> {
  return safetensorsToStateDict(await readFileBytes(file), file);
}

/** Write a state dict atomically (a temporary file, then a rename): a failed save leaves the old file intact. */
export async function saveSafetensors(file: string, sd: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  const map = sd instanceof Map ? sd : new Map(Object.entries(sd));
  await writeFileAtomic(file, stateDictToSafetensors(map, metadata));
}

/**
 * Save any nesting of tensors, numbers, strings, booleans, null, arrays, Maps and plain objects,
 * e.g. `{ model: model.stateDict(), optim: opt.stateDict(), epoch }`, as one safetensors file
 * (the tensors by their path, the structure in __metadata__), atomically.
 */
export async function save(file: string, obj: Saveable): Promise<void> {
  await writeFileAtomic(file, saveBytes(obj));
}

/** What save() wrote; a plain safetensors file (no saved structure) loads as its state dict, a Map. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the saved object's type is the caller's to state
export async function load<T = any>(file: string): Promise<T> {
  return loadBytes<T>(await readFileBytes(file), file);
}

export { writeFileAtomic, readFileBytes, loadIdxFile, findIdxFiles, loadIdxSplit, loadIdxSplitAsync } from './files.js';
export type { IdxSplit, IdxSplitOptions } from './files.js';
export { mnist, mnistAsync, fashionMnist, fashionMnistAsync, defaultMnistDir, idxImageDataset, idxImageDatasetAsync, NO_DATA_HELP, MNIST_PACKAGE, FASHION_MNIST_DEBIAN_DIR } from './mnist.js';
export type { MnistOptions } from './mnist.js';
export { ImageDataset, stratifiedSubset, stratifiedIndices } from '../vae/data.js';
