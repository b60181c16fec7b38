// Node-only safetensors files: read and (atomically) write them through the byte-level API in io/safetensors.

import { parseSafetensors, serializeSafetensors, type SafeEntry, type SafetensorsContents } from '../io/safetensors.js';
import { readFileBytes, writeFileAtomic } from './files.js';

/** Reads and validates a safetensors file; errors name the path. */
export async function readSafetensorsFile(file: string): Promise<SafetensorsContents> {
  return parseSafetensors(await readFileBytes(file), file);
}

/** Writes a safetensors file atomically, so an interrupted save never leaves a torn checkpoint behind. */
export async function writeSafetensorsFile(
  file: string,
  tensors: Map<string, SafeEntry> | Record<string, SafeEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}
