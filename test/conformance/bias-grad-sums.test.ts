// Conformance: the bias gradients a batch norm's backward adds up on the way (BatchNormGrads.dxSum,
// ops/channel-sum.ts) are bit-identical to the reduce they replace, on every layer pattern the
// sums take: Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d (the 2x2 kernel, and the general path with
// 3x3 windows on an odd plane), ConvTranspose2d -> BatchNorm2d -> ReLU, Conv2d -> BatchNorm2d
// alone, in training and in eval mode, with plane sizes that leave a SIMD tail or have no whole
// vector; a one-channel batch norm (whose channel sum is the whole tensor's, which the reduce adds
// in another order) and Linear -> BatchNorm1d (rows, which sumCols sums as fast): no sums offered; a conv output
// with a second consumer (its gradient is a sum of two: reduced); and the chunk split of the
// threads (determinism.test.ts runs the same blocks at 1-4 threads). Each block runs with the
// sums and with them switched off (wantDxSum forced false), and every gradient must match bit
// for bit; the sums must really have been made where the backend offers them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, BatchNormGrads } from '../../src/backend/backend.js';
import { currentBackend } from '../../src/backend/registry.js';
import * as vg from '../../src/index.js';
import { recordChannelSum, takeChannelSum } from '../../src/ops/channel-sum.js';
import { expectBits, randomF32, rng } from './backends.js';
import { createWasmBackendSync } from '../../src/backend/wasm/index.js';

/** The batch-norm backwards and where their wantDxSum argument is. */
const BACKWARDS = { batchNormBackward: 7, batchNormReluBackward: 8, batchNormReluMaxPoolBackward: 10 } as const;

/** Runs body with the batch-norm backwards wrapped: sums off (wantDxSum forced false) or on; how many results carried dxSum. */
function withSums<T>(be: Backend, on: boolean, body: () => T): { result: T; sums: number } {
  const table = be as unknown as Record<string, ((...a: unknown[]) => BatchNormGrads) | undefined>;
  let sums = 0;
  for (const [k, at] of Object.entries(BACKWARDS)) {
    const orig = table[k];
    if (!orig) continue;
    table[k] = (...a: unknown[]) => {
      if (!on && a.length > at) a[at] = false;
      const r = orig.apply(be, a);
      if (r.dxSum) sums++;
      return r;
    };
  }
  try {
    return { result: body(), sums };
  } finally {
    for (const k of Object.keys(BACKWARDS)) delete table[k];
  }
}

interface Block {
  name: string;
  /** Layers in order (the first has the bias), and the input's shape. */
  layers: () => vg.nn.Module[];
  x: number[];
  training: boolean;
  /** Also feed the first layer's output to the loss directly (a second consumer of its gradient). */
  twoConsumers?: boolean;
  /** Batch norms whose backward adds up the sums on wasm. */
  sums: number;
}

const conv = (i: number, o: number, k: number, opts: vg.F.Conv2dOptions = {}) => () => new vg.nn.Conv2d(i, o, k, opts);
const BLOCKS: Block[] = [
  { name: 'Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d(2) (the 2x2 kernel)', layers: () => [conv(2, 5, 3, { padding: 1 })(), new vg.nn.BatchNorm2d(5), new vg.nn.ReLU(), new vg.nn.MaxPool2d(2)], x: [7, 2, 10, 12], training: true, sums: 1 },
  { name: 'the same in eval mode', layers: () => [conv(2, 5, 3, { padding: 1 })(), new vg.nn.BatchNorm2d(5), new vg.nn.ReLU(), new vg.nn.MaxPool2d(2)], x: [7, 2, 10, 12], training: false, sums: 1 },
  { name: 'Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d(3, stride 2) on an odd plane (the general path)', layers: () => [conv(2, 6, 3, { padding: 1 })(), new vg.nn.BatchNorm2d(6), new vg.nn.ReLU(), new vg.nn.MaxPool2d(3, { stride: 2 })], x: [5, 2, 9, 11], training: true, sums: 1 },
  { name: 'ConvTranspose2d -> BatchNorm2d -> ReLU', layers: () => [new vg.nn.ConvTranspose2d(3, 4, 4, { stride: 2, padding: 1 }), new vg.nn.BatchNorm2d(4), new vg.nn.ReLU()], x: [5, 3, 5, 6], training: true, sums: 1 },
  { name: 'the same in eval mode', layers: () => [new vg.nn.ConvTranspose2d(3, 4, 4, { stride: 2, padding: 1 }), new vg.nn.BatchNorm2d(4), new vg.nn.ReLU()], x: [5, 3, 5, 6], training: false, sums: 1 },
  { name: 'Conv2d -> BatchNorm2d (no ReLU), 7x5 planes', layers: () => [conv(3, 6, 3, { padding: 1 })(), new vg.nn.BatchNorm2d(6)], x: [6, 3, 7, 5], training: true, sums: 1 },
  { name: 'Conv2d -> BatchNorm2d -> ReLU on 1x3 planes, one image', layers: () => [conv(2, 3, 3, { padding: 1 })(), new vg.nn.BatchNorm2d(3), new vg.nn.ReLU()], x: [1, 2, 1, 3], training: false, sums: 1 },
  { name: 'Linear -> BatchNorm1d -> ReLU (rows: sumCols runs, no sums offered)', layers: () => [new vg.nn.Linear(7, 9), new vg.nn.BatchNorm1d(9), new vg.nn.ReLU()], x: [11, 7], training: true, sums: 0 },
  { name: 'Conv2d -> BatchNorm2d(1) -> ReLU (one channel: the reduce runs)', layers: () => [conv(2, 1, 3, { padding: 1 })(), new vg.nn.BatchNorm2d(1), new vg.nn.ReLU()], x: [6, 2, 6, 7], training: true, sums: 0 },
  { name: 'a conv output with a second consumer (its gradient is a sum: reduced)', layers: () => [conv(2, 5, 3, { padding: 1 })(), new vg.nn.BatchNorm2d(5), new vg.nn.ReLU(), new vg.nn.MaxPool2d(2)], x: [7, 2, 10, 12], training: true, twoConsumers: true, sums: 1 },
];

/** Every gradient of one forward and backward of the block (fixed parameters and inputs). */
function gradients(block: Block): Float32Array[] {
  vg.manualSeed(5);
  const [first, ...rest] = block.layers();
  const tail = new vg.nn.Sequential(...rest); // finds BatchNorm -> ReLU [-> MaxPool2d] and fuses it
  const model = new vg.nn.Sequential(first!, tail);
  if (!block.training) {
    model.eval();
    for (const m of rest) {
      if (m instanceof vg.nn.BatchNorm2d || m instanceof vg.nn.BatchNorm1d) {
        vg.noGrad(() => { // running statistics that are not the defaults
          m.runningMean!.copy_(vg.randn(m.runningMean!.shape).mul(0.1));
          m.runningVar!.copy_(vg.rand(m.runningVar!.shape).add(0.5));
        });
      }
    }
  }
  const n = block.x.reduce((p, q) => p * q, 1);
  const x = vg.tensor(randomF32(n, 1).map((v) => v * 2 + 0.3), { shape: block.x, requiresGrad: true });
  const h = first!.forward(x);
  const y = tail.forward(h);
  let loss = y.mul(vg.tensor(randomF32(y.numel, 2), { shape: y.shape })).sum();
  if (block.twoConsumers) loss = loss.add(h.mul(vg.tensor(randomF32(h.numel, 3), { shape: h.shape })).sum());
  loss.backward();
  const bias = first!.namedParameters().find(([k]) => k === 'bias')![1];
  expect(bias.grad!.dataSync().some((v) => v !== 0)).toBe(true);
  return [x, ...model.parameters()].map((p) => Float32Array.from(p.grad!.dataSync() as Float32Array));
}

describe('bias gradients added up in the batch norm backward equal the reduce, bit for bit', () => {
  beforeAll(() => vg.setBackend('wasm'));
  afterAll(() => vg.setBackend('wasm'));

  for (const backend of ['wasm', 'js']) {
    it.each(BLOCKS.map((b) => [b.name, b] as const))(`${backend}: %s`, async (_, block) => {
      await vg.setBackend(backend);
      const be = currentBackend();
      const on = withSums(be, true, () => gradients(block));
      const off = withSums(be, false, () => gradients(block));
      expect(off.sums).toBe(0);
      expect(on.sums).toBe(backend === 'wasm' ? block.sums : 0);
      on.result.forEach((g, i) => expectBits(g, off.result[i]!, `gradient ${i}`));
    });
  }

  it('a recorded sum is taken once, for every dim but 1 only, and not after the tensor was written in place', () => {
    const t = vg.randn([3, 4, 5]);
    const s = vg.tensor([1, 2, 3, 4]).storage;
    recordChannelSum(t, s);
    expect(takeChannelSum(t, [0, 1])).toBeUndefined();
    expect(takeChannelSum(t, [0])).toBeUndefined();
    expect(takeChannelSum(t, [0, 2])).toBe(s);
    expect(takeChannelSum(t, [0, 2])).toBeUndefined();
    recordChannelSum(t, s);
    t.add_(1);
    expect(takeChannelSum(t, [0, 2])).toBeUndefined();
    recordChannelSum(t, s);
    expect(t.sum([0, 2]).dataSync()).toEqual(Float32Array.of(1, 2, 3, 4)); // sum() takes it
    expect(t.sum([0, 2]).dataSync()).not.toEqual(Float32Array.of(1, 2, 3, 4)); // once
  });
});

describe('wasm bnBackward\'s dx sums are the reduce\'s float64 sums, bit for bit (before rounding to float32)', () => {
  // Values over 2^-30..2^30, so that any other order of the float64 additions would show. The
  // reduce (drivers/reduce.ts) runs sumRows image by image over [c, s] rows ([R, K, R]).
  it.each([[2, 2, 5], [3, 3, 4], [5, 2, 13], [1, 3, 3], [2, 2, 2], [7, 3, 30], [16, 4, 36], [33, 3, 17], [6, 7, 196]])('n %i c %i s %i', (n, c, s) => {
    const ctx = createWasmBackendSync().ctx, ar = ctx.arena;
    for (const batchStats of [1, 0]) {
      for (const relu of [false, true]) {
        ar.reset();
        const r = rng(n * 1000 + c * 10 + s + batchStats * 7 + (relu ? 3 : 0));
        const wide = (): number => (r() * 2 - 1) * 2 ** Math.round(r() * 60 - 30);
        const size = n * c * s;
        const put = (a: Float32Array): number => { const p = ar.allocF32(a.length + 8); ar.f32.set(a, p / 4); return p; };
        const dy = put(Float32Array.from({ length: size }, wide)), x = put(Float32Array.from({ length: size }, () => r() * 4 - 2));
        const mean = put(Float32Array.from({ length: c }, () => r() - 0.5)), invstd = put(Float32Array.from({ length: c }, () => r() + 0.5));
        const w = put(Float32Array.from({ length: c }, () => r() * 2 - 1)), b = put(Float32Array.from({ length: c }, () => r() - 0.5));
        const dx = ar.allocF32(size + 8), sd = ar.alloc(c * 8), sx = ar.alloc(c * 8), ds = ar.alloc(c * 8), acc = ar.alloc(c * 8);
        ctx.k.bnBackward(dy, x, dx, n, c, s, mean, invstd, w, batchStats, sd, sx, relu ? b : 0, c, 0, ds);
        new Float64Array(ar.memory.buffer, acc, c).fill(0);
        for (let i = 0; i < n; i++) ctx.k.sumRows(dx + i * c * s * 4, c, s, acc);
        const got = new Float64Array(ar.memory.buffer, ds, c), want = new Float64Array(ar.memory.buffer, acc, c);
        for (let ch = 0; ch < c; ch++) expect(got[ch], `channel ${ch}, batchStats ${batchStats}, relu ${relu}`).toBe(want[ch]);
      }
    }
  });
});
