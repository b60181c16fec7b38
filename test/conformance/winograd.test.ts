// wasm-only: the Winograd F(2x2, 3x3) path of 3x3 stride-1 convolutions (forward, backward-data,
// backward-filter) against the float64 oracle, over random geometries that take it (the channel
// threshold lowered to 1 so small shapes do), odd and tiny planes, padding 0..2, many tile blocks
// and image chunks; plus which convolutions take it.
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { Conv2dGeometry } from '../../src/backend/backend.js';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import { loadSingleThreadKernelsSync, type KernelExports } from '../../src/backend/wasm/loader.js';
import { U32, abs64, oracle, randomF32, to64 } from './backends.js';

function geo(n: number, c: number, h: number, w: number, o: number, pad: number): Conv2dGeometry {
  return { n, c, h, w, o, kh: 3, kw: 3, oh: h + 2 * pad - 2, ow: w + 2 * pad - 2, strideH: 1, strideW: 1, padH: pad, padW: pad, dilH: 1, dilW: 1, groups: 1 };
}

/** A wasm backend whose kernel calls can be counted (vi.spyOn(k, name)): the one-thread build, so that no chunk runs in a worker's instance. */
function backend(minChannels: number, colTarget?: number): { b: WasmBackend; k: KernelExports } {
  const loaded = loadSingleThreadKernelsSync();
  const k = { ...loaded.exports };
  const b = new WasmBackend({ ...loaded, exports: k });
  b.winogradMinChannels = minChannels;
  if (colTarget) b.colTarget = colTarget;
  return { b, k };
}

/**
 * |got - want| <= c * (terms + 1) * U32 * (largest bound in the element's plane). Winograd adds up
 * to 4x4 inputs and 3x3 taps in its transforms before multiplying, and the sums cancel on the way
 * back, so its rounding error is bounded per tile, not per element (an output fed by one product
 * still carries the rounding of the whole tile): the elementwise bound of expectClose does not
 * hold, the plane-wide one does. The weight transform mixes all 9 taps of a filter, so an output
 * carries the rounding of taps that only met padding: forward and backward-data bounds use each
 * filter's summed |taps| at every tap (tapSums). c = 4: the worst seen over 40,000 random
 * geometries was 3.0 (with |w| itself instead of tapSums, 1-pixel padded images reached 19).
 */
function expectClosePlane(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, terms: number, plane: number, c = 4): void {
  expect(got.length).toBe(want.length);
  for (let p0 = 0; p0 < want.length; p0 += plane) {
    let scale = 0;
    for (let i = p0; i < p0 + plane; i++) scale = Math.max(scale, bound[i]!);
    const tol = c * (terms + 1) * U32 * scale + 1e-30;
    for (let i = p0; i < p0 + plane; i++) {
      const err = Math.abs(got[i]! - want[i]!);
      if (!(err <= tol)) throw new Error(`element ${i}: got ${got[i]}, want ${want[i]} (|err| ${err} > tol ${tol})`);
    }
  }
}

/** |w| with each 3x3 filter's taps replaced by their sum (see expectClosePlane). */
function tapSums(w: Float32Array): Float64Array {
  const out = new Float64Array(w.length);
  for (let f = 0; f < w.length; f += 9) {
    let s = 0;
    for (let t = 0; t < 9; t++) s += Math.abs(w[f + t]!);
    out.fill(s, f, f + 9);
  }
  return out;
}

function checkAll(b: WasmBackend, g: Conv2dGeometry, seed: number): void {
  const x = randomF32(g.n * g.c * g.h * g.w, seed);
  const w = randomF32(g.o * g.c * 9, seed + 1);
  const dy = randomF32(g.n * g.o * g.oh * g.ow, seed + 2);
  const O = (a: Float64Array) => oracle.fromArray(a);
  const s = (a: Float32Array) => b.fromArray(a);
  expectClosePlane(b.readSync(b.conv2d(s(x), s(w), g))!, oracle.readSync(oracle.conv2d(O(to64(x)), O(to64(w)), g))!, oracle.readSync(oracle.conv2d(O(abs64(x)), O(tapSums(w)), g))!, g.c * 9, g.oh * g.ow);
  expectClosePlane(b.readSync(b.conv2dBackwardData(s(dy), s(w), g))!, oracle.readSync(oracle.conv2dBackwardData(O(to64(dy)), O(to64(w)), g))!, oracle.readSync(oracle.conv2dBackwardData(O(abs64(dy)), O(tapSums(w)), g))!, g.o * 9, g.h * g.w);
  expectClosePlane(b.readSync(b.conv2dBackwardFilter(s(x), s(dy), g))!, oracle.readSync(oracle.conv2dBackwardFilter(O(to64(x)), O(to64(dy)), g))!, oracle.readSync(oracle.conv2dBackwardFilter(O(abs64(x)), O(abs64(dy)), g))!, g.n * g.oh * g.ow, 9);
}

describe('Winograd F(2x2, 3x3) convolutions (wasm)', () => {
  it('random geometries agree with the oracle: odd sizes, padding 0..2, channel counts off the 4/8 tiles', () => {
    const { b, k } = backend(1);
    const conv = vi.spyOn(k, 'winogradConv');
    const grad = vi.spyOn(k, 'winogradGradSums');
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 3 }),
      c: fc.integer({ min: 1, max: 11 }),
      o: fc.integer({ min: 1, max: 13 }),
      h: fc.integer({ min: 1, max: 12 }),
      w: fc.integer({ min: 1, max: 12 }),
      pad: fc.integer({ min: 0, max: 2 }),
    }).filter((r) => r.h + 2 * r.pad >= 3 && r.w + 2 * r.pad >= 3);
    fc.assert(fc.property(arb, fc.integer({ min: 1, max: 1e9 }), (r, seed) => checkAll(b, geo(r.n, r.c, r.h, r.w, r.o, r.pad), seed)), { numRuns: 80 });
    expect(conv.mock.calls.length).toBeGreaterThanOrEqual(160); // forward and backward-data of every case
    expect(grad.mock.calls.length).toBeGreaterThanOrEqual(80);
  });

  it('the reference model layer, and many images per chunk and tiles per block', () => {
    checkAll(backend(16).b, geo(5, 32, 14, 14, 64, 1), 7); // encoder.4
    checkAll(backend(16, 3000).b, geo(9, 16, 13, 11, 20, 1), 8); // one or two images per chunk
    checkAll(backend(1).b, geo(3, 40, 30, 30, 3, 1), 9); // several tile blocks per chunk
  });

  it('runs only where it fits: 3x3, stride 1, no dilation, one group, padding <= 2, enough channels', () => {
    const { b, k } = backend(16);
    const conv = vi.spyOn(k, 'winogradConv');
    const run = (g: Conv2dGeometry): number => {
      conv.mockClear();
      b.conv2d(b.fromArray(randomF32(g.n * g.c * g.h * g.w, 1)), b.fromArray(randomF32(g.o * (g.c / g.groups) * g.kh * g.kw, 2)), g);
      return conv.mock.calls.length;
    };
    const base = geo(2, 16, 8, 8, 16, 1);
    expect(run(base)).toBeGreaterThan(0);
    expect(run(geo(2, 15, 8, 8, 16, 1))).toBe(0); // too few input channels
    expect(run(geo(2, 16, 8, 8, 8, 1))).toBe(0); // too few output channels
    expect(run({ ...base, strideH: 2, strideW: 2, oh: 4, ow: 4 })).toBe(0);
    expect(run({ ...base, dilH: 2, dilW: 2, oh: 6, ow: 6 })).toBe(0);
    expect(run({ ...base, groups: 2 })).toBe(0);
    expect(run({ ...geo(2, 16, 8, 8, 16, 3) })).toBe(0);
    expect(run({ ...base, kh: 5, kw: 5, oh: 6, ow: 6 })).toBe(0);
  });
});
