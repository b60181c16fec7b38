// The GPU.js backend on real WebGL shaders: headlessgl mode (ANGLE on Vulkan with no display;
// Mesa's lavapipe, a CPU Vulkan device, in CI). The kernels run in IEEE single precision on the device, so where the cpu-mode
// conformance suite demands bit equality this suite uses float32 error bounds:
// - sums of products (matmul, conv, pooling sums, batch-norm sums): the conformance suite's
//   bound c * terms * 2^-24 * sum|a||b| (float32 accumulation in any order), as for wasm;
// - exactly rounded single ops (add, mul, div, sqrt, compare, max-pool picks): equal to the
//   float32-rounded reference, or within 1 ulp where GLSL's division / sqrt may not be
//   correctly rounded (GLSL ES guarantees 2.5 ulp for division: we allow 3);
// - transcendental functions (exp, log, tanh, sigmoid, softplus, pow): GLSL's are not
//   correctly rounded: relative 2^-16 plus absolute 2^-20 (tanh/log1p/softplus go through
//   exp/log and lose relative accuracy near 0).
// Per-call scalars (addScalar's 0.1, clamp bounds) are float32 uniforms in GL: the reference is
// given the float32-rounded scalar. Inputs are finite normal numbers: GL shaders do not promise NaN/Infinity/denormal semantics.
//
// Outside CI (no CI environment variable) the suite skips with a notice when headlessgl cannot
// run (no gl 9, no libvulkan1 or no Vulkan driver: the notice says which); in CI it fails instead.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Backend, BinaryOp, Conv2dGeometry, Pool2dGeometry, UnaryOp, View } from '../../src/backend/backend.js';
import type { GpuBackend } from '../../src/backend/gpu/backend.js';
import { abs64, expectClose, oracle, randomF32, to64 } from '../conformance/backends.js';
import { gpuBackend, headlessglUnavailable } from './helpers.js';

const why = headlessglUnavailable();
const inCI = !!process.env.CI;
if (why && !inCI) console.warn(`notice: skipping the headlessgl GPU suite: ${why}`);
const suite = why && !inCI ? describe.skip : describe;

function closeRel(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, abs: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g === w || (g !== g && w !== w)) continue;
    if (!(Math.abs(g - w) <= rel * Math.abs(w) + abs)) throw new Error(`${what} element ${i}: got ${g}, want ${w}`);
  }
}
const ULP3 = 3 * 2 ** -24;

suite('gpu backend, headlessgl mode (WebGL shaders)', () => {
  if (why) {
    it('headlessgl runs here', () => { throw new Error(`CI is set but ${why}`); });
    return;
  }
  const b: GpuBackend = gpuBackend('headlessgl');
  const st = (a: Float32Array): View['storage'] => b.fromArray(a.slice());
  const v3 = (s: View['storage'], shape: number[], strides: number[], offset = 0): View => ({ storage: s, shape, strides, offset });

  it('runs in headlessgl mode with device-resident textures', () => {
    expect(b.mode).toBe('headlessgl');
    expect(b.textures).toBe(true);
  });

  it('unary and binary ops over strided / broadcast views', () => {
    const U: [UnaryOp, number?, number?][] = [['neg'], ['abs'], ['relu'], ['square'], ['step'], ['sign'], ['mulScalar', 1 / 3], ['addScalar', 0.1],
      ['leakyRelu', 0.01], ['clamp', -0.3, 0.7], ['inRange', -0.25, 0.5], ['reciprocal'], ['sqrt'], ['exp'], ['log'], ['log1p'], ['sigmoid'], ['tanh'], ['softplus'], ['erf'], ['powScalar', 2.5]];
    const TR = new Set(['exp', 'log', 'log1p', 'sigmoid', 'tanh', 'softplus', 'erf', 'powScalar']);
    const Bops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'mulStep', 'pow'];
    for (const [shape, strides, offset] of [[[3, 5, 7], [35, 7, 1], 0], [[3, 5, 7], [1, 21, 3], 0], [[4, 6, 5], [60, 10, 2], 3], [[2, 50, 40], [2000, 40, 1], 0]] as [number[], number[], number][]) {
      const size = offset + shape.reduce((p, q, d) => p + (q - 1) * strides[d]!, 1);
      const data = randomF32(size, size).map((x) => x * 4);
      const pos = data.map((x) => Math.abs(x) + 0.01);
      for (const [op, a, c] of U) {
        const src = ['sqrt', 'log', 'powScalar'].includes(op) ? pos : data;
        const got = b.readSync(b.unary(op, v3(st(src), shape, strides, offset), a, c));
        // per-call scalars are float32 uniforms on the device: the reference gets them rounded too
        const f = (t: number | undefined): number | undefined => (t === undefined ? t : Math.fround(t));
        const want = oracle.readSync(oracle.unary(op, v3(oracle.fromArray(src), shape, strides, offset), f(a), f(c)));
        if (TR.has(op)) closeRel(got, want, 2 ** -16, 2 ** -20, op);
        else closeRel(got, want, ULP3, 0, op);
      }
      const y = randomF32(size, size + 1).map((x) => x * 4);
      y[0] = data[0]!; // a tie for the comparisons
      const bc = randomF32(shape[1]!, 9); // broadcast along dims 0 and 2
      for (const op of Bops) {
        const xa = op === 'pow' ? pos : data;
        const got = b.readSync(b.binary(op, v3(st(xa), shape, strides, offset), v3(st(y), shape, strides, offset)));
        const want = oracle.readSync(oracle.binary(op, v3(oracle.fromArray(xa), shape, strides, offset), v3(oracle.fromArray(y), shape, strides, offset)));
        closeRel(got, want, op === 'pow' ? 2 ** -16 : ULP3, op === 'pow' ? 2 ** -20 : 0, op);
        const g2 = b.readSync(b.binary(op, v3(st(xa), shape, strides, offset), v3(st(bc), shape, [0, 1, 0])));
        const w2 = oracle.readSync(oracle.binary(op, v3(oracle.fromArray(xa), shape, strides, offset), v3(oracle.fromArray(bc), shape, [0, 1, 0])));
        closeRel(g2, w2, op === 'pow' ? 2 ** -16 : ULP3, op === 'pow' ? 2 ** -20 : 0, `${op} (broadcast)`);
      }
      const cond = y.map((t) => (t > 0 ? 1 : 0));
      expect(Array.from(b.readSync(b.where(v3(st(cond), shape, strides, offset), v3(st(data), shape, strides, offset), v3(st(y), shape, strides, offset)))))
        .toEqual(Array.from(oracle.readSync(oracle.where(v3(oracle.fromArray(cond), shape, strides, offset), v3(oracle.fromArray(data), shape, strides, offset), v3(oracle.fromArray(y), shape, strides, offset)))));
      expect(Array.from(b.readSync(b.copy(v3(st(data), shape, strides, offset))))).toEqual(Array.from(oracle.readSync(oracle.copy(v3(oracle.fromArray(data), shape, strides, offset)))));
    }
  }, 400_000); // some 200 kernels to compile: 22 s on a quiet 2-core machine, 122 s on a loaded one

  it('reductions and in-place assign (slices, narrow)', () => {
    const x = randomF32(4 * 6 * 30, 3);
    for (const axes of [[2], [0], [0, 2], [1], [0, 1, 2]]) {
      for (const op of ['sum', 'max', 'min'] as const) {
        const got = b.readSync(b.reduce(op, v3(st(x), [4, 6, 30], [180, 30, 1]), axes));
        const want = oracle.readSync(oracle.reduce(op, v3(oracle.fromArray(to64(x)), [4, 6, 30], [180, 30, 1]), axes));
        const bound = oracle.readSync(oracle.reduce(op, v3(oracle.fromArray(abs64(x)), [4, 6, 30], [180, 30, 1]), axes));
        expectClose(got, want, op === 'sum' ? bound : want.map(Math.abs), op === 'sum' ? axes.reduce((p, a) => p * [4, 6, 30][a]!, 1) : 0);
      }
    }
    const dst = new Float32Array(5 * 8);
    const src = randomF32(5 * 3, 4);
    const sd = st(dst);
    b.assign(v3(sd, [5, 3], [8, 1], 2), v3(st(src), [5, 3], [3, 1]));
    b.assign(v3(sd, [2, 5], [1, 8], 6), v3(st(src), [2, 5], [0, 1])); // transposed window, broadcast source
    const od = oracle.fromArray(new Float32Array(5 * 8));
    oracle.assign(v3(od, [5, 3], [8, 1], 2), v3(oracle.fromArray(src), [5, 3], [3, 1]));
    oracle.assign(v3(od, [2, 5], [1, 8], 6), v3(oracle.fromArray(src), [2, 5], [0, 1]));
    expect(Array.from(b.readSync(sd))).toEqual(Array.from(oracle.readSync(od)));
    expect(b.stats.hostFloat32Calls).toBe(0);
  });

  it('matmul over random shapes and layouts', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 1e9 }),
      (batch, m, k, n, ta, tb, seed) => {
        const A = randomF32(batch * m * k, seed), B = randomF32(batch * k * n, seed + 1);
        const av = (be: Backend, d: Float32Array | Float64Array): View => v3(be.fromArray(d), [batch, m, k], ta ? [m * k, 1, m] : [m * k, k, 1]);
        const bv = (be: Backend, d: Float32Array | Float64Array): View => v3(be.fromArray(d), [batch, k, n], tb ? [0, 1, k] : [k * n, n, 1]);
        const got = b.readSync(b.matmul(av(b, A), bv(b, B)));
        expectClose(got, oracle.readSync(oracle.matmul(av(oracle, to64(A)), bv(oracle, to64(B)))), oracle.readSync(oracle.matmul(av(oracle, abs64(A)), bv(oracle, abs64(B)))), k);
      }), { numRuns: 15 });
  });

  it('conv2d forward / backward-data / backward-filter: random geometries and the model layers', () => {
    const check = (g: Conv2dGeometry, seed: number): void => {
      const cg = g.c / g.groups, og = g.o / g.groups;
      const x = randomF32(g.n * g.c * g.h * g.w, seed), w = randomF32(g.o * cg * g.kh * g.kw, seed + 1), dy = randomF32(g.n * g.o * g.oh * g.ow, seed + 2);
      const o = (a: Float64Array): View['storage'] => oracle.fromArray(a);
      expectClose(b.readSync(b.conv2d(st(x), st(w), g)), oracle.readSync(oracle.conv2d(o(to64(x)), o(to64(w)), g)), oracle.readSync(oracle.conv2d(o(abs64(x)), o(abs64(w)), g)), cg * g.kh * g.kw);
      expectClose(b.readSync(b.conv2dBackwardData(st(dy), st(w), g)), oracle.readSync(oracle.conv2dBackwardData(o(to64(dy)), o(to64(w)), g)), oracle.readSync(oracle.conv2dBackwardData(o(abs64(dy)), o(abs64(w)), g)), og * g.kh * g.kw);
      expectClose(b.readSync(b.conv2dBackwardFilter(st(x), st(dy), g)), oracle.readSync(oracle.conv2dBackwardFilter(o(to64(x)), o(to64(dy)), g)), oracle.readSync(oracle.conv2dBackwardFilter(o(abs64(x)), o(abs64(dy)), g)), g.n * g.oh * g.ow);
    };
    const geo = (n: number, c: number, h: number, o: number, k: number, s: number, p: number, groups = 1, dil = 1): Conv2dGeometry => {
      const oh = Math.floor((h + 2 * p - dil * (k - 1) - 1) / s) + 1;
      return { n, c, h, w: h, o, kh: k, kw: k, oh, ow: oh, strideH: s, strideW: s, padH: p, padW: p, dilH: dil, dilW: dil, groups };
    };
    check(geo(2, 1, 28, 32, 3, 1, 1), 1); // encoder.0
    check(geo(2, 32, 14, 64, 3, 1, 1), 2); // encoder.4
    check(geo(2, 32, 14, 64, 4, 2, 1), 3); // decoder conv-transpose 64 -> 32
    check(geo(2, 1, 28, 32, 4, 2, 1), 4); // decoder conv-transpose 32 -> 1
    check(geo(3, 4, 9, 6, 3, 2, 2, 2, 2), 5); // groups, dilation, stride
    check({ ...geo(2, 3, 7, 4, 2, 1, 0), w: 5, ow: 4, strideW: 1 }, 6); // non-square
    check(geo(1, 3, 5, 6, 1, 1, 0, 3), 7); // 1x1, depthwise-like groups
  });

  it('pooling forward / backward and max-pool indices', () => {
    const geos: Pool2dGeometry[] = [
      { n: 4, c: 8, h: 28, w: 28, oh: 14, ow: 14, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true },
      { n: 2, c: 3, h: 9, w: 7, oh: 5, ow: 4, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, countIncludePad: false },
      { n: 1, c: 2, h: 6, w: 6, oh: 6, ow: 6, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, countIncludePad: true },
    ];
    for (const [i, g] of geos.entries()) {
      const x = randomF32(g.n * g.c * g.h * g.w, 20 + i), dy = randomF32(g.n * g.c * g.oh * g.ow, 30 + i);
      const got = b.maxPool2d(st(x), g), want = oracle.maxPool2d(oracle.fromArray(x), g);
      expect(Array.from(b.readSync(got.out))).toEqual(Array.from(oracle.readSync(want.out)));
      expect(b.readSync(got.indices)).toBeInstanceOf(Int32Array);
      expect(Array.from(b.readSync(got.indices))).toEqual(Array.from(oracle.readSync(want.indices)));
      const o = (a: Float32Array | Float64Array): View['storage'] => oracle.fromArray(a);
      const dyAbs = Float32Array.from(dy, Math.abs);
      // float32 sums of at most kh*kw/stride^2 terms
      const terms = Math.ceil(g.kh / g.strideH) * Math.ceil(g.kw / g.strideW);
      expectClose(b.readSync(b.maxPool2dBackward(st(dy), got.indices, g)), oracle.readSync(oracle.maxPool2dBackward(o(to64(dy)), want.indices, g)), oracle.readSync(oracle.maxPool2dBackward(o(dyAbs), want.indices, g)), terms);
      expectClose(b.readSync(b.avgPool2d(st(x), g)), oracle.readSync(oracle.avgPool2d(o(to64(x)), g)), oracle.readSync(oracle.avgPool2d(o(abs64(x)), g)), g.kh * g.kw);
      expectClose(b.readSync(b.avgPool2dBackward(st(dy), g)), oracle.readSync(oracle.avgPool2dBackward(o(to64(dy)), g)), oracle.readSync(oracle.avgPool2dBackward(o(abs64(dy)), g)), terms + 1);
    }
  });

  it('batch norm and Adam', () => {
    for (const g of [{ n: 8, c: 32, s: 196 }, { n: 64, c: 16, s: 1 }, { n: 3, c: 5, s: 7 }]) {
      const x = randomF32(g.n * g.c * g.s, g.c).map((v, i) => v + (Math.floor(i / g.s) % g.c) * 0.5);
      const dy = randomF32(x.length, 2), w = randomF32(g.c, 3).map((v) => v + 1.5), bias = randomF32(g.c, 4);
      const count = g.n * g.s;
      const s = b.batchNormStats(st(x), g), so = oracle.batchNormStats(oracle.fromArray(to64(x)), g);
      const m64 = oracle.readSync(so.mean);
      closeRel(b.readSync(s.mean), m64, 0, 2 * count * 2 ** -24 * 2, 'mean');
      closeRel(b.readSync(s.variance), oracle.readSync(so.variance), 4 * count * 2 ** -24, 1e-6, 'variance');
      const mean = Float32Array.from(m64), invstd = Float32Array.from(oracle.readSync(so.variance), (v) => 1 / Math.sqrt(v + 1e-5));
      const o = (a: Float32Array): View['storage'] => oracle.fromArray(to64(a));
      closeRel(b.readSync(b.batchNormForward(st(x), st(mean), st(invstd), st(w), st(bias), g)), oracle.readSync(oracle.batchNormForward(o(x), o(mean), o(invstd), o(w), o(bias), g)), 1e-5, 1e-5, 'bn forward');
      for (const batchStats of [true, false]) {
        const r = b.batchNormBackward(st(dy), st(x), st(mean), st(invstd), st(w), g, batchStats);
        const q = oracle.batchNormBackward(o(dy), o(x), o(mean), o(invstd), o(w), g, batchStats);
        const tol = 4 * count * 2 ** -24;
        closeRel(b.readSync(r.dbias), oracle.readSync(q.dbias), tol, tol * 4, 'dbias');
        closeRel(b.readSync(r.dweight), oracle.readSync(q.dweight), tol, tol * 4, 'dweight');
        closeRel(b.readSync(r.dx), oracle.readSync(q.dx), 1e-4, 1e-4, 'dx');
      }
    }
    const n = 5000;
    const p = randomF32(n, 1), m = randomF32(n, 2).map((v) => v * 0.1), v = randomF32(n, 3).map((t) => t * t * 0.01);
    for (const c of [{ weightDecay: 0, decoupled: false }, { weightDecay: 0.01, decoupled: false }, { weightDecay: 0.05, decoupled: true }]) {
      const sP = st(p), sM = st(m), sV = st(v);
      const oP = oracle.fromArray(to64(p)), oM = oracle.fromArray(to64(m)), oV = oracle.fromArray(to64(v));
      for (let step = 1; step <= 3; step++) {
        const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step, ...c };
        const g = randomF32(n, 10 + step);
        b.adamUpdate(sP, st(g), sM, sV, h);
        oracle.adamUpdate(oP, oracle.fromArray(to64(g)), oM, oV, h);
      }
      closeRel(b.readSync(sM), oracle.readSync(oM), 1e-5, 1e-7, 'adam m');
      closeRel(b.readSync(sV), oracle.readSync(oV), 1e-5, 1e-9, 'adam v');
      closeRel(b.readSync(sP), oracle.readSync(oP), 1e-6, 1e-6, 'adam param');
    }
  });

  it('tree reductions (several launches) over long rows, and the conv weight gradient at a large batch', () => {
    const x = randomF32(3 * 300_000, 8);
    for (const op of ['sum', 'max', 'min'] as const) {
      const got = b.readSync(b.reduce(op, v3(st(x), [3, 300_000], [300_000, 1]), [1]));
      const want = oracle.readSync(oracle.reduce(op, v3(oracle.fromArray(to64(x)), [3, 300_000], [300_000, 1]), [1]));
      const bound = oracle.readSync(oracle.reduce(op, v3(oracle.fromArray(abs64(x)), [3, 300_000], [300_000, 1]), [1]));
      expectClose(got, want, op === 'sum' ? bound : want.map(Math.abs), op === 'sum' ? 300_000 : 0);
    }
    const g: Conv2dGeometry = { n: 64, c: 1, h: 28, w: 28, o: 4, kh: 3, kw: 3, oh: 28, ow: 28, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1 };
    const cx = randomF32(g.n * 784, 9), dy = randomF32(g.n * 4 * 784, 10);
    const o = (a: Float64Array): View['storage'] => oracle.fromArray(a);
    expectClose(b.readSync(b.conv2dBackwardFilter(st(cx), st(dy), g)), oracle.readSync(oracle.conv2dBackwardFilter(o(to64(cx)), o(to64(dy)), g)),
      oracle.readSync(oracle.conv2dBackwardFilter(o(abs64(cx)), o(abs64(dy)), g)), g.n * 784);
  });

  it('index arithmetic is exact up to 2^24 elements: a transposed copy of [4095, 4097] (2^24 - 1 elements)', () => {
    const R = 4097, C = 4095, n = R * C;
    const src = new Float32Array(n);
    for (let i = 0; i < n; i++) src[i] = i; // integers below 2^24: exact in float32
    const out = b.readSync(b.copy(v3(b.fromArray(src), [C, R], [1, C])));
    let wrong = 0;
    for (let i = 0; i < C; i++) for (let j = 0; j < R; j++) if (out[i * R + j] !== j * C + i) wrong++;
    expect(wrong).toBe(0);
  }, 300_000);

  it('keeps tensors on the device: a chain of kernels reads back once', () => {
    const x = st(randomF32(1000, 5));
    const before = b.stats.readbacks;
    let v = v3(x, [10, 100], [100, 1]);
    for (let i = 0; i < 5; i++) v = v3(b.unary('tanh', v), [10, 100], [100, 1]);
    const s = b.reduce('sum', v, [1]);
    expect(b.stats.readbacks).toBe(before);
    b.readSync(s);
    expect(b.stats.readbacks).toBe(before + 1);
  });
});
