// Shared test helpers for the tensor core: random shapes and layouts (contiguous, transposed,
// strided slices, expanded), value generators that stay away from kinks, and plain-JS references.

import fc from 'fast-check';
import { expect, it } from 'vitest';
import * as vg from '../../src/index.js';

export const FC = { numRuns: 40 };

export type Values = 'normal' | 'positive' | 'awayFromZero' | 'distinct' | 'unit' | 'int';
export type LayoutKind = 'contiguous' | 'permuted' | 'strided' | 'expanded';

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let r = 0;
  for (let d = 0; d < shape.length; d++) r = r * shape[d]! + idx[d]!;
  return r;
}

/** Plain-JS broadcast: maps a flat index of `out` to a flat index of a contiguous `inp`. */
export function bcastIndex(out: readonly number[], inp: readonly number[]): (i: number) => number {
  const lead = out.length - inp.length;
  return (i) => {
    const o = unravel(i, out);
    return ravel(inp.map((d, k) => (d === 1 ? 0 : o[k + lead]!)), inp);
  };
}

export function bcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** n values of the requested kind from a seeded generator. */
export function values(kind: Values, n: number, gen: vg.Generator): Float64Array {
  const v = new Float64Array(n);
  if (kind === 'distinct') {
    // A shuffled ladder with gaps of 0.1 (jitter < 0.03): every pair differs by > 0.04.
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = gen.int(0, i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let i = 0; i < n; i++) v[i] = (order[i]! - n / 2) * 0.1 + 0.03 * gen.uniform();
    return v;
  }
  for (let i = 0; i < n; i++) {
    const z = gen.normal();
    if (kind === 'normal') v[i] = z;
    else if (kind === 'positive') v[i] = 0.2 + 2 * gen.uniform();
    else if (kind === 'unit') v[i] = 0.05 + 0.9 * gen.uniform();
    else if (kind === 'int') v[i] = gen.int(-2, 3); // small integers: many ties
    else v[i] = (z >= 0 ? 1 : -1) * (0.05 + Math.abs(z)); // |x| >= 0.05, far above eps
  }
  return v;
}

/**
 * A leaf tensor plus a transform that turns it into a view of logical shape `shape` with the
 * given layout, and the view's logical values computed in plain JS (row-major).
 */
export interface Input {
  leaf: vg.Tensor;
  view: (leaf: vg.Tensor) => vg.Tensor;
  vals: Float64Array;
  shape: number[];
}

export function makeInput(shape: readonly number[], layout: LayoutKind, kind: Values, gen: vg.Generator, dtype: vg.DType = 'float64'): Input {
  const n = numel(shape);
  const s = [...shape];
  const mk = (data: Float64Array, sh: number[]): vg.Tensor => vg.tensor(data, { shape: sh, dtype, requiresGrad: dtype !== 'int32' });
  if (layout === 'permuted' && shape.length >= 2) {
    // view = base.permute(p) with base.shape[p[i]] = shape[i]: reverse order is a permutation that moves every dim.
    const r = shape.length;
    const p = Array.from({ length: r }, (_, i) => r - 1 - i);
    const baseShape = new Array<number>(r);
    p.forEach((pi, i) => (baseShape[pi] = shape[i]!));
    const vals = values(kind, n, gen);
    const base = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const idx = unravel(i, shape);
      const bidx = new Array<number>(r);
      p.forEach((pi, k) => (bidx[pi] = idx[k]!));
      base[ravel(bidx, baseShape)] = vals[i]!;
    }
    return { leaf: mk(base, baseShape), view: (t) => t.permute(p), vals, shape: s };
  }
  if (layout === 'strided' && shape.length >= 1) {
    // The last dim is read with step 2 from offset 1 of a larger base (junk in between).
    const r = shape.length;
    const last = shape[r - 1]!;
    const baseShape = [...shape];
    baseShape[r - 1] = 2 * last + 1;
    const vals = values(kind, n, gen);
    const base = values(kind, numel(baseShape), gen);
    for (let i = 0; i < n; i++) {
      const idx = unravel(i, shape);
      idx[r - 1] = 1 + 2 * idx[r - 1]!;
      base[ravel(idx, baseShape)] = vals[i]!;
    }
    return { leaf: mk(base, baseShape), view: (t) => t.slice(-1, 1, 1 + 2 * last, 2), vals, shape: s };
  }
  if (layout === 'expanded' && shape.length >= 1 && kind !== 'distinct') {
    // The first dim of size > 1 is a broadcast (stride-0) copy of a size-1 leaf dim.
    const d = shape.findIndex((x) => x > 1);
    if (d >= 0) {
      const baseShape = [...shape];
      baseShape[d] = 1;
      const bv = values(kind, numel(baseShape), gen);
      const map = bcastIndex(shape, baseShape);
      const vals = Float64Array.from({ length: n }, (_, i) => bv[map(i)]!);
      return { leaf: mk(bv, baseShape), view: (t) => t.expand(s), vals, shape: s };
    }
  }
  const vals = values(kind, n, gen);
  return { leaf: mk(vals.slice(), s), view: (t) => t, vals, shape: s };
}

export const arbLayout = (kinds: LayoutKind[] = ['contiguous', 'permuted', 'strided', 'expanded']): fc.Arbitrary<LayoutKind> =>
  fc.constantFrom(...kinds);

export const arbShape = (minRank = 0, maxRank = 3, maxDim = 3): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** Two shapes that broadcast together: b drops leading dims and sets some dims to 1, or the other way round. */
export const arbBroadcastPair = (maxRank = 3): fc.Arbitrary<[number[], number[]]> =>
  fc
    .record({
      out: arbShape(0, maxRank, 3),
      dropA: fc.integer({ min: 0, max: maxRank }),
      dropB: fc.integer({ min: 0, max: maxRank }),
      onesA: fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
      onesB: fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
    })
    .map(({ out, dropA, dropB, onesA, onesB }) => {
      const a = out.slice(Math.min(dropA, out.length)).map((d, i) => (onesA[i] ? 1 : d));
      const b = out.slice(Math.min(dropB, out.length)).map((d, i) => (onesB[i] && !onesA[i] ? 1 : d));
      return [a, b] as [number[], number[]];
    });

export const arbSeed = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** A unary op under test: its name, the op, and the values its input takes. */
export type UnaryCase = [string, (x: vg.Tensor) => vg.Tensor, Values];

/** One test per unary op: float64 gradcheck over random shapes, layouts (views) and seeds. */
export function itGradchecksUnaries(unaries: readonly UnaryCase[]): void {
  for (const [name, f, kind] of unaries) {
    it(name, () => {
      fc.assert(
        fc.property(arbShape(0, 3, 3), arbLayout(), arbSeed, (shape, layout, seed) => {
          const inp = makeInput(shape, layout, kind, new vg.Generator(seed));
          check((x) => f(inp.view(x)), [inp.leaf]);
        }),
        FC,
      );
    });
  }
}

/** gradcheck with tolerances tight enough for float64 central differences. */
export function check(fn: (...xs: vg.Tensor[]) => vg.Tensor, inputs: vg.Tensor[]): void {
  expect(vg.gradcheck(fn, inputs, { eps: 1e-6, atol: 1e-7, rtol: 1e-5 })).toBe(true);
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      expect(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`).toBe(true);
      continue;
    }
    if (!Number.isFinite(e)) {
      expect(a, `${what}[${i}]`).toBe(e);
      continue;
    }
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${e} (tol ${tol})`);
    }
  }
}

export const data = (t: vg.Tensor): number[] => Array.from(t.dataSync());
