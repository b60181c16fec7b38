// The IDX format of MNIST and Fashion-MNIST: strict big-endian parsing and writing over Uint8Array
// (browser-safe). IdxReader takes the bytes in chunks, keeps only the items asked for, and stops
// as soon as it has them, so that a caller streaming a gzip never holds more than that.

/** The typed array an IDX file's data decode to (by its type code: ubyte, byte, short, int, float, double). */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file: its dims (the first possibly cut to the items read) and data, row-major. */
export interface IdxFile {
  /** The dims of what was read (the first dimension is the number of items kept). */
  dims: number[];
  /** The values, row-major. */
  data: IdxData;
  /** How many items (the first dimension) the file holds, when fewer were read (maxItems, items). */
  total?: number;
}

/** Which items (along the first dimension) to keep; the default keeps all of them. */
export interface IdxReadOptions {
  /** Keep only the first n items: the reader stops after them (the rest of the file is not checked). */
  maxItems?: number;
  /** Keep only these items, in this order (indices may repeat); the reader stops after the last one needed. */
  items?: ArrayLike<number>;
  /**
   * The most body bytes the source can hold (a gzip's compressed size times deflate's maximum
   * ratio): a header claiming more is refused before anything is decompressed.
   */
  maxBodyBytes?: number;
  /** maxBodyBytes is the exact number of bytes after the header (a whole file in memory): errors say "truncated". */
  exactBody?: boolean;
}

interface IdxType {
  name: string;
  size: number;
}

const TYPES: Record<number, IdxType> = {
  0x08: { name: 'unsigned byte', size: 1 },
  0x09: { name: 'signed byte', size: 1 },
  0x0b: { name: 'short', size: 2 },
  0x0c: { name: 'int', size: 4 },
  0x0d: { name: 'float', size: 4 },
  0x0e: { name: 'double', size: 8 },
};

/** Far beyond any real IDX file; a larger count means a corrupt header, not a dataset. */
const MAX_NDIMS = 16;

/** The most bytes one typed array holds in every engine we run on; beyond it a read could not be kept anyway. */
const MAX_KEPT_BYTES = 2 ** 31 - 1;

interface Header {
  typeCode: number;
  type: IdxType;
  dims: number[];
  headerLen: number;
  /** Bytes per item (one step along the first dimension). */
  itemBytes: number;
  /** Body bytes the header promises (may be astronomically large: a float). */
  need: number;
}

/**
 * Parses IDX bytes given in chunks (a file read in one piece, or a gzip stream). push() returns
 * true once the reader has every byte it will keep (the caller may stop feeding); finish() checks
 * the lengths and decodes. Memory grows with the bytes kept, never with what the header claims.
 */
export class IdxReader {
  private readonly head = new Uint8Array(4 + 4 * MAX_NDIMS);
  private headFill = 0;
  private h: Header | undefined;
  private bodySeen = 0;
  /** Prefix mode: the kept leading body bytes (grown as they arrive). */
  private kept = new Uint8Array(0);
  private keptLen = 0;
  private prefixItems = 0;
  /** List mode: the distinct wanted items, ascending, the pieces of their bytes as they arrive, and the next one to fill. */
  private uniq: number[] | undefined;
  private uniqParts: Uint8Array[][] = [];
  private cursor = 0;
  private done = false;

  constructor(
    private readonly source: string,
    private readonly opts: IdxReadOptions = {},
  ) {
    const { maxItems, items } = opts;
    if (maxItems !== undefined && (!Number.isSafeInteger(maxItems) || maxItems < 0)) {
      throw new Error(`${source}: maxItems must be a non-negative integer, got ${maxItems}`);
    }
    if (maxItems !== undefined && items !== undefined) throw new Error(`${source}: pass maxItems or items, not both`);
  }

  /** Header plus body bytes the header declares, once the header is in (the cap for a decompressor). */
  declaredBytes(): number | undefined {
    return this.h === undefined ? undefined : this.h.headerLen + this.h.need;
  }

  private fail(msg: string): never {
    throw new Error(`${this.source}: invalid IDX file: ${msg}`);
  }

  /** Feeds the next bytes; true when nothing more is needed. */
  push(chunk: Uint8Array): boolean {
    if (this.done) return true;
    let at = 0;
    if (this.h === undefined) {
      at = this.fillHeader(chunk);
      if (this.h === undefined) return false;
    }
    if (at < chunk.length) this.body(chunk.subarray(at));
    return this.done;
  }

  /** Copies header bytes from the chunk (the magic first, then the dims it announces); returns how many it took. */
  private fillHeader(chunk: Uint8Array): number {
    let at = 0;
    while (this.h === undefined && at < chunk.length) {
      const want = this.headFill < 4 ? 4 : 4 + 4 * (this.head[3] as number);
      const take = Math.min(chunk.length - at, want - this.headFill);
      this.head.set(chunk.subarray(at, at + take), this.headFill);
      this.headFill += take;
      at += take;
      if (this.headFill < want) break;
      if (want === 4) this.checkMagic();
      else this.parseHeader();
    }
    return at;
  }

  private checkMagic(): void {
    const [b0, b1, typeCode, ndims] = this.head as unknown as [number, number, number, number];
    if (b0 !== 0 || b1 !== 0) {
      // The usual cause: a gzip file handed over without being decompressed.
      const hint = b0 === 0x1f && b1 === 0x8b ? ' (this is gzip data: decompress it first)' : '';
      this.fail(`bad magic number: first two bytes are 0x${hex(b0)} 0x${hex(b1)}, expected 0x00 0x00${hint}`);
    }
    if (TYPES[typeCode] === undefined) this.fail(`unknown data type 0x${hex(typeCode)} (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)`);
    if (ndims === 0) this.fail('the header declares 0 dimensions');
    if (ndims > MAX_NDIMS) this.fail(`the header declares ${ndims} dimensions (more than ${MAX_NDIMS}: corrupt header?)`);
  }

  private parseHeader(): void {
    const typeCode = this.head[2] as number;
    const ndims = this.head[3] as number;
    const type = TYPES[typeCode] as IdxType;
    const dv = new DataView(this.head.buffer);
    const dims: number[] = [];
    for (let i = 0; i < ndims; i++) {
      const d = dv.getUint32(4 + 4 * i, false);
      if (d === 0) this.fail(`dimension ${i} is 0`);
      dims.push(d);
    }
    // Products of up to 16 u32 values lose exactness, but any product this large is refused anyway.
    const itemBytes = dims.slice(1).reduce((a, d) => a * d, type.size);
    const count = dims[0] as number;
    const h: Header = { typeCode, type, dims, headerLen: 4 + 4 * ndims, itemBytes, need: count * itemBytes };
    const { maxItems, items, maxBodyBytes } = this.opts;
    if (maxBodyBytes !== undefined && h.need > maxBodyBytes) {
      if (this.opts.exactBody) this.fail(`truncated: header says ${this.what(h)} but only ${maxBodyBytes} bytes follow`);
      this.fail(`header says ${this.what(h)} but the source can hold at most ${maxBodyBytes} bytes (a corrupt or hostile header)`);
    }
    if (items !== undefined) {
      const uniq = new Set<number>();
      for (let i = 0; i < items.length; i++) {
        const k = items[i] as number;
        if (!Number.isSafeInteger(k) || k < 0 || k >= count) throw new Error(`${this.source}: item index ${k} (position ${i}) is outside the file's ${count} items`);
        uniq.add(k);
      }
      this.uniq = [...uniq].sort((a, b) => a - b);
      this.checkKept(this.uniq.length * itemBytes, h);
    } else {
      this.prefixItems = Math.min(maxItems ?? count, count);
      this.checkKept(this.prefixItems * itemBytes, h);
    }
    this.h = h;
    if (this.wanted() === 0 && this.partial()) this.done = true;
  }

  private what(h: Header): string {
    return `${h.dims.join('x')} ${h.type.name}s (${h.need} bytes)`;
  }

  private checkKept(bytes: number, h: Header): void {
    if (bytes > MAX_KEPT_BYTES) {
      this.fail(`header says ${this.what(h)}; keeping ${bytes} bytes of it is beyond the ${MAX_KEPT_BYTES}-byte limit of one array (read fewer items)`);
    }
  }

  /** Reading a subset: the rest of the file is neither needed nor checked. */
  private partial(): boolean {
    const h = this.h as Header;
    return this.uniq !== undefined || this.prefixItems < (h.dims[0] as number);
  }

  private wanted(): number {
    return this.uniq !== undefined ? this.uniq.length : this.prefixItems;
  }

  private body(chunk: Uint8Array): void {
    const h = this.h as Header;
    const start = this.bodySeen;
    this.bodySeen += chunk.length;
    if (this.uniq === undefined) {
      const keepEnd = this.prefixItems * h.itemBytes;
      const take = Math.max(0, Math.min(chunk.length, keepEnd - start));
      if (take > 0) {
        this.grow(start + take, keepEnd);
        this.kept.set(chunk.subarray(0, take), start);
        this.keptLen = start + take;
      }
      // Done once the kept items are in, or (reading everything) once bytes beyond the promised body arrive.
      if (this.partial() ? this.keptLen >= keepEnd : this.bodySeen > h.need) this.done = true;
      return;
    }
    const uniq = this.uniq;
    const end = this.bodySeen;
    while (this.cursor < uniq.length) {
      const k = uniq[this.cursor] as number;
      const a = k * h.itemBytes;
      const b = a + h.itemBytes;
      if (a >= end) break;
      const from = Math.max(a, start);
      const to = Math.min(b, end);
      // Pieces, not a buffer of the item's size: memory follows the bytes that arrived, not the header's claim.
      if (to > from) (this.uniqParts[this.cursor] ??= []).push(chunk.slice(from - start, to - start));
      if (b > end) break;
      this.cursor++;
    }
    if (this.cursor === uniq.length) this.done = true;
  }

  private grow(size: number, cap: number): void {
    if (size <= this.kept.length) return;
    const next = new Uint8Array(Math.min(cap, Math.max(size, 2 * this.kept.length, 1024)));
    next.set(this.kept.subarray(0, this.keptLen));
    this.kept = next;
  }

  /** Checks the lengths and decodes what was kept; `ended` says whether the source was read to its end. */
  finish(ended = true): IdxFile {
    const h = this.h;
    if (h === undefined) {
      if (this.headFill < 4) this.fail(`file is ${this.headFill} bytes, shorter than the 4-byte magic number`);
      const ndims = this.head[3] as number;
      return this.fail(`truncated header: ${ndims} dimensions need ${4 + 4 * ndims} header bytes but the file has ${this.headFill}`);
    }
    const count = h.dims[0] as number;
    const wantBytes = this.wanted() * h.itemBytes;
    if (!this.partial()) {
      if (this.bodySeen < h.need) this.fail(`truncated: header says ${this.what(h)} but only ${this.bodySeen} bytes follow`);
      if (this.bodySeen > h.need) {
        const more = ended ? '' : 'at least ';
        this.fail(`${more}${this.bodySeen - h.need} trailing bytes: header says ${this.what(h)} but ${more}${this.bodySeen} bytes follow`);
      }
    } else if ((this.uniq === undefined ? this.keptLen : this.cursor * h.itemBytes) < wantBytes) {
      this.fail(`truncated: header says ${this.what(h)} but only ${this.bodySeen} bytes follow (fewer than the ${this.wanted()} items asked for)`);
    }
    let raw: Uint8Array;
    let n: number;
    if (this.uniq === undefined) {
      raw = this.kept.length === this.keptLen ? this.kept : this.kept.slice(0, this.keptLen);
      n = this.prefixItems;
    } else {
      const items = this.opts.items as ArrayLike<number>;
      const slot = new Map(this.uniq.map((k, i) => [k, i]));
      n = items.length;
      raw = new Uint8Array(n * h.itemBytes);
      const whole = this.uniqParts.map((parts) => (parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts)));
      for (let i = 0; i < n; i++) raw.set(whole[slot.get(items[i] as number) as number] as Uint8Array, i * h.itemBytes);
    }
    const dims = [n, ...h.dims.slice(1)];
    const data = decode(h.typeCode, raw, raw.length / h.type.size);
    return n === count && this.uniq === undefined ? { dims, data } : { dims, data, total: count };
  }
}

/** The parts, one after another, in one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function decode(typeCode: number, raw: Uint8Array, n: number): IdxData {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (typeCode) {
    case 0x08:
      return raw;
    case 0x09:
      return new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    case 0x0b: {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, false);
      return out;
    }
    case 0x0c: {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, false);
      return out;
    }
    case 0x0d: {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, false);
      return out;
    }
    default: {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, false);
      return out;
    }
  }
}

/** Parses a whole IDX file held in memory; `source` names the file in every error. */
export function parseIdx(bytes: Uint8Array, source: string, opts: IdxReadOptions = {}): IdxFile {
  // The whole body is present, so a header promising more than it is refused before anything is kept.
  const available = bytes.length >= 4 ? bytes.length - 4 - 4 * (bytes[3] as number) : 0;
  const r = new IdxReader(source, { maxBodyBytes: Math.max(0, available), exactBody: true, ...opts });
  r.push(bytes);
  return r.finish();
}
/** Writes an IDX file; the type code follows from the typed array's class. */
export function serializeIdx(dims: readonly number[], data: IdxData): Uint8Array {
  if (dims.length === 0 || dims.length > MAX_NDIMS) throw new Error(`serializeIdx: ${dims.length} dimensions (need 1 to ${MAX_NDIMS})`);
  for (const [i, d] of dims.entries()) {
    if (!Number.isInteger(d) || d < 1 || d > 0xffffffff) throw new Error(`serializeIdx: dimension ${i} is ${d}, not an integer in [1, 2^32)`);
  }
  const count = dims.reduce((a, d) => a * d, 1);
  if (count !== data.length) throw new Error(`serializeIdx: dims ${dims.join('x')} hold ${count} values but data has ${data.length}`);
  const typeCode =
    data instanceof Uint8Array ? 0x08
    : data instanceof Int8Array ? 0x09
    : data instanceof Int16Array ? 0x0b
    : data instanceof Int32Array ? 0x0c
    : data instanceof Float32Array ? 0x0d
    : 0x0e;
  const size = (TYPES[typeCode] as IdxType).size;
  const headerLen = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLen + count * size);
  const dv = new DataView(out.buffer);
  out[2] = typeCode;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  if (size === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, count), headerLen);
    return out;
  }
  for (let i = 0; i < count; i++) {
    const at = headerLen + i * size;
    const v = data[i] as number;
    switch (typeCode) {
      case 0x0b: dv.setInt16(at, v, false); break;
      case 0x0c: dv.setInt32(at, v, false); break;
      case 0x0d: dv.setFloat32(at, v, false); break;
      default: dv.setFloat64(at, v, false);
    }
  }
  return out;
}

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}
