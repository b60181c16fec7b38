// wasm-only: the direct convolution that applies the inference epilogue in its registers
// (assembly/convpool.ts convDirectBnReluPool2x2): an eval-mode Conv2d (stride 1) -> bias ->
// BatchNorm -> ReLU -> MaxPool2d(2) in one kernel, which stores only the pooled values. It
// claims the bits of the composition it replaces (conv2d or conv2dBias, batchNormReluForward,
// maxPool2dValues on the same backend), NaN payloads included (the first NaN of a window in scan
// order wins), so every case compares raw bits: random geometries around its domain (1 to 5
// input and 1 to 9 output channels, groups, odd and even planes, widths under 4 and 4 to 33,
// padding 0 to 2, dilation, with and without bias), which convolutions and pools take it, and
// special values (NaN with several payloads and signs, infinities, -0) in inputs, weights, bias
// and batch-norm parameters. Thread-count independence: test/threads/determinism.test.ts.
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import type { BatchNormParams, Conv2dGeometry, Pool2dGeometry, Storage } from '../../src/backend/backend.js';
import type { WasmBackend } from '../../src/backend/wasm/backend.js';
import type { KernelExports } from '../../src/backend/wasm/loader.js';
import { spiedWasmBackend as backend, strideOneGeo as geo, strideOneGeos } from './spied-wasm.js';
import * as winograd from '../../src/backend/wasm/drivers/winograd.js';
import { expectRawBits, randomF32, rawBits, sprinkle } from './backends.js';


/** MaxPool2d(k, stride s) over the conv's output (floor mode: an odd plane's last row or column is left out). */
function poolOf(g: Conv2dGeometry, k = 2, s = k, pad = 0): Pool2dGeometry {
  const out = (n: number): number => Math.floor((n + 2 * pad - k) / s) + 1;
  return { n: g.n, c: g.o, h: g.oh, w: g.ow, oh: out(g.oh), ow: out(g.ow), kh: k, kw: k, strideH: s, strideW: s, padH: pad, padW: pad, countIncludePad: true };
}

interface Case {
  g: Conv2dGeometry;
  pool: Pool2dGeometry;
  x: Float32Array;
  w: Float32Array;
  bias: Float32Array | null;
  bn: { mean: Float32Array; invstd: Float32Array; weight: Float32Array; bias: Float32Array };
}

function randomCase(g: Conv2dGeometry, seed: number, withBias: boolean, pool = poolOf(g)): Case {
  return {
    g, pool,
    x: randomF32(g.n * g.c * g.h * g.w, seed),
    w: randomF32(g.o * (g.c / g.groups) * g.kh * g.kw, seed + 1),
    bias: withBias ? randomF32(g.o, seed + 2) : null,
    bn: {
      // shifts that leave about half the normalised values negative; scales of both signs
      mean: randomF32(g.o, seed + 3).map((v) => v * 0.3), invstd: randomF32(g.o, seed + 4).map((v) => Math.abs(v) + 0.5),
      weight: randomF32(g.o, seed + 5).map((v) => v * 2), bias: randomF32(g.o, seed + 6),
    },
  };
}

/**
 * The fused call against the composition, raw bits; returns whether the pooling kernel ran (the
 * composition's calls are not counted).
 */
function check(b: WasmBackend, k: KernelExports, c: Case, what = JSON.stringify(c.g)): boolean {
  const s = (a: Float32Array): Storage => b.fromArray(a.slice());
  const bn: BatchNormParams = { mean: s(c.bn.mean), invstd: s(c.bn.invstd), weight: s(c.bn.weight), bias: s(c.bn.bias) };
  const spy = vi.spyOn(k, 'convDirectBnReluPool2x2');
  let ran: boolean;
  let got: Float32Array;
  try {
    got = b.readSync(b.conv2dBnRelu(s(c.x), s(c.w), c.bias && s(c.bias), bn, c.g, c.pool)) as Float32Array;
    ran = spy.mock.calls.length > 0;
  } finally {
    spy.mockRestore();
  }
  const y = c.bias ? b.conv2dBias(s(c.x), s(c.w), s(c.bias), c.g) : b.conv2d(s(c.x), s(c.w), c.g);
  const z = b.batchNormReluForward(y, bn.mean, bn.invstd, bn.weight, bn.bias, { n: c.g.n, c: c.g.o, s: c.g.oh * c.g.ow });
  const want = b.readSync(b.maxPool2dValues(z, c.pool)) as Float32Array;
  expectRawBits(got, want, `${what} bias ${!!c.bias}`);
  return ran;
}

/** Where the pooling kernel should run: the direct conv's domain (not Winograd's), a 2x2 pool of stride 2 with no padding, and a result. */
function inDomain(b: WasmBackend, g: Conv2dGeometry, p: Pool2dGeometry): boolean {
  const K = (g.c / g.groups) * g.kh * g.kw;
  const direct = g.kh * g.kw > 1 && K <= b.directMaxK && !winograd.fits(b.ctx, g);
  return direct && p.kh === 2 && p.kw === 2 && p.strideH === 2 && p.strideW === 2 && p.padH === 0 && p.oh * p.ow * g.n * g.o > 0;
}

describe('direct convolution with the pool in registers (wasm)', () => {
  it('random geometries around its domain give the composition\'s bits, and it runs where it should', () => {
    const { b, k } = backend();
    const arb = fc.record({
      g: strideOneGeos({ maxCg: 5, maxH: 13, maxW: 33 }).filter((g) => g.c <= 5 && g.oh >= 2 && g.ow >= 2),
      bias: fc.boolean(),
      pool: fc.constantFrom(2, 2, 2, 3),
    });
    let ran = 0;
    fc.assert(fc.property(arb, fc.integer({ min: 1, max: 1e9 }), ({ g, bias, pool }, seed) => {
      const p = poolOf(g, pool);
      const did = check(b, k, randomCase(g, seed, bias, p));
      expect(did, `pooling kernel ran for ${JSON.stringify(g)} pool ${pool}`).toBe(inDomain(b, g, p));
      if (did) ran++;
    }), { numRuns: 120 });
    expect(ran).toBeGreaterThan(30);
  });

  it('widths 1 to 33 and heights 1 to 6, odd and even (an odd plane\'s last row and column are left out), 1 and 3 channels in, 1 to 5 out', () => {
    const { b, k } = backend();
    let seed = 7;
    for (const [c, o, kh, kw, pad] of [[1, 5, 3, 3, 1], [1, 3, 3, 3, 0], [3, 4, 3, 3, 2], [1, 1, 2, 2, 0], [2, 2, 1, 3, 1]] as const) {
      for (let w = 1; w <= 33; w++) {
        for (const h of [1, 2, 3, 5, 6]) {
          const g = geo(2, c, h, w, o, kh, kw, pad, pad);
          if (g.oh < 1 || g.ow < 1) continue;
          const cs = randomCase(g, (seed += 7), w % 2 === 0);
          expect(check(b, k, cs), JSON.stringify(g)).toBe(inDomain(b, g, cs.pool));
        }
      }
    }
  });

  it('the reference model\'s first block (1 -> 32, 3x3, padding 1, 28x28) over several image chunks', () => {
    const { b, k } = backend();
    for (const withBias of [true, false]) expect(check(b, k, randomCase(geo(37, 1, 28, 28, 32, 3, 3, 1, 1), 11, withBias))).toBe(true);
  });

  it('pools it does not take (3x3, stride 1, padding) and the GEMM path (directMaxK = 0) keep the composition\'s bits', () => {
    const { b, k } = backend();
    const g = geo(2, 1, 12, 13, 6, 3, 3, 1, 1);
    for (const [kk, s, pad] of [[3, 2, 0], [2, 1, 0], [2, 2, 1], [3, 3, 1]] as const) {
      expect(check(b, k, randomCase(g, 20 + kk, true, poolOf(g, kk, s, pad)))).toBe(false);
    }
    const limit = b.directMaxK;
    b.directMaxK = 0;
    try {
      expect(check(b, k, randomCase(g, 30, true))).toBe(false);
    } finally {
      b.directMaxK = limit;
    }
  });

  it('special values: NaN payloads meet in windows (the first in scan order wins), infinities times padding, -0, and non-finite batch-norm parameters', () => {
    const { b, k } = backend();
    let seed = 100;
    for (const g of [geo(3, 1, 10, 14, 5, 3, 3, 1, 1), geo(2, 2, 7, 9, 3, 2, 3, 1, 0), geo(2, 1, 28, 28, 4, 3, 3, 1, 1)]) {
      for (const p of [0.01, 0.05, 0.3]) {
        const base = randomCase(g, (seed += 10), true);
        // specials in the input only, then in everything
        check(b, k, { ...base, x: sprinkle(base.x, seed + 1, p) }, `x specials ${p} ${JSON.stringify(g)}`);
        const all: Case = {
          ...base,
          x: sprinkle(base.x, seed + 2, p), w: sprinkle(base.w, seed + 3, p / 3), bias: sprinkle(base.bias!, seed + 4, 0.2),
          bn: { mean: sprinkle(base.bn.mean, seed + 5, 0.2), invstd: sprinkle(base.bn.invstd, seed + 6, 0.2), weight: sprinkle(base.bn.weight, seed + 7, 0.2), bias: sprinkle(base.bn.bias, seed + 8, 0.2) },
        };
        expect(check(b, k, all, `all specials ${p} ${JSON.stringify(g)}`)).toBe(true);
      }
    }
    // NaNs of two payloads side by side in one window (top-right, then bottom-left) with finite
    // values elsewhere: a 1x2 kernel with weights [1, 0] copies each pixel (times 1, plus x * 0)
    const g = geo(1, 1, 4, 9, 1, 1, 2, 0, 0);
    const x = new Float32Array(36).fill(0.5);
    const xb = rawBits(x);
    xb[2] = 0x7fc12345; // conv outputs (0, 1) and (0, 2) (x * 0 and x * 1 are NaN)
    xb[9 + 1] = 0xffd00001; // conv outputs (1, 0) and (1, 1): the window at (0, 0) holds 0.5, A, B, B
    const c: Case = { g, pool: poolOf(g), x, w: Float32Array.of(1, 0), bias: null, bn: { mean: new Float32Array(1), invstd: Float32Array.of(1), weight: Float32Array.of(1), bias: new Float32Array(1) } };
    expect(check(b, k, c, 'two NaN payloads in one window')).toBe(true);
    // all -0: products of +-0, sums from +0, a -0 shift; every pooled value is +0
    const z = geo(2, 1, 6, 6, 3, 3, 3, 1, 1);
    const zc = randomCase(z, 200, false);
    check(b, k, { ...zc, x: new Float32Array(zc.x.length).fill(-0), w: new Float32Array(zc.w.length).fill(-0), bn: { ...zc.bn, mean: new Float32Array(3), bias: new Float32Array(3).fill(-0) } }, 'all -0');
  });
});
