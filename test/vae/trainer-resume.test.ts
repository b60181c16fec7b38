// The Trainer batches through vg.data.DataLoader: stopped mid-epoch (shouldStop) and resumed
// from its checkpoint bytes, it ends with the bytes of an uninterrupted run (in process, small).

import { describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { ConvVAE, ImageDataset, Trainer, checkpointBytes, modelBytes, trainerFromCheckpoint, vaeFromSafetensors } from '../../src/vae/index.js';

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

describe('Trainer of a narrower conv VAE (config.size)', () => {
  const config = { model: 'conv' as const, latent: 2, batchSize: 4, lr: 1e-3, beta: 1, seed: 5, size: { channels: [2, 3] as [number, number], hidden: 5 } };
  const shapes = (sd: Map<string, vg.Tensor>): [string, number[]][] => [...sd].map(([k, t]) => [k, [...t.shape]]);

  it('has the reference model\'s state_dict names at the given widths; the defaults are the reference model', () => {
    const small = new Trainer(config).model.stateDict();
    const ref = new ConvVAE({ latent: 2 }).stateDict();
    expect([...small.keys()]).toEqual([...ref.keys()]);
    expect(small.get('encoder.0.weight')!.shape).toEqual([2, 1, 3, 3]);
    expect(small.get('encoder.9.weight')!.shape).toEqual([5, 3 * 49]);
    expect(small.get('decoder.0.weight')!.shape).toEqual([3, 2, 4, 4]);
    expect(ref.get('encoder.9.weight')!.shape).toEqual([256, 3136]);
    expect(shapes(new Trainer({ ...config, size: undefined }).model.stateDict())).toEqual(shapes(ref));
  });

  it('its checkpoint and model file keep the widths', async () => {
    const t = new Trainer(config);
    await t.trainEpoch(images(12));
    const { trainer } = trainerFromCheckpoint(checkpointBytes(t), 'ck');
    expect(trainer.config.size).toEqual(config.size);
    expect(Buffer.from(weights(trainer)).equals(Buffer.from(weights(t)))).toBe(true);
    const model = vaeFromSafetensors(modelBytes(t), 'model.safetensors');
    expect(Buffer.from(vg.stateDictToSafetensors(model.stateDict())).equals(Buffer.from(weights(t)))).toBe(true);
  });

  it('bad widths are refused, naming the field', () => {
    expect(() => new Trainer({ ...config, size: { channels: [2, 0] } })).toThrow(/ConvVAE: channels\[1\] must be a positive integer, got 0/);
    expect(() => new Trainer({ ...config, model: 'mlp' })).toThrow(/the mlp VAE has no conv channels/);
    const ck = vg.safetensorsToStateDict(checkpointBytes(new Trainer(config)), 'ck');
    const meta = JSON.parse(ck.metadata.vaegrad!);
    meta.config.size = { channels: [2, 1.5] };
    const bytes = vg.stateDictToSafetensors(ck.tensors, { vaegrad: JSON.stringify(meta) });
    expect(() => trainerFromCheckpoint(bytes, 'ck')).toThrow(/ck: checkpoint field config\.size\.channels must be two positive integers, got \[2,1\.5\]/);
  });
});
