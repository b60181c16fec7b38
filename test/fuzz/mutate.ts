// A seeded byte mutator for the fuzz suite, driven by the project's own xoshiro Generator so that
// a failing case is replayed from (format, seed, case number) alone.

import { Generator } from '../../src/random.js';
import { concatBytes } from '../../src/io/idx.js';

/** Byte strings worth splicing into a structured format: JSON syntax, escapes, and number spellings the parsers must refuse. */
export const JSON_TOKENS = [
  '"', '\\', '\\u', '\\u00', '\\n', '{', '}', '[', ']', ',', ':', ' ', '\t', '\0', '1.0', '1e0', '1E+0', '-1', '-0', '0', '00',
  '18446744073709551615', '9007199254740993', '4294967296', '1e308', 'null', 'true', '"__metadata__"', '"dtype"', '"shape"',
  '"data_offsets"', '"F16"', '"BF16"', '"I64"', '"U8"', '"BOOL"', '"F32"', '"X9"', '\u00e9', '\ud83d\ude00', '\ufeff',
].map((s) => new TextEncoder().encode(s));

/** Integers at the edges of the widths the formats use. */
const EDGE_INTS = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

export class Mutator {
  constructor(readonly g: Generator) {}

  int(lo: number, hi: number): number {
    return this.g.int(lo, hi);
  }

  chance(p: number): boolean {
    return this.g.uniform() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length)] as T;
  }

  /** 1 to 4 stacked edits: bit flips, edge values, deletions, insertions, duplications, truncation, tokens. */
  mutate(input: Uint8Array, tokens: readonly Uint8Array[] = []): Uint8Array {
    let b = input.slice();
    const edits = 1 + this.int(0, 4);
    for (let e = 0; e < edits; e++) b = this.edit(b, tokens);
    return b;
  }

  private edit(b: Uint8Array, tokens: readonly Uint8Array[]): Uint8Array {
    const at = (extra = 0): number => this.int(0, b.length + extra);
    switch (this.int(0, tokens.length > 0 ? 9 : 8)) {
      case 0: {
        if (b.length === 0) return b;
        const i = at();
        b[i] = (b[i] as number) ^ (1 << this.int(0, 8));
        return b;
      }
      case 1: {
        if (b.length === 0) return b;
        b[at()] = this.chance(0.5) ? this.pick(EDGE_INTS) & 0xff : this.int(0, 256);
        return b;
      }
      case 2: {
        // A 4- or 8-byte edge integer, either endianness (IDX is big-endian, safetensors little-endian).
        const w = this.chance(0.5) ? 4 : 8;
        if (b.length < w) return b;
        const i = this.int(0, b.length - w + 1);
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const v = this.chance(0.8) ? this.pick(EDGE_INTS) : this.g.nextU32();
        const le = this.chance(0.5);
        if (w === 4) dv.setUint32(i, v, le);
        else dv.setBigUint64(i, BigInt(v) * (this.chance(0.3) ? 1n << 32n : 1n), le);
        return b;
      }
      case 3: {
        const i = at();
        const n = this.int(0, Math.min(64, b.length - i) + 1);
        return concat(b.subarray(0, i), b.subarray(i + n));
      }
      case 4: {
        const i = at(1);
        const ins = Uint8Array.from({ length: this.int(1, 17) }, () => this.int(0, 256));
        return concat(b.subarray(0, i), ins, b.subarray(i));
      }
      case 5: {
        if (b.length === 0) return b;
        const i = at();
        const n = this.int(1, Math.min(256, b.length - i) + 1);
        const j = at(1);
        return concat(b.subarray(0, j), b.subarray(i, i + n), b.subarray(j));
      }
      case 6:
        return b.subarray(0, at(1)).slice();
      case 7: {
        // Extend with zeros or repeat the tail: sizes that disagree with a header.
        const n = this.int(1, 300);
        return concat(b, new Uint8Array(n).fill(this.chance(0.5) ? 0 : this.int(0, 256)));
      }
      default: {
        const tok = this.pick(tokens);
        const i = at(1);
        const replace = this.chance(0.5) ? Math.min(tok.length, b.length - i) : 0;
        return concat(b.subarray(0, i), tok, b.subarray(i + replace));
      }
    }
  }
}

/** The parts, one after another (the IDX reader's concatBytes). */
export const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);
