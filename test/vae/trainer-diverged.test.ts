// The Trainer's finite probe (vg.allFinite, read every `readEvery` steps) reads the optimiser's
// own moments, not copies: a NaN or infinity in a parameter, a persistent buffer or an Adam
// moment stops training with TrainingDiverged naming the tensor, and stateDict() still hands out copies.

import { describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { ImageDataset, Trainer } from '../../src/vae/index.js';
import { TrainingDiverged } from '../../src/vae/train.js';
import type { Tensor } from '../../src/tensor.js';

function images(n: number): ImageDataset {
  const g = new vg.Generator(3);
  return new ImageDataset(Float32Array.from({ length: n * 784 }, () => g.uniform()), new Int32Array(n), 'random');
}

/** A copy of t with element 0 set to v. */
function poisoned(t: Tensor, v: number): Tensor {
  const d = Float32Array.from(t.dataSync());
  d[0] = v;
  return vg.tensor(d, { shape: [...t.shape] });
}

async function divergence(t: Trainer, train: ImageDataset, readEvery = 2): Promise<TrainingDiverged> {
  const e = await t.trainEpoch(train, { readEvery }).then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(TrainingDiverged);
  return e as TrainingDiverged;
}

describe('Trainer finite probe', () => {
  const train = images(8);

  it('an infinite Adam moment is found and named through the live state', async () => {
    const t = new Trainer({ model: 'mlp', latent: 2, batchSize: 2, lr: 1e-3, beta: 1, seed: 1 });
    await t.trainEpoch(train);
    const sd = t.optimizer.stateDict();
    sd.state.get(3)!.exp_avg_sq = poisoned(sd.state.get(3)!.exp_avg_sq as Tensor, Infinity);
    t.optimizer.loadStateDict(sd);
    const e = await divergence(t, train);
    expect(e.tensor).toBe('optimizer.3.exp_avg_sq');
    expect(e.step).toBe(6); // the first read after the poison: two steps into the second epoch
    expect(e.message).toMatch(/optimizer\.3\.exp_avg_sq \(Adam's second moment of fc\d+\.(weight|bias)\) holds Infinity \(element 0\)/);
  });

  it('a NaN in a batch norm running variance (no effect on the training loss) is found and named', async () => {
    const t = new Trainer({ model: 'conv', latent: 2, batchSize: 2, lr: 1e-3, beta: 1, seed: 1 });
    const name = 'decoder.1.running_var';
    t.model.loadStateDict(new Map([[name, poisoned(t.model.stateDict().get(name)!, NaN)]]), { strict: false });
    const e = await divergence(t, train);
    expect(e.tensor).toBe(name);
    expect(e.step).toBe(2);
  });

  it('a parameter the step made NaN is found and named before the next forward sees it (the loss is still finite)', async () => {
    const t = new Trainer({ model: 'mlp', latent: 2, batchSize: 2, lr: 1e-3, beta: 1, seed: 1 });
    await t.trainEpoch(train);
    const sd = t.optimizer.stateDict();
    sd.state.get(2)!.exp_avg = poisoned(sd.state.get(2)!.exp_avg as Tensor, NaN); // the next step writes NaN into the parameter
    t.optimizer.loadStateDict(sd);
    const e = await divergence(t, train, 1);
    const param = t.model.namedParameters()[2]![0];
    expect(e.tensor).toBe(param); // parameters come before Adam's moments in namedState()
    expect(e.step).toBe(5);
    expect(e.message).toContain(`${param} holds NaN (element 0)`);
  });

  it('stateDict() hands out copies; the live state is the optimiser\'s own tensors', async () => {
    const t = new Trainer({ model: 'mlp', latent: 2, batchSize: 2, lr: 1e-3, beta: 1, seed: 1 });
    await t.trainEpoch(train);
    const live = t.optimizer.liveState().get(0)!.exp_avg as Tensor;
    const copy = t.optimizer.stateDict().state.get(0)!.exp_avg as Tensor;
    expect(copy).not.toBe(live);
    expect(copy.dataSync()).toEqual(live.dataSync());
    await t.trainEpoch(train);
    expect(copy.dataSync()).not.toEqual(live.dataSync()); // the copy did not follow the steps
    expect(t.optimizer.liveState().get(0)!.exp_avg).toBe(live); // updated in place
  });
});
