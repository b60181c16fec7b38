// wasm-only: the phase-Winograd F(2x2, 2x2) path of 4x4 stride-2 padding-1 input gradients
// (ConvTranspose2d(4, 2, 1)'s forward) against the float64 oracle, over random geometries that
// take it (the channel threshold lowered to 1 so small shapes do): odd and even planes of 1..9
// pixels, with and without bias, many images per chunk and tiles per block; how NaN, Infinity
// and -0 come through; and which geometries take it. The forward convolution of that geometry
// (input phases, winogradS2Conv) and its weight gradient (winogradS2GradSums) the same way.
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { Conv2dGeometry, Storage } from '../../src/backend/backend.js';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import { loadSingleThreadKernelsSync, type KernelExports } from '../../src/backend/wasm/loader.js';
import { U32, abs64, oracle, randomF32, to64 } from './backends.js';

/** The conv geometry whose input gradient is ConvTranspose2d(o -> c, 4, 2, 1) of an ih x iw input (h = 2 ih + extra rows). */
function geo(n: number, c: number, o: number, ih: number, iw: number, extraH = 0, extraW = 0): Conv2dGeometry {
  return { n, c, h: 2 * ih + extraH, w: 2 * iw + extraW, o, kh: 4, kw: 4, oh: ih, ow: iw, strideH: 2, strideW: 2, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1 };
}

/** A wasm backend whose kernel calls can be counted (vi.spyOn(k, name)): the one-thread build, so that no chunk runs in a worker's instance. */
function backend(minChannels: number, colTarget?: number): { b: WasmBackend; k: KernelExports } {
  const loaded = loadSingleThreadKernelsSync();
  const k = { ...loaded.exports };
  const b = new WasmBackend({ ...loaded, exports: k });
  b.winogradS2MinChannels = minChannels;
  if (colTarget) b.colTarget = colTarget;
  return { b, k };
}

/**
 * |got - want| <= c * (terms + 1) * U32 * (largest bound in the element's plane), as for
 * F(2x2, 3x3) (see winograd.test.ts): the transforms add up to 4 inputs and 4 taps before
 * multiplying and 4 products after, so the rounding is bounded per tile, not per element. c = 4:
 * the worst seen over 3,000 random geometries was 1.23 (0.12 with each filter's summed |taps| at
 * every tap, the bound winograd.test.ts needs).
 */
function expectClosePlane(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, terms: number, plane: number, c = 4): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let p0 = 0; p0 < want.length; p0 += plane) {
    let scale = 0;
    for (let i = p0; i < p0 + plane; i++) scale = Math.max(scale, bound[i]!);
    const unit = (terms + 1) * U32 * scale + 1e-30;
    for (let i = p0; i < p0 + plane; i++) {
      const err = Math.abs(got[i]! - want[i]!);
      if (!(err <= c * unit)) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (|err| ${err} > tol ${c * unit})`);
      worst = Math.max(worst, err / unit);
    }
  }
  return worst;
}

/** The wasm input gradient (with bias: conv2dBackwardDataBias) against the oracle; the error in units of the bound. */
function check(b: WasmBackend, g: Conv2dGeometry, seed: number, withBias: boolean): number {
  const dy = randomF32(g.n * g.o * g.oh * g.ow, seed);
  const taps = g.kh * g.kw;
  const w = randomF32(g.o * (g.c / g.groups) * taps, seed + 1);
  const bias = randomF32(g.c, seed + 2);
  const O = (a: Float64Array) => oracle.fromArray(a);
  const s = (a: Float32Array) => b.fromArray(a);
  const got = withBias ? b.conv2dBackwardDataBias(s(dy), s(w), s(bias), g) : b.conv2dBackwardData(s(dy), s(w), g);
  const want = withBias ? oracle.conv2dBackwardDataBias(O(to64(dy)), O(to64(w)), O(to64(bias)), g) : oracle.conv2dBackwardData(O(to64(dy)), O(to64(w)), g);
  const bound = withBias ? oracle.conv2dBackwardDataBias(O(abs64(dy)), O(abs64(w)), O(abs64(bias)), g) : oracle.conv2dBackwardData(O(abs64(dy)), O(abs64(w)), g);
  return expectClosePlane(b.readSync(got)!, oracle.readSync(want)!, oracle.readSync(bound)!, (g.o / g.groups) * Math.ceil(g.kh / g.strideH) * Math.ceil(g.kw / g.strideW) + (withBias ? 1 : 0), g.h * g.w);
}

/** Random geometries of the tests below: 1..5 images, 1..9 channels each side, planes of 1..9 (+ 0 or 1) pixels, with or without bias. */
const geometries = fc.record({
  n: fc.integer({ min: 1, max: 5 }),
  c: fc.integer({ min: 1, max: 9 }),
  o: fc.integer({ min: 1, max: 9 }),
  ih: fc.integer({ min: 1, max: 9 }),
  iw: fc.integer({ min: 1, max: 9 }),
  extraH: fc.integer({ min: 0, max: 1 }),
  extraW: fc.integer({ min: 0, max: 1 }),
  bias: fc.boolean(),
});

describe('phase-Winograd F(2x2, 2x2) transposed convolutions, 4x4 stride 2 padding 1 (wasm)', () => {
  it('random geometries agree with the oracle: planes of 1..9 pixels (odd and even outputs), channels 1..9, with and without bias', () => {
    const { b, k } = backend(1);
    const run = vi.spyOn(k, 'winogradS2');
    let worst = 0;
    fc.assert(fc.property(geometries, fc.integer({ min: 1, max: 1e9 }), (r, seed) => {
      worst = Math.max(worst, check(b, geo(r.n, r.c, r.o, r.ih, r.iw, r.extraH, r.extraW), seed, r.bias));
    }), { numRuns: 120 });
    expect(run.mock.calls.length).toBeGreaterThanOrEqual(120);
    expect(worst).toBeGreaterThan(0); // the rounding is seen (not an exact path by accident)
  });

  it('the reference model layer (decoder.0), many images per chunk, several tile blocks per chunk', () => {
    const { b, k } = backend(4);
    const run = vi.spyOn(k, 'winogradS2');
    check(b, geo(5, 32, 64, 7, 7), 7, true); // decoder.0: 64 -> 32, 7x7 -> 14x14
    check(backend(1, 3000).b, geo(9, 6, 11, 5, 6, 1, 0), 8, false); // one or two images per chunk
    check(b, geo(3, 5, 40, 30, 30), 9, true); // 675 tiles per image: several blocks per chunk
    expect(run.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('runs only where it fits: 4x4, stride 2, padding 1, no dilation, one group, enough channels; the fallback agrees', () => {
    const { b, k } = backend(4);
    const run = vi.spyOn(k, 'winogradS2');
    const col2im = vi.spyOn(k, 'col2im');
    const calls = (g: Conv2dGeometry): number => {
      run.mockClear();
      col2im.mockClear();
      check(b, g, 41, false);
      expect(run.mock.calls.length > 0 || col2im.mock.calls.length > 0).toBe(true);
      return run.mock.calls.length;
    };
    const base = geo(2, 4, 4, 5, 5);
    expect(calls(base)).toBeGreaterThan(0);
    expect(calls(geo(2, 4, 4, 5, 5, 1, 1))).toBeGreaterThan(0); // outputPadding 1 (odd planes)
    expect(calls(geo(2, 3, 4, 5, 5))).toBe(0); // too few output channels
    expect(calls(geo(2, 4, 3, 5, 5))).toBe(0); // too few input channels
    expect(calls({ ...base, padH: 0, padW: 0, oh: 4, ow: 4 })).toBe(0);
    expect(calls({ ...base, strideH: 1, strideW: 1, oh: 9, ow: 9 })).toBe(0);
    expect(calls({ ...base, kh: 3, kw: 3, h: 9, w: 9, strideH: 2, strideW: 2, oh: 5, ow: 5 })).toBe(0);
    expect(calls({ ...base, dilH: 2, dilW: 2, h: 13, w: 13 })).toBe(0);
    expect(calls({ ...base, c: 8, groups: 2 })).toBe(0);
    b.winogradS2MinChannels = Infinity; // off
    expect(calls(base)).toBe(0);
  });
});

/** The wasm forward (with bias: conv2dBias) against the oracle; the error in units of the bound. */
function checkConv(b: WasmBackend, g: Conv2dGeometry, seed: number, withBias: boolean): number {
  const x = randomF32(g.n * g.c * g.h * g.w, seed);
  const w = randomF32(g.o * g.c * 16, seed + 1);
  const bias = randomF32(g.o, seed + 2);
  const O = (a: Float64Array) => oracle.fromArray(a);
  const s = (a: Float32Array) => b.fromArray(a);
  const got = withBias ? b.conv2dBias(s(x), s(w), s(bias), g) : b.conv2d(s(x), s(w), g);
  const want = withBias ? oracle.conv2dBias!(O(to64(x)), O(to64(w)), O(to64(bias)), g) : oracle.conv2d(O(to64(x)), O(to64(w)), g);
  const bound = withBias ? oracle.conv2dBias!(O(abs64(x)), O(abs64(w)), O(abs64(bias)), g) : oracle.conv2d(O(abs64(x)), O(abs64(w)), g);
  // per output: c channels x 4 phases x 4 taps, rounded per tile as the input gradient is
  return expectClosePlane(b.readSync(got)!, oracle.readSync(want)!, oracle.readSync(bound)!, g.c * 16 + (withBias ? 1 : 0), g.oh * g.ow);
}

describe('phase-Winograd F(2x2, 2x2) forward convolutions, 4x4 stride 2 padding 1 (wasm)', () => {
  it('random geometries agree with the oracle: inputs of 2..19 pixels (odd and even), channels 1..9, with and without bias', () => {
    const { b, k } = backend(1);
    const run = vi.spyOn(k, 'winogradS2Conv');
    let worst = 0;
    fc.assert(fc.property(geometries, fc.integer({ min: 1, max: 1e9 }), (r, seed) => {
      worst = Math.max(worst, checkConv(b, geo(r.n, r.c, r.o, r.ih, r.iw, r.extraH, r.extraW), seed, r.bias));
    }), { numRuns: 120 });
    expect(run.mock.calls.length).toBeGreaterThanOrEqual(120);
    expect(worst).toBeGreaterThan(0);
  });

  it('the reference model layer (decoder.0 input gradient), one image per chunk, several tile blocks per chunk', () => {
    const { b, k } = backend(4);
    const run = vi.spyOn(k, 'winogradS2Conv');
    checkConv(b, geo(5, 64, 32, 7, 7), 7, false); // 32 x 14x14 -> 64 x 7x7
    checkConv(backend(1, 3000).b, geo(9, 6, 11, 5, 6, 1, 0), 8, true); // one or two images per chunk
    checkConv(b, geo(3, 5, 40, 30, 30), 9, true); // 225 tiles per image: several blocks per chunk
    expect(run.mock.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('runs only where it fits (the input gradient\'s conditions; its BN + pool epilogues: fusion.test.ts); the fallback agrees', () => {
    const { b, k } = backend(4);
    const run = vi.spyOn(k, 'winogradS2Conv');
    const calls = (g: Conv2dGeometry): number => {
      run.mockClear();
      checkConv(b, g, 41, false);
      return run.mock.calls.length;
    };
    const base = geo(2, 4, 4, 5, 5);
    expect(calls(base)).toBeGreaterThan(0);
    expect(calls(geo(2, 4, 4, 5, 5, 1, 1))).toBeGreaterThan(0); // odd input planes
    expect(calls(geo(2, 3, 4, 5, 5))).toBe(0); // too few input channels
    expect(calls(geo(2, 4, 3, 5, 5))).toBe(0); // too few output channels
    expect(calls({ ...base, padH: 0, padW: 0, oh: 4, ow: 4 })).toBe(0);
    expect(calls({ ...base, strideH: 1, strideW: 1, oh: 9, ow: 9 })).toBe(0);
    expect(calls({ ...base, dilH: 2, dilW: 2, h: 13, w: 13 })).toBe(0);
    expect(calls({ ...base, c: 8, groups: 2 })).toBe(0);
    b.winogradS2MinChannels = Infinity; // off
    expect(calls(base)).toBe(0);
  });
});

/** The two directions that run by phases, for the tests of special values: what they read and run. */
const directions = [
  { name: 'input gradient (dy)', kernel: 'winogradS2' as const, src: (g: Conv2dGeometry) => [g.o, g.oh, g.ow], dst: (g: Conv2dGeometry) => g.c * g.h * g.w,
    run: (be: WasmBackend | typeof oracle, a: Storage, w: Storage, g: Conv2dGeometry) => be.conv2dBackwardData(a, w, g) },
  { name: 'forward (x)', kernel: 'winogradS2Conv' as const, src: (g: Conv2dGeometry) => [g.c, g.h, g.w], dst: (g: Conv2dGeometry) => g.o * g.oh * g.ow,
    run: (be: WasmBackend | typeof oracle, a: Storage, w: Storage, g: Conv2dGeometry) => be.conv2d(a, w, g) },
];

describe('phase-Winograd F(2x2, 2x2) special values, both directions (wasm)', () => {
  for (const d of directions) {
    it(`${d.name}: NaN and Infinity give non-finite outputs wherever the oracle's are, images without them are unaffected`, () => {
      const { b, k } = backend(1);
      const ran = vi.spyOn(k, d.kernel);
      const g = geo(3, 5, 6, 7, 6, 1, 0);
      const [ch, hh, ww] = d.src(g) as [number, number, number];
      const a = randomF32(g.n * ch * hh * ww, 21);
      const w = randomF32(g.o * g.c * 16, 22);
      // image 0: a NaN; image 1: +Infinity and -Infinity in different channels; image 2: none
      const at = (i: number, c: number, y: number, x: number): number => ((i * ch + c) * hh + y) * ww + x;
      a[at(0, 2, 3, 4)] = NaN;
      a[at(1, 0, 0, 0)] = Infinity;
      a[at(1, ch - 1, hh - 1, ww - 1)] = -Infinity;
      const got = b.readSync(d.run(b, b.fromArray(a), b.fromArray(w), g))!;
      const want = oracle.readSync(d.run(oracle, oracle.fromArray(to64(a)), oracle.fromArray(to64(w)), g))!;
      expect(ran).toHaveBeenCalled();
      const img = d.dst(g);
      let nonFinite = 0;
      for (let i = 0; i < want.length; i++) {
        if (!Number.isFinite(want[i]!)) {
          nonFinite++;
          expect(Number.isFinite(got[i]!), `element ${i}`).toBe(false);
        }
        if (i >= 2 * img) expect(Number.isFinite(got[i]!)).toBe(true);
      }
      expect(nonFinite).toBeGreaterThan(0);
      // the clean image matches the path's own result without the specials
      const clean = randomF32(g.n * ch * hh * ww, 21);
      const ref = b.readSync(d.run(b, b.fromArray(clean), b.fromArray(w), g))!;
      for (let i = 2 * img; i < want.length; i++) expect(got[i]).toBe(ref[i]);
    });

    it(`${d.name}: zeros and -0 give +0 outputs, as the oracle does`, () => {
      const { b } = backend(1);
      const g = geo(2, 3, 4, 3, 4, 0, 1);
      const [ch, hh, ww] = d.src(g) as [number, number, number];
      const a = new Float32Array(g.n * ch * hh * ww).map((_, i) => (i % 2 ? -0 : 0));
      const w = randomF32(g.o * g.c * 16, 31);
      const got = b.readSync(d.run(b, b.fromArray(a), b.fromArray(w), g))!;
      const want = oracle.readSync(d.run(oracle, oracle.fromArray(to64(a)), oracle.fromArray(to64(w)), g))!;
      for (let i = 0; i < want.length; i++) {
        expect(Object.is(got[i], 0), `element ${i}: ${got[i]}`).toBe(true);
        expect(Object.is(want[i], 0)).toBe(true);
      }
    });
  }
});

/** The wasm weight gradient against the oracle; the error in units of the bound (per filter: its 16 taps). */
function checkFilter(b: WasmBackend, g: Conv2dGeometry, seed: number): number {
  const x = randomF32(g.n * g.c * g.h * g.w, seed);
  const dy = randomF32(g.n * g.o * g.oh * g.ow, seed + 1);
  const O = (a: Float64Array) => oracle.fromArray(a);
  const got = b.conv2dBackwardFilter(b.fromArray(x), b.fromArray(dy), g);
  const want = oracle.conv2dBackwardFilter(O(to64(x)), O(to64(dy)), g);
  const bound = oracle.conv2dBackwardFilter(O(abs64(x)), O(abs64(dy)), g);
  // per weight: n x oh x ow products, rounded per tile and per channel's sums as the forward is
  return expectClosePlane(b.readSync(got)!, oracle.readSync(want)!, oracle.readSync(bound)!, g.n * g.oh * g.ow, 16);
}

describe('phase-Winograd F(2x2, 2x2) weight gradients, 4x4 stride 2 padding 1 (wasm)', () => {
  it('random geometries agree with the oracle: inputs of 2..19 pixels (odd and even), channels 1..9', () => {
    const { b, k } = backend(1);
    const run = vi.spyOn(k, 'winogradS2GradSums');
    let worst = 0;
    fc.assert(fc.property(geometries, fc.integer({ min: 1, max: 1e9 }), (r, seed) => {
      worst = Math.max(worst, checkFilter(b, geo(r.n, r.c, r.o, r.ih, r.iw, r.extraH, r.extraW), seed));
    }), { numRuns: 120 });
    expect(run.mock.calls.length).toBeGreaterThanOrEqual(120);
    expect(worst).toBeGreaterThan(0);
  });

  it('the reference model layer (decoder.0 weight gradient), several chunks, several tile blocks per chunk', () => {
    const { b, k } = backend(4);
    const run = vi.spyOn(k, 'winogradS2GradSums');
    checkFilter(b, geo(20, 64, 32, 7, 7), 7); // 32 x 14x14 -> 64 x 7x7, 20 images: several chunks
    checkFilter(backend(1, 3000).b, geo(9, 6, 11, 5, 6, 1, 0), 8);
    checkFilter(b, geo(3, 5, 40, 30, 30), 9); // 225 tiles per image
    expect(run.mock.calls.length).toBeGreaterThanOrEqual(3);
  });

  it('NaN in x: the weights it reaches are NaN as the oracle says; the same path with it gone is finite', () => {
    const { b } = backend(1);
    const g = geo(2, 5, 6, 5, 4, 1, 0);
    const x = randomF32(g.n * g.c * g.h * g.w, 51);
    const dy = randomF32(g.n * g.o * g.oh * g.ow, 52);
    x[((1 * g.c + 3) * g.h + 4) * g.w + 5] = NaN;
    const got = b.readSync(b.conv2dBackwardFilter(b.fromArray(x), b.fromArray(dy), g))!;
    const want = oracle.readSync(oracle.conv2dBackwardFilter(oracle.fromArray(to64(x)), oracle.fromArray(to64(dy)), g))!;
    let nan = 0;
    for (let i = 0; i < want.length; i++) {
      if (Number.isNaN(want[i]!)) { nan++; expect(Number.isNaN(got[i]!), `element ${i}`).toBe(true); }
    }
    expect(nan).toBeGreaterThan(0);
  });

  it('runs only where the forward does; the fallback agrees', () => {
    const { b, k } = backend(4);
    const run = vi.spyOn(k, 'winogradS2GradSums');
    const calls = (g: Conv2dGeometry): number => {
      run.mockClear();
      checkFilter(b, g, 61);
      return run.mock.calls.length;
    };
    const base = geo(2, 4, 4, 5, 5);
    expect(calls(base)).toBeGreaterThan(0);
    expect(calls(geo(2, 3, 4, 5, 5))).toBe(0);
    expect(calls({ ...base, padH: 0, padW: 0, oh: 4, ow: 4 })).toBe(0);
    expect(calls({ ...base, c: 8, groups: 2 })).toBe(0);
    b.winogradS2MinChannels = Infinity;
    expect(calls(base)).toBe(0);
  });
});
