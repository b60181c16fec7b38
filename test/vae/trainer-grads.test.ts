// The Trainer frees each step's parameter gradients at the next step's zeroGrad, on the wasm
// backend (tensor data in linear memory): a gradient read during a step is gone one step later
// (reading it throws use-after-free, it is not silently reused). Left to the garbage collector,
// the reference model's 6.4 MB of Linear gradients a step stayed in wasm memory until a major
// collection and each step wrote into fresh pages (page faults inside the kernels).

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { ImageDataset, Trainer } from '../../src/vae/index.js';
import type { Tensor } from '../../src/tensor.js';

beforeAll(async () => {
  await vg.setBackend('wasm');
});

describe('Trainer frees the last step gradients', () => {
  const n = 16;
  const pixels = new Float32Array(n * 784).map((_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898));
  const train = new ImageDataset(pixels, new Int32Array(n), 'random');
  const config = { model: 'conv' as const, latent: 2, batchSize: 4, lr: 1e-3, beta: 1, seed: 3, size: { channels: [2, 4] as [number, number], hidden: 8 } };

  it('a gradient held from one step throws when read after the next', async () => {
    const tr = new Trainer(config);
    const held: Tensor[] = [];
    await tr.trainEpoch(train, {
      readEvery: 1,
      onStep: (step) => {
        if (step === 1) for (const p of tr.model.parameters()) held.push(p.grad!);
      },
    });
    expect(held.length).toBeGreaterThan(0);
    for (const g of held) expect(() => g.dataSync()).toThrow(/use after free/);
    // The last step's gradients are still there to inspect.
    for (const p of tr.model.parameters()) expect(p.grad!.dataSync().length).toBe(p.numel);
  });
});
