// Tests for the safetensors byte format: round trips, layout, every validation error, the PyTorch fixture, I64 helpers.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  i64ToNumbers,
  numbersToI64,
  parseSafetensors,
  serializeSafetensors,
  type SafeDType,
  type SafeEntry,
} from '../../src/io/safetensors.js';
import * as vg from '../../src/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'io');

/** A file from a header given as text (or a value to stringify), with `data` bytes after it. */
function craft(header: string | Uint8Array | object, data: number | Uint8Array = 0, lengthField?: bigint): Uint8Array {
  const hb = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + hb.length + body.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(body, 8 + hb.length);
  return out;
}

function entry(dtype: SafeDType, shape: number[], values: number[]): SafeEntry {
  switch (dtype) {
    case 'F32': return { dtype, shape, data: Float32Array.from(values) };
    case 'F64': return { dtype, shape, data: Float64Array.from(values) };
    case 'I32': return { dtype, shape, data: Int32Array.from(values) };
    case 'I64': return { dtype, shape, data: BigInt64Array.from(values.map((v) => BigInt(v))) };
  }
}

function headerOf(bytes: Uint8Array): { len: number; text: string } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { len, text: new TextDecoder().decode(bytes.subarray(8, 8 + len)) };
}

const parseErr = (bytes: Uint8Array): string => {
  try {
    parseSafetensors(bytes, 'model.safetensors');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected parseSafetensors to throw');
};

describe('serializeSafetensors / parseSafetensors round trip', () => {
  const arbEntry = fc
    .record({
      dtype: fc.constantFrom<SafeDType>('F32', 'F64', 'I32', 'I64'),
      shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
      seed: fc.integer(),
    })
    .map(({ dtype, shape, seed }) => {
      const n = shape.reduce((a, d) => a * d, 1);
      let s = seed | 0;
      const next = (): number => (s = (Math.imul(s, 1664525) + 1013904223) | 0);
      const values = Array.from({ length: n }, () => next());
      if (dtype === 'F32') return { dtype, shape, data: Float32Array.from(values, (v) => v / 7919) } as SafeEntry;
      if (dtype === 'F64') return { dtype, shape, data: Float64Array.from(values, (v) => v / 7919 + 1e-300) } as SafeEntry;
      if (dtype === 'I32') return { dtype, shape, data: Int32Array.from(values) } as SafeEntry;
      return { dtype, shape, data: BigInt64Array.from(values, (v) => BigInt(v) * 4294967311n) } as SafeEntry;
    });
  const arbName = fc.oneof(fc.string({ minLength: 0, maxLength: 12 }), fc.constantFrom('0', '12', 'encoder.0.weight', 'ä€😀', '__proto__'));

  it('preserves names, order, dtypes, shapes, values and metadata', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(arbName, arbEntry), { selector: ([k]) => k, maxLength: 8 }).map((xs) => xs.filter(([k]) => k !== '__metadata__')),
        fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { nil: undefined }),
        (list, metadata) => {
          const input = new Map(list);
          const bytes = serializeSafetensors(input, metadata);
          const { len } = headerOf(bytes);
          expect(len % 8).toBe(0);
          const back = parseSafetensors(bytes, 'roundtrip');
          expect([...back.tensors.keys()]).toEqual([...input.keys()]);
          for (const [k, e] of input) {
            const b = back.tensors.get(k)!;
            expect(b.dtype).toBe(e.dtype);
            expect(b.shape).toEqual(e.shape);
            expect(b.data.constructor).toBe(e.data.constructor);
            expect(Array.from(b.data as ArrayLike<unknown>)).toEqual(Array.from(e.data as ArrayLike<unknown>));
          }
          expect({ ...back.metadata }).toEqual({ ...(metadata ?? {}) });
          // Serializing what was parsed gives the same bytes: the format has one canonical layout here.
          expect(serializeSafetensors(back.tensors, back.metadata)).toEqual(bytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps NaN payloads, -0 and infinities bit for bit', () => {
    const f32 = new Float32Array([NaN, -0, Infinity, -Infinity, 1e-45]);
    const f64 = new Float64Array([NaN, -0, Infinity, -Infinity, 5e-324]);
    const back = parseSafetensors(serializeSafetensors({ a: { dtype: 'F32', shape: [5], data: f32 }, b: { dtype: 'F64', shape: [5], data: f64 } }));
    expect(new Uint8Array(back.tensors.get('a')!.data.buffer)).toEqual(new Uint8Array(f32.buffer));
    expect(new Uint8Array(back.tensors.get('b')!.data.buffer)).toEqual(new Uint8Array(f64.buffer));
  });

  it('accepts a plain object and typed-array views into larger buffers', () => {
    const big = new Float32Array([9, 1, 2, 3, 9]);
    const back = parseSafetensors(serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: big.subarray(1, 4) } }));
    expect(Array.from(back.tensors.get('w')!.data as Float32Array)).toEqual([1, 2, 3]);
  });

  it('writes an empty file as an 8-byte-aligned "{}" header with no data', () => {
    const bytes = serializeSafetensors(new Map());
    expect(headerOf(bytes)).toEqual({ len: 8, text: '{}      ' });
    expect(bytes.length).toBe(16);
    expect(parseSafetensors(bytes).tensors.size).toBe(0);
  });
});

describe('layout', () => {
  it('pads the header with spaces, writes __metadata__ first and keeps the given key order', () => {
    const bytes = serializeSafetensors(
      new Map<string, SafeEntry>([
        ['b', entry('F32', [1], [1])],
        ['10', entry('F32', [1], [2])],
        ['a', entry('F32', [1], [3])],
      ]),
      { format: 'pt' },
    );
    const { len, text } = headerOf(bytes);
    expect(len % 8).toBe(0);
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
        '"10":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}',
    );
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    expect([...parseSafetensors(bytes).tensors.keys()]).toEqual(['b', '10', 'a']);
  });

  it('lays data out by descending element size so every tensor is aligned', () => {
    const bytes = serializeSafetensors({
      i: entry('I32', [3], [1, 2, 3]),
      d: entry('F64', [2], [0.5, 0.25]),
      f: entry('F32', [1], [7]),
      n: entry('I64', [], [937]),
    });
    const header = JSON.parse(headerOf(bytes).text) as Record<string, { data_offsets: [number, number] }>;
    expect(header.d!.data_offsets).toEqual([0, 16]);
    expect(header.n!.data_offsets).toEqual([16, 24]);
    expect(header.i!.data_offsets).toEqual([24, 36]);
    expect(header.f!.data_offsets).toEqual([36, 40]);
    expect(Object.keys(header)).toEqual(['i', 'd', 'f', 'n']);
  });

  it('reads the example from the reference implementation', () => {
    const bytes = craft('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]));
    const t = parseSafetensors(bytes).tensors.get('test')!;
    expect(t.dtype).toBe('I32');
    expect(t.shape).toEqual([2, 2]);
    expect(Array.from(t.data as Int32Array)).toEqual([1, 2, 3, -1]);
  });

  it('reads tensors whose data starts at an unaligned offset (copying, not viewing)', () => {
    // A 3-byte header puts the data at file offset 11: no Float64Array view could start there.
    const hdr = '{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}';
    const data = new Uint8Array(new Float64Array([Math.PI]).buffer);
    const bytes = craft(hdr + ' '.repeat(3), data);
    expect((8 + hdr.length + 3) % 8).not.toBe(0);
    expect((parseSafetensors(bytes).tensors.get('x')!.data as Float64Array)[0]).toBe(Math.PI);
  });

  it('parses a buffer that is a view into a larger one', () => {
    const inner = serializeSafetensors({ a: entry('F64', [2], [1.5, -2]) });
    const outer = new Uint8Array(inner.length + 5);
    outer.set(inner, 3);
    const t = parseSafetensors(outer.subarray(3, 3 + inner.length)).tensors.get('a')!;
    expect(Array.from(t.data as Float64Array)).toEqual([1.5, -2]);
  });

  it("parses a Node Buffer (readFileSync's result), whose slice() is a view, not a copy", () => {
    const file = serializeSafetensors({ b: entry('I64', [1], [7]), a: entry('F32', [3], [1.5, -2, 0.25]) });
    const big = Buffer.alloc(file.length + 16);
    big.set(file, 16);
    for (const buf of [Buffer.from(file), big.subarray(16)]) {
      const { tensors } = parseSafetensors(buf);
      expect(Array.from(tensors.get('a')!.data as Float32Array)).toEqual([1.5, -2, 0.25]);
      expect(Array.from(tensors.get('b')!.data as BigInt64Array)).toEqual([7n]);
    }
  });

  it('widens half and small integer dtypes losslessly, recording the stored dtype', () => {
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xb800, 0x7bff, 0x0001, 0x7c00, 0xfc00]).buffer);
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc049]).buffer);
    const bytes = craft(
      {
        h: { dtype: 'F16', shape: [6], data_offsets: [0, 12] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [12, 16] },
        u: { dtype: 'U8', shape: [2], data_offsets: [16, 18] },
        s: { dtype: 'I8', shape: [2], data_offsets: [18, 20] },
        q: { dtype: 'I16', shape: [1], data_offsets: [20, 22] },
        w: { dtype: 'U32', shape: [1], data_offsets: [22, 26] },
      },
      new Uint8Array([...f16, ...bf16, 255, 7, 255, 7, 0x00, 0x80, 0xff, 0xff, 0xff, 0xff]),
    );
    const t = parseSafetensors(bytes).tensors;
    expect(t.get('h')).toMatchObject({ dtype: 'F32', sourceDtype: 'F16' });
    expect(Array.from(t.get('h')!.data as Float32Array)).toEqual([1, -0.5, 65504, 2 ** -24, Infinity, -Infinity]);
    expect(Array.from(t.get('b')!.data as Float32Array)).toEqual([1, -3.140625]);
    expect(Array.from(t.get('u')!.data as Int32Array)).toEqual([255, 7]);
    expect(Array.from(t.get('s')!.data as Int32Array)).toEqual([-1, 7]);
    expect(Array.from(t.get('q')!.data as Int32Array)).toEqual([-32768]);
    expect(t.get('w')).toMatchObject({ dtype: 'I64', sourceDtype: 'U32' });
    expect(Array.from(t.get('w')!.data as BigInt64Array)).toEqual([4294967295n]);
  });

  it('does not let a "__proto__" metadata key touch the prototype', () => {
    const bytes = craft('{"__metadata__":{"__proto__":"evil"}}');
    const { metadata } = parseSafetensors(bytes);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['__proto__']);
  });
});

describe('parseSafetensors rejects corrupt files, naming the source and the field', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['a file shorter than 8 bytes', () => new Uint8Array(5), /5 bytes, shorter than the 8-byte header length/],
    ['an empty file', () => new Uint8Array(0), /0 bytes, shorter than the 8-byte/],
    ['a header length beyond 100 MB', () => craft(ok, 8, 100_000_001n), /header length 100000001 is beyond the 100 MB limit/],
    ['a header length of 2^64-1', () => craft(ok, 8, 2n ** 64n - 1n), /beyond the 100 MB limit/],
    ['a header length beyond the file', () => craft(ok, 0, 1000n), /header length 1000 is beyond the file/],
    ['a header that is not UTF-8', () => craft(new Uint8Array([0x7b, 0xff, 0x7d])), /not valid UTF-8/],
    ['a header that is not JSON', () => craft('{"w": nope}'), /header is not valid JSON/],
    ['a truncated JSON header', () => craft('{"w": {"dtype": "F32"'), /header is not valid JSON/],
    ['JSON followed by junk', () => craft('{} x'), /after the end of the JSON value/],
    ['a header that is an array', () => craft('[1, 2]'), /does not start with '\{'/],
    ['a header padded with NULs', () => craft('{}\0\0'), /header is not valid JSON/],
    ['a duplicate key', () => craft('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), /key "w" twice/],
    ['an integer beyond 2^53', () => craft('{"w":{"dtype":"F32","shape":[9007199254740993],"data_offsets":[0,4]}}', 4), /9007199254740993 is beyond 2\^53/],
    ['__metadata__ not an object', () => craft({ __metadata__: ['a'] }), /__metadata__ is an array, not an object of strings/],
    ['__metadata__ with a non-string value', () => craft({ __metadata__: { epoch: 3 } }), /__metadata__\["epoch"\] is number 3, not a string/],
    ['a tensor entry that is not an object', () => craft({ w: 5 }), /tensor "w": entry is number 5, not an object/],
    ['a missing dtype', () => craft({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor "w": dtype is missing/],
    ['an unknown dtype', () => craft({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, 16), /tensor "w": unknown or unsupported dtype "F128"/],
    ['an inherited-property dtype', () => craft({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, 4), /unknown or unsupported dtype "toString"/],
    ['an unknown field', () => craft({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4], offset: 0 } }, 4), /tensor "w": unknown field "offset"/],
    ['a shape that is not an array', () => craft({ w: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }, 8), /tensor "w": shape is number 2, not an array/],
    ['a missing shape', () => craft({ w: { dtype: 'F32', data_offsets: [0, 8] } }, 8), /tensor "w": shape is missing/],
    ['a negative dimension', () => craft({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8), /tensor "w": shape\[1\] is number -1, not a non-negative integer/],
    ['a fractional dimension', () => craft({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, 8), /number 1.5 is not written as an integer/],
    // The reference implementation reads shapes and offsets as unsigned integers and refuses these spellings.
    ['a dimension written 1.0', () => craft('{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', 4), /header is not valid JSON: number 1.0 is not written as an integer/],
    ['a dimension written 1e0', () => craft('{"w":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}', 4), /number 1e0 is not written as an integer/],
    ['an offset written 4.0', () => craft('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}', 4), /number 4.0 is not written as an integer/],
    ['an offset written 4E+0', () => craft('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4E+0]}}', 4), /number 4E\+0 is not written as an integer/],
    ['a string dimension', () => craft({ w: { dtype: 'F32', shape: ['2'], data_offsets: [0, 8] } }, 8), /shape\[0\] is string "2"/],
    ['data_offsets missing', () => craft({ w: { dtype: 'F32', shape: [2] } }, 8), /tensor "w": data_offsets is missing, not \[begin, end\]/],
    ['data_offsets of the wrong length', () => craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4, 8] } }, 8), /data_offsets is an array, not \[begin, end\]/],
    ['a non-integer offset', () => craft({ w: { dtype: 'F32', shape: [2], data_offsets: [0, '8'] } }, 8), /data_offsets end is string "8"/],
    ['a negative offset', () => craft({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, 8), /data_offsets begin is number -8/],
    ['begin > end', () => craft({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8), /data_offsets \[8, 4\] has begin > end/],
    ['a range beyond the data area', () => craft({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /data_offsets \[0, 16\] is beyond the data area of 8 bytes/],
    ['a size that does not match dtype x shape', () => craft({ w: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }, 8), /span 8 bytes but F64 \[2\] needs 16 bytes/],
    ['a huge shape whose product overflows', () => craft({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, 8), /span 8 bytes but F32 \[1099511627776, 1099511627776, 1099511627776\] needs/],
    ['a huge shape with a zero in it', () => craft({ w: { dtype: 'F32', shape: [2 ** 40, 0], data_offsets: [0, 8] } }, 8), /span 8 bytes but F32 \[1099511627776, 0\] needs 0 bytes/],
    [
      'overlapping ranges',
      () => craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
      /tensor "b": data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/,
    ],
    [
      'two tensors aliasing the same bytes',
      () => craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, 8),
      /overlap tensor "a"/,
    ],
    [
      'a gap between tensors',
      () => craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12),
      /data area bytes \[4, 8\) are not covered by any tensor \(a gap before "b"\)/,
    ],
    ['a gap at the start', () => craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /bytes \[0, 4\) are not covered/],
    ['trailing bytes', () => craft(ok, 12), /4 trailing bytes after the last tensor \(tensors cover 8 of 12 bytes\)/],
    ['trailing bytes with no tensors', () => craft({}, 3), /3 trailing bytes/],
  ];

  for (const [what, make, pattern] of cases) {
    it(`rejects ${what}`, () => {
      const msg = parseErr(make());
      expect(msg).toMatch(/^model\.safetensors: invalid safetensors file: /);
      expect(msg).toMatch(pattern);
    });
  }

  it('uses <buffer> as the source when none is given', () => {
    expect(() => parseSafetensors(new Uint8Array(3))).toThrow(/^<buffer>: /);
  });

  it('validates the whole header before allocating any tensor', () => {
    // The first tensor is fine and large; the second is broken. Nothing may be decoded before the error.
    const n = 1 << 20;
    const bytes = craft({ a: { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] }, b: { dtype: 'X', shape: [], data_offsets: [4 * n, 4 * n] } }, 4 * n);
    const orig = Float32Array;
    let constructed = 0;
    (globalThis as { Float32Array: unknown }).Float32Array = new Proxy(orig, {
      construct(target, args) {
        constructed++;
        return Reflect.construct(target, args) as object;
      },
    });
    try {
      expect(parseErr(bytes)).toMatch(/unknown or unsupported dtype "X"/);
    } finally {
      (globalThis as { Float32Array: unknown }).Float32Array = orig;
    }
    expect(constructed).toBe(0);
  });

  it('never throws anything but a named Error on random corruption of a valid file', () => {
    const good = serializeSafetensors({ a: entry('F32', [2, 3], [1, 2, 3, 4, 5, 6]), n: entry('I64', [], [5]) }, { k: 'v' });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(good.length), (flips, cut) => {
        const bad = good.slice(0, Math.max(cut, 0) || good.length);
        for (const [i, v] of flips) if (i < bad.length) bad[i] = v;
        try {
          parseSafetensors(bad, 'fuzz');
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          expect((e as Error).message).toMatch(/^fuzz: invalid safetensors file: /);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('the header reader is linear in time and memory', () => {
  it('parses a 40 MB key with an escape near its start quickly (it used to build the string one character at a time)', () => {
    const body = 'x'.repeat(40_000_000);
    const timed = (key: string): [Record<string, string>, number] => {
      const bytes = craft(`{"__metadata__":{"${key}":"v"}}`);
      const t0 = performance.now();
      const { metadata } = parseSafetensors(bytes, 'big.safetensors');
      return [metadata, performance.now() - t0];
    };
    // Against the same key without an escape (one slice), so that a loaded machine slows both alike:
    // the character-at-a-time reader took ~300x as long (15 s for 40 MB).
    const [, plainMs] = timed(`a${body}`);
    const [metadata, escapedMs] = timed(`a\\n${body}`);
    expect(escapedMs).toBeLessThan(10 * plainMs + 1000);
    const k = Object.keys(metadata)[0] as string;
    expect(k.length).toBe(40_000_002);
    expect(k.slice(0, 3)).toBe('a\nx');
  });

  it('decodes every escape the same as JSON.parse', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (str) => {
        const { metadata } = parseSafetensors(craft(`{"__metadata__":{"k":${JSON.stringify(str)}}}`), 'esc');
        expect(metadata.k).toBe(str);
      }),
    );
  });
});

describe('serializeSafetensors rejects bad input', () => {
  it.each([
    ['a data/shape mismatch', { w: entry('F32', [2, 2], [1, 2, 3]) }, /shape \[2, 2\] has 4 elements but data has 3/],
    ['a wrong array class', { w: { dtype: 'F64', shape: [1], data: new Float32Array(1) } as SafeEntry }, /dtype F64 needs a Float64Array, got Float32Array/],
    ['an unwritable dtype', { w: { dtype: 'F16', shape: [1], data: new Float32Array(1) } as unknown as SafeEntry }, /cannot write dtype "F16"/],
    ['a bad shape', { w: { dtype: 'F32', shape: [-1], data: new Float32Array(1) } as SafeEntry }, /shape \[-1\] is not an array of non-negative integers/],
    ['the reserved name', { __metadata__: entry('F32', [1], [1]) }, /__metadata__ is reserved/],
  ])('%s', (_what, tensors, pattern) => {
    expect(() => serializeSafetensors(tensors as Record<string, SafeEntry>)).toThrow(pattern);
  });

  it('rejects non-string metadata', () => {
    expect(() => serializeSafetensors({}, { epoch: 3 as unknown as string })).toThrow(/metadata\["epoch"\] is number, not a string/);
  });
});

describe('I64 helpers', () => {
  it('converts safe values both ways', () => {
    expect(i64ToNumbers(new BigInt64Array([0n, -5n, 2n ** 53n - 1n, -(2n ** 53n) + 1n]))).toEqual([0, -5, 2 ** 53 - 1, -(2 ** 53) + 1]);
    expect(Array.from(numbersToI64([937, -1, 0]))).toEqual([937n, -1n, 0n]);
  });

  it('refuses values that a number cannot hold exactly', () => {
    expect(() => i64ToNumbers(new BigInt64Array([1n, 2n ** 53n + 1n]), 'encoder.1.num_batches_tracked')).toThrow(
      /encoder\.1\.num_batches_tracked: element 1 \(9007199254740993\) is beyond 2\^53/,
    );
    expect(() => numbersToI64([1.5])).toThrow(/element 0 \(1.5\) is not an integer/);
    expect(() => numbersToI64([2 ** 53])).toThrow(/not an integer within 2\^53/);
    expect(() => numbersToI64([NaN])).toThrow(/NaN/);
  });
});

interface FixtureJson {
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
}

describe('interop with PyTorch', () => {
  it('parses the fixture written from PyTorch tensors by scripts/make-io-fixtures.py', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'torch_small.safetensors')));
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'torch_small.json'), 'utf8')) as FixtureJson;
    const { tensors, metadata } = parseSafetensors(bytes, 'torch_small.safetensors');
    expect(metadata).toEqual(expected.metadata);
    expect([...tensors.keys()]).toEqual(expected.order);
    for (const [name, want] of Object.entries(expected.tensors)) {
      const got = tensors.get(name)!;
      expect(got, name).toBeDefined();
      expect(got.shape, name).toEqual(want.shape);
      expect(got.sourceDtype ?? got.dtype, name).toBe(want.dtype);
      const values = Array.from(got.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' || got.dtype === 'I32' ? String(v) : v));
      expect(values, name).toEqual(want.values);
    }
    const nbt = tensors.get('encoder.1.num_batches_tracked')!;
    expect(nbt).toMatchObject({ dtype: 'I64', shape: [] });
    expect(i64ToNumbers(nbt.data as BigInt64Array)).toEqual([937]);
    expect(() => i64ToNumbers(tensors.get('i64.big')!.data as BigInt64Array)).toThrow(/beyond 2\^53/);
  });

  const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  if (!hasTorch) console.log('[io] /usr/bin/python3 with torch not found: skipping the PyTorch reader check (apt-get install python3-torch)');

  it.skipIf(!hasTorch)('writes files that PyTorch reads back with the same values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vaegrad-io-'));
    try {
      const file = join(dir, 'ts.safetensors');
      writeFileSync(
        file,
        serializeSafetensors(
          {
            'encoder.0.weight': entry('F32', [2, 3], [0.5, -1.25, 3, 4, 5, 6]),
            'encoder.1.num_batches_tracked': entry('I64', [], [937]),
            d: entry('F64', [2], [1 / 3, -1e300]),
            i: entry('I32', [1], [-7]),
          },
          { format: 'pt' },
        ),
      );
      // A reader written against the spec with torch.frombuffer: checks our header, padding, alignment and byte order.
      const py = `
import json, struct, sys, torch
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
assert n % 8 == 0
h = json.loads(b[8:8+n])
meta = h.pop('__metadata__')
dt = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64, 'I32': torch.int32}
out = {'__metadata__': meta}
for k, v in h.items():
    s, e = v['data_offsets']
    t = torch.frombuffer(bytearray(b[8+n+s:8+n+e]), dtype=dt[v['dtype']]).reshape(v['shape'])
    assert (8 + n + s) % t.element_size() == 0, k
    out[k] = {'shape': list(t.shape), 'values': [str(x) if not t.is_floating_point() else float(x) for x in t.flatten().tolist()]}
print(json.dumps(out))
`;
      const res = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8' })) as Record<string, unknown>;
      expect(res).toEqual({
        __metadata__: { format: 'pt' },
        'encoder.0.weight': { shape: [2, 3], values: [0.5, -1.25, 3, 4, 5, 6] },
        'encoder.1.num_batches_tracked': { shape: [], values: ['937'] },
        d: { shape: [2], values: [1 / 3, -1e300] },
        i: { shape: [1], values: ['-7'] },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bool and integer tensors through state dicts (the classifier case)', () => {
  it('int32 labels (written as I64) and bool masks (BOOL) round-trip with their dtypes', () => {
    const sd = new Map([
      ['labels', vg.tensor([[3, 0], [-7, 2147483647]], { dtype: 'int32' })],
      ['mask', vg.tensor([1, 0, 1]).gt(0)],
    ]);
    const bytes = vg.stateDictToSafetensors(sd);
    const { tensors } = parseSafetensors(bytes);
    expect(tensors.get('labels')!.dtype).toBe('I64');
    expect(tensors.get('mask')!.dtype).toBe('BOOL');
    const back = vg.safetensorsToStateDict(bytes).tensors;
    expect(back.get('labels')!.dtype).toBe('int32');
    expect(back.get('labels')!.toArray()).toEqual([[3, 0], [-7, 2147483647]]);
    expect(back.get('mask')!.dtype).toBe('bool');
    expect(back.get('mask')!.toArray()).toEqual([1, 0, 1]);
  });

  it("PyTorch's int64 labels and bool mask (fixture) load as int32 and bool; an I64 value beyond int32 names the tensor", () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'torch_small.safetensors')));
    const { tensors } = parseSafetensors(bytes, 'torch_small.safetensors');
    const keep = (names: string[]): Uint8Array => serializeSafetensors(new Map(names.map((n) => [n, tensors.get(n)!])));
    const sd = vg.safetensorsToStateDict(keep(['labels', 'mask']), 'torch_small.safetensors').tensors;
    expect(sd.get('labels')!.dtype).toBe('int32');
    expect(sd.get('labels')!.toArray()).toEqual([[3, 0], [9, 2147483647]]);
    expect(sd.get('mask')!.dtype).toBe('bool');
    expect(sd.get('mask')!.toArray()).toEqual([1, 0, 1]);
    const tooBig = serializeSafetensors(new Map([['labels', { dtype: 'I64' as const, shape: [2], data: new BigInt64Array([1n, 3000000000n]) }]]));
    expect(() => vg.safetensorsToStateDict(tooBig, 'ckpt.safetensors')).toThrow(/ckpt\.safetensors: labels: I64 value 3000000000 does not fit vaegrad's int32 tensors/);
  });

  it('a BOOL byte other than 0 or 1 reads as true', () => {
    const raw = serializeSafetensors(new Map([['m', { dtype: 'BOOL' as const, shape: [3], data: new Uint8Array([0, 1, 1]) }]]));
    raw[raw.length - 1] = 7; // a non-canonical true
    expect(Array.from(parseSafetensors(raw).tensors.get('m')!.data as Uint8Array)).toEqual([0, 1, 1]);
  });

  it.skipIf(spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0)('PyTorch reads our int32 (as int64) and bool tensors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vaegrad-io-'));
    try {
      const file = join(dir, 'cls.safetensors');
      writeFileSync(file, vg.stateDictToSafetensors(new Map([['labels', vg.tensor([5, -1], { dtype: 'int32' })], ['mask', vg.tensor([0, 2]).gt(1)]])));
      const py = `
import json, struct, sys, torch
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8+n]); h.pop('__metadata__', None)
dt = {'I64': torch.int64, 'BOOL': torch.bool}
out = {}
for k, v in h.items():
    s, e = v['data_offsets']
    t = torch.frombuffer(bytearray(b[8+n+s:8+n+e]), dtype=dt[v['dtype']]).reshape(v['shape'])
    out[k] = [str(t.dtype), t.tolist()]
print(json.dumps(out))
`;
      expect(JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8' }))).toEqual({ labels: ['torch.int64', [5, -1]], mask: ['torch.bool', [false, true]] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
