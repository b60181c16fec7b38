// Property-based gradient checks (float64 central differences) of every differentiable op, over
// random shapes (size-1 dims, broadcasting, non-contiguous views) and random values kept away
// from each op's kinks. The conventions at the kinks themselves are in kinks.test.ts.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import type { UnaryCase, Values } from './helpers.js';
import { FC, arbBroadcastPair, bcastShape, arbLayout, arbSeed, arbShape, check, itGradchecksUnaries, makeInput } from './helpers.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

type T = vg.Tensor;

const unaries: UnaryCase[] = [
  ['neg', (x) => x.neg(), 'normal'],
  ['exp', (x) => x.exp(), 'normal'],
  ['log', (x) => x.log(), 'positive'],
  ['log1p', (x) => x.log1p(), 'positive'],
  ['sqrt', (x) => x.sqrt(), 'positive'],
  ['abs', (x) => x.abs(), 'awayFromZero'],
  ['relu', (x) => x.relu(), 'awayFromZero'],
  ['leakyRelu', (x) => x.leakyRelu(0.2), 'awayFromZero'],
  ['leakyRelu default slope', (x) => vg.leakyRelu(x), 'awayFromZero'],
  ['sigmoid', (x) => x.sigmoid(), 'normal'],
  ['tanh', (x) => x.tanh(), 'normal'],
  ['softplus', (x) => x.softplus(), 'normal'],
  ['square', (x) => x.square(), 'normal'],
  ['reciprocal', (x) => x.reciprocal(), 'positive'],
  ['pow scalar 3', (x) => x.pow(3), 'normal'],
  ['pow scalar 2', (x) => x.pow(2), 'normal'],
  ['pow scalar 1', (x) => x.pow(1), 'normal'],
  ['pow scalar 0', (x) => x.pow(0), 'normal'],
  ['pow scalar -1.5', (x) => x.pow(-1.5), 'positive'],
  ['pow scalar 0.5', (x) => x.pow(0.5), 'positive'],
  ['add scalar', (x) => x.add(2.5), 'normal'],
  ['sub scalar', (x) => x.sub(-1.5), 'normal'],
  ['mul scalar', (x) => x.mul(-3), 'normal'],
  ['div scalar', (x) => x.div(4), 'normal'],
];

describe('unary ops: gradcheck over random shapes and layouts', () => {
  itGradchecksUnaries(unaries);

  it('clamp with bounds away from the values (both, min only, max only)', () => {
    fc.assert(
      fc.property(arbShape(0, 3, 3), arbLayout(), arbSeed, fc.constantFrom('both', 'min', 'max'), (shape, layout, seed, which) => {
        const inp = makeInput(shape, layout, 'distinct', new vg.Generator(seed));
        // Bounds sit halfway between neighbouring values (which differ by > 0.04), so each value is
        // strictly inside or outside; when there is no gap to use, the bound lies beyond all values.
        const sorted = [...inp.vals].sort((a, b) => a - b);
        const mid = (i: number): number => (i <= 0 ? sorted[0]! - 0.5 : i >= sorted.length ? sorted[sorted.length - 1]! + 0.5 : (sorted[i - 1]! + sorted[i]!) / 2);
        const lo = which === 'max' ? undefined : mid(Math.floor(sorted.length / 3));
        const hi = which === 'min' ? undefined : mid(Math.max(Math.floor(sorted.length / 3) + 1, Math.ceil((2 * sorted.length) / 3)));
        check((x) => inp.view(x).clamp(lo, hi), [inp.leaf]);
      }),
      FC,
    );
  });
});

const binaries: [string, (a: T, b: T) => T, Values, Values][] = [
  ['add', (a, b) => a.add(b), 'normal', 'normal'],
  ['sub', (a, b) => a.sub(b), 'normal', 'normal'],
  ['mul', (a, b) => a.mul(b), 'normal', 'normal'],
  ['div', (a, b) => a.div(b), 'normal', 'awayFromZero'],
  ['pow (tensor exponent)', (a, b) => a.pow(b), 'positive', 'normal'],
  ['functional add', (a, b) => vg.add(a, b), 'normal', 'normal'],
];

describe('binary ops: gradcheck with broadcasting and non-contiguous operands', () => {
  for (const [name, f, ka, kb] of binaries) {
    it(name, () => {
      fc.assert(
        fc.property(arbBroadcastPair(), arbLayout(), arbLayout(), arbSeed, ([sa, sb], la, lb, seed) => {
          const gen = new vg.Generator(seed);
          const a = makeInput(sa, la, ka, gen);
          const b = makeInput(sb, lb, kb, gen);
          check((x, y) => f(a.view(x), b.view(y)), [a.leaf, b.leaf]);
        }),
        FC,
      );
    });
  }

  for (const name of ['maximum', 'minimum'] as const) {
    it(`${name} with distinct values`, () => {
      fc.assert(
        fc.property(arbBroadcastPair(), arbLayout(['contiguous', 'permuted', 'strided']), arbSeed, ([sa, sb], la, seed) => {
          const gen = new vg.Generator(seed);
          const a = makeInput(sa, la, 'distinct', gen);
          // b's ladder is offset by 0.05 from a's, so no a is within 0.02 of any b.
          const b = makeInput(sb, 'contiguous', 'distinct', gen);
          check((x, y) => vg[name](a.view(x), b.view(y).add(0.05)), [a.leaf, b.leaf]);
        }),
        FC,
      );
    });
  }

  it('remainder: d/da = 1, d/db = -floor(a / b), away from the jumps of the floor', () => {
    fc.assert(
      fc.property(arbBroadcastPair(), arbLayout(), arbLayout(), arbSeed, ([sa, sb], la, lb, seed) => {
        const gen = new vg.Generator(seed);
        const a = makeInput(sa, la, 'normal', gen);
        const b = makeInput(sb, lb, 'awayFromZero', gen);
        // Finite differences across a jump of floor(a / b) are meaningless: skip such draws.
        const q = vg.noGrad(() => a.view(a.leaf).div(b.view(b.leaf)));
        fc.pre(Array.from(q.dataSync()).every((v) => Math.abs(v - Math.round(v)) > 1e-3));
        check((x, y) => a.view(x).remainder(b.view(y)), [a.leaf, b.leaf]);
        check((x) => a.view(x).remainder(0.7), [a.leaf]);
      }),
      FC,
    );
  });

  it('where: gradient flows to the chosen branch only, broadcasting all three', () => {
    fc.assert(
      fc.property(arbBroadcastPair(), fc.array(fc.boolean(), { maxLength: 3 }), arbSeed, ([sa, sb], ones, seed) => {
        const gen = new vg.Generator(seed);
        // the condition has the trailing dims of the broadcast shape, some of them 1
        const out = bcastShape(sa, sb);
        const sc = out.slice(Math.max(0, out.length - ones.length)).map((d, i) => (ones[i] ? 1 : d));
        const a = makeInput(sa, 'permuted', 'normal', gen);
        const b = makeInput(sb, 'strided', 'normal', gen);
        const cond = vg.rand(sc, { generator: gen, dtype: 'float64' }).gt(0.5);
        check((x, y) => vg.where(cond, a.view(x), b.view(y)), [a.leaf, b.leaf]);
      }),
      FC,
    );
  });
});

/** A random non-empty subset of dims, or undefined (all dims). */
const arbDims = (rank: number): fc.Arbitrary<number[] | undefined> =>
  rank === 0
    ? fc.constant(undefined)
    : fc.oneof(
        fc.constant(undefined),
        fc.subarray(Array.from({ length: rank }, (_, i) => i), { minLength: 1 }).chain((ds) =>
          // Mix positive and negative spellings of the same dims.
          fc.array(fc.boolean(), { minLength: ds.length, maxLength: ds.length }).map((neg) => ds.map((d, i) => (neg[i] ? d - rank : d))),
        ),
      );

const arbReduceCase = (layouts = arbLayout()) =>
  arbShape(0, 3, 3).chain((shape) => fc.record({ shape: fc.constant(shape), dims: arbDims(shape.length), keepdim: fc.boolean(), layout: layouts, seed: arbSeed }));

describe('reductions: gradcheck over any dims, keepdim or not', () => {
  const cases: [string, (x: T, d: number[] | undefined, k: boolean) => T, Values][] = [
    ['sum', (x, d, k) => x.sum(d, k), 'normal'],
    ['mean', (x, d, k) => x.mean(d, k), 'normal'],
    ['logsumexp', (x, d, k) => x.logsumexp(d, k), 'normal'],
    ['var biased', (x, d, k) => x.var(d, { unbiased: false, keepdim: k }), 'normal'],
  ];
  for (const [name, f, kind] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(arbReduceCase(), ({ shape, dims, keepdim, layout, seed }) => {
          const inp = makeInput(shape, layout, kind, new vg.Generator(seed));
          check((x) => f(inp.view(x), dims, keepdim), [inp.leaf]);
        }),
        FC,
      );
    });
  }

  it('var unbiased (reduced size >= 2)', () => {
    fc.assert(
      fc.property(arbReduceCase(), ({ shape, dims, keepdim, layout, seed }) => {
        const ds = dims ?? shape.map((_, i) => i);
        fc.pre(ds.reduce((p, d) => p * shape[(d + shape.length) % shape.length]!, 1) >= 2);
        const inp = makeInput(shape, layout, 'normal', new vg.Generator(seed));
        check((x) => inp.view(x).var(dims, { keepdim }), [inp.leaf]);
      }),
      FC,
    );
  });

  for (const name of ['max', 'min'] as const) {
    it(`${name} with distinct values`, () => {
      fc.assert(
        fc.property(arbReduceCase(arbLayout(['contiguous', 'permuted', 'strided'])), ({ shape, dims, keepdim, layout, seed }) => {
          const inp = makeInput(shape, layout, 'distinct', new vg.Generator(seed));
          check((x) => inp.view(x)[name](dims, keepdim), [inp.leaf]);
        }),
        FC,
      );
    });
  }

  for (const name of ['softmax', 'logSoftmax'] as const) {
    it(name, () => {
      fc.assert(
        fc.property(
          arbShape(1, 3, 4).chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: -s.length, max: s.length - 1 }))),
          arbLayout(),
          arbSeed,
          ([shape, dim], layout, seed) => {
            const inp = makeInput(shape, layout, 'normal', new vg.Generator(seed));
            check((x) => inp.view(x)[name](dim), [inp.leaf]);
            check((x) => vg.F[name](inp.view(x), dim), [inp.leaf]);
          },
        ),
        FC,
      );
    });
  }
});

describe('matmul: gradcheck', () => {
  const arbMatmul = fc
    .record({
      m: fc.integer({ min: 1, max: 3 }),
      k: fc.integer({ min: 1, max: 3 }),
      n: fc.integer({ min: 1, max: 3 }),
      aKind: fc.constantFrom('1d', '2d', 'batched'),
      bKind: fc.constantFrom('1d', '2d', 'batched'),
      batch: arbBroadcastPair(2),
      la: arbLayout(['contiguous', 'permuted', 'strided']),
      lb: arbLayout(['contiguous', 'permuted', 'strided']),
      seed: arbSeed,
    })
    .map((r) => {
      const sa = r.aKind === '1d' ? [r.k] : r.aKind === '2d' ? [r.m, r.k] : [...r.batch[0], r.m, r.k];
      const sb = r.bKind === '1d' ? [r.k] : r.bKind === '2d' ? [r.k, r.n] : [...r.batch[1], r.k, r.n];
      return { ...r, sa, sb };
    });
  it('1-D, 2-D and batched with broadcast batch dims, transposed and strided operands', () => {
    fc.assert(
      fc.property(arbMatmul, ({ sa, sb, la, lb, seed }) => {
        const gen = new vg.Generator(seed);
        const a = makeInput(sa, la, 'normal', gen);
        const b = makeInput(sb, lb, 'normal', gen);
        check((x, y) => a.view(x).matmul(b.view(y)), [a.leaf, b.leaf]);
      }),
      { numRuns: 40 },
    );
  });
  it('functional linear (x W^T + b: one op with the bias fused), transposed and strided operands', () => {
    const arbLinear = fc.record({
      m: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 3 }),
      lx: arbLayout(['contiguous', 'permuted', 'strided']), lw: arbLayout(['contiguous', 'permuted', 'strided']), seed: arbSeed,
    });
    fc.assert(
      fc.property(arbLinear, ({ m, k, n, lx, lw, seed }) => {
        const gen = new vg.Generator(seed);
        const x = makeInput([m, k], lx, 'normal', gen);
        const w = makeInput([n, k], lw, 'normal', gen);
        const b = makeInput([n], 'contiguous', 'normal', gen);
        check((p, q, r) => vg.F.linear(x.view(p), w.view(q), r), [x.leaf, w.leaf, b.leaf]);
      }),
      { numRuns: 30 },
    );
  });
});

describe('movement ops: gradcheck', () => {
  const arbCase = fc.record({ shape: arbShape(1, 3, 4), layout: arbLayout(), seed: arbSeed });
  const cases: [string, (x: T, shape: number[]) => T][] = [
    ['reshape to flat', (x) => x.reshape([-1])],
    ['reshape reversed dims', (x, s) => x.reshape([...s].reverse())],
    ['view (contiguous input)', (x, s) => x.contiguous().view([...s].reverse())],
    ['permute (reverse)', (x, s) => x.permute(s.map((_, i) => s.length - 1 - i))],
    ['transpose(0, -1)', (x) => x.transpose(0, -1)],
    ['T', (x) => x.T],
    ['slice with step 2 and negative start', (x) => x.slice(0, -3, undefined, 2)],
    ['slice last dim 1..end step 3', (x) => x.slice(-1, 1, 100, 3)],
    ['narrow', (x, s) => x.narrow(0, Math.floor(s[0]! / 2), Math.ceil(s[0]! / 2))],
    ['select', (x, s) => x.select(-1, s[s.length - 1]! - 1)],
    ['expand a new leading dim', (x, s) => x.expand([2, ...s])],
    ['unsqueeze then expand', (x) => x.unsqueeze(1).expand([-1, 3, ...x.shape.slice(1)])],
    ['squeeze all', (x) => x.squeeze()],
    ['squeeze(0)', (x) => x.squeeze(0)],
    ['unsqueeze(-1)', (x) => x.unsqueeze(-1)],
    ['flatten', (x) => x.flatten()],
    ['flatten(1)', (x) => vg.flatten(x.unsqueeze(0), 1)],
    ['unflatten', (x, s) => x.unflatten(0, [1, s[0]!])],
    ['contiguous', (x) => x.contiguous()],
    ['clone', (x) => x.clone()],
    ['cat with itself along dim 0 and -1', (x) => vg.cat([vg.cat([x, x.mul(2)], 0), vg.cat([x.exp(), x], 0)], -1)],
    ['stack at 0 and at the end', (x) => vg.stack([vg.stack([x, x.square()], 0), vg.stack([x, x], 0)], -1)],
    ['split into pieces of 2, weighted, re-cat', (x) => vg.cat(x.split(2, 0).map((p, i) => p.mul(i + 1)), 0)],
    ['split by sizes', (x, s) => vg.cat(x.split([1, s[0]! - 1], 0).map((p, i) => p.mul(i - 2)), 0)],
    ['chunk along the last dim', (x) => vg.cat(x.chunk(2, -1).map((p, i) => p.mul(i + 0.5)), -1)],
    ['broadcastTo', (x, s) => x.broadcastTo([3, ...s])],
  ];
  for (const [name, f] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(arbCase, ({ shape, layout, seed }) => {
          const inp = makeInput(shape, layout, 'normal', new vg.Generator(seed));
          check((x) => f(inp.view(x), shape), [inp.leaf]);
        }),
        FC,
      );
    });
  }

  it('cat / stack of different tensors gets each its own gradient', () => {
    fc.assert(
      fc.property(arbShape(1, 3, 3), fc.integer({ min: 1, max: 3 }), arbSeed, (shape, extra, seed) => {
        const gen = new vg.Generator(seed);
        const d = shape.length - 1;
        const sb = [...shape];
        sb[d] = extra;
        const a = makeInput(shape, 'permuted', 'normal', gen);
        const b = makeInput(sb, 'strided', 'normal', gen);
        const c = makeInput(shape, 'expanded', 'normal', gen);
        check((x, y) => vg.cat([a.view(x), b.view(y)], d), [a.leaf, b.leaf]);
        check((x, z) => vg.stack([a.view(x), c.view(z)], 1), [a.leaf, c.leaf]);
      }),
      FC,
    );
  });

  it('to(float32) and back: the gradient flows in the original dtype', () => {
    const x = vg.tensor([1.5, -2, 3], { dtype: 'float64', requiresGrad: true });
    const w = vg.tensor([0.5, 0.25, -4]);
    const y = x.to('float32');
    expect(y.dtype).toBe('float32');
    y.mul(w).sum().backward();
    expect(x.grad!.dtype).toBe('float64');
    expect(Array.from(x.grad!.dataSync())).toEqual([0.5, 0.25, -4]);

    const x32 = vg.tensor([1, 2], { requiresGrad: true });
    const y64 = x32.to('float64');
    y64.mul(vg.tensor([3, 1e-9], { dtype: 'float64' })).sum().backward();
    expect(x32.grad!.dtype).toBe('float32');
    expect(Array.from(x32.grad!.dataSync())).toEqual([3, Math.fround(1e-9)]);
    // float64 -> float32 -> float64 inside gradcheck (values exactly representable in float32)
    const z = vg.tensor([0.5, -0.25, 2], { dtype: 'float64', requiresGrad: true });
    const g = vg.tensor([1, 2, 3], { dtype: 'float64' });
    z.to('float32').to('float64').mul(g).sum().backward();
    expect(Array.from(z.grad!.dataSync())).toEqual([1, 2, 3]);
  });
});

