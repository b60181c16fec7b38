// The safetensors byte format: strict parsing and serialization over Uint8Array (browser-safe, no Tensor dependency).

/** The dtypes a SafeEntry holds; every other readable dtype is widened losslessly to one of these. */
export type SafeDType = 'F32' | 'F64' | 'I64' | 'I32' | 'BOOL';

export type SafeData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** One tensor of a safetensors file: its dtype, shape and data. */
export interface SafeEntry {
  /** The dtype as the file names it (F32, F64, I32, I64, BOOL, ...). */
  dtype: SafeDType;
  /** The tensor's shape. */
  shape: number[];
  /** The values, row-major (widened types as sourceDtype says). */
  data: SafeData;
  /** The dtype the file stored when it was widened on reading (F16/BF16 -> F32, U8/I8/I16/U16 -> I32, U32 -> I64). BOOL data are 0 or 1. */
  sourceDtype?: string;
}

/** What a safetensors file holds: its tensors by name and its __metadata__ strings. */
export interface SafetensorsContents {
  /** The tensors, by name, in file order. */
  tensors: Map<string, SafeEntry>;
  /** The __metadata__ strings (empty when the file has none). */
  metadata: Record<string, string>;
}

/** The reference implementation's limit, so that a hostile length cannot make us decode gigabytes of "header". */
export const MAX_HEADER_BYTES = 100_000_000;

interface FileDType {
  size: number;
  to: SafeDType;
}

const FILE_DTYPES: Record<string, FileDType> = {
  F32: { size: 4, to: 'F32' },
  F64: { size: 8, to: 'F64' },
  I64: { size: 8, to: 'I64' },
  I32: { size: 4, to: 'I32' },
  F16: { size: 2, to: 'F32' },
  BF16: { size: 2, to: 'F32' },
  U8: { size: 1, to: 'I32' },
  I8: { size: 1, to: 'I32' },
  BOOL: { size: 1, to: 'BOOL' },
  I16: { size: 2, to: 'I32' },
  U16: { size: 2, to: 'I32' },
  U32: { size: 4, to: 'I64' },
};

const DTYPE_SIZE: Record<SafeDType, number> = { F32: 4, F64: 8, I64: 8, I32: 4, BOOL: 1 };

/** Bytes per element of a dtype this module can read (undefined for an unknown dtype). */
export function safeDtypeSize(dtype: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(FILE_DTYPES, dtype) ? FILE_DTYPES[dtype]?.size : undefined;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------
// A small strict JSON reader. JSON.parse cannot report duplicate keys, reorders
// integer-like keys ("0" before "a"), and rounds integers above 2^53 silently;
// all three matter for a header that decides which bytes become which tensor.

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  kind: 'object';
  entries: [string, Json][];
}

function isJsonObject(v: Json): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class JsonReader {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly fail: (msg: string) => never,
  ) {}

  parseDocument(): Json {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) this.err(`unexpected '${this.s[this.i]}' after the end of the JSON value`);
    return v;
  }

  private err(msg: string): never {
    return this.fail(`header is not valid JSON: ${msg} at header byte offset ~${this.i}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  private value(depth: number): Json {
    // Deep nesting is never legitimate in a header and would overflow the stack.
    if (depth > 64) this.err('nesting deeper than 64 levels');
    const c = this.s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === 't') return this.literal('true', true);
    if (c === 'f') return this.literal('false', false);
    if (c === 'n') return this.literal('null', null);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    return this.err(c === undefined ? 'unexpected end of input' : `unexpected '${c}'`);
  }

  private literal<T extends Json>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.err('invalid literal');
  }

  private object(depth: number): JsonObject {
    this.i++;
    const entries: [string, Json][] = [];
    const seen = new Set<string>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.err('expected a string key');
      const key = this.string();
      if (seen.has(key)) this.fail(`header has the key ${JSON.stringify(key)} twice`);
      seen.add(key);
      this.ws();
      if (this.s[this.i] !== ':') this.err("expected ':'");
      this.i++;
      this.ws();
      entries.push([key, this.value(depth + 1)]);
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === '}') return { kind: 'object', entries };
      if (c !== ',') this.err("expected ',' or '}'");
    }
  }

  private array(depth: number): Json[] {
    this.i++;
    const out: Json[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ']') return out;
      if (c !== ',') this.err("expected ',' or ']'");
    }
  }

  private string(): string {
    const s = this.s;
    let i = ++this.i;
    // Runs between escapes are sliced whole and joined once: linear in time and memory, where
    // appending a character at a time builds a rope of one node per character.
    const parts: string[] = [];
    let runStart = i;
    for (;;) {
      if (i >= s.length) {
        this.i = i;
        this.err('unterminated string');
      }
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        if (parts.length === 0) return s.slice(runStart, i);
        parts.push(s.slice(runStart, i));
        return parts.join('');
      }
      if (c < 0x20) {
        this.i = i;
        this.err('control character in string');
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      parts.push(s.slice(runStart, i));
      const e = s[i + 1];
      i += 2;
      switch (e) {
        case '"': parts.push('"'); break;
        case '\\': parts.push('\\'); break;
        case '/': parts.push('/'); break;
        case 'b': parts.push('\b'); break;
        case 'f': parts.push('\f'); break;
        case 'n': parts.push('\n'); break;
        case 'r': parts.push('\r'); break;
        case 't': parts.push('\t'); break;
        case 'u': {
          const hex = s.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.i = i;
            this.err('invalid \\u escape');
          }
          parts.push(String.fromCharCode(parseInt(hex, 16)));
          i += 4;
          break;
        }
        default:
          this.i = i - 2;
          this.err('invalid escape');
      }
      runStart = i;
    }
  }

  private number(): number {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) return this.err('invalid number');
    const text = m[0];
    // Numbers appear only in shapes and offsets, which the reference implementation reads as
    // unsigned integers: it refuses 1.0 and 1e0, and so do we (metadata values are strings).
    if (m[2] !== undefined || m[3] !== undefined) this.err(`number ${text} is not written as an integer (shapes and offsets must be plain integers)`);
    this.i += text.length;
    const v = Number(text);
    // An integer that does not survive the trip through a double would silently point at the wrong bytes.
    if (!Number.isSafeInteger(v)) this.fail(`header number ${text} is beyond 2^53 and cannot be represented exactly`);
    return v;
  }
}

// ---------------------------------------------------------------------------

function describe(v: Json): string {
  if (isJsonObject(v)) return 'an object';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return `${typeof v} ${JSON.stringify(v)}`;
}

interface PendingEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a whole safetensors file. Every header field is checked before any tensor data is
 * allocated; tensors keep the order in which the header lists them.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsContents {
  const fail = (msg: string): never => {
    throw new Error(`${source}: invalid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = dv.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLen64} is beyond the 100 MB limit`);
  }
  const headerLen = Number(headerLen64);
  if (headerLen > bytes.length - 8) {
    fail(`header length ${headerLen} is beyond the file: only ${bytes.length - 8} bytes follow the length field`);
  }
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail("header does not start with '{'");
  const root = new JsonReader(text, fail).parseDocument();
  if (!isJsonObject(root)) return fail(`header is ${describe(root)}, not a JSON object`);

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const pending: PendingEntry[] = [];

  for (const [name, info] of root.entries) {
    if (name === '__metadata__') {
      if (!isJsonObject(info)) fail(`__metadata__ is ${describe(info)}, not an object of strings`);
      else {
        for (const [k, v] of info.entries) {
          if (typeof v !== 'string') fail(`__metadata__[${JSON.stringify(k)}] is ${describe(v)}, not a string`);
          else Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
        }
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isJsonObject(info)) return fail(`${where}: entry is ${describe(info)}, not an object`);
    const fields = new Map(info.entries);
    for (const k of fields.keys()) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`${where}: unknown field ${JSON.stringify(k)}`);
    }
    const dtype = fields.get('dtype');
    if (typeof dtype !== 'string') return fail(`${where}: dtype is ${dtype === undefined ? 'missing' : describe(dtype)}`);
    const size = safeDtypeSize(dtype);
    if (size === undefined) {
      return fail(`${where}: unknown or unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(FILE_DTYPES).join(', ')})`);
    }
    const shapeJ = fields.get('shape');
    if (!Array.isArray(shapeJ)) return fail(`${where}: shape is ${shapeJ === undefined ? 'missing' : describe(shapeJ)}, not an array`);
    const shape: number[] = [];
    for (const [i, d] of shapeJ.entries()) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
        fail(`${where}: shape[${i}] is ${describe(d)}, not a non-negative integer`);
      }
      shape.push(d as number);
    }
    const off = fields.get('data_offsets');
    if (!Array.isArray(off) || off.length !== 2) {
      return fail(`${where}: data_offsets is ${off === undefined ? 'missing' : describe(off)}, not [begin, end]`);
    }
    const [begin, end] = off;
    for (const [label, v] of [['begin', begin], ['end', end]] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        fail(`${where}: data_offsets ${label} is ${describe(v ?? null)}, not a non-negative integer`);
      }
    }
    const b = begin as number;
    const e = end as number;
    if (b > e) fail(`${where}: data_offsets [${b}, ${e}] has begin > end`);
    if (e > dataLen) fail(`${where}: data_offsets [${b}, ${e}] is beyond the data area of ${dataLen} bytes`);
    // The element count is bounded by the range length, so stop multiplying before it can lose precision.
    let count = shape.includes(0) ? 0 : 1;
    for (const d of shape) {
      if (count * size > e - b) break;
      count *= d;
    }
    if (count * size !== e - b) {
      const want = shape.reduce((a, d) => a * d, 1) * size;
      fail(`${where}: data_offsets [${b}, ${e}] span ${e - b} bytes but ${dtype} [${shape.join(', ')}] needs ${want} bytes`);
    }
    pending.push({ name, dtype, shape, begin: b, end: e });
  }

  // The spec requires the ranges to tile the data area exactly: no overlaps (aliasing), no holes, no trailing bytes.
  const sorted = [...pending].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let cursor = 0;
  let prev: PendingEntry | undefined;
  for (const p of sorted) {
    if (p.begin < cursor) {
      fail(`tensor ${JSON.stringify(p.name)}: data_offsets [${p.begin}, ${p.end}] overlap tensor ${JSON.stringify(prev?.name)} [${prev?.begin}, ${prev?.end}]`);
    }
    if (p.begin > cursor) fail(`data area bytes [${cursor}, ${p.begin}) are not covered by any tensor (a gap before ${JSON.stringify(p.name)})`);
    cursor = p.end;
    prev = p;
  }
  if (cursor !== dataLen) fail(`data area has ${dataLen - cursor} trailing bytes after the last tensor (tensors cover ${cursor} of ${dataLen} bytes)`);

  const tensors = new Map<string, SafeEntry>();
  for (const p of pending) {
    tensors.set(p.name, decode(p, bytes.subarray(dataStart + p.begin, dataStart + p.end)));
  }
  return { tensors, metadata };
}

function decode(p: PendingEntry, raw: Uint8Array): SafeEntry {
  const spec = FILE_DTYPES[p.dtype] as FileDType;
  const n = raw.length / spec.size;
  const shape = p.shape;
  // Copy instead of viewing: the range may be unaligned for its element size, and the caller should own its data.
  // new Uint8Array(raw) always copies; raw.slice() does not when raw is a Node Buffer (its slice() is a view).
  const aligned = (): ArrayBuffer => new Uint8Array(raw).buffer;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (p.dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN_HOST) return { dtype: 'F32', shape, data: new Float32Array(aligned()) };
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return { dtype: 'F32', shape, data: out };
    }
    case 'F64': {
      if (LITTLE_ENDIAN_HOST) return { dtype: 'F64', shape, data: new Float64Array(aligned()) };
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return { dtype: 'F64', shape, data: out };
    }
    case 'I64': {
      if (LITTLE_ENDIAN_HOST) return { dtype: 'I64', shape, data: new BigInt64Array(aligned()) };
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(i * 8, true);
      return { dtype: 'I64', shape, data: out };
    }
    case 'I32': {
      if (LITTLE_ENDIAN_HOST) return { dtype: 'I32', shape, data: new Int32Array(aligned()) };
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      return { dtype: 'I32', shape, data: out };
    }
    case 'F16':
    case 'BF16': {
      const out = new Float32Array(n);
      const conv = p.dtype === 'F16' ? halfToFloat : bfloat16ToFloat;
      for (let i = 0; i < n; i++) out[i] = conv(dv.getUint16(i * 2, true));
      return { dtype: 'F32', shape, data: out, sourceDtype: p.dtype };
    }
    case 'BOOL': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = raw[i] !== 0 ? 1 : 0;
      return { dtype: 'BOOL', shape, data: out };
    }
    case 'U32': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(dv.getUint32(i * 4, true));
      return { dtype: 'I64', shape, data: out, sourceDtype: p.dtype };
    }
    default: {
      const out = new Int32Array(n);
      const get =
        p.dtype === 'I8' ? (i: number) => dv.getInt8(i)
        : p.dtype === 'I16' ? (i: number) => dv.getInt16(i * 2, true)
        : p.dtype === 'U16' ? (i: number) => dv.getUint16(i * 2, true)
        : (i: number) => dv.getUint8(i);
      for (let i = 0; i < n; i++) out[i] = get(i);
      return { dtype: 'I32', shape, data: out, sourceDtype: p.dtype };
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
function bfloat16ToFloat(h: number): number {
  u32Scratch[0] = h << 16;
  return f32Scratch[0] as number;
}

// ---------------------------------------------------------------------------

function checkEntry(name: string, e: SafeEntry): void {
  const where = `serializeSafetensors: tensor ${JSON.stringify(name)}`;
  if (name === '__metadata__') throw new Error(`${where}: the name __metadata__ is reserved for the metadata`);
  const size = (DTYPE_SIZE as Record<string, number | undefined>)[e.dtype];
  if (size === undefined) throw new Error(`${where}: cannot write dtype ${JSON.stringify(e.dtype)} (writable: F32, F64, I64, I32, BOOL)`);
  const ctor = { F32: Float32Array, F64: Float64Array, I64: BigInt64Array, I32: Int32Array, BOOL: Uint8Array }[e.dtype];
  if (!(e.data instanceof ctor)) {
    throw new Error(`${where}: dtype ${e.dtype} needs a ${ctor.name}, got ${(e.data as object)?.constructor?.name ?? typeof e.data}`);
  }
  if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new Error(`${where}: shape ${JSON.stringify(e.shape)} is not an array of non-negative integers`);
  }
  const count = e.shape.reduce((a, d) => a * d, 1);
  if (count !== e.data.length) {
    throw new Error(`${where}: shape [${e.shape.join(', ')}] has ${count} elements but data has ${e.data.length}`);
  }
}

/**
 * Serializes tensors to the safetensors format. The header lists tensors in the given order;
 * their bytes are laid out by descending element size (stable) so that every tensor starts at a
 * multiple of its element size, since the header is padded to 8 bytes, as the reference writer does.
 * Pass a Map to control the order fully: a plain object lists integer-like keys ("0", "12") first.
 */
export function serializeSafetensors(
  tensors: Map<string, SafeEntry> | Record<string, SafeEntry>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list: [string, SafeEntry][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, e] of list) checkEntry(name, e);
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`serializeSafetensors: metadata[${JSON.stringify(k)}] is ${typeof v}, not a string`);
    }
  }

  const layout = list
    .map(([name, e], index) => ({ name, e, index, size: DTYPE_SIZE[e.dtype] }))
    .sort((a, b) => b.size - a.size || a.index - b.index);
  const offsets = new Map<string, [number, number]>();
  let total = 0;
  for (const t of layout) {
    const n = t.e.data.length * t.size;
    offsets.set(t.name, [total, total + n]);
    total += n;
  }

  // Built by hand so that the key order is exactly ours (JSON.stringify would hoist integer-like keys).
  const parts: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    const m = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`"__metadata__":{${m.join(',')}}`);
  }
  for (const [name, e] of list) {
    const [b, en] = offsets.get(name) as [number, number];
    parts.push(`${JSON.stringify(name)}:{"dtype":"${e.dtype}","shape":[${e.shape.join(',')}],"data_offsets":[${b},${en}]}`);
  }
  const headerRaw = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(headerRaw.length / 8) * 8;
  if (headerLen > MAX_HEADER_BYTES) throw new Error(`serializeSafetensors: header of ${headerLen} bytes is beyond the 100 MB limit`);

  const out = new Uint8Array(8 + headerLen + total);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerLen), true);
  out.set(headerRaw, 8);
  out.fill(0x20, 8 + headerRaw.length, 8 + headerLen);
  const dataStart = 8 + headerLen;
  for (const t of layout) {
    const [b] = offsets.get(t.name) as [number, number];
    const at = dataStart + b;
    const d = t.e.data;
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(d.buffer, d.byteOffset, d.length * t.size), at);
      continue;
    }
    for (let i = 0; i < d.length; i++) {
      if (d instanceof Float32Array) dv.setFloat32(at + i * 4, d[i] as number, true);
      else if (d instanceof Float64Array) dv.setFloat64(at + i * 8, d[i] as number, true);
      else if (d instanceof Int32Array) dv.setInt32(at + i * 4, d[i] as number, true);
      else dv.setBigInt64(at + i * 8, d[i] as bigint, true);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------

/** I64 values as numbers, refusing any whose magnitude is beyond 2^53 (where doubles stop being exact). */
export function i64ToNumbers(data: BigInt64Array, what = 'I64 tensor'): number[] {
  const out: number[] = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as bigint;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new Error(`${what}: element ${i} (${v}) is beyond 2^53 and cannot be held exactly as a number`);
    out[i] = n;
  }
  return out;
}

/** Integer numbers as an I64 buffer; refuses non-integers and values beyond 2^53 rather than rounding. */
export function numbersToI64(values: ArrayLike<number>, what = 'I64 tensor'): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isSafeInteger(v)) throw new Error(`${what}: element ${i} (${v}) is not an integer within 2^53`);
    out[i] = BigInt(v);
  }
  return out;
}
