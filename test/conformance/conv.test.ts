// Conformance: conv2d forward / backward-data / backward-filter on every backend against the
// float64 js oracle, over random geometries (stride, padding, dilation, groups, batch 1).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Conv2dGeometry } from '../../src/backend/backend.js';
import { BACKENDS, BACKEND_NAMES, abs64, expectClose, expectExact, oracle, randomF32, to64 } from './backends.js';

const geometry = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 3 }),
    og: fc.integer({ min: 1, max: 5 }),
    h: fc.integer({ min: 1, max: 11 }),
    w: fc.integer({ min: 1, max: 11 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    strideH: fc.integer({ min: 1, max: 3 }),
    strideW: fc.integer({ min: 1, max: 3 }),
    padH: fc.integer({ min: 0, max: 2 }),
    padW: fc.integer({ min: 0, max: 2 }),
    dilH: fc.integer({ min: 1, max: 2 }),
    dilW: fc.integer({ min: 1, max: 2 }),
  })
  .map((r) => makeGeo(r))
  .filter((g): g is Conv2dGeometry => g !== null);

function makeGeo(r: { n: number; groups: number; cg: number; og: number; h: number; w: number; kh: number; kw: number; strideH: number; strideW: number; padH: number; padW: number; dilH: number; dilW: number }): Conv2dGeometry | null {
  const oh = Math.floor((r.h + 2 * r.padH - r.dilH * (r.kh - 1) - 1) / r.strideH) + 1;
  const ow = Math.floor((r.w + 2 * r.padW - r.dilW * (r.kw - 1) - 1) / r.strideW) + 1;
  if (oh < 1 || ow < 1) return null;
  return { n: r.n, c: r.cg * r.groups, h: r.h, w: r.w, o: r.og * r.groups, kh: r.kh, kw: r.kw, oh, ow, strideH: r.strideH, strideW: r.strideW, padH: r.padH, padW: r.padW, dilH: r.dilH, dilW: r.dilW, groups: r.groups };
}

/** Runs all three kernels on backend `name` and checks them against the oracle. */
function checkAll(name: string, g: Conv2dGeometry, seed: number): void {
  const b = BACKENDS[name]!();
  const cg = g.c / g.groups;
  const og = g.o / g.groups;
  const x = randomF32(g.n * g.c * g.h * g.w, seed);
  const w = randomF32(g.o * cg * g.kh * g.kw, seed + 1);
  const dy = randomF32(g.n * g.o * g.oh * g.ow, seed + 2);
  const o64 = (a: Float64Array) => oracle.fromArray(a);
  const s = (a: Float32Array) => b.fromArray(a);

  const y = b.readSync(b.conv2d(s(x), s(w), g))!;
  expect(y).toBeInstanceOf(Float32Array);
  expectClose(y, oracle.readSync(oracle.conv2d(o64(to64(x)), o64(to64(w)), g)), oracle.readSync(oracle.conv2d(o64(abs64(x)), o64(abs64(w)), g)), cg * g.kh * g.kw);

  const dx = b.readSync(b.conv2dBackwardData(s(dy), s(w), g))!;
  expectClose(dx, oracle.readSync(oracle.conv2dBackwardData(o64(to64(dy)), o64(to64(w)), g)), oracle.readSync(oracle.conv2dBackwardData(o64(abs64(dy)), o64(abs64(w)), g)), og * g.kh * g.kw);

  // the optional fused-bias kernels equal the backend's own kernel + broadcast add, bit for bit
  const addBias = (out: Float32Array, bias: Float32Array, n: number, c: number, sp: number): ArrayLike<number> =>
    b.readSync(b.binary('add', { storage: s(out), shape: [n, c, sp], strides: [c * sp, sp, 1], offset: 0 }, { storage: s(bias), shape: [n, c, sp], strides: [0, 1, 0], offset: 0 }))!;
  if (b.conv2dBias) {
    const bias = randomF32(g.o, seed + 3);
    expectExact(b.readSync(b.conv2dBias(s(x), s(w), s(bias), g))!, addBias(y as Float32Array, bias, g.n, g.o, g.oh * g.ow));
  }
  if (b.conv2dBackwardDataBias) {
    const bias = randomF32(g.c, seed + 4);
    expectExact(b.readSync(b.conv2dBackwardDataBias(s(dy), s(w), s(bias), g))!, addBias(dx as Float32Array, bias, g.n, g.c, g.h * g.w));
  }

  const dw = b.readSync(b.conv2dBackwardFilter(s(x), s(dy), g))!;
  expectClose(dw, oracle.readSync(oracle.conv2dBackwardFilter(o64(to64(x)), o64(to64(dy)), g)), oracle.readSync(oracle.conv2dBackwardFilter(o64(abs64(x)), o64(abs64(dy)), g)), g.n * g.oh * g.ow);
}

const geo = (n: number, c: number, h: number, o: number, k: number, stride: number, pad: number): Conv2dGeometry => {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  return { n, c, h, w: h, o, kh: k, kw: k, oh, ow: oh, strideH: stride, strideW: stride, padH: pad, padW: pad, dilH: 1, dilW: 1, groups: 1 };
};

describe.each(BACKEND_NAMES)('conv2d conformance [%s]', (name) => {
  it('random geometries: stride, padding, dilation, groups', () => {
    fc.assert(fc.property(geometry, fc.integer({ min: 1, max: 1e9 }), (g, seed) => checkAll(name, g, seed)), { numRuns: 60 });
  });

  it('the reference model layers (small batch)', () => {
    checkAll(name, geo(2, 1, 28, 32, 3, 1, 1), 11); // encoder.0
    checkAll(name, geo(3, 32, 14, 64, 3, 1, 1), 12); // encoder.4
    checkAll(name, geo(2, 32, 14, 64, 4, 2, 1), 13); // decoder.0 (conv-transpose 64 -> 32, 7 -> 14)
    checkAll(name, geo(2, 1, 28, 32, 4, 2, 1), 14); // decoder.3 (conv-transpose 32 -> 1, 14 -> 28)
  });

  it('batch 1, 1x1 kernels, a kernel as large as the padded input', () => {
    checkAll(name, geo(1, 3, 5, 4, 1, 1, 0), 15);
    checkAll(name, geo(1, 2, 3, 3, 5, 1, 1), 16);
    checkAll(name, { ...geo(1, 4, 6, 6, 3, 2, 1), groups: 2 }, 17);
  });

  it('many images per chunk', () => {
    checkAll(name, geo(40, 2, 6, 3, 3, 1, 1), 18);
  });
});
