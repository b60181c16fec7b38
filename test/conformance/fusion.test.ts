// Conformance: the optional fused kernels that must be bit-identical to the composition they
// replace (so that fusing changes no number anywhere):
//   batchNormReluForward  == unary relu of batchNormForward
//   batchNormReluBackward == batchNormBackward of binary mulStep(dy, y), y the forward's output
//   maxPool2dValues       == maxPool2d(...).out
//   conv2dBnRelu          == conv2dBias (or conv2d), batchNormReluForward, [maxPool2dValues]
//   convTranspose2dBnRelu == conv2dBackwardDataBias (or conv2dBackwardData), batchNormReluForward
//   batchNormReluMaxPool  == maxPool2d of batchNormReluForward (values and indices)
//   batchNormReluMaxPoolBackward == batchNormReluBackward of maxPool2dBackward
//   linear                == matmul, binary add of the broadcast bias, [batchNormReluForward over the columns]
//   batchNormTrainStats   == batchNormStats, scaledAddInPlace of each running statistic, unary
//                            powScalar(addScalar(variance, eps), -0.5)
// on every backend that offers them (each against its own unfused kernels, and the fused
// reference in the js backend against the float64 oracle's composition), and through nn:
// Sequential(BatchNorm, ReLU [, MaxPool2d]) fuses and gives the same outputs, gradients and
// running stats as the layers run one by one, and an eval-mode Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d)
// under noGrad gives the same outputs as its layers; so does an eval Sequential(Linear,
// BatchNorm1d, ReLU), and F.linear with a bias (one op) gives the outputs and gradients of matmul
// then add.
//
// One exception: the wasm backend's BatchNorm -> ReLU -> MaxPool backward for 2x2 windows of
// stride 2 (assembly/bnpool.ts) sums over the windows only, leaving out the composition's zero
// terms (a quarter of the work), so its float64 sums are the composition's reordered. It is held
// to a tight bound instead (expectPoolGrads), and to the bits in channels where x or the mean is
// not finite (where it takes the composition's operations); bn-float32.test.ts checks its bits on
// data whose sums are exact in any order.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, ChannelGeometry, Conv2dGeometry, Pool2dGeometry, Storage, View } from '../../src/backend/backend.js';
import { currentBackend } from '../../src/backend/registry.js';
import * as vg from '../../src/index.js';
import { BACKENDS, BACKEND_NAMES, expectBits, oracle, randomF32, rng } from './backends.js';
import { createWasmBackendSync } from '../../src/backend/wasm/index.js';
import { putGeo } from '../../src/backend/wasm/memory/staging.js';
import { isPool2x2 } from '../../src/backend/wasm/fused.js';

/**
 * Runs body while counting the calls of one of the backend's optional fused kernels (0 where
 * the backend lacks it); the prototype's method is back afterwards.
 */
function countingCalls<T>(be: Backend, name: 'conv2dBnRelu' | 'convTranspose2dBnRelu' | 'batchNormReluMaxPool' | 'linear', body: (calls: () => number) => T): T {
  const table = be as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>;
  const orig = table[name];
  let n = 0;
  if (orig) table[name] = (...a: unknown[]) => { n++; return orig.apply(be, a); };
  try {
    return body(() => n);
  } finally {
    if (orig) delete table[name];
  }
}

const flat = (s: Storage): View => ({ storage: s, shape: [s.size], strides: [1], offset: 0 });

/** Values with specials sprinkled in (NaN, +-0, +-Infinity, tiny), as a ReLU mask and gradient may hold. */
function withSpecials(n: number, seed: number, p = 0.1): Float32Array {
  const r = rng(seed);
  const sp = [NaN, 0, -0, Infinity, -Infinity, 1e-40, -1e-40];
  return Float32Array.from(randomF32(n, seed), (v) => (r() < p ? sp[Math.floor(r() * sp.length)]! : v));
}

/** Equal, or both NaN; otherwise within `slack`, or 1 float32 ulp apart. */
function near(g: number, w: number, slack: number): boolean {
  if (Object.is(g, w) || (g !== g && w !== w)) return true;
  if (!Number.isFinite(g) || !Number.isFinite(w)) return false;
  if (Math.abs(g - w) <= slack) return true;
  const gb = new Int32Array(Float32Array.of(g).buffer)[0]!, wb = new Int32Array(Float32Array.of(w).buffer)[0]!;
  return Math.sign(g) === Math.sign(w) && Math.abs(gb - wb) <= 1;
}

/**
 * The 2x2 backward's gradients (got) against the composition's (want), per channel: dbias and
 * dweight within their sums' reordering (1 ulp, or 2^-40 of the sum of |terms| where the sum
 * cancels), dx within what coefficients a, c one float32 ulp off make (2^-22 (|x - mean| |a| +
 * |c|)) besides its own ulp; the same bits in a channel where x or the mean is not finite. dy is
 * the pooled gradient [n, c, S].
 */
function expectPoolGrads(got: Record<'dx' | 'dweight' | 'dbias', ArrayLike<number>>, want: Record<'dx' | 'dweight' | 'dbias', ArrayLike<number>>,
  dy: Float32Array, x: Float32Array, mean: Float32Array, invstd: Float32Array, w: Float32Array, g: ChannelGeometry): void {
  const N = g.n * g.s, S = dy.length / (g.n * g.c);
  for (let ch = 0; ch < g.c; ch++) {
    const runs = Array.from({ length: g.n }, (_, i) => (i * g.c + ch) * g.s);
    const exact = !Number.isFinite(mean[ch]!) || runs.some((st) => x.subarray(st, st + g.s).some((v) => !Number.isFinite(v)));
    let sumDy = 0, maxXc = 0;
    for (let i = 0; i < g.n; i++) for (let j = 0; j < S; j++) sumDy += Math.abs(dy[(i * g.c + ch) * S + j]!);
    for (const st of runs) for (let j = 0; j < g.s; j++) maxXc = Math.max(maxXc, Math.abs(x[st + j]! - mean[ch]!));
    const check = (what: string, i: number, slack: number): void => {
      const gv = got[what as 'dx'][i]!, wv = want[what as 'dx'][i]!;
      if (exact ? !(Object.is(gv, wv) || (gv !== gv && wv !== wv)) : !near(gv, wv, slack)) throw new Error(`${what}[${i}] (channel ${ch}${exact ? ', exact' : ''}): got ${gv}, want ${wv}`);
    };
    check('dbias', ch, 2 ** -40 * sumDy);
    check('dweight', ch, 2 ** -40 * sumDy * maxXc * invstd[ch]!);
    const k = invstd[ch]! * w[ch]!;
    const a = Math.abs(k * invstd[ch]! * want.dweight[ch]! / N), c = Math.abs(k * want.dbias[ch]! / N);
    for (const st of runs) for (let j = 0; j < g.s; j++) check('dx', st + j, 2 ** -22 * (Math.abs(x[st + j]! - mean[ch]!) * a + c) + 2 ** -23 * Math.abs(want.dx[st + j]!));
  }
}

describe.each(BACKEND_NAMES)('fused kernels equal their composition bit for bit [%s]', (name) => {
  const b = BACKENDS[name]!();
  const geos: ChannelGeometry[] = [
    { n: 3, c: 4, s: 13 }, { n: 2, c: 5, s: 1 }, { n: 4, c: 3, s: 64 }, { n: 8, c: 32, s: 49 }, { n: 2, c: 7, s: 3 },
    { n: 16, c: 33, s: 1 }, { n: 5, c: 1, s: 1 },
  ];

  it.skipIf(!b.batchNormReluForward || !b.batchNormReluBackward)('batchNormRelu forward and backward', () => {
    for (const [k, g] of geos.entries()) {
      const size = g.n * g.c * g.s;
      // offsets so that about half of the normalised values are negative; a few specials
      const x = withSpecials(size, 10 + k, 0.02).map((v, i) => v * 3 + (Math.floor(i / g.s) % g.c) * 0.5);
      const dy = withSpecials(size, 20 + k);
      const mean = randomF32(g.c, 30 + k);
      const invstd = randomF32(g.c, 40 + k).map((v) => Math.abs(v) + 0.5);
      const w = randomF32(g.c, 50 + k).map((v) => v * 2);
      const bias = randomF32(g.c, 60 + k);
      const st = (a: Float32Array): Storage => b.fromArray(a.slice());
      const args = [st(x), st(mean), st(invstd), st(w), st(bias), g] as const;
      const y = b.batchNormReluForward!(...args);
      const yRef = b.unary('relu', flat(b.batchNormForward(...args)));
      expectBits(b.readSync(y)!, b.readSync(yRef)!);
      // the js reference's fused form against the float64 oracle's composition, too
      const so = (a: Float32Array): Storage => oracle.fromArray(a.slice());
      const oargs = [so(x), so(mean), so(invstd), so(w), so(bias), g] as const;
      // With s = 1 (BatchNorm1d) every backend sum runs in the reference's order (sequential over
      // images, f64), so there the kernels must equal the js reference's fused form exactly too.
      if (name === 'js' || g.s === 1) expectBits(b.readSync(y)!, oracle.readSync(oracle.unary('relu', flat(oracle.batchNormForward(...oargs)))));
      for (const batchStats of [true, false]) {
        const dyS = st(dy);
        const r = b.batchNormReluBackward!(dyS, st(x), st(mean), st(invstd), st(w), st(bias), g, batchStats);
        expectBits(b.readSync(dyS)!, dy); // read, never written (the wasm kernel masks it in registers in both passes)
        const want = b.batchNormBackward(b.binary('mulStep', flat(st(dy)), flat(yRef)), st(x), st(mean), st(invstd), st(w), g, batchStats);
        expectBits(b.readSync(r.dx)!, b.readSync(want.dx)!);
        expectBits(b.readSync(r.dweight)!, b.readSync(want.dweight)!);
        expectBits(b.readSync(r.dbias)!, b.readSync(want.dbias)!);
        if (g.s === 1) {
          const o = oracle.batchNormReluBackward(so(dy), so(x), so(mean), so(invstd), so(w), so(bias), g, batchStats);
          expectBits(b.readSync(r.dx)!, oracle.readSync(o.dx));
          expectBits(b.readSync(r.dweight)!, oracle.readSync(o.dweight));
          expectBits(b.readSync(r.dbias)!, oracle.readSync(o.dbias));
        }
      }
    }
  });

  it.skipIf(!b.batchNormTrainStats)('batchNormTrainStats: the statistics, the running statistics moved and invstd, in one call', () => {
    // planes and [n, c] rows; a few chunks of channels with a short last one (37 channels of 20x20
    // at batch 9, 3136 columns at batch 128), one channel, specials in x; each running statistic
    // kept or not
    const cases: ChannelGeometry[] = [...geos, { n: 9, c: 37, s: 400 }, { n: 128, c: 3136, s: 1 }, { n: 3, c: 1, s: 7 }];
    const st = (a: Float32Array): Storage => b.fromArray(a.slice());
    for (const [k, g] of cases.entries()) {
      const x = withSpecials(g.n * g.c * g.s, 200 + k, k === 4 ? 0.01 : 0).map((v, i) => v * 2 + (Math.floor(i / g.s) % g.c) * 0.25);
      const rm = randomF32(g.c, 210 + k), rv = randomF32(g.c, 220 + k).map((v) => Math.abs(v) + 0.1);
      const count = g.n * g.s, momentum = k % 3 === 0 ? 0.1 : 0.37, eps = k % 2 ? 1e-5 : 1e-3;
      const up = { keep: 1 - momentum, meanWeight: momentum, varianceWeight: (momentum * count) / (count - 1) };
      for (const keeps of [[true, true], [true, false], [false, false]]) {
        const [m1, v1] = [st(rm), st(rv)];
        const got = b.batchNormTrainStats!(st(x), g, eps, { ...up, mean: keeps[0] ? m1 : null, variance: keeps[1] ? v1 : null })!;
        const s = b.batchNormStats(st(x), g);
        const [m2, v2] = [st(rm), st(rv)];
        if (keeps[0]) b.scaledAddInPlace!(m2, up.keep, s.mean, up.meanWeight);
        if (keeps[1]) b.scaledAddInPlace!(v2, up.keep, s.variance, up.varianceWeight);
        expectBits(b.readSync(got.mean)!, b.readSync(s.mean)!);
        expectBits(b.readSync(got.invstd)!, b.readSync(b.unary('powScalar', flat(b.unary('addScalar', flat(s.variance), eps)), -0.5))!);
        expectBits(b.readSync(m1)!, b.readSync(m2)!);
        expectBits(b.readSync(v1)!, b.readSync(v2)!);
        if (!keeps[0]) expectBits(b.readSync(m1)!, rm);
        if (!keeps[1]) expectBits(b.readSync(v1)!, rv);
      }
    }
  });

  it.skipIf(!b.conv2dBnRelu)('conv2dBnRelu (with and without bias and pooling, chunked, per-image and gathered GEMMs)', () => {
    const conv = (n: number, c: number, h: number, o: number, k: number, pad: number): Conv2dGeometry => ({
      n, c, h, w: h, o, kh: k, kw: k, oh: h + 2 * pad - k + 1, ow: h + 2 * pad - k + 1, strideH: 1, strideW: 1, padH: pad, padW: pad, dilH: 1, dilW: 1, groups: 1,
    });
    // 40 images of 28x28 with K = 9 span two chunks (direct kernel, as is 3 -> 6 2x2); 4 -> 5 3x3 runs by
    // Winograd; 2 -> 5 4x4 (K = 32) on 7x7 planes takes the gathered-GEMM path; 4 -> 5 4x4 stride 2 on 13x13
    // planes runs by input phases (winogradS2Conv, the epilogue after it), its transposed conv (5 -> 4,
    // 6x6 -> 13x13) by output phases
    const cases = [conv(40, 1, 28, 8, 3, 1), conv(3, 4, 7, 5, 3, 1), conv(2, 3, 9, 6, 2, 0), conv(3, 2, 7, 5, 4, 1),
      { ...conv(3, 4, 13, 5, 4, 1), strideH: 2, strideW: 2, oh: 6, ow: 6 }];
    for (const [k, g] of cases.entries()) {
      const st = (a: Float32Array): Storage => b.fromArray(a.slice());
      const x = randomF32(g.n * g.c * g.h * g.w, 80 + k);
      const w = randomF32(g.o * g.c * g.kh * g.kw, 90 + k);
      const bias = randomF32(g.o, 100 + k);
      const bn = {
        mean: randomF32(g.o, 110 + k).map((v) => v * 0.3), invstd: randomF32(g.o, 120 + k).map((v) => Math.abs(v) + 0.5),
        weight: randomF32(g.o, 130 + k).map((v) => v * 2), bias: randomF32(g.o, 140 + k),
      };
      const bnS = { mean: st(bn.mean), invstd: st(bn.invstd), weight: st(bn.weight), bias: st(bn.bias) };
      const pool: Pool2dGeometry = { n: g.n, c: g.o, h: g.oh, w: g.ow, oh: Math.floor(g.oh / 2), ow: Math.floor(g.ow / 2), kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
      for (const withBias of [true, false]) {
        const y = withBias ? b.conv2dBias!(st(x), st(w), st(bias), g) : b.conv2d(st(x), st(w), g);
        const z = b.batchNormReluForward!(y, bnS.mean, bnS.invstd, bnS.weight, bnS.bias, { n: g.n, c: g.o, s: g.oh * g.ow });
        expectBits(b.readSync(b.conv2dBnRelu!(st(x), st(w), withBias ? st(bias) : null, bnS, g, null))!, b.readSync(z)!);
        expectBits(b.readSync(b.conv2dBnRelu!(st(x), st(w), withBias ? st(bias) : null, bnS, g, pool))!, b.readSync(b.maxPool2dValues!(z, pool))!);
      }
      // the transposed conv: x here is [n, o, oh, ow], the result [n, c, h, w] (bn over c)
      if (!b.convTranspose2dBnRelu) continue;
      const xt = randomF32(g.n * g.o * g.oh * g.ow, 150 + k);
      const bnT = { mean: st(randomF32(g.c, 180 + k)), invstd: st(new Float32Array(g.c).fill(1.3)), weight: st(randomF32(g.c, 160 + k)), bias: st(randomF32(g.c, 170 + k)) };
      const biasT = randomF32(g.c, 190 + k);
      for (const withBias of [true, false]) {
        const y = withBias ? b.conv2dBackwardDataBias!(st(xt), st(w), st(biasT), g) : b.conv2dBackwardData(st(xt), st(w), g);
        const z = b.batchNormReluForward!(y, bnT.mean, bnT.invstd, bnT.weight, bnT.bias, { n: g.n, c: g.c, s: g.h * g.w });
        expectBits(b.readSync(b.convTranspose2dBnRelu(st(xt), st(w), withBias ? st(biasT) : null, bnT, g))!, b.readSync(z)!);
      }
    }
  });

  it.skipIf(!b.batchNormReluMaxPool || !b.batchNormReluMaxPoolBackward)('batchNormReluMaxPool forward and backward (2x2 fast path, odd sizes, overlapping windows)', () => {
    const pools: Pool2dGeometry[] = [
      { n: 4, c: 3, h: 14, w: 14, oh: 7, ow: 7, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true },
      { n: 2, c: 5, h: 7, w: 9, oh: 3, ow: 4, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true },
      { n: 3, c: 2, h: 9, w: 8, oh: 5, ow: 4, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, countIncludePad: true },
      { n: 1, c: 4, h: 6, w: 6, oh: 5, ow: 5, kh: 2, kw: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, countIncludePad: true },
    ];
    for (const [k, p] of pools.entries()) {
      const g: ChannelGeometry = { n: p.n, c: p.c, s: p.h * p.w };
      const size = g.n * g.c * g.s;
      const x = withSpecials(size, 80 + k, 0.02).map((v, i) => v * 3 + (Math.floor(i / g.s) % g.c) * 0.5);
      const mean = randomF32(g.c, 90 + k);
      const invstd = randomF32(g.c, 100 + k).map((v) => Math.abs(v) + 0.5);
      const w = randomF32(g.c, 110 + k).map((v) => v * 2);
      const bias = randomF32(g.c, 120 + k);
      const dy = withSpecials(p.n * p.c * p.oh * p.ow, 130 + k);
      const st = (a: Float32Array): Storage => b.fromArray(a.slice());
      const args = [st(x), st(mean), st(invstd), st(w), st(bias), g] as const;
      const got = b.batchNormReluMaxPool!(...args, p);
      const want = b.maxPool2d(b.batchNormReluForward!(...args), p);
      expectBits(b.readSync(got.out)!, b.readSync(want.out)!);
      expectBits(b.readSync(got.indices)!, b.readSync(want.indices)!);
      for (const batchStats of [true, false]) {
        const r = b.batchNormReluMaxPoolBackward!(st(dy), got.indices, st(x), st(mean), st(invstd), st(w), st(bias), g, p, batchStats);
        const ref = b.batchNormReluBackward!(b.maxPool2dBackward(st(dy), want.indices, p), st(x), st(mean), st(invstd), st(w), st(bias), g, batchStats);
        const [gr, wr] = [r, ref].map((t) => ({ dx: b.readSync(t.dx)!, dweight: b.readSync(t.dweight)!, dbias: b.readSync(t.dbias)! }));
        if (isPool2x2(p)) expectPoolGrads(gr!, wr!, dy, x, mean, invstd, w, g);
        else for (const key of ['dx', 'dweight', 'dbias'] as const) expectBits(gr![key], wr![key]);
      }
    }
  });

  it.skipIf(!b.batchNormReluMaxPool || !b.batchNormReluMaxPoolBackward)('batchNormReluMaxPool 2x2 kernels (even planes): clean and special inputs, ties, several channels per chunk, indices from elsewhere (all, or one)', () => {
    const p2 = (n: number, c: number, h: number, w: number): Pool2dGeometry => ({ n, c, h, w, oh: h / 2, ow: w / 2, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true });
    // w = 0 and 2 mod 4 (the bottom rows' lanes), ow = 1..7 and 14 (tails of 1-3 windows), planes of one window, many channels per chunk
    const pools = [p2(3, 4, 28, 28), p2(2, 5, 14, 14), p2(3, 2, 6, 10), p2(2, 3, 4, 8), p2(4, 6, 2, 2), p2(2, 40, 4, 4), p2(1, 3, 8, 12), p2(2, 2, 10, 6), p2(1, 2, 2, 14)];
    const st = (a: Float32Array | Int32Array): Storage => b.fromArray(a.slice());
    for (const [k, p] of pools.entries()) {
      const g: ChannelGeometry = { n: p.n, c: p.c, s: p.h * p.w };
      const size = g.n * g.c * g.s, pooled = p.n * p.c * p.oh * p.ow;
      const mean = randomF32(g.c, 200 + k).map((v) => v * 0.2);
      const invstd = randomF32(g.c, 210 + k).map((v) => Math.abs(v) + 0.5);
      const w = randomF32(g.c, 220 + k).map((v) => v * 2);
      const bias = randomF32(g.c, 230 + k).map((v) => v * 0.5);
      const r = rng(240 + k);
      // clean x; x with ties (values on a grid of 1/4: equal candidates, windows all <= 0 after the ReLU); x with one
      // special in one channel (that channel's dweight and dx go NaN, the others stay finite; that channel takes the
      // composition's operations, bit for bit)
      const clean = randomF32(size, 250 + k).map((v) => v * 2);
      const ties = clean.map((v) => Math.round(v * 4) / 4);
      const special = clean.slice();
      special[Math.floor(r() * size)] = [NaN, Infinity, -Infinity][k % 3]!;
      for (const [xi, x] of [clean, ties, special].entries()) {
        const args = [st(x), st(mean), st(invstd), st(w), st(bias), g] as const;
        const got = b.batchNormReluMaxPool!(...args, p);
        const want = b.maxPool2d(b.batchNormReluForward!(...args), p);
        expectBits(b.readSync(got.out)!, b.readSync(want.out)!);
        expectBits(b.readSync(got.indices)!, b.readSync(want.indices)!);
        for (const dy of [randomF32(pooled, 260 + k + xi), withSpecials(pooled, 270 + k + xi)]) {
          for (const batchStats of [true, false]) {
            const rr = b.batchNormReluMaxPoolBackward!(st(dy), got.indices, st(x), st(mean), st(invstd), st(w), st(bias), g, p, batchStats);
            const ref = b.batchNormReluBackward!(b.maxPool2dBackward(st(dy), want.indices, p), st(x), st(mean), st(invstd), st(w), st(bias), g, batchStats);
            const [gr, wr] = [rr, ref].map((t) => ({ dx: b.readSync(t.dx)!, dweight: b.readSync(t.dweight)!, dbias: b.readSync(t.dbias)! }));
            expectPoolGrads(gr!, wr!, dy, x, mean, invstd, w, g);
          }
        }
      }
      // indices that are not the forward's (anywhere in the plane, repeated) give the composition's result (its very path)
      const idx = Int32Array.from({ length: pooled }, () => Math.floor(r() * g.s));
      const dy = randomF32(pooled, 280 + k);
      const rr = b.batchNormReluMaxPoolBackward!(st(dy), st(idx), st(clean), st(mean), st(invstd), st(w), st(bias), g, p, true);
      const ref = b.batchNormReluBackward!(b.maxPool2dBackward(st(dy), st(idx), p), st(clean), st(mean), st(invstd), st(w), st(bias), g, true);
      expectBits(b.readSync(rr.dx)!, b.readSync(ref.dx)!);
      expectBits(b.readSync(rr.dweight)!, b.readSync(ref.dweight)!);
      // the forward's indices but one, moved to the window below (or beside) its own, in a row's last window or another
      if (p.oh * p.ow === 1) continue;
      for (const last of [true, false]) {
        const one = Int32Array.from(b.readSync(b.batchNormReluMaxPool!(st(clean), st(mean), st(invstd), st(w), st(bias), g, p).indices)! as ArrayLike<number>);
        const oy = Math.floor(r() * p.oh), ox = last ? p.ow - 1 : Math.floor(r() * p.ow), q = Math.floor(r() * p.n * p.c) * p.oh * p.ow + oy * p.ow + ox;
        one[q] = one[q]! + (p.oh > 1 ? (oy + 1 < p.oh ? 2 : -2) * p.w : ox + 1 < p.ow ? 2 : -2);
        const r1 = b.batchNormReluMaxPoolBackward!(st(dy), st(one), st(clean), st(mean), st(invstd), st(w), st(bias), g, p, true);
        const ref1 = b.batchNormReluBackward!(b.maxPool2dBackward(st(dy), st(one), p), st(clean), st(mean), st(invstd), st(w), st(bias), g, true);
        expectBits(b.readSync(r1.dx)!, b.readSync(ref1.dx)!);
        expectBits(b.readSync(r1.dweight)!, b.readSync(ref1.dweight)!);
      }
    }
  });

  it.skipIf(!b.batchNormReluMaxPool)('batchNormReluMaxPool on signed zeros and exact ties (identity normalisation: y = x)', () => {
    // windows whose largest value is +0, -0 or negative (the ReLU makes them all +0: the first position wins), or
    // positive after zeros, with NaNs: the fused kernel takes the ReLU after the maximum and must give the same bits
    const r = rng(7);
    const vals = [-1, -0, 0, 0.5, -0.5, NaN, 0];
    for (const [h, w] of [[4, 8], [6, 10], [2, 14]] as const) {
      const p: Pool2dGeometry = { n: 3, c: 4, h, w, oh: h / 2, ow: w / 2, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
      const g: ChannelGeometry = { n: 3, c: 4, s: h * w };
      const x = Float32Array.from({ length: g.n * g.c * g.s }, () => vals[Math.floor(r() * vals.length)]!);
      const one = (v: number): Storage => b.fromArray(new Float32Array(g.c).fill(v));
      const args = [b.fromArray(x), one(0), one(1), one(1), one(0), g] as const;
      const got = b.batchNormReluMaxPool!(...args, p);
      const want = b.maxPool2d(b.batchNormReluForward!(...args), p);
      expectBits(b.readSync(got.out)!, b.readSync(want.out)!);
      expectBits(b.readSync(got.indices)!, b.readSync(want.indices)!);
    }
  });

  it.skipIf(!b.linear)('linear (bias, eval BatchNorm1d + ReLU) in gemmNT tiles, sgemm tiles, packed once, on a strided x, with k = 0 and no rows', () => {
    // [m, k, n, x transposed]: k >= 64 with both operands contiguous along k runs gemmNT (130 x 517 in 16 tiles; 7 x 13,
    // odd tails); k < 64 runs sgemm, in tiles (97 x 1001 in 16, 19 x 53 in one) or packed once (130 x 259, small tiles);
    // x stored transposed runs sgemm on strides
    const cases: [number, number, number, boolean][] = [
      [130, 70, 517, false], [7, 301, 13, false], [97, 33, 1001, false], [19, 37, 53, false], [130, 20, 259, false], [45, 130, 67, true], [5, 0, 3, false], [0, 5, 4, false],
    ];
    const st = (a: Float32Array): Storage => b.fromArray(a.slice());
    const as3 = (v: View): View => ({ ...v, shape: [1, ...v.shape], strides: [0, ...v.strides] });
    for (const [i, [m, k, n, tx]] of cases.entries()) {
      const x: View = { storage: st(withSpecials(m * k, 300 + i, 0.01).map((v) => v * 0.3)), shape: [m, k], strides: tx ? [1, m] : [k, 1], offset: 0 };
      const wt: View = { storage: st(randomF32(n * k, 310 + i)), shape: [k, n], strides: [1, k], offset: 0 };
      const bias = st(withSpecials(n, 320 + i, 0.05));
      const bn = {
        mean: st(randomF32(n, 330 + i).map((v) => v * 0.3)), invstd: st(randomF32(n, 340 + i).map((v) => Math.abs(v) + 0.5)),
        weight: st(randomF32(n, 350 + i).map((v) => v * 2)), bias: st(randomF32(n, 360 + i)),
      };
      const g = { n: m, c: n, s: 1 };
      const y = b.matmul(as3(x), as3(wt));
      const yb = b.binary('add', { storage: y, shape: [m, n], strides: [n, 1], offset: 0 }, { storage: bias, shape: [m, n], strides: [0, 1], offset: 0 });
      const norm = (z: Storage): Storage => b.batchNormReluForward!(z, bn.mean, bn.invstd, bn.weight, bn.bias, g);
      expectBits(b.readSync(b.linear!(x, wt, bias, null))!, b.readSync(yb)!);
      expectBits(b.readSync(b.linear!(x, wt, bias, bn))!, b.readSync(norm(yb))!);
      expectBits(b.readSync(b.linear!(x, wt, null, bn))!, b.readSync(norm(y))!);
      expectBits(b.readSync(b.linear!(x, wt, null, null))!, b.readSync(y)!);
    }
  });

  it.skipIf(!b.maxPool2dValues)('maxPool2dValues equals maxPool2d().out (fast 2x2 path and the general one)', () => {
    const cases: Pool2dGeometry[] = [
      { n: 2, c: 3, h: 28, w: 28, oh: 14, ow: 14, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true },
      { n: 1, c: 2, h: 7, w: 9, oh: 3, ow: 4, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true },
      { n: 2, c: 2, h: 9, w: 9, oh: 5, ow: 5, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, countIncludePad: true },
    ];
    for (const [k, g] of cases.entries()) {
      const x = withSpecials(g.n * g.c * g.h * g.w, 70 + k);
      const got = b.maxPool2dValues!(b.fromArray(x.slice()), g);
      expectBits(b.readSync(got)!, b.readSync(b.maxPool2d(b.fromArray(x.slice()), g).out)!);
      expectBits(b.readSync(got)!, oracle.readSync(oracle.maxPool2d(oracle.fromArray(x.slice()), g).out));
    }
  });
});

describe('wasm: the 2x2 batchNormReluMaxPool backward\'s float64 sums are the general path\'s, reordered', () => {
  // The backend's results are float32, where a change in the order of the float64 additions
  // almost never shows; here the kernels' float64 sums (dbias, dweight before rounding) are
  // compared directly, on gradients spanning 16 orders of magnitude (where the order shows):
  // within 2^-50 of the sum of their terms' magnitudes (the reordering of at most 2^12 terms
  // costs at most 2^12 * 2^-53 of it), and bit for bit in a channel where x or the mean is not
  // finite (which takes the general path's operations: there the zero terms make NaNs).
  const be = createWasmBackendSync();
  const ctx = be.ctx, k = ctx.k, ar = ctx.arena;
  const put = (a: Float32Array): number => {
    const p = ar.allocF32(a.length + 8);
    ar.f32.set(a, p / 4);
    return p;
  };
  const f64 = (p: number, n: number): Float64Array => new Float64Array(ar.memory.buffer, p, n).slice();
  const f32 = (p: number, n: number): Float32Array => ar.f32.slice(p / 4, p / 4 + n);
  it('the 2x2 kernels take 2x2 windows of stride 2, unpadded, on even planes; the general path takes the rest', () => {
    const p = (h: number, w: number, k = 2, stride = k, pad = 0): Pool2dGeometry => ({
      n: 2, c: 3, h, w, oh: Math.floor((h + 2 * pad - k) / stride) + 1, ow: Math.floor((w + 2 * pad - k) / stride) + 1,
      kh: k, kw: k, strideH: stride, strideW: stride, padH: pad, padW: pad, countIncludePad: true,
    });
    for (const g of [p(28, 28), p(14, 14), p(2, 2), p(6, 10), p(4, 2)]) expect(isPool2x2(g)).toBe(true);
    for (const g of [p(7, 8), p(8, 7), p(9, 9), p(8, 8, 2, 1), p(8, 8, 3, 2), p(8, 8, 2, 2, 1), p(9, 9, 3, 3)]) expect(isPool2x2(g)).toBe(false);
    expect(isPool2x2({ ...p(8, 8), kh: 1 })).toBe(false);
    expect(isPool2x2({ ...p(8, 8), strideW: 1 })).toBe(false);
  });

  it.each([[3, 4, 28, 28], [2, 5, 14, 14], [2, 3, 6, 10], [3, 2, 2, 2], [1, 2, 4, 12]])('n %i c %i %ix%i', (n, c, h, w) => {
    ar.reset();
    const s = h * w, size = n * c * s, pooled = size / 4;
    const r = rng(n * 1000 + c * 100 + h + w);
    const mixed = (m: number): Float32Array => Float32Array.from({ length: m }, () => (r() * 2 - 1) * 10 ** Math.round(r() * 16 - 8));
    const clean = randomF32(size, h + w).map((v, i) => v * 3 + (Math.floor(i / s) % c) * 0.3);
    const params = [0.2, 1, 2, 0.5].map((sc, j) => randomF32(c, 300 + j).map((v) => (j === 1 ? Math.abs(v) + 0.5 : v * sc)));
    // specials: -Inf in x in channel 0 (normalised to -Inf or +Inf: an argmax or not), an infinite mean in the last channel
    const special = clean.slice();
    special[Math.floor(r() * n) * c * s + Math.floor(r() * s)] = -Infinity;
    const specialMean = params[0]!.slice();
    if (c > 1) specialMean[c - 1] = Infinity;
    for (const [xs, meanArr] of [[clean, params[0]!], [special, specialMean]] as const) {
      const x = put(xs);
      const [mean, invstd, wt, bias] = [put(meanArr), ...params.slice(1).map(put)];
      const out = ar.allocF32(pooled + 4), idx = ar.alloc((pooled + 4) * 4);
      k.bnReluMaxPool2x2(x, out, idx, n, c, h, w, mean!, invstd!, wt!, bias!, c);
      const dy = put(mixed(pooled));
      for (const batchStats of [1, 0]) {
        // the general path: scatter into zeros, then bnBackward with the ReLU (which leaves the masked gradient in `full`)
        const full = ar.allocF32(size);
        ar.f32.fill(0, full / 4, full / 4 + size);
        k.maxPool2dBackward(putGeo(ctx, [n, c, h, w, h / 2, w / 2, 2, 2, 2, 2, 0, 0, 1]), dy, idx, full);
        const dx1 = ar.allocF32(size), sd1 = ar.alloc(c * 8), sx1 = ar.alloc(c * 8);
        k.bnBackward(full, x, dx1, n, c, s, mean!, invstd!, wt!, batchStats, sd1, sx1, bias!, c, 0);
        const dx2 = ar.allocF32(size), sd2 = ar.alloc(c * 8), sx2 = ar.alloc(c * 8), bad = ar.alloc(c * 4), d = ar.alloc(k.bnPoolBackwardScratch(n, c, h, w));
        k.bnReluMaxPool2x2Backward(dy, idx, x, dx2, d, n, c, h, w, mean!, invstd!, wt!, bias!, batchStats, sd2, sx2, bad, c);
        expect(Array.from(ar.i32.subarray(bad / 4, bad / 4 + c))).toEqual(new Array(c).fill(0));
        const masked = f32(full, size);
        const [g1, g2, e1, e2] = [f64(sd1, c), f64(sd2, c), f64(sx1, c), f64(sx2, c)];
        for (let ch = 0; ch < c; ch++) {
          const mu = meanArr[ch]!, is = params[1]![ch]!;
          let absDy = 0, absDyXc = 0, finite = Number.isFinite(mu);
          for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) {
            const e = (i * c + ch) * s + j;
            finite &&= Number.isFinite(xs[e]!);
            absDy += Math.abs(masked[e]!);
            absDyXc += Math.abs(masked[e]! * (xs[e]! - mu) * is);
          }
          if (!finite) {
            expectBits([g2[ch]!, e2[ch]!], [g1[ch]!, e1[ch]!]);
            continue;
          }
          expect(Math.abs(g2[ch]! - g1[ch]!)).toBeLessThanOrEqual(2 ** -50 * absDy);
          expect(Math.abs(e2[ch]! - e1[ch]!)).toBeLessThanOrEqual(2 ** -50 * absDyXc);
        }
        const sub = (p: number, ch: number): Float32Array[] => Array.from({ length: n }, (_, i) => f32(p + ((i * c + ch) * s) * 4, s));
        // dx: the same bits where the channel took the general path; elsewhere within what its coefficients allow (expectPoolGrads, fused kernels above)
        for (let ch = 0; ch < c; ch++) {
          const exact = !Number.isFinite(meanArr[ch]!) || sub(x, ch).some((run) => run.some((v) => !Number.isFinite(v)));
          if (exact) sub(dx2, ch).forEach((run, i) => expectBits(run, sub(dx1, ch)[i]!));
        }
      }
    }
  });
});

/**
 * The 2x2 backward's fast path (x and the mean finite, the forward's indices) as its comment in
 * assembly/bnpool.ts specifies it, in float64 JS with Math.fround for each float32 rounding: per
 * channel the masked gradient m = (0 + dy) * step(y at the argmax) summed with m * (x - mean) in
 * four lanes by window position mod 4 over the rows in order, image after image, then (L0 + L2) +
 * (L1 + L3); dx = d * k + ((x - mean) * a + c) (d = m at the argmax, +0 elsewhere; d * k without
 * the batch's statistics); dx's channel sums as runSum adds each run (lanes by position mod 4),
 * the runs in image order. Planes [n, c, h, w], pooled [n, c, h/2, w/2].
 */
function poolBackwardModel(x: Float32Array, dy: Float32Array, idx: Int32Array, n: number, c: number, h: number, w: number,
  mean: Float32Array, invstd: Float32Array, wt: Float32Array, bias: Float32Array, batchStats: boolean): { sd: Float64Array; sx: Float64Array; dx: Float32Array; dxSum: Float64Array } {
  const f = Math.fround, s = h * w, ow = w / 2, S = s / 4, count = n * s;
  const sd = new Float64Array(c), sx = new Float64Array(c), dxSum = new Float64Array(c), dx = new Float32Array(n * c * s);
  const hsum = (l: number[]): number => (l[0]! + l[2]!) + (l[1]! + l[3]!);
  for (let ch = 0; ch < c; ch++) {
    const scale = f(invstd[ch]! * wt[ch]!), shift = f(bias[ch]! - f(mean[ch]! * scale));
    const L = [0, 0, 0, 0], T = [0, 0, 0, 0];
    const d = new Float32Array(n * s); // the masked gradient at full size
    for (let i = 0; i < n; i++) {
      for (let q = 0; q < S; q++) {
        const pq = (i * c + ch) * S + q, at = idx[pq]!, xa = x[(i * c + ch) * s + at]!;
        const m = f(f(0 + dy[pq]!) * (f(f(xa * scale) + shift) > 0 ? 1 : 0));
        L[(q % ow) % 4] += m;
        T[(q % ow) % 4] += m * (xa - mean[ch]!);
        d[i * s + at] = m;
      }
    }
    sd[ch] = hsum(L);
    sx[ch] = hsum(T) * invstd[ch]!;
    const k = f(invstd[ch]! * wt[ch]!), a = f(-(invstd[ch]! * wt[ch]!) * invstd[ch]! * (sx[ch]! / count)), cc = f(-(invstd[ch]! * wt[ch]!) * (sd[ch]! / count));
    for (let i = 0; i < n; i++) {
      const lanes = [0, 0, 0, 0];
      for (let j = 0; j < s; j++) {
        const e = (i * c + ch) * s + j;
        dx[e] = batchStats ? f(f(d[i * s + j]! * k) + f(f(f(x[e]! - mean[ch]!) * a) + cc)) : f(d[i * s + j]! * k);
        lanes[j % 4] += dx[e]!;
      }
      dxSum[ch] += hsum(lanes);
    }
  }
  return { sd, sx, dx, dxSum };
}

describe('wasm: the 2x2 batchNormReluMaxPool backward\'s sums in their specified order, bit for bit (the general path\'s where x is not finite)', () => {
  const be = createWasmBackendSync();
  const k = be.ctx.k, ar = be.ctx.arena;
  const put = (a: Float32Array | Int32Array): number => {
    const p = ar.alloc((a.length + 8) * 4);
    new Uint8Array(ar.memory.buffer, p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return p;
  };
  // w = 0 and 2 mod 4, rows of 1-7 and 14 windows (1-3 after the last whole group of four), one window, many images
  it.each([[3, 4, 28, 28], [2, 5, 14, 14], [2, 3, 6, 10], [3, 2, 2, 2], [1, 2, 4, 12], [2, 3, 10, 6], [9, 2, 8, 16], [2, 2, 2, 14]])('n %i c %i %ix%i', (n, c, h, w) => {
    ar.reset();
    const s = h * w, size = n * c * s, pooled = size / 4;
    const r = rng(n * 7 + c * 5 + h * 3 + w);
    const x = randomF32(size, h * w + 1).map((v, i) => v * 3 + (Math.floor(i / s) % c) * 0.3);
    // the last channel with an infinite x takes the general path's operations (its dx sums too: from 0, bnBackward's)
    x[((n - 1) * c + c - 1) * s + Math.floor(r() * s)] = Infinity;
    const [mean, invstd, wt, bias] = [0.2, 1, 2, 0.5].map((sc, j) => randomF32(c, 400 + j).map((v) => (j === 1 ? Math.abs(v) + 0.5 : v * sc)));
    // gradients spanning 36 orders of magnitude (float64 sums of float32 values within 2^29 of each other are exact in
    // any order: these show it), with NaN and infinities in some of the channels
    const dy = Float32Array.from({ length: pooled }, (_, i) => (r() < 0.02 && i % (c * 4) === 0 ? [NaN, Infinity, -Infinity][Math.floor(r() * 3)]! : (r() * 2 - 1) * 10 ** Math.round(r() * 36 - 18)));
    const xp = put(x), [mp, ip, wp, bp] = [mean!, invstd!, wt!, bias!].map(put);
    const out = ar.allocF32(pooled + 4), idxp = ar.alloc((pooled + 4) * 4);
    k.bnReluMaxPool2x2(xp, out, idxp, n, c, h, w, mp!, ip!, wp!, bp!, c);
    const idx = ar.i32.slice(idxp / 4, idxp / 4 + pooled);
    const dyp = put(dy);
    for (const batchStats of [true, false]) {
      const want = poolBackwardModel(x, dy, idx, n, c, h, w, mean!, invstd!, wt!, bias!, batchStats);
      const dx = ar.allocF32(size), sd = ar.alloc(c * 8), sx = ar.alloc(c * 8), bad = ar.alloc(c * 4), dxSum = ar.alloc(c * 8);
      const d = ar.alloc(k.bnPoolBackwardScratch(n, c, h, w));
      k.bnReluMaxPool2x2Backward(dyp, idxp, xp, dx, d, n, c, h, w, mp!, ip!, wp!, bp!, batchStats ? 1 : 0, sd, sx, bad, c, dxSum);
      expect(Array.from(ar.i32.subarray(bad / 4, bad / 4 + c))).toEqual(new Array(c).fill(0));
      // the general path: the gradient scattered into zeros, then bnBackward with the ReLU
      const full = ar.allocF32(size), dx1 = ar.allocF32(size), sd1 = ar.alloc(c * 8), sx1 = ar.alloc(c * 8), dxSum1 = ar.alloc(c * 8);
      ar.f32.fill(0, full / 4, full / 4 + size);
      k.maxPool2dBackward(putGeo(be.ctx, [n, c, h, w, h / 2, w / 2, 2, 2, 2, 2, 0, 0, 1]), dyp, idxp, full);
      k.bnBackward(full, xp, dx1, n, c, s, mp!, ip!, wp!, batchStats ? 1 : 0, sd1, sx1, bp!, c, 0, dxSum1);
      const f64 = (p: number): Float64Array => new Float64Array(ar.memory.buffer, p, c).slice();
      const f32 = (p: number): Float32Array => ar.f32.slice(p / 4, p / 4 + size);
      const general = [f64(sd1), f64(sx1), f32(dx1), f64(dxSum1)];
      for (const [j, [got, model, per]] of ([[f64(sd), want.sd, 1], [f64(sx), want.sx, 1], [f32(dx), want.dx, s], [f64(dxSum), want.dxSum, 1]] as const).entries()) {
        expectBits(got, model.map((v, e) => (Math.floor(e / per) % c === c - 1 ? general[j]![e]! : v))); // per: values per channel and image
      }
    }
  });
});

describe('nn.Sequential fuses BatchNorm -> ReLU with the same numbers', () => {
  afterAll(async () => {
    await vg.setBackend('wasm');
  });

  type Out = { y: Float32Array; grads: Float32Array[]; stats: Float32Array[]; keys: string[] };

  function run(fused: boolean, conv: boolean, training: boolean): Out {
    const c = conv ? 4 : 6;
    const bn = conv ? new vg.nn.BatchNorm2d(c) : new vg.nn.BatchNorm1d(c);
    vg.noGrad(() => {
      bn.weight!.copy_(vg.tensor(randomF32(c, 3).map((v) => v + 1)));
      bn.bias!.copy_(vg.tensor(randomF32(c, 4)));
      bn.runningMean!.copy_(vg.tensor(randomF32(c, 5)));
    });
    const relu = new vg.nn.ReLU();
    const seq = new vg.nn.Sequential(bn, relu);
    if (!training) seq.eval();
    const shape = conv ? [5, c, 6, 7] : [9, c];
    const n = shape.reduce((p, q) => p * q, 1);
    const x = vg.tensor(randomF32(n, 1).map((v) => v * 2 + 0.3), { shape, requiresGrad: true });
    const y = fused ? seq.forward(x) : relu.forward(bn.forward(x));
    y.mul(vg.tensor(randomF32(n, 2), { shape })).sum().backward();
    return {
      y: y.dataSync() as Float32Array,
      grads: [x.grad!, bn.weight!.grad!, bn.bias!.grad!].map((t) => t.dataSync() as Float32Array),
      stats: [bn.runningMean!, bn.runningVar!, bn.numBatchesTracked!].map((t) => Float32Array.from(t.dataSync())),
      keys: [...seq.stateDict().keys()],
    };
  }

  for (const backend of ['js', 'wasm']) {
    it(`${backend}: outputs, gradients, running statistics and state_dict keys`, async () => {
      await vg.setBackend(backend);
      for (const conv of [true, false]) {
        for (const training of [true, false]) {
          const a = run(true, conv, training);
          const b = run(false, conv, training);
          expectBits(a.y, b.y);
          a.grads.forEach((g, i) => expectBits(g, b.grads[i]!));
          a.stats.forEach((s, i) => expectBits(s, b.stats[i]!));
          expect(a.keys).toEqual(b.keys);
          expect(a.keys).toEqual(['0.weight', '0.bias', '0.running_mean', '0.running_var', '0.num_batches_tracked']);
        }
      }
    });
  }

  for (const backend of ['js', 'wasm']) {
    it(`${backend}: BatchNorm2d -> ReLU -> MaxPool2d fuses in training with the same outputs, gradients and statistics`, async () => {
      await vg.setBackend(backend);
      const be = currentBackend();
      const runOnce = (fused: boolean, training: boolean, poolOpts: { kernelSize: number; stride?: number }): Out & { calls: number } => {
        const c = 4;
        const bn = new vg.nn.BatchNorm2d(c);
        vg.noGrad(() => {
          bn.weight!.copy_(vg.tensor(randomF32(c, 13).map((v) => v + 1)));
          bn.bias!.copy_(vg.tensor(randomF32(c, 14)));
        });
        const relu = new vg.nn.ReLU();
        const pool = new vg.nn.MaxPool2d(poolOpts.kernelSize, { stride: poolOpts.stride });
        const seq = new vg.nn.Sequential(bn, relu, pool);
        if (!training) seq.eval();
        const shape = [5, c, 9, 10];
        const x = vg.tensor(randomF32(5 * c * 90, 11).map((v) => v * 2 + 0.3), { shape, requiresGrad: true });
        return countingCalls(be, 'batchNormReluMaxPool', (calls) => {
          const y = fused ? seq.forward(x) : pool.forward(relu.forward(bn.forward(x)));
          y.mul(vg.tensor(randomF32(y.numel, 12), { shape: y.shape })).sum().backward();
          return {
            calls: calls(),
            y: y.dataSync() as Float32Array,
            grads: [x.grad!, bn.weight!.grad!, bn.bias!.grad!].map((t) => t.dataSync() as Float32Array),
            stats: [bn.runningMean!, bn.runningVar!, bn.numBatchesTracked!].map((t) => Float32Array.from(t.dataSync())),
            keys: [...seq.stateDict().keys()],
          };
        });
      };
      for (const training of [true, false]) {
        for (const poolOpts of [{ kernelSize: 2 }, { kernelSize: 3, stride: 2 }]) {
          const a = runOnce(true, training, poolOpts);
          const b2 = runOnce(false, training, poolOpts);
          expect(a.calls).toBe(be.batchNormReluMaxPool ? 1 : 0);
          expect(b2.calls).toBe(0);
          expectBits(a.y, b2.y);
          a.grads.forEach((g, i) => expectBits(g, b2.grads[i]!));
          a.stats.forEach((s, i) => expectBits(s, b2.stats[i]!));
          expect(a.keys).toEqual(b2.keys);
        }
      }
    });
  }

  for (const backend of ['js', 'wasm']) {
    it(`${backend}: eval Conv2d -> BatchNorm2d -> ReLU [-> MaxPool2d] under noGrad equals its layers`, async () => {
      await vg.setBackend(backend);
      const be = currentBackend();
      const conv = new vg.nn.Conv2d(2, 5, 3, { padding: 1 });
      const bn = new vg.nn.BatchNorm2d(5);
      const relu = new vg.nn.ReLU();
      const pool = new vg.nn.MaxPool2d(2);
      const x = vg.tensor(randomF32(3 * 2 * 9 * 9, 7), { shape: [3, 2, 9, 9] });
      // non-trivial running statistics: a few training steps
      vg.noGrad(() => { for (let i = 0; i < 3; i++) bn.forward(conv.forward(x.mul(i + 1))); });
      for (const withPool of [true, false]) {
        const seq = withPool ? new vg.nn.Sequential(conv, bn, relu, pool) : new vg.nn.Sequential(conv, bn, relu);
        seq.eval();
        countingCalls(be, 'conv2dBnRelu', (calls) => {
          const got = vg.noGrad(() => seq.forward(x)).dataSync();
          expect(calls()).toBe(1);
          let want = vg.noGrad(() => relu.forward(bn.forward(conv.forward(x))));
          if (withPool) want = vg.noGrad(() => pool.forward(want));
          expectBits(got, want.dataSync());
          // with a gradient wanted, the layers run one by one (and agree)
          const g = seq.forward(x);
          expect(calls()).toBe(1);
          expectBits(g.dataSync(), want.dataSync());
        });
      }
    });
  }

  for (const backend of ['js', 'wasm']) {
    it(`${backend}: eval ConvTranspose2d -> BatchNorm2d -> ReLU under noGrad equals its layers`, async () => {
      await vg.setBackend(backend);
      const be = currentBackend();
      const conv = new vg.nn.ConvTranspose2d(3, 4, 4, { stride: 2, padding: 1 });
      const bn = new vg.nn.BatchNorm2d(4);
      const relu = new vg.nn.ReLU();
      const x = vg.tensor(randomF32(5 * 3 * 6 * 6, 17), { shape: [5, 3, 6, 6] });
      vg.noGrad(() => { for (let i = 0; i < 3; i++) bn.forward(conv.forward(x.mul(i + 1))); });
      const seq = new vg.nn.Sequential(conv, bn, relu).eval();
      countingCalls(be, 'convTranspose2dBnRelu', (calls) => {
        const got = vg.noGrad(() => seq.forward(x)).dataSync();
        expect(calls()).toBe(1);
        expectBits(got, vg.noGrad(() => relu.forward(bn.forward(conv.forward(x)))).dataSync());
      });
    });
  }

  for (const backend of ['js', 'wasm']) {
    it(`${backend}: eval Linear -> BatchNorm1d -> ReLU under noGrad equals its layers (with and without bias)`, async () => {
      await vg.setBackend(backend);
      const be = currentBackend();
      for (const withBias of [true, false]) {
        const lin = new vg.nn.Linear(67, 131, { bias: withBias });
        const bn = new vg.nn.BatchNorm1d(131);
        const relu = new vg.nn.ReLU();
        const x = vg.tensor(randomF32(45 * 67, 19), { shape: [45, 67] });
        vg.noGrad(() => { for (let i = 0; i < 3; i++) bn.forward(lin.forward(x.mul(i + 1))); });
        vg.noGrad(() => bn.weight!.copy_(vg.tensor(randomF32(131, 20))));
        const seq = new vg.nn.Sequential(lin, bn, relu).eval();
        countingCalls(be, 'linear', (calls) => {
          const got = vg.noGrad(() => seq.forward(x)).dataSync();
          expect(calls()).toBe(1);
          const want = vg.noGrad(() => relu.forward(vg.F.batchNorm(x.matmul(lin.weight.transpose(0, 1)).add(lin.bias ?? 0), bn.runningMean, bn.runningVar, bn.weight, bn.bias)));
          expectBits(got, want.dataSync());
          // with a gradient wanted, the layers run one by one (the Linear's bias still fused)
          expectBits(seq.forward(x).dataSync(), want.dataSync());
          expect(calls()).toBe(withBias ? 2 : 1);
        });
      }
    });
  }

  for (const backend of ['js', 'wasm']) {
    it(`${backend}: F.linear with a bias is one op with the outputs and gradients of matmul then add (gradients of gradients too)`, async () => {
      await vg.setBackend(backend);
      const be = currentBackend();
      // weights [out, in] of 53 x 37; 1 x 37 and 53 x 1 (which MatMul's backward computes in the other order)
      for (const [k, [m, inF, outF]] of [[19, 37, 53], [6, 37, 1], [6, 1, 53]].entries()) {
        for (const grads of [[true, true, true], [false, true, true], [true, false, false], [false, false, true]]) {
          const make = () => [
            vg.tensor(randomF32(m * inF, 30 + k), { shape: [m, inF], requiresGrad: grads[0] }),
            vg.tensor(randomF32(outF * inF, 31 + k), { shape: [outF, inF], requiresGrad: grads[1] }),
            vg.tensor(randomF32(outF, 32 + k), { shape: [outF], requiresGrad: grads[2] }),
          ] as const;
          const dy = vg.tensor(randomF32(m * outF, 33 + k), { shape: [m, outF] });
          const run = (fused: boolean) => countingCalls(be, 'linear', (calls) => {
            const [x, w, bias] = make();
            const y = fused ? vg.F.linear(x, w, bias) : x.matmul(w.transpose(0, 1)).add(bias);
            expect(calls()).toBe(fused && be.linear ? 1 : 0);
            expect(y.gradFn!.name).toBe(fused && be.linear ? 'LinearBackward' : 'AddBackward');
            const [x2, w2, b2] = [x, w, bias].filter((t) => t.requiresGrad) as vg.Tensor[];
            // the first input's gradient as a differentiable function of the others, then backward through it
            const [g1] = vg.autograd.grad(y.mul(dy).square().sum(), x2!, { createGraph: true });
            g1!.square().sum().backward();
            return [y, g1!, ...[w2, b2].map((t) => t?.grad ?? vg.zeros([1]))].map((t) => t.dataSync());
          });
          const [a, c] = [run(true), run(false)];
          a.forEach((v, i) => expectBits(v, c[i]!));
        }
      }
    });
  }

  it('the fused op is really used (one graph node), and a patched forward is left alone', async () => {
    await vg.setBackend('wasm');
    const bn = new vg.nn.BatchNorm2d(3);
    const seq = new vg.nn.Sequential(bn, new vg.nn.ReLU());
    const x = vg.tensor(randomF32(2 * 3 * 4 * 4, 9), { shape: [2, 3, 4, 4], requiresGrad: true });
    expect(seq.forward(x).gradFn!.name).toBe('BatchNormReluBackward');
    let called = 0;
    const orig = bn.forward;
    bn.forward = (t: vg.Tensor) => { called++; return orig.call(bn, t); };
    expect(seq.forward(x).gradFn!.name).toBe('ReluBackward');
    expect(called).toBe(1);
  });
});
