// Tests for the IDX (MNIST) format: round trips for every type, big-endian layout, and each header/size error.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { parseIdx, serializeIdx, type IdxData } from '../../src/io/idx.js';

function header(type: number, dims: number[]): number[] {
  const out = [0, 0, type, dims.length];
  for (const d of dims) out.push((d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255);
  return out;
}

const err = (bytes: Uint8Array | number[], source = 't10k-images-idx3-ubyte.gz'): string => {
  try {
    parseIdx(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes), source);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected parseIdx to throw');
};

describe('parseIdx', () => {
  it('reads a tiny ubyte image file', () => {
    const bytes = Uint8Array.from([...header(0x08, [2, 2, 3]), ...Array.from({ length: 12 }, (_, i) => i * 20)]);
    const { dims, data } = parseIdx(bytes, 'x');
    expect(dims).toEqual([2, 2, 3]);
    expect(data).toBeInstanceOf(Uint8Array);
    expect(Array.from(data)).toEqual(Array.from({ length: 12 }, (_, i) => i * 20));
  });

  it('reads multi-byte types big-endian', () => {
    expect(Array.from(parseIdx(Uint8Array.from([...header(0x0b, [2]), 0x01, 0x02, 0xff, 0xfe]), 'x').data)).toEqual([0x0102, -2]);
    expect(Array.from(parseIdx(Uint8Array.from([...header(0x0c, [1]), 0x80, 0, 0, 1]), 'x').data)).toEqual([-2147483647]);
    expect(Array.from(parseIdx(Uint8Array.from([...header(0x0d, [1]), 0x3f, 0x80, 0, 0]), 'x').data)).toEqual([1]);
    expect(Array.from(parseIdx(Uint8Array.from([...header(0x0e, [1]), 0xc0, 0, 0, 0, 0, 0, 0, 0]), 'x').data)).toEqual([-2]);
    expect(Array.from(parseIdx(Uint8Array.from([...header(0x09, [2]), 0xff, 0x7f]), 'x').data)).toEqual([-1, 127]);
  });

  it('returns data that does not alias the input', () => {
    const bytes = Uint8Array.from([...header(0x08, [2]), 1, 2]);
    const { data } = parseIdx(bytes, 'x');
    bytes[8] = 99;
    expect(Array.from(data)).toEqual([1, 2]);
  });

  it('round-trips every type through serializeIdx', () => {
    const makers: [string, (n: number, seed: number) => IdxData][] = [
      ['u8', (n, s) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + s) & 255)],
      ['i8', (n, s) => Int8Array.from({ length: n }, (_, i) => ((i * 31 + s) & 255) - 128)],
      ['i16', (n, s) => Int16Array.from({ length: n }, (_, i) => ((i * 7919 + s) % 65536) - 32768)],
      ['i32', (n, s) => Int32Array.from({ length: n }, (_, i) => Math.imul(i + 1, 2654435761 + s))],
      ['f32', (n, s) => Float32Array.from({ length: n }, (_, i) => (i - s) / 3)],
      ['f64', (n, s) => Float64Array.from({ length: n }, (_, i) => (i - s) / 3 + 1e-300)],
    ];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.constantFrom(...makers), fc.integer({ min: 0, max: 1000 }), (dims, [, make], seed) => {
        const data = make(dims.reduce((a, d) => a * d, 1), seed);
        const back = parseIdx(serializeIdx(dims, data), 'roundtrip');
        expect(back.dims).toEqual(dims);
        expect(back.data.constructor).toBe(data.constructor);
        expect(Array.from(back.data)).toEqual(Array.from(data));
      }),
      { numRuns: 200 },
    );
  });

  it('writes the MNIST header bytes exactly', () => {
    const bytes = serializeIdx([60000, 28, 28], new Uint8Array(60000 * 28 * 28));
    expect(Array.from(bytes.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]);
  });
});

describe('parseIdx errors name the file and the problem', () => {
  it.each<[string, number[], RegExp]>([
    ['an empty file', [], /file is 0 bytes, shorter than the 4-byte magic number/],
    ['bad magic', [1, 0, 8, 1, 0, 0, 0, 1, 5], /bad magic number: first two bytes are 0x01 0x00, expected 0x00 0x00$/],
    ['gzip data', [0x1f, 0x8b, 8, 0, 0, 0, 0, 0], /bad magic number.*this is gzip data: decompress it first/],
    ['an unknown type', [0, 0, 0x0a, 1, 0, 0, 0, 1, 5], /unknown data type 0x0A/],
    ['zero dimensions', [0, 0, 8, 0, 5], /declares 0 dimensions/],
    ['absurd dimensions', [0, 0, 8, 200, ...new Array<number>(800).fill(1)], /declares 200 dimensions/],
    ['a truncated header', [0, 0, 8, 3, 0, 0, 0, 1], /truncated header: 3 dimensions need 16 header bytes but the file has 8/],
    ['a zero-length dimension', [...header(8, [3, 0])], /dimension 1 is 0/],
    ['truncated data', [...header(8, [10000, 28, 28]), ...new Array<number>(123).fill(0)], /truncated: header says 10000x28x28 unsigned bytes \(7840000 bytes\) but only 123 bytes follow/],
    ['truncated doubles', [...header(0x0e, [2]), 0, 0, 0, 0, 0, 0, 0, 0], /header says 2 doubles \(16 bytes\) but only 8 bytes follow/],
    ['trailing bytes', [...header(8, [2]), 1, 2, 3], /1 trailing bytes: header says 2 unsigned bytes \(2 bytes\) but 3 bytes follow/],
    ['dims whose product is astronomical', [...header(8, [0xffffffff, 0xffffffff, 0xffffffff]), 1], /truncated: header says 4294967295x4294967295x4294967295/],
  ])('%s', (_what, bytes, pattern) => {
    const msg = err(bytes);
    expect(msg).toMatch(/^t10k-images-idx3-ubyte\.gz: invalid IDX file: /);
    expect(msg).toMatch(pattern);
  });

  it('never throws anything but a named Error on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        try {
          parseIdx(bytes, 'fuzz');
        } catch (e) {
          expect((e as Error).message).toMatch(/^fuzz: invalid IDX file: /);
        }
      }),
    );
  });
});

describe('serializeIdx rejects bad input', () => {
  it('checks dims against the data', () => {
    expect(() => serializeIdx([2, 2], new Uint8Array(3))).toThrow(/dims 2x2 hold 4 values but data has 3/);
    expect(() => serializeIdx([], new Uint8Array(0))).toThrow(/0 dimensions/);
    expect(() => serializeIdx([0], new Uint8Array(0))).toThrow(/dimension 0 is 0/);
  });
});
