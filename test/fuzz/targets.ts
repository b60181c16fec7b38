// The formats the fuzz suite attacks: each has valid seed inputs, a mutation that keeps enough
// structure to reach deep into the parser, the parse itself, and the bound on what it may allocate.

import { gzipSync } from 'node:zlib';

import { parseIdx, serializeIdx, IdxReader, type IdxReadOptions } from '../../src/io/idx.js';
import { parseSafetensors, serializeSafetensors, type SafeEntry } from '../../src/io/safetensors.js';
import { safetensorsToStateDict } from '../../src/io/state-dict.js';
import { parseIdxBytes, parseIdxBytesSync } from '../../src/node/files.js';
import { checkpointBytes, trainerFromCheckpoint } from '../../src/vae/checkpoint.js';
import { Trainer } from '../../src/vae/train.js';
import { JSON_TOKENS, Mutator, concat } from './mutate.js';

export interface FuzzTarget {
  name: string;
  /** The name every error message must contain. */
  source: string;
  /** False where some errors come from layers that do not know the file yet (the check is then skipped). */
  namesSource?: boolean;
  /** A case: the input and the parse of it (which may throw an Error). */
  make(m: Mutator): { input: Uint8Array; run: () => unknown };
  /** The most array-buffer bytes one case may leave allocated, given its input. */
  maxBytes(input: Uint8Array): number;
}

const MB = 1 << 20;

// ---- safetensors ----------------------------------------------------------------------------

const f32 = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => i / 3 - 1);

const SAFETENSORS_SEEDS: Uint8Array[] = [
  serializeSafetensors(new Map<string, SafeEntry>([
    ['encoder.0.weight', { dtype: 'F32', shape: [2, 3], data: f32(6) }],
    ['encoder.0.bias', { dtype: 'F64', shape: [2], data: Float64Array.from([1.5, -2]) }],
    ['bn.num_batches_tracked', { dtype: 'I64', shape: [], data: BigInt64Array.from([7n]) }],
    ['idx', { dtype: 'I32', shape: [4], data: Int32Array.from([1, -2, 3, 4]) }],
  ]), { format: 'pt', note: 'caf\u00e9 "quoted" \\ back' }),
  serializeSafetensors({ empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) } }),
  // Narrow dtypes the writer never emits: a header written by hand.
  handWritten('{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"u":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}', 8),
];

function handWritten(header: string, dataBytes: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  for (let i = 0; i < dataBytes; i++) out[8 + h.length + i] = (i * 37) & 255;
  return out;
}

/** Mutates the header text and/or the data, then (usually) makes the length field agree again so that the JSON reader is reached. */
function mutateSafetensors(m: Mutator, seed: Uint8Array): Uint8Array {
  if (m.chance(0.25)) return m.mutate(seed, JSON_TOKENS);
  const len = Number(new DataView(seed.buffer, seed.byteOffset).getBigUint64(0, true));
  let header = seed.subarray(8, 8 + len);
  let data = seed.subarray(8 + len);
  if (m.chance(0.85)) header = m.mutate(header, JSON_TOKENS);
  if (m.chance(0.3)) data = m.mutate(data);
  const out = concat(new Uint8Array(8), header, data);
  const lenField = m.chance(0.9) ? BigInt(header.length) : BigInt(m.int(0, header.length * 2 + 16));
  new DataView(out.buffer).setBigUint64(0, lenField, true);
  return out;
}

export const safetensorsTarget: FuzzTarget = {
  name: 'safetensors',
  source: 'fuzz.safetensors',
  make(m) {
    const input = mutateSafetensors(m, m.pick(SAFETENSORS_SEEDS));
    // Half the cases go on to build tensors (the state-dict layer), half stop at the byte level.
    return { input, run: () => (m.chance(0.5) ? parseSafetensors(input, this.source) : safetensorsToStateDict(input, this.source)) };
  },
  maxBytes: (input) => 16 * MB + 8 * input.length,
};

// ---- IDX ------------------------------------------------------------------------------------

const IDX_SEEDS: Uint8Array[] = [
  serializeIdx([3, 4, 4], Uint8Array.from({ length: 48 }, (_, i) => i * 5)),
  serializeIdx([6], Uint8Array.from([7, 2, 1, 0, 4, 1])),
  serializeIdx([2, 3], Int8Array.from([-1, 2, -3, 4, -5, 6])),
  serializeIdx([4], Int16Array.from([1, -2, 300, -32768])),
  serializeIdx([2, 2], Int32Array.from([1, -2, 2 ** 31 - 1, -(2 ** 31)])),
  serializeIdx([3, 1], Float32Array.from([0.5, -1, 3])),
  serializeIdx([2], Float64Array.from([1e300, -0])),
];

/** Whole file, the first few items, or a chosen list: the three ways callers read. */
function readOptions(m: Mutator): IdxReadOptions {
  switch (m.int(0, 3)) {
    case 0: return {};
    case 1: return { maxItems: m.int(0, 5) };
    default: return { items: Array.from({ length: m.int(0, 4) }, () => m.int(0, 5)) };
  }
}

export const idxTarget: FuzzTarget = {
  name: 'idx',
  source: 'fuzz-idx3-ubyte',
  make(m) {
    const input = m.mutate(m.pick(IDX_SEEDS));
    const opts = readOptions(m);
    const chunked = m.chance(0.5);
    const cut = m.int(1, 9);
    return {
      input,
      run: () => {
        if (!chunked) return parseIdx(input, this.source, opts);
        // The streaming reader, fed in small pieces as a gzip stream would feed it.
        const r = new IdxReader(this.source, opts);
        for (let i = 0; i < input.length && !r.push(input.subarray(i, i + cut)); i += cut);
        return r.finish();
      },
    };
  },
  maxBytes: (input) => 16 * MB + 8 * input.length,
};

export const idxGzipTarget: FuzzTarget = {
  name: 'idx-gzip',
  source: 'fuzz-idx3-ubyte.gz',
  make(m) {
    const seed = m.pick(IDX_SEEDS);
    // Valid gzip of hostile IDX, or damaged gzip of valid IDX.
    const input = m.chance(0.6) ? new Uint8Array(gzipSync(m.mutate(seed))) : m.mutate(new Uint8Array(gzipSync(seed)));
    const opts = readOptions(m);
    // The streaming reader (loadIdxFile) and the synchronous one (loadIdxFileSync, datasets).
    const sync = m.chance(0.5);
    return { input, run: () => (sync ? parseIdxBytesSync(input, this.source, opts) : parseIdxBytes(input, this.source, opts)) };
  },
  // Deflate expands at most ~1032x; the reader keeps no more than the gzip inflates to.
  maxBytes: (input) => 16 * MB + 1100 * input.length,
};

// ---- checkpoint metadata --------------------------------------------------------------------

const CHECKPOINT_SEED = checkpointBytes(new Trainer({ model: 'mlp', latent: 2, batchSize: 4, lr: 1e-3, beta: 1, seed: 1 }));
const CHECKPOINT_PARTS = parseSafetensors(CHECKPOINT_SEED, 'seed');

/**
 * Replacement values for a metadata field: wrong types, and numbers either small or absurd (so
 * that a parse that accepts them cannot build a model of gigabytes; absurd ones must be refused).
 */
const FIELD_VALUES: unknown[] = [
  0, -1, 1, 2, 3, 0.5, 1.5, -0.001, 1e-300, 1e12, 2 ** 53 + 2, -1e300, 1e300, null, true, false, '', '1', 'conv', 'mlp', 'x',
  [], [0, 0, 0, 0], [1, 2, 3], [0, 0, 0, 0, 0], {}, { s: [0, 0, 0, 0], spare: null }, { s: [1, 2, 3, 4], spare: 1e309 },
];

/** Edits one leaf (or key) of the parsed JSON: replace, delete, or add a stray key. */
function mutateJson(m: Mutator, v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return m.pick(FIELD_VALUES);
  const keys = Object.keys(v);
  if (keys.length === 0 || m.chance(0.1)) return m.chance(0.5) ? m.pick(FIELD_VALUES) : Array.isArray(v) ? [...v, m.pick(FIELD_VALUES)] : { ...v, stray: m.pick(FIELD_VALUES) };
  const k = m.pick(keys);
  const copy: Record<string, unknown> = Array.isArray(v) ? ([...v] as unknown as Record<string, unknown>) : { ...(v as Record<string, unknown>) };
  if (m.chance(0.1) && !Array.isArray(v)) delete copy[k];
  else copy[k] = mutateJson(m, copy[k]);
  return copy;
}

export const checkpointTarget: FuzzTarget = {
  name: 'checkpoint-metadata',
  source: 'fuzz.ckpt',
  make(m) {
    const raw = CHECKPOINT_PARTS.metadata.vaegrad as string;
    let meta: string;
    if (m.chance(0.75)) {
      let v: unknown = JSON.parse(raw);
      for (let i = 0, n = m.int(1, 4); i < n; i++) v = mutateJson(m, v);
      meta = JSON.stringify(v) ?? 'null';
    } else {
      meta = new TextDecoder().decode(m.mutate(new TextEncoder().encode(raw), JSON_TOKENS));
    }
    const metadata: Record<string, string> = m.chance(0.05) ? {} : { vaegrad: meta };
    const input = serializeSafetensors(CHECKPOINT_PARTS.tensors, metadata);
    return { input, run: () => trainerFromCheckpoint(input, this.source) };
  },
  // The file, its tensors and one freshly built model (the checkpoint's own size, a few times over).
  maxBytes: (input) => 64 * MB + 8 * input.length,
};

export const TARGETS: FuzzTarget[] = [safetensorsTarget, idxTarget, idxGzipTarget, checkpointTarget];
