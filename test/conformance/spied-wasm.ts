// Helpers of the convolution conformance tests (conv-direct, conv-pool-epilogue, winograd-pool): a wasm
// backend whose kernel calls can be counted, and stride-1 conv geometries.

import fc from 'fast-check';
import type { Conv2dGeometry } from '../../src/backend/backend.js';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import { loadSingleThreadKernelsSync, type KernelExports } from '../../src/backend/wasm/loader.js';

/** A wasm backend whose kernel calls can be counted (vi.spyOn(k, name)): the one-thread build, so that no chunk runs in a worker's instance. */
export function spiedWasmBackend(): { b: WasmBackend; k: KernelExports } {
  const loaded = loadSingleThreadKernelsSync();
  const k = { ...loaded.exports };
  return { b: new WasmBackend({ ...loaded, exports: k }), k };
}

/** A stride-1 conv geometry (output size from the input, kernel, padding and dilation). */
export function strideOneGeo(n: number, c: number, h: number, w: number, o: number, kh: number, kw: number, padH: number, padW: number, dilH = 1, dilW = 1, groups = 1): Conv2dGeometry {
  return { n, c, h, w, o, kh, kw, oh: h + 2 * padH - dilH * (kh - 1), ow: w + 2 * padW - dilW * (kw - 1), strideH: 1, strideW: 1, padH, padW, dilH, dilW, groups };
}

/**
 * Random stride-1 geometries with an output: batch 1 to 3, groups 1 or 2 of 1 to maxCg input and
 * 1 to 9 output channels each, planes up to maxH x maxW, kernels up to 3x3, padding 0 to 2,
 * dilation 1 or 2.
 */
export function strideOneGeos({ maxCg, maxH, maxW }: { maxCg: number; maxH: number; maxW: number }): fc.Arbitrary<Conv2dGeometry> {
  return fc.record({
    n: fc.integer({ min: 1, max: 3 }),
    groups: fc.integer({ min: 1, max: 2 }),
    cg: fc.integer({ min: 1, max: maxCg }),
    og: fc.integer({ min: 1, max: 9 }),
    h: fc.integer({ min: 1, max: maxH }),
    w: fc.integer({ min: 1, max: maxW }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    padH: fc.integer({ min: 0, max: 2 }),
    padW: fc.integer({ min: 0, max: 2 }),
    dilH: fc.integer({ min: 1, max: 2 }),
    dilW: fc.integer({ min: 1, max: 2 }),
  }).map((r) => strideOneGeo(r.n, r.cg * r.groups, r.h, r.w, r.og * r.groups, r.kh, r.kw, r.padH, r.padW, r.dilH, r.dilW, r.groups))
    .filter((g) => g.oh >= 1 && g.ow >= 1);
}
