// Memory stays bounded without dispose(), on the wasm backend with tensor data in linear memory:
// 5,000 training steps of a small conv model in a synchronous loop (no await, so no finalizer
// ever runs: the budget's spilling and the eager frees must do it), and 400 steps of the MLP
// VAE through the Trainer (which yields between steps) against the same steps in a synchronous
// loop (the MLP VAE's 0.6M parameters make 5,000 steps too slow for the suite). After warm-up the
// WebAssembly memory does not grow, resident tensor bytes stay within the budget (which yields
// only to the tensors of the kernel call in progress), the JS heap is flat, and the Trainer and
// the loop end with bit-identical weights.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { DataLoader } from '../../src/data/dataloader.js';
import { ImageDataset, Trainer, vaeLoss } from '../../src/vae/index.js';
import type { Tensor } from '../../src/tensor.js';
import { gc } from '../core/gc.js';

/** The budget yields to the tensors of the call in progress: at most a batch's activations here. */
const SLACK = 1 << 20;

beforeAll(async () => {
  await vg.setBackend('wasm');
});
afterAll(() => vg.setMemoryBudget(2 ** 30));

const heapMiB = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** Watches memory once per `every` steps after `warm`: the wasm memory's size, the most resident tensor bytes, the heap. */
class Watch {
  wasmAtWarm = 0;
  heapAtWarm = 0;
  maxTensorBytes = 0;
  constructor(readonly budget: number, readonly warm: number, readonly every: number) {
    vg.setMemoryBudget(budget);
  }
  at(step: number): void {
    const s = vg.memoryStats();
    this.maxTensorBytes = Math.max(this.maxTensorBytes, s.tensorBytes!);
    if (step === this.warm) {
      this.wasmAtWarm = s.wasmBytes;
      this.heapAtWarm = heapMiB();
    }
  }
  check(what: string): void {
    const s = vg.memoryStats();
    expect(s.wasmBytes, `${what}: WebAssembly memory grew after warm-up`).toBe(this.wasmAtWarm);
    expect(this.maxTensorBytes, `${what}: resident tensor bytes`).toBeLessThanOrEqual(this.budget + SLACK);
    const growth = heapMiB() - this.heapAtWarm;
    expect(growth, `${what}: the JS heap grew by ${growth.toFixed(1)} MiB after warm-up`).toBeLessThan(8);
  }
}

describe('memory bound without dispose() (wasm storage, small budgets)', () => {
  it('a small conv model in a synchronous loop', () => {
    vg.manualSeed(0);
    const { nn } = vg;
    const model = new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(4, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.Linear(8 * 4 * 4, 10),
    );
    const opt = new vg.optim.Adam(model.parameters(), { lr: 1e-3 });
    const gen = new vg.Generator(1);
    const x = vg.randn([4, 1, 16, 16], { generator: gen });
    const y = vg.randn([4, 10], { generator: gen });
    const STEPS = 5000;
    const watch = new Watch(2 << 20, 500, 50);
    let first = 0;
    let last = 0;
    for (let step = 1; step <= STEPS; step++) {
      const loss = vg.F.mse(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      if (step === 1) first = loss.item();
      if (step === STEPS) last = loss.item();
      if (step % watch.every === 0) watch.at(step);
    }
    watch.check('synchronous loop');
    expect(vg.memoryStats().spills).toBeGreaterThan(0); // the budget did the bounding
    expect(last).toBeLessThan(first * 0.5); // it trained
  });

  it('the MLP VAE through the Trainer and in a synchronous loop: bounded, and bit-identical weights', async () => {
    const n = 200; // 50 steps an epoch, 8 epochs
    const STEPS = 400;
    const BUDGET = 16 << 20; // the parameters, their gradients and Adam's moments are 7.6 MiB
    const pixels = new Float32Array(n * 784);
    const r = new vg.Generator(7);
    pixels.set(vg.rand([n * 784], { generator: r }).dataSync());
    const train = new ImageDataset(pixels, new Int32Array(n), 'random');
    const config = { model: 'mlp' as const, latent: 4, batchSize: 4, lr: 1e-3, beta: 1, seed: 3 };
    const epochs = STEPS / (n / config.batchSize);

    const viaTrainer = new Trainer(config);
    const watch = new Watch(BUDGET, 100, 50);
    for (let e = 0; e < epochs; e++) {
      await viaTrainer.trainEpoch(train, { readEvery: 50 });
      const step = (e + 1) * 50;
      if (step % watch.every === 0) watch.at(step);
    }
    watch.check('Trainer');

    // The same steps without the Trainer and without a single await.
    const loop = new Trainer(config);
    const model = loop.model.train();
    const sync = new Watch(BUDGET, 100, 50);
    for (let e = 0; e < epochs; e++) {
      const loader = new DataLoader(train, { batchSize: config.batchSize, shuffle: true, generator: loop.rng });
      let b = 0;
      for (const [x] of loader as Iterable<[Tensor, Tensor]>) {
        const out = model.forward(x, { generator: loop.rng });
        const { loss } = vaeLoss(out.logits, x, out.mu, out.logvar, config.beta);
        loop.optimizer.zeroGrad();
        loss.backward();
        loop.optimizer.step();
        b++;
      }
      const step = (e + 1) * b;
      if (step % sync.every === 0) sync.at(step);
    }
    sync.check('synchronous VAE loop');

    const a = viaTrainer.model.stateDict();
    const b = loop.model.stateDict();
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, t] of a) expect(new Uint8Array(t.dataSync().buffer), k).toEqual(new Uint8Array(b.get(k)!.dataSync().buffer));
  });
});
