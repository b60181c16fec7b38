// saveBytes/loadBytes: any nesting of tensors, numbers, strings, booleans, null, arrays, Maps
// and plain objects as one safetensors file. The tensors are the file's tensors (named by
// their path in the object, so PyTorch's safetensors reader sees e.g. 'model.conv1.weight');
// the structure, with references to them, is JSON in __metadata__.

import { Tensor } from '../tensor.js';
import type { SafeEntry } from './safetensors.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';
import { fromSafeEntry, toSafeEntry } from './state-dict.js';

export const SAVE_FORMAT = 'vaegrad-save/1';

/** What saveBytes accepts (and loadBytes gives back). */
export type Saveable = Tensor | number | string | boolean | null | readonly Saveable[] | ReadonlyMap<string | number, Saveable> | { readonly [key: string]: Saveable | undefined };

// The structure's JSON: plain values as themselves, and these one-key objects for the rest.
type Node = null | boolean | string | number | Node[] | { [k: string]: Node };
const TENSOR = '$tensor'; // { $tensor: name in the file }
const NUMBER = '$number'; // { $number: 'NaN' | 'Infinity' | '-Infinity' | '-0' }: what JSON cannot write
const MAP = '$map'; // { $map: [[key, value], ...] }: a Map, keys and order kept
const OBJECT = '$object'; // { $object: [[key, value], ...] }: a plain object with a key starting with '$'

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/** Bytes of a safetensors file holding `obj` (see Saveable); loadBytes gives it back. */
export function saveBytes(obj: Saveable): Uint8Array {
  const entries = new Map<string, SafeEntry>();
  const names = new Map<Tensor, string>(); // a tensor reached twice is stored once
  const encode = (v: unknown, path: string): Node => {
    const where = path || 'the object';
    if (v instanceof Tensor) {
      let name = names.get(v);
      if (name === undefined) {
        name = path || 'tensor';
        for (let k = 1; entries.has(name); k++) name = `${path || 'tensor'}#${k}`;
        entries.set(name, toSafeEntry(name, v));
        names.set(v, name);
      }
      return { [TENSOR]: name };
    }
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0) ? v : { [NUMBER]: Object.is(v, -0) ? '-0' : String(v) };
    const child = (k: string | number): string => (path ? `${path}.${k}` : String(k));
    if (Array.isArray(v)) {
      return v.map((x, i) => {
        if (x === undefined) throw new Error(`saveBytes: ${child(i)} is undefined (arrays may hold null, not undefined)`);
        return encode(x, child(i));
      });
    }
    if (v instanceof Map) {
      return {
        [MAP]: [...v].map(([k, x]) => {
          if (typeof k !== 'string' && typeof k !== 'number') throw new Error(`saveBytes: ${where} is a Map with a ${typeof k} key; only string and number keys can be saved`);
          return [encode(k, ''), encode(x, child(k))];
        }),
      };
    }
    if (typeof v === 'object' && isPlainObject(v)) {
      const kept = Object.entries(v).filter(([, x]) => x !== undefined); // as JSON: undefined properties are left out
      if (kept.some(([k]) => k.startsWith('$'))) return { [OBJECT]: kept.map(([k, x]) => [k, encode(x, child(k))]) };
      return Object.fromEntries(kept.map(([k, x]) => [k, encode(x, child(k))]));
    }
    const what = typeof v === 'object' ? `a ${(v as object).constructor?.name ?? 'object'}` : typeof v;
    throw new Error(`saveBytes: ${where} is ${what}; only tensors, numbers, strings, booleans, null, arrays, Maps and plain objects can be saved (call stateDict() on modules, optimizers and loaders)`);
  };
  const structure = encode(obj, '');
  return serializeSafetensors(entries, { format: SAVE_FORMAT, structure: JSON.stringify(structure) });
}

/**
 * The object saveBytes wrote (Maps as Maps, tensors as new tensors). A plain safetensors file
 * without that structure (e.g. from safetensors.torch.save_file) loads as its state dict, a Map.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the saved object's type is the caller's to state
export function loadBytes<T = any>(bytes: Uint8Array, source = '<buffer>'): T {
  const { tensors, metadata } = parseSafetensors(bytes, source);
  const loaded = new Map<string, Tensor>();
  const tensorNamed = (name: string): Tensor => {
    let t = loaded.get(name);
    if (!t) {
      const e = tensors.get(name);
      if (!e) throw new Error(`${source}: the structure refers to tensor '${name}', which the file does not hold`);
      loaded.set(name, (t = fromSafeEntry(`${source}: ${name}`, e)));
    }
    return t;
  };
  if (metadata.format !== SAVE_FORMAT || metadata.structure === undefined) {
    return new Map([...tensors.keys()].map((k) => [k, tensorNamed(k)])) as T;
  }
  let structure: Node;
  try {
    structure = JSON.parse(metadata.structure) as Node;
  } catch {
    throw new Error(`${source}: corrupt structure in __metadata__ (not JSON)`);
  }
  const bad = (what: string): never => {
    throw new Error(`${source}: corrupt structure in __metadata__: ${what}`);
  };
  const pairs = (v: Node, tag: string): [Node, Node][] => {
    if (!Array.isArray(v) || v.some((p) => !Array.isArray(p) || p.length !== 2)) bad(`${tag} is not a list of [key, value] pairs`);
    return v as [Node, Node][];
  };
  const decode = (v: Node): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(decode);
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const x = v[keys[0]!]!;
      switch (keys[0]) {
        case TENSOR: return typeof x === 'string' ? tensorNamed(x) : bad(`${TENSOR} is ${typeof x}, not a name`);
        case NUMBER: return x === '-0' ? -0 : ['NaN', 'Infinity', '-Infinity'].includes(x as string) ? Number(x) : bad(`${NUMBER} '${String(x)}'`);
        case MAP: return new Map(pairs(x, MAP).map(([k, y]) => [decode(k), decode(y)]));
        case OBJECT: return Object.fromEntries(pairs(x, OBJECT).map(([k, y]) => [typeof k === 'string' ? k : bad(`${OBJECT} key ${String(k)}`), decode(y)]));
      }
    }
    return Object.fromEntries(keys.map((k) => [k, decode(v[k]!)]));
  };
  const out = decode(structure);
  const unused = [...tensors.keys()].filter((k) => !loaded.has(k));
  if (unused.length) bad(`tensors ${unused.join(', ')} are in the file but not in the structure`);
  return out as T;
}

