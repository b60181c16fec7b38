// Users never call dispose(): 2,000 training-like steps (MLP forward, MSE loss, backward, SGD
// with noGrad + copy_ and with fresh leaves) must leave the heap flat, and a step's graph must be
// collectable once the step is over.

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { settle } from './gc.js';

beforeAll(async () => {
  await vg.setBackend('js');
});


describe('memory', () => {
  it('heap stays flat over 2,000 training steps without dispose()', async () => {
    const gen = new vg.Generator(0);
    const x = vg.randn([32, 16], { generator: gen });
    const yTrue = x.matmul(vg.randn([16, 1], { generator: gen })).tanh();
    const w1 = vg.randn([16, 32], { generator: gen }).mul(0.25).requiresGrad_();
    const b1 = vg.zeros([32], { requiresGrad: true });
    let w2 = vg.randn([32, 1], { generator: gen }).mul(0.25).requiresGrad_();
    const lr = 0.05;
    let firstLoss: WeakRef<vg.Tensor> | null = null;
    let heapAt200 = 0;
    const losses: number[] = [];
    for (let step = 0; step < 2000; step++) {
      const h = x.matmul(w1).add(b1).relu();
      const loss = h.matmul(w2).sub(yTrue).square().mean();
      loss.backward();
      if (step === 0) firstLoss = new WeakRef(loss);
      if (step % 100 === 0) losses.push(loss.item());
      // in place for w1 and b1, a fresh leaf for w2
      vg.noGrad(() => {
        for (const p of [w1, b1]) {
          p.copy_(p.sub(p.grad!.mul(lr)));
          p.grad = null;
        }
        w2 = w2.sub(w2.grad!.mul(lr)).requiresGrad_();
      });
      if (step === 199) {
        await settle();
        heapAt200 = process.memoryUsage().heapUsed;
      }
    }
    await settle();
    const growth = process.memoryUsage().heapUsed - heapAt200;
    expect(growth, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MB between step 200 and 2000`).toBeLessThan(20 * 2 ** 20);
    expect(firstLoss!.deref(), 'the first step\'s loss tensor (and its graph) is still reachable').toBeUndefined();
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5); // it did train
  });

  it('a graph kept alive by its output is released after backward (saved tensors dropped)', async () => {
    const x = vg.randn([256, 256], { requiresGrad: true });
    let big: WeakRef<vg.Tensor>;
    const out = (() => {
      const h = x.exp(); // saved by the next op for its backward
      big = new WeakRef(h);
      return h.mul(h).sum();
    })();
    out.backward();
    await settle();
    expect(big!.deref(), 'an intermediate saved for backward outlives backward()').toBeUndefined();
    expect(out.item()).toBeGreaterThan(0);
  });
});
