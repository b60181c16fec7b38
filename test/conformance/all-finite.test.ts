// Conformance: allFinite, isfinite(t).all() over a list of tensors (the Trainer's divergence
// check). The optional Backend.allFinite kernels (the js reference; wasm's nonFinite by ranges of
// 65,536 floats, f32x4 with a scalar tail) against a plain Number.isFinite scan, and vg.allFinite
// with the kernel and without it (the isfinite/min composition the gpu backend runs): NaN,
// +-Infinity, -0, denormals and the largest floats; sizes around the SIMD width, the unrolled
// 16-float loop and the ranges, with a special first, in the middle, in the tail and last; views
// (strided, offset windows of storage that holds non-finite values outside them, broadcast);
// float64 (1e300 is finite there), int32 and bool; empty and 0-d tensors; many tensors at once.

import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, Storage, View } from '../../src/backend/backend.js';
import { currentBackend, registerBackend } from '../../src/backend/registry.js';
import * as vg from '../../src/index.js';
import { gpuCpuBackend } from '../gpu/helpers.js';
import { BACKENDS, expectExact, oracle, randomF32, rng, view } from './backends.js';

/** Backends that offer the kernel (the gpu backend composes). */
const KERNEL = ['js', 'wasm'];

const SPECIALS = [NaN, Infinity, -Infinity];
/** Finite values that a careless test could take for non-finite: zeros, denormals, the extremes. */
const EDGES = [0, -0, 1e-40, -1e-45, 1.4e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1.17549435e-38];

/** n finite float32 values, a fifth of them edge cases. */
function finite(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.2 ? EDGES[Math.floor(r() * EDGES.length)]! : (r() * 2 - 1) * 1e3));
}

const scan = (a: ArrayLike<number>): boolean => Array.from(a).every(Number.isFinite);
const answer = (b: Backend, xs: readonly View[]): boolean => {
  const out = b.readSync(b.allFinite!(xs))!;
  expect(out.length).toBe(1);
  expect(b.allFinite!(xs).dtype).toBe('bool');
  return out[0] === 1;
};

/** Where to put a special in n floats: first, middle, the start of the SIMD tail, the unrolled loop's tail, last. */
const positions = (n: number): number[] => [...new Set([0, n >> 1, n & ~3, n & ~15, Math.max(0, n - 5), n - 1].filter((p) => p < n))];

/** Runs `body` on the wasm backend with its allFinite counting the tensors each call reads (pushed to `read`). */
async function withReadCounts(body: (read: number[]) => Promise<void> | void): Promise<void> {
  await vg.setBackend('wasm');
  const be = currentBackend() as unknown as Record<string, (xs: readonly View[]) => unknown>;
  const read: number[] = [];
  const orig = be.allFinite!;
  be.allFinite = (xs: readonly View[]) => { read.push(xs.length); return orig.call(be, xs); };
  try {
    await body(read);
  } finally {
    delete be.allFinite;
  }
}

const SIZES = [1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 63, 64, 65, 1000, 65535, 65536, 65537, 131073, 200003];

describe.each(KERNEL)('Backend.allFinite vs a scan [%s]', (name) => {
  const b = BACKENDS[name]!();

  it('every size: all finite (with -0, denormals and the largest floats), then one special in each position', () => {
    for (const [k, n] of SIZES.entries()) {
      const a = finite(n, 10 + k);
      expect(answer(b, [view(b, a, [n])]), `n ${n}, finite`).toBe(true);
      for (const p of positions(n)) {
        for (const s of SPECIALS) {
          const bad = a.slice();
          bad[p] = s;
          expect(answer(b, [view(b, bad, [n])]), `n ${n}, ${s} at ${p}`).toBe(scan(bad));
        }
      }
    }
  });

  it('views: offset windows, strides, broadcast; only the elements in the view count', () => {
    const a = finite(100, 3);
    a[0] = NaN;
    a[99] = Infinity;
    a[51] = -Infinity; // odd: outside the even-strided view below
    expect(answer(b, [view(b, a, [98], [1], 1)])).toBe(false); // covers 51
    expect(answer(b, [view(b, a, [49], [1], 1)])).toBe(true); // 1..49
    expect(answer(b, [view(b, a, [7, 7], [14, 2], 2)])).toBe(true); // even offsets 2..98
    expect(answer(b, [view(b, a, [7, 7], [2, 14], 2)])).toBe(true); // the same, transposed
    expect(answer(b, [view(b, a, [7, 7], [14, 2], 1)])).toBe(false); // odd offsets: 51 = 1 + 14 * 3 + 2 * 4
    expect(answer(b, [view(b, a, [7, 7], [2, 14], 1)])).toBe(false);
    expect(answer(b, [view(b, a, [5, 9, 3], [0, 0, 0], 50)])).toBe(true); // one finite value broadcast
    expect(answer(b, [view(b, a, [5, 9, 3], [0, 1, 0], 45)])).toBe(false); // 45..53 broadcast: holds 51
    expect(answer(b, [view(b, a, [0], [1], 0)])).toBe(true); // empty, at a NaN
  });

  it('lists: any bad tensor among many, dtypes, empty lists', () => {
    const good = Array.from({ length: 40 }, (_, i) => view(b, finite(1 + 37 * i, i), [1 + 37 * i]));
    expect(answer(b, good)).toBe(true);
    expect(answer(b, [])).toBe(true);
    for (const at of [0, 17, 40]) {
      const bad = finite(33, 99);
      bad[32] = NaN;
      const list = [...good];
      list.splice(at, 0, view(b, bad, [33]));
      expect(answer(b, list), `bad tensor at ${at}`).toBe(false);
    }
    expect(answer(b, [view(b, Float64Array.of(1e300, -1e300, 5e-324), [3])])).toBe(true);
    expect(answer(b, [view(b, Float64Array.of(1, Infinity), [2])])).toBe(false);
    expect(answer(b, [...good, view(b, Float64Array.of(NaN), [1])])).toBe(false);
    expect(answer(b, [view(b, Int32Array.of(0, -1, 2 ** 31 - 1), [3]), ...good])).toBe(true);
  });
});

describe('vg.allFinite: the kernel and the composition agree on every backend', () => {
  registerBackend('gpu-cpu-all-finite', gpuCpuBackend);
  afterAll(() => vg.setBackend('wasm'));

  /** [tensors, expected] cases built on the current backend. */
  function cases(): [vg.Tensor[], boolean][] {
    const a = finite(1000, 5);
    const bad = a.slice();
    bad[777] = NaN;
    const window = vg.tensor(bad).reshape([10, 100]).narrow(1, 0, 50); // row 7's NaN sits at column 77: outside
    return [
      [[vg.tensor(a)], true],
      [[vg.tensor(bad)], false],
      [[vg.tensor(a), vg.tensor(bad).reshape([10, 10, 10]).transpose(0, 2)], false],
      [[window], true],
      [[vg.tensor(bad).reshape([10, 100]).narrow(1, 50, 50)], false],
      [[vg.tensor([Infinity]).reshape([]), vg.tensor(a)], false],
      [[vg.tensor(2.5).expand([3, 4])], true],
      [[vg.tensor([1, 2], { dtype: 'int32' }), vg.tensor([1, 0]).gt(0)], true],
      [[vg.tensor([1e300, -Infinity], { dtype: 'float64' })], false],
      [[vg.tensor([1e300], { dtype: 'float64' }), vg.zeros([0, 3])], true],
      [[vg.tensor([1e300], { dtype: 'float64' }), vg.tensor(bad)], false],
      [[], true],
    ];
  }

  function answers(): boolean[] {
    return cases().map(([ts, want], i) => {
      const r = vg.allFinite(ts);
      expect(r.dtype, `case ${i}`).toBe('bool');
      expect(r.shape, `case ${i}`).toEqual([]);
      const got = r.item() === 1;
      expect(got, `case ${i}`).toBe(want);
      return got;
    });
  }

  it.each(['js', 'wasm', 'gpu-cpu-all-finite'])('%s', async (name) => {
    await vg.setBackend(name);
    const be = currentBackend() as unknown as Record<string, unknown>;
    expect(typeof be.allFinite === 'function').toBe(KERNEL.includes(name));
    const fused = answers();
    be.allFinite = undefined; // the composition
    try {
      expect(answers()).toEqual(fused);
    } finally {
      delete be.allFinite;
    }
    expect(vg.allFinite(vg.tensor([1, NaN])).item()).toBe(0); // one tensor, not a list
  });

  it('a clear error for what is not a tensor; no gradient', async () => {
    await vg.setBackend('wasm');
    expect(() => vg.allFinite([vg.tensor([1]), 3 as unknown as vg.Tensor])).toThrow(/allFinite: tensor 1 must be a Tensor, got number/);
    const x = vg.tensor([1, 2]).requiresGrad_();
    expect(vg.allFinite([x]).requiresGrad).toBe(false);
  });
});

describe('Adam\'s update checks what it writes; allFinite skips what it checked until written again', () => {
  afterAll(() => vg.setBackend('wasm'));
  const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 3 };

  it('wasm adamUpdate returns whether every p, m and v it wrote is finite (sizes around the SIMD width and the ranges)', () => {
    const b = BACKENDS.wasm!();
    for (const [k, n] of [1, 3, 4, 5, 17, 32767, 32768, 32769, 70001].entries()) {
      const cases: [string, (g: Float32Array, m: Float32Array, v: Float32Array) => void][] = [
        ['finite', () => {}],
        ...positions(n).flatMap((p): [string, (g: Float32Array, m: Float32Array, v: Float32Array) => void][] => [
          [`NaN gradient at ${p}`, (g) => { g[p] = NaN; }],
          [`gradient 1e30 at ${p} (v overflows)`, (g) => { g[p] = 1e30; }],
          [`-Infinity first moment at ${p}`, (_g, m) => { m[p] = -Infinity; }],
          [`infinite second moment at ${p} (p stays finite)`, (_g, _m, v) => { v[p] = Infinity; }],
        ]),
      ];
      for (const [what, poison] of cases) {
        const p = randomF32(n, k), g = randomF32(n, k + 50), m = randomF32(n, k + 60).map((x) => x * 1e-3);
        const v = randomF32(n, k + 70).map((x) => x * x * 1e-6);
        poison(g, m, v);
        const [ps, gs, ms, vs] = [p, g, m, v].map((a) => b.fromArray(a.slice()));
        const flag = b.adamUpdate(ps!, gs!, ms!, vs!, h);
        const written = [ps!, ms!, vs!].every((s) => scan(b.readSync(s)!));
        expect(flag, `n ${n}, ${what}`).toBe(written);
        if (what === 'finite') expect(flag).toBe(true);
      }
    }
  });

  it('wasm adamUpdateMany: one job over parameters of many sizes gives each one adamUpdate\'s bits and its own finiteness', () => {
    const b = BACKENDS.wasm!();
    // empty, SIMD tails, small ones that share a 2^15-float chunk, one that starts the next chunk, ranges of big ones
    const sizes = [0, 1, 3, 7, 32, 1000, 20000, 12800, 32769, 70001, 5];
    for (const [hk, hh] of [h, { ...h, weightDecay: 0.01 }, { ...h, weightDecay: 0.05, decoupled: true }].entries()) {
      for (const poisoned of [-1, 2, 6, 9]) { // none, or one parameter with a NaN gradient in the middle
        const data = sizes.map((n, k) => {
          const s = 100 * k + 10 * poisoned + hk;
          const g = randomF32(n, s + 1);
          if (k === poisoned) g[n >> 1] = NaN;
          return [randomF32(n, s), g, randomF32(n, s + 2).map((x) => x * 1e-3), randomF32(n, s + 3).map((x) => x * x * 1e-6)];
        });
        const items = data.map((a) => a.map((x) => b.fromArray(x.slice())) as [Storage, Storage, Storage, Storage]);
        const flags = b.adamUpdateMany!(items, hh);
        data.forEach(([p, g, m, v], k) => {
          const want = [p!, m!, v!].map((x) => oracle.fromArray(x.slice()));
          oracle.adamUpdate(want[0]!, oracle.fromArray(g!.slice()), want[1]!, want[2]!, hh);
          [0, 2, 3].forEach((j, w) => expectExact(b.readSync(items[k]![j]!)!, oracle.readSync(want[w]!)));
          expect(flags[k], `parameter ${k} (${sizes[k]} floats), poisoned ${poisoned}`).toBe(k !== poisoned);
        });
      }
    }
  });

  it('batch norm\'s running statistics, updated in training, are read by the probe: a non-finite batch is found', async () => {
    await withReadCounts(async (read) => {
      const bn = new vg.nn.BatchNorm1d(5);
      const stats = () => [bn.runningMean!, bn.runningVar!];
      vg.noGrad(() => bn.forward(vg.randn([8, 5])));
      expect(vg.allFinite(stats()).item()).toBe(1);
      // (the update is a job the calling thread does not wait for, so it cannot tell whether they are finite)
      expect(read.pop()).toBe(2);
      const x = vg.randn([8, 5]);
      vg.noGrad(() => bn.forward(x.mul(vg.tensor([1, 1, Infinity, 1, 1])))); // channel 2's mean and variance are not finite
      expect(vg.allFinite(stats()).item()).toBe(0);
      expect(read.pop()).toBe(2);
    });
  });

  it('the tensors an Adam step wrote finite are not read again until an in-place write; a non-finite step marks nothing', async () => {
    await withReadCounts(async (read) => {
      const p = vg.randn([1000]).requiresGrad_();
      const q = vg.randn([7]).requiresGrad_(); // no gradient: Adam leaves it alone
      const opt = new vg.optim.Adam([p, q]);
      const state = () => [p, q, ...[...opt.liveState().values()].flatMap((s) => [s.exp_avg as vg.Tensor, s.exp_avg_sq as vg.Tensor])];
      p.mul(p).sum().backward();
      opt.step();
      expect(vg.allFinite(state()).item()).toBe(1);
      expect(read.pop()).toBe(1); // q only
      vg.noGrad(() => p.mul_(1e38).mul_(10)); // overflows: written in place, so read again
      expect(vg.allFinite(state()).item()).toBe(0);
      expect(read.pop()).toBe(2);
      vg.noGrad(() => p.copy_(vg.randn([1000])));
      opt.zeroGrad();
      p.mul(vg.tensor(NaN)).sum().backward(); // a NaN gradient: the step writes NaN, marks nothing
      opt.step();
      expect(vg.allFinite(state()).item()).toBe(0);
      expect(read.pop()).toBe(4);
    });
  });
});
