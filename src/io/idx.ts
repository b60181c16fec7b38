// The IDX format of MNIST and Fashion-MNIST: strict big-endian parsing and writing over Uint8Array (browser-safe).

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxFile {
  dims: number[];
  data: IdxData;
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

/** Parses an IDX file; `source` names the file in every error. */
export function parseIdx(bytes: Uint8Array, source: string): IdxFile {
  const fail = (msg: string): never => {
    throw new Error(`${source}: invalid IDX file: ${msg}`);
  };
  if (bytes.length < 4) fail(`file is ${bytes.length} bytes, shorter than the 4-byte magic number`);
  const b0 = bytes[0] as number;
  const b1 = bytes[1] as number;
  const typeCode = bytes[2] as number;
  const ndims = bytes[3] as number;
  if (b0 !== 0 || b1 !== 0) {
    // The usual cause: a gzip file handed over without being decompressed.
    const hint = b0 === 0x1f && b1 === 0x8b ? ' (this is gzip data: decompress it first)' : '';
    fail(`bad magic number: first two bytes are 0x${hex(b0)} 0x${hex(b1)}, expected 0x00 0x00${hint}`);
  }
  const type = TYPES[typeCode];
  if (type === undefined) {
    return fail(`unknown data type 0x${hex(typeCode)} (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)`);
  }
  if (ndims === 0) fail('the header declares 0 dimensions');
  if (ndims > MAX_NDIMS) fail(`the header declares ${ndims} dimensions (more than ${MAX_NDIMS}: corrupt header?)`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) {
    fail(`truncated header: ${ndims} dimensions need ${headerLen} header bytes but the file has ${bytes.length}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const d = dv.getUint32(4 + 4 * i, false);
    if (d === 0) fail(`dimension ${i} is 0`);
    dims.push(d);
  }
  const available = bytes.length - headerLen;
  // Products of up to 16 u32 values overflow exactness quickly; any product above the bytes present is an error anyway.
  let count = 1;
  for (const d of dims) count *= d;
  const need = count * type.size;
  const shape = dims.join('x');
  if (need > available) {
    fail(`truncated: header says ${shape} ${type.name}s (${need} bytes) but only ${available} bytes follow`);
  }
  if (need < available) {
    fail(`${available - need} trailing bytes: header says ${shape} ${type.name}s (${need} bytes) but ${available} bytes follow`);
  }
  const body = bytes.subarray(headerLen);
  const n = count;
  let data: IdxData;
  switch (typeCode) {
    case 0x08:
      data = body.slice();
      break;
    case 0x09:
      data = new Int8Array(body.slice().buffer);
      break;
    case 0x0b: {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(headerLen + 2 * i, false);
      data = out;
      break;
    }
    case 0x0c: {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(headerLen + 4 * i, false);
      data = out;
      break;
    }
    case 0x0d: {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(headerLen + 4 * i, false);
      data = out;
      break;
    }
    default: {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(headerLen + 8 * i, false);
      data = out;
    }
  }
  return { dims, data };
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
