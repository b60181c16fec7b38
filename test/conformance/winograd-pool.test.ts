// wasm-only: the Winograd convolution with eval BatchNorm + ReLU + 2x2 max pool fused into its
// output transform (assembly/winograd.ts winogradConvBnReluPool), which claims the bits of the
// composition conv2d (or conv2dBias) -> batchNormReluForward -> maxPool2dValues. Random
// geometries around its conditions (even and odd output planes: odd ones keep the general path;
// padding 0..2; channel counts off the 4/8 tiles; bias or none; several image chunks, several
// tile blocks, groups of four tiles across images and partial last groups), special values (NaNs
// of several payloads, infinities, -0 in the input, weights and batch-norm parameters: the pool's
// NaN and tie rules, NaN payloads compared too), the reference model's layer; which convolutions
// take it; and padPlanes, which it and the direct convolution read.
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { BatchNormParams, Conv2dGeometry, Pool2dGeometry, Storage } from '../../src/backend/backend.js';
import type { WasmBackend } from '../../src/backend/wasm/backend.js';
import type { KernelExports } from '../../src/backend/wasm/loader.js';
import { spiedWasmBackend, strideOneGeo } from './spied-wasm.js';
import { expectRawBits, randomF32, sprinkle } from './backends.js';

/** A wasm backend whose kernel calls can be counted, Winograd from `minChannels` channels. */
function backend(minChannels: number): { b: WasmBackend; k: KernelExports } {
  const r = spiedWasmBackend();
  r.b.winogradMinChannels = minChannels;
  return r;
}

const geo = (n: number, c: number, h: number, w: number, o: number, pad: number): Conv2dGeometry => strideOneGeo(n, c, h, w, o, 3, 3, pad, pad);

/** MaxPool2d(2) over the conv's output (floor: an odd plane's last row or column is dropped). */
const pool2 = (g: Conv2dGeometry): Pool2dGeometry => ({
  n: g.n, c: g.o, h: g.oh, w: g.ow, oh: Math.floor(g.oh / 2), ow: Math.floor(g.ow / 2), kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true,
});

interface Case { g: Conv2dGeometry; bias: boolean; specials: number; seed: number }

/**
 * conv2dBnRelu with the 2x2 pool against its composition on the same backend, bit for bit; the
 * fused kernel runs exactly when the output planes are even (and the convolution is Winograd's).
 */
function check(b: WasmBackend, k: KernelExports, { g, bias, specials, seed }: Case): void {
  const s = (a: Float32Array): Storage => b.fromArray(a.slice());
  const x = sprinkle(randomF32(g.n * g.c * g.h * g.w, seed), seed + 1, specials);
  const w = sprinkle(randomF32(g.o * g.c * 9, seed + 2), seed + 3, specials / 4);
  const bv = sprinkle(randomF32(g.o, seed + 4), seed + 5, specials);
  // about half the normalised values negative (ReLU ties at +0 in the windows); a few specials
  const bn = {
    mean: sprinkle(randomF32(g.o, seed + 6).map((v) => v * 0.3), seed + 7, specials),
    invstd: sprinkle(randomF32(g.o, seed + 8).map((v) => Math.abs(v) + 0.5), seed + 9, specials),
    weight: sprinkle(randomF32(g.o, seed + 10).map((v) => v * 2), seed + 11, specials),
    bias: sprinkle(randomF32(g.o, seed + 12), seed + 13, specials),
  };
  const bnS: BatchNormParams = { mean: s(bn.mean), invstd: s(bn.invstd), weight: s(bn.weight), bias: s(bn.bias) };
  const p = pool2(g);
  const fused = vi.spyOn(k, 'winogradConvBnReluPool');
  try {
    const got = b.readSync(b.conv2dBnRelu(s(x), s(w), bias ? s(bv) : null, bnS, g, p))!;
    const ran = fused.mock.calls.length > 0;
    const y = bias ? b.conv2dBias(s(x), s(w), s(bv), g) : b.conv2d(s(x), s(w), g);
    const z = b.batchNormReluForward(y, bnS.mean, bnS.invstd, bnS.weight, bnS.bias, { n: g.n, c: g.o, s: g.oh * g.ow });
    const tag = `${JSON.stringify(g)} bias ${bias} specials ${specials} seed ${seed}`;
    expectRawBits(got as Float32Array, b.readSync(b.maxPool2dValues(z, p)) as Float32Array, tag); // NaN payloads included
    expect(ran, `${tag}: fused kernel ran`).toBe(g.oh % 2 === 0 && g.ow % 2 === 0 && Math.min(g.c, g.o) >= b.winogradMinChannels);
  } finally {
    fused.mockRestore();
  }
}

describe('Winograd conv -> eval BatchNorm -> ReLU -> MaxPool2d(2) fused (wasm)', () => {
  it('random geometries, even and odd planes, bias or none, specials: the composition\'s bits', () => {
    const { b, k } = backend(1);
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 40 }), // over 16 images: chunks of 2 or 3 (groups of four tiles across images)
      c: fc.integer({ min: 1, max: 11 }),
      o: fc.integer({ min: 1, max: 13 }),
      h: fc.integer({ min: 1, max: 17 }),
      w: fc.integer({ min: 1, max: 17 }),
      pad: fc.integer({ min: 0, max: 2 }),
      bias: fc.boolean(),
      specials: fc.constantFrom(0, 0, 0.01, 0.1),
      seed: fc.integer({ min: 1, max: 1e9 }),
    }).filter((r) => r.h + 2 * r.pad >= 4 && r.w + 2 * r.pad >= 4);
    fc.assert(fc.property(arb, (r) => check(b, k, { g: geo(r.n, r.c, r.h, r.w, r.o, r.pad), bias: r.bias, specials: r.specials, seed: r.seed })), { numRuns: 150 });
  });

  it('the reference model\'s layer (32 -> 64 on 14x14): several chunks, tile blocks, groups across images', () => {
    const { b, k } = backend(16);
    for (const [i, n] of [20, 3, 1].entries()) {
      for (const bias of [true, false]) check(b, k, { g: geo(n, 32, 14, 14, 64, 1), bias, specials: i === 1 ? 0.02 : 0, seed: 11 + i });
    }
    // output channels off the 4-row tiles, planes whose tiles per image are not a multiple of 4, padding 0 and 2
    check(b, k, { g: geo(7, 24, 12, 10, 61, 1), bias: true, specials: 0, seed: 21 });
    check(b, k, { g: geo(4, 20, 16, 8, 18, 2), bias: false, specials: 0.01, seed: 22 });
    check(b, k, { g: geo(3, 17, 12, 14, 30, 0), bias: true, specials: 0, seed: 23 });
  });

  it('only for 2x2 pooling of even planes after a Winograd conv; the rest keep the general path with the same result', () => {
    const { b, k } = backend(16);
    const fused = vi.spyOn(k, 'winogradConvBnReluPool');
    const conv = vi.spyOn(k, 'winogradConv');
    const s = (n: number, seed: number): Storage => b.fromArray(randomF32(n, seed));
    const run = (g: Conv2dGeometry, p: Pool2dGeometry | null): [boolean, boolean] => { // [fused ran, plain Winograd ran]
      fused.mockClear();
      conv.mockClear();
      const bn: BatchNormParams = { mean: s(g.o, 3), invstd: b.fromArray(new Float32Array(g.o).fill(1.5)), weight: s(g.o, 4), bias: s(g.o, 5) };
      b.conv2dBnRelu(s(g.n * g.c * g.h * g.w, 1), s(g.o * g.c * 9, 2), null, bn, g, p);
      return [fused.mock.calls.length > 0, conv.mock.calls.length > 0];
    };
    const g = geo(2, 16, 8, 8, 16, 1);
    expect(run(g, pool2(g))).toEqual([true, false]);
    expect(run(g, null)).toEqual([false, true]); // no pool: the conv epilogue
    expect(run(g, { ...pool2(g), kh: 3, kw: 3, oh: 3, ow: 3 })).toEqual([false, true]); // 3x3 windows
    expect(run(g, { ...pool2(g), strideH: 1, strideW: 1, oh: 7, ow: 7 })).toEqual([false, true]); // overlapping windows
    expect(run(g, { ...pool2(g), padH: 1, padW: 1, oh: 5, ow: 5 })).toEqual([false, true]); // padded windows
    const odd = geo(2, 16, 9, 8, 16, 1);
    expect(run(odd, pool2(odd))).toEqual([false, true]); // odd planes
    const few = geo(2, 8, 8, 8, 16, 1);
    expect(run(few, pool2(few))).toEqual([false, false]); // too few channels for Winograd
  });
});

describe('padPlanes (wasm): the planes zero-padded, every float of the padded buffer written once', () => {
  it('random plane sizes and paddings, empty planes: the padded planes and nothing past them', () => {
    const { b, k } = backend(16);
    const mem = (): Float32Array => new Float32Array(b.ctx.arena.memory.buffer);
    fc.assert(fc.property(fc.record({
      planes: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 0, max: 9 }), w: fc.integer({ min: 0, max: 19 }),
      ph: fc.integer({ min: 0, max: 3 }), pw: fc.integer({ min: 0, max: 3 }), extraH: fc.integer({ min: 0, max: 3 }), extraW: fc.integer({ min: 0, max: 5 }),
    }), ({ planes, h, w, ph, pw, extraH, extraW }) => {
      const hp = h + ph + extraH, wp = w + pw + extraW;
      const ar = b.ctx.arena;
      ar.reset();
      const x = ar.allocF32(planes * h * w + 1), xp = ar.allocF32(planes * hp * wp + 8);
      const src = randomF32(planes * h * w, h * 31 + w);
      mem().set(src, x / 4);
      mem().fill(NaN, xp / 4, xp / 4 + planes * hp * wp + 8); // anything not written stays NaN
      k.padPlanes(x, xp, planes, h, w, hp, wp, ph, pw);
      const want = new Float32Array(planes * hp * wp + 8).fill(NaN);
      want.fill(0, 0, planes * hp * wp);
      for (let p = 0; p < planes; p++) {
        for (let r = 0; r < h; r++) want.set(src.subarray((p * h + r) * w, (p * h + r + 1) * w), (p * hp + ph + r) * wp + pw);
      }
      expectRawBits(mem().slice(xp / 4, xp / 4 + want.length), want, JSON.stringify({ planes, h, w, hp, wp, ph, pw }));
    }), { numRuns: 200 });
  });
});
