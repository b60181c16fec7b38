// The Trainer batches through vg.data.DataLoader: stopped mid-epoch (shouldStop) and resumed
// from its checkpoint bytes, it ends with the bytes of an uninterrupted run (in process, small).

import { describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { ImageDataset, Trainer, checkpointBytes, trainerFromCheckpoint } from '../../src/vae/index.js';

function images(n: number): ImageDataset {
  const g = new vg.Generator(3);
  return new ImageDataset(Float32Array.from({ length: n * 784 }, () => g.uniform()), Int32Array.from({ length: n }, (_, i) => i % 10), 'random');
}

const config = { model: 'mlp' as const, latent: 4, batchSize: 16, lr: 1e-3, beta: 1, seed: 5 };
const weights = (t: Trainer): Uint8Array => vg.stateDictToSafetensors(t.model.stateDict());

describe('Trainer on DataLoader', () => {
  it('a stop mid-epoch resumed from the checkpoint gives the uninterrupted bytes', async () => {
    const train = images(90); // 6 batches, the last short
    const whole = new Trainer(config);
    await whole.trainEpoch(train);
    await whole.trainEpoch(train);

    const first = new Trainer(config);
    await first.trainEpoch(train);
    let steps = 0;
    const r = await first.trainEpoch(train, { shouldStop: () => steps++ === 3 });
    expect(r.completed).toBe(false);
    expect(first.step).toBe(3);
    const { trainer } = trainerFromCheckpoint(checkpointBytes(first, r.averages), 'ck');
    expect(trainer.step).toBe(3);
    const done = await trainer.trainEpoch(train);
    expect(done.completed).toBe(true);
    expect(trainer.epoch).toBe(2);
    expect(Buffer.from(weights(trainer)).equals(Buffer.from(weights(whole)))).toBe(true);
    expect(trainer.rng.getState()).toEqual(whole.rng.getState());
  });
});
