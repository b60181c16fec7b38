// Memory stays bounded without dispose(), on the wasm backend with tensor data in linear memory:
// a small conv VAE (the reference architecture at channels [2, 4], hidden 8, latent 2; batches of
// 4 MNIST-sized images) trains 3,000 steps through the Trainer (which yields between steps, so
// finalizers may run) and the same 3,000 steps in a synchronous loop (no await, so no finalizer
// ever runs: the budget's spilling and the eager frees must do it). After warm-up the WebAssembly
// memory grows by at most a few pages (GROWTH_PAGES: which dropped tensors the finalizers have
// freed by a given step depends on collection timing, so a size class of the allocator may miss
// its cache once more; a leak of even 100 bytes a step would add nearly 4 pages over the 2,500 steps),
// resident tensor bytes stay within the budget (which yields only to the tensors of the kernel
// call in progress), the JS heap is flat, and the Trainer and the loop end with bit-identical
// weights.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { DataLoader } from '../../src/data/dataloader.js';
import { ImageDataset, Trainer, vaeLoss } from '../../src/vae/index.js';
import type { Tensor } from '../../src/tensor.js';
import { gc, settle } from '../core/gc.js';

/** WebAssembly pages (64 KiB) the memory may add after warm-up (see the file comment). */
const GROWTH_PAGES = 2;
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
    expect(s.wasmBytes - this.wasmAtWarm, `${what}: WebAssembly memory grew after warm-up`).toBeLessThanOrEqual(GROWTH_PAGES * 65536);
    expect(this.maxTensorBytes, `${what}: resident tensor bytes`).toBeLessThanOrEqual(this.budget + SLACK);
    const growth = heapMiB() - this.heapAtWarm;
    expect(growth, `${what}: the JS heap grew by ${growth.toFixed(1)} MiB after warm-up`).toBeLessThan(8);
  }
}

describe('memory bound without dispose() (wasm storage, a small budget)', () => {
  it('3,000 steps of a small conv VAE through the Trainer and in a synchronous loop: bounded, and bit-identical weights', async () => {
    const n = 200; // 50 steps an epoch, 60 epochs
    // (The synchronous loop holds this test worker's event loop throughout: 3,000 steps keep it
    // to seconds, well under vitest's 60 s worker RPC timeout on a busy two-core machine.)
    const STEPS = 3000;
    // Parameters, gradients and moments are 64 KiB; a step's dead tensors outgrow 2 MiB within a step or two: both runs spill.
    const BUDGET = 2 << 20;
    const pixels = new Float32Array(n * 784);
    pixels.set(vg.rand([n * 784], { generator: new vg.Generator(7) }).dataSync());
    const train = new ImageDataset(pixels, new Int32Array(n), 'random');
    const config = { model: 'conv' as const, latent: 2, batchSize: 4, lr: 1e-3, beta: 1, seed: 3, size: { channels: [2, 4] as [number, number], hidden: 8 } };
    const perEpoch = n / config.batchSize;
    const epochs = STEPS / perEpoch;

    const viaTrainer = new Trainer(config);
    const watch = new Watch(BUDGET, 500, 50);
    let firstLoss = 0;
    let lastLoss = 0;
    for (let e = 0; e < epochs; e++) {
      const { averages } = await viaTrainer.trainEpoch(train, { readEvery: 50 });
      if (e === 0) firstLoss = averages.loss;
      lastLoss = averages.loss;
      const step = (e + 1) * perEpoch;
      // Blocks spilled after their job ended wait on the JS heap for their finalizer: let it run.
      if (step === watch.warm) await settle();
      if (step % watch.every === 0) watch.at(step);
    }
    await settle();
    watch.check('Trainer');
    expect(viaTrainer.globalStep(train)).toBe(STEPS);
    expect(lastLoss).toBeLessThan(firstLoss); // it trained (random pixels: the loss cannot fall far)

    // The same steps without the Trainer and without a single await.
    const loop = new Trainer(config);
    const model = loop.model.train();
    const sync = new Watch(BUDGET, 500, 50);
    const spills = vg.memoryStats().spills!;
    let step = 0;
    for (let e = 0; e < epochs; e++) {
      const loader = new DataLoader(train, { batchSize: config.batchSize, shuffle: true, generator: loop.rng });
      for (const [x] of loader as Iterable<[Tensor, Tensor]>) {
        const out = model.forward(x, { generator: loop.rng });
        const { loss } = vaeLoss(out.logits, x, out.mu, out.logvar, config.beta);
        loop.optimizer.zeroGrad();
        loss.backward();
        loop.optimizer.step();
        if (++step % sync.every === 0) sync.at(step);
      }
    }
    sync.check('synchronous loop');
    expect(step).toBe(STEPS);
    expect(vg.memoryStats().spills!).toBeGreaterThan(spills); // the budget did the bounding

    const a = viaTrainer.model.stateDict();
    const b = loop.model.stateDict();
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, t] of a) expect(new Uint8Array(t.dataSync().buffer), k).toEqual(new Uint8Array(b.get(k)!.dataSync().buffer));
  }, 240_000);
});
