// The seedable PRNG behind rand/randn/randint/dropout: xoshiro128** over 32-bit integer math,
// so the same seed gives the same numbers in every JavaScript engine.

export type RngState = [number, number, number, number];

/** A Generator's whole state (getState / fromState / setState): xoshiro128**'s four words and the cached second normal. */
export interface GeneratorState {
  /** xoshiro128**'s state, four unsigned 32-bit words (not all zero). */
  s: RngState;
  /** The second value of the last Box-Muller pair, not yet drawn, or null. */
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** A seeded random number generator, xoshiro128** (the same numbers in every JavaScript engine) (torch.Generator). */
export class Generator {
  private s = new Uint32Array(4);
  /** A cached second normal from Box-Muller, as part of the state so that resumes replay exactly. */
  private spare = NaN;

  /** A generator seeded with `seed`. */
  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Reseeds this generator (torch.Generator.manual_seed). */
  manualSeed(seed: number): this {
    if (!Number.isFinite(seed)) throw new Error(`manualSeed: seed must be a finite number, got ${seed}`);
    const sm = splitmix32(Math.floor(seed) ^ Math.floor(seed / 2 ** 32));
    for (let i = 0; i < 4; i++) this.s[i] = sm();
    this.spare = NaN;
    return this;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [low, high). */
  int(low: number, high: number): number {
    return low + Math.floor(this.uniform() * (high - low));
  }

  /** The generator's state, to save and restore with fromState (torch.Generator.get_state). */
  getState(): GeneratorState {
    return { s: [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!], spare: Number.isNaN(this.spare) ? null : this.spare };
  }

  /** A generator restored from getState() (a state that could not have come from it is refused). */
  static fromState(state: GeneratorState): Generator {
    const g = new Generator();
    g.setState(state);
    return g;
  }

  /** Restores a state from getState(); refuses anything else (an all-zero xoshiro state would repeat 0 forever). */
  setState(state: GeneratorState): void {
    const where = 'Generator.setState';
    if (typeof state !== 'object' || state === null) throw new Error(`${where}: expected { s: [4 x uint32], spare }, got ${state === null ? 'null' : typeof state}`);
    const s: unknown = state.s;
    if (!Array.isArray(s) || s.length !== 4) {
      throw new Error(`${where}: s must be an array of 4 uint32 values, got ${Array.isArray(s) ? `an array of ${s.length}` : typeof s}`);
    }
    s.forEach((x: unknown, i) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Error(`${where}: s[${i}] is ${show(x)}, not an integer in [0, 2^32)`);
    });
    if (s.every((x) => x === 0)) throw new Error(`${where}: s is all zeros, which xoshiro128** never leaves (every draw would be 0); use a state from getState()`);
    const spare: unknown = state.spare;
    if (spare !== null && spare !== undefined && (typeof spare !== 'number' || !Number.isFinite(spare))) {
      throw new Error(`${where}: spare is ${show(spare)}, not a finite number or null`);
    }
    this.s.set(s as number[]);
    this.spare = (spare as number | null | undefined) ?? NaN;
  }
}

/** 0..n-1 in a random order (Fisher-Yates with g): the same seed gives the same order in every engine. */
export function permutation(n: number, g: Generator): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = g.int(0, i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The global generator used when an op is not given one. */
export const defaultGenerator = new Generator(0);

/** Seeds the global generator that creation ops and inits draw from by default (torch.manual_seed). */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
