// Tensors <-> safetensors entries: state dicts as bytes (browser-safe). int32 tensors are
// written as I64, PyTorch's integer type (num_batches_tracked, labels), and I64 is read back
// as int32 when every value fits (else an error naming the tensor); bool is BOOL both ways.

import { tensor } from '../creation.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { SafeEntry } from './safetensors.js';
import { i64ToNumbers, numbersToI64, parseSafetensors, serializeSafetensors } from './safetensors.js';

export function toSafeEntry(name: string, t: Tensor): SafeEntry {
  const data = t.contiguous().dataSync();
  const shape = [...t.shape];
  switch (t.dtype) {
    case 'float32': return { dtype: 'F32', shape, data: data as Float32Array };
    case 'float64': return { dtype: 'F64', shape, data: data as Float64Array };
    case 'int32': return { dtype: 'I64', shape, data: numbersToI64(data, name) };
    case 'bool': return { dtype: 'BOOL', shape, data: data as Uint8Array };
    default: throw new Error(`${name}: cannot store dtype ${String(t.dtype)} ${fmtShape(t.shape)}`);
  }
}

export function fromSafeEntry(name: string, e: SafeEntry): Tensor {
  switch (e.dtype) {
    case 'F32': return tensor(e.data as Float32Array, { shape: e.shape });
    case 'F64': return tensor(e.data as Float64Array, { shape: e.shape });
    case 'I32': return tensor(e.data as Int32Array, { shape: e.shape });
    case 'BOOL': return tensor(e.data as Uint8Array, { shape: e.shape, dtype: 'bool' });
    case 'I64': {
      const values = i64ToNumbers(e.data as BigInt64Array, name);
      const big = values.find((v) => v > 2147483647 || v < -2147483648);
      if (big !== undefined) throw new Error(`${name}: I64 value ${big} does not fit vaegrad's int32 tensors (int64 values are read into int32)`);
      return tensor(Int32Array.from(values), { shape: e.shape });
    }
    default: throw new Error(`${name}: unsupported safetensors dtype ${String(e.dtype)}`);
  }
}

/** A state dict (PyTorch names) as safetensors bytes, readable by safetensors.torch.load_file. */
export function stateDictToSafetensors(sd: Map<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = new Map<string, SafeEntry>();
  for (const [k, t] of sd) entries.set(k, toSafeEntry(k, t));
  return serializeSafetensors(entries, metadata);
}

/** A state dict with the __metadata__ strings of the file it came from. */
export interface StateDictWithMetadata {
  /** The tensors by name, in file order. */
  tensors: Map<string, Tensor>;
  /** The __metadata__ strings (empty when the file has none). */
  metadata: Record<string, string>;
}

/** The tensors and __metadata__ of safetensors bytes (e.g. from safetensors.torch.save_file); `source` names them in errors. */
export function safetensorsToStateDict(bytes: Uint8Array, source = '<buffer>'): StateDictWithMetadata {
  const { tensors, metadata } = parseSafetensors(bytes, source);
  const out = new Map<string, Tensor>();
  for (const [k, e] of tensors) out.set(k, fromSafeEntry(`${source}: ${k}`, e));
  return { tensors: out, metadata };
}
