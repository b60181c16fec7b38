// The training loop of the reference VAE: seeded shuffling and noise from one generator whose
// state is checkpointed, so a resumed run replays an uninterrupted one bit for bit.

import { noGrad } from '../autograd/grad-mode.js';
import { randn, tensor } from '../creation.js';
import { cat, stack } from '../ops/movement.js';
import { allFinite } from '../ops/finite.js';
import type { Tensor } from '../tensor.js';
import { binaryCrossEntropyWithLogits } from '../ops/loss.js';
import { manualSeed, Generator } from '../random.js';
import type { GeneratorState } from '../random.js';
import type { StateValue } from '../optim/optimizer.js';
import { Adam } from '../optim/adam.js';
import { ImageDataset, permutation } from './data.js';
import { releaseInternal } from '../autograd/saved-frees.js';
import { DataLoader } from '../data/dataloader.js';
import { vaeLoss } from './loss.js';
import type { ModelKind, ModelSize, VAE } from './models.js';
import { createModel } from './models.js';

/** The settings of a training run (the CLI's --model, --latent, --batch-size, --lr, --beta, --seed). */
export interface TrainConfig {
  /** The architecture. */
  model: ModelKind;
  /** Latent dims. */
  latent: number;
  /** Images per batch. */
  batchSize: number;
  /** Adam's learning rate. */
  lr: number;
  /** Weight of the KL term (1: the plain VAE). */
  beta: number;
  /** Seeds the initialisation (seed) and the shuffles and noise (seed + 1). */
  seed: number;
  /**
   * Narrower widths than the model kind's defaults (omitted: the reference model, as the CLI
   * trains it); kept in checkpoints, so a resumed or loaded model has the same widths.
   */
  size?: ModelSize;
}

/** The defaults of `vaegrad train`: conv model, latent 20, batches of 128, lr 1e-3, beta 1, seed 1. */
export const DEFAULT_CONFIG: TrainConfig = { model: 'conv', latent: 20, batchSize: 128, lr: 1e-3, beta: 1, seed: 1 };

/** The loss of one step and its two terms, per image. */
export interface StepStats {
  /** bce + beta * kl. */
  loss: number;
  /** Reconstruction term per image. */
  bce: number;
  /** KL term per image. */
  kl: number;
}

/** StepStats averaged over the images of an epoch (or of its part done so far). */
export interface Averages extends StepStats {
  /** Images the averages cover. */
  images: number;
}

export type { GeneratorState };

/** Training went non-finite: a loss, or a parameter, buffer or Adam moment after a step. */
export class TrainingDiverged extends Error {
  constructor(
    message: string,
    /** The dotted name of the first non-finite tensor ('loss' when the loss itself is). */
    readonly tensor: string,
    /** The optimiser step (counted from the start of training) after which it was found. */
    readonly step: number,
  ) {
    super(message);
    this.name = 'TrainingDiverged';
  }
}

/** The first element of the named tensors that is NaN or infinite, in their order; undefined when all are finite. */
export function firstNonFinite(tensors: Iterable<readonly [string, Tensor]>): { name: string; index: number; value: number } | undefined {
  for (const [name, t] of tensors) {
    if (t.dtype === 'int32') continue;
    const d = t.dataSync();
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return { name, index: i, value: d[i]! };
  }
  return undefined;
}

/** Where training stands: enough to resume exactly. */
export interface Progress {
  /** Completed epochs. */
  epoch: number;
  /** Batches done in the current (incomplete) epoch. */
  step: number;
  /** Generator state at the start of the current epoch (it fixes the epoch's shuffle). */
  rngEpochStart: GeneratorState;
  /** Generator state now. */
  rng: GeneratorState;
}

/** Where Adam's moments go in namedState() (and in a checkpoint). */
export const OPTIMIZER_PREFIX = 'optimizer.';

/** What Trainer.trainEpoch did. */
export interface EpochResult {
  /** The epoch's averages (of the part run, when it stopped early). */
  averages: Averages;
  /** Whether the epoch ran to its end (false: stopped by shouldStop). */
  completed: boolean;
}

/** Trains a VAE with Adam, resumably: its model, optimiser, generator and place in the epoch. */
export class Trainer {
  /** The model being trained. */
  readonly model: VAE;
  /** Adam over the model's parameters. */
  readonly optimizer: Adam;
  /** The generator of the shuffles and the noise. */
  readonly rng: Generator;
  /** Completed epochs. */
  epoch = 0;
  /** Batches done in the current epoch. */
  step = 0;
  private rngEpochStart: GeneratorState;
  private running = { loss: 0, bce: 0, kl: 0, images: 0 };

  /** A trainer for a new model seeded from config.seed (Adam with config.lr). */
  constructor(
    /** The run's settings. */
    readonly config: TrainConfig,
  ) {
    manualSeed(config.seed); // parameter initialisation
    this.model = createModel(config.model, config.latent, config.size);
    this.optimizer = new Adam(this.model.parameters(), { lr: config.lr });
    this.rng = new Generator(config.seed + 1);
    this.rngEpochStart = this.rng.getState();
  }

  /** Batches per epoch; a last batch of a single image is dropped (batch norm needs two). */
  stepsPerEpoch(train: ImageDataset): number {
    const full = Math.floor(train.n / this.config.batchSize);
    return train.n % this.config.batchSize > 1 ? full + 1 : full;
  }

  /**
   * Everything training changes, by dotted name: the model's parameters and persistent buffers
   * (PyTorch's state_dict names), then Adam's moments as 'optimizer.<i>.exp_avg(_sq)', the names
   * they have in a checkpoint.
   */
  namedState(): Map<string, Tensor> {
    return this.stateByName(this.optimizer.stateDict().state);
  }

  /** The model's state_dict and the given optimiser state under namedState()'s names. */
  private stateByName(optimizerState: Map<number, Readonly<Record<string, StateValue>>>): Map<string, Tensor> {
    const out = this.model.stateDict();
    for (const [i, s] of optimizerState) {
      out.set(`${OPTIMIZER_PREFIX}${i}.exp_avg`, s.exp_avg as Tensor);
      out.set(`${OPTIMIZER_PREFIX}${i}.exp_avg_sq`, s.exp_avg_sq as Tensor);
    }
    return out;
  }

  /** A namedState() name for messages: Adam's moments also name their parameter. */
  describeTensor(name: string): string {
    const m = /^optimizer\.(\d+)\.(exp_avg|exp_avg_sq)$/.exec(name);
    const param = m ? this.model.namedParameters()[Number(m[1])]?.[0] : undefined;
    return param ? `${name} (Adam's ${m![2] === 'exp_avg' ? 'first' : 'second'} moment of ${param})` : name;
  }

  /** Optimiser steps since the start of training. */
  globalStep(train: ImageDataset): number {
    return this.epoch * this.stepsPerEpoch(train) + this.step;
  }

  /**
   * Train until the current epoch ends (or shouldStop() says so between steps). Returns the
   * epoch's averages so far and whether the epoch completed. Yields to the event loop between
   * steps so that signals (Ctrl-C) and UI updates get through. The losses are summed on the
   * backend and read back every `readEvery` steps (a GPU pays for each readback); onStep then
   * gets their per-image means over the steps since the last read.
   */
  async trainEpoch(
    train: ImageDataset,
    opts: { onStep?: (step: number, total: number, s: StepStats & { images: number }) => void; shouldStop?: () => boolean; readEvery?: number } = {},
  ): Promise<EpochResult> {
    const model = this.model.train();
    const total = this.stepsPerEpoch(train);
    const readEvery = opts.readEvery ?? 1;
    if (this.step === 0) {
      this.rngEpochStart = this.rng.getState();
      this.running = { loss: 0, bce: 0, kl: 0, images: 0 };
    }
    // The loader draws the epoch's order from this.rng when the first batch is taken; a resumed
    // epoch redraws it from the epoch's starting state and continues at this.step.
    const loader = new DataLoader(train, { batchSize: this.config.batchSize, shuffle: true, generator: this.rng });
    if (this.step > 0) {
      const order = tensor(permutation(train.n, Generator.fromState(this.rngEpochStart)));
      loader.loadStateDict({ epoch: this.epoch, position: this.step, order, generator: null });
    }
    const batches = loader[Symbol.iterator]();
    let pending: Tensor | null = null; // [loss, bce, kl] summed over the images since the last read
    let pendingImages = 0;
    const flush = (): void => {
      if (!pending) return;
      // One readback: the losses and a probe that is 1 when every parameter, buffer and moment is
      // finite; only when it is not are the tensors searched by name.
      const [loss, bce, kl, probe] = Array.from(cat([pending, this.finiteProbe()]).dataSync(), (v, i) => (i < 3 ? v / pendingImages : v));
      const global = this.epoch * total + this.step;
      const when = `step ${global} (epoch ${this.epoch + 1}, batch ${this.step} of ${total})`;
      if (!Number.isFinite(loss!)) throw new TrainingDiverged(`training diverged: the loss is ${loss} at ${when}`, 'loss', global);
      if (probe !== 1) {
        const bad = firstNonFinite(this.namedState());
        if (bad) throw new TrainingDiverged(`training diverged: ${this.describeTensor(bad.name)} holds ${bad.value} (element ${bad.index}) after ${when}`, bad.name, global);
      }
      this.running.loss += loss! * pendingImages;
      this.running.bce += bce! * pendingImages;
      this.running.kl += kl! * pendingImages;
      this.running.images += pendingImages;
      opts.onStep?.(this.step, total, { loss: loss!, bce: bce!, kl: kl!, images: pendingImages });
      pending = null;
      pendingImages = 0;
    };
    while (this.step < total) {
      await yieldToEventLoop();
      if (opts.shouldStop?.()) {
        flush();
        // Stopped before the first batch was taken, the order is not drawn yet: the saved state is
        // the epoch's start, which is where a resumed trainEpoch (at step 0) begins.
        return { averages: this.averages(), completed: false };
      }
      const [x] = batches.next().value as [Tensor, Tensor];
      const out = model.forward(x, { generator: this.rng });
      const { loss, bce, kl } = vaeLoss(out.logits, x, out.mu, out.logvar, this.config.beta);
      // The Trainer hands no gradient out (each .grad is its own storage): freed now, the Linear
      // layers' 6.4 MB a step no longer wait in wasm memory for a major collection (fresh pages
      // every step otherwise).
      this.optimizer.zeroGrad({ free: true });
      loss.backward();
      this.optimizer.step();
      const n = x.shape[0]!;
      const sums = noGrad(() => stack([loss, bce, kl]).mul(n));
      this.releaseStep(train, x, [out.logits, out.mu, out.logvar, out.z, loss, bce, kl]);
      pending = pending ? pending.add(sums) : sums;
      pendingImages += n;
      this.step++;
      if (this.step % readEvery === 0 || this.step === total) flush();
    }
    this.epoch++;
    this.step = 0;
    return { averages: this.averages(), completed: true };
  }

  /**
   * The step's batch, outputs and losses are handed to no one: freed now, not at the next major
   * collection (their ~1 MB a step would otherwise leave fresh wasm pages to fault in). The batch
   * only when the dataset's own getBatch made it (a fresh tensor each batch).
   */
  private releaseStep(train: ImageDataset, x: Tensor, made: Tensor[]): void {
    if (train.getBatch === ImageDataset.prototype.getBatch) made.push(x);
    const seen = new Set<unknown>();
    for (const t of made) {
      if (seen.has(t.storage)) continue; // z is mu itself when sampling uses the mean
      seen.add(t.storage);
      releaseInternal(t);
    }
  }

  /**
   * A float32 [1] tensor that is 1 when every tensor of namedState() is finite, else 0 (allFinite:
   * one pass over the values, at memory speed on wasm, where the parameters and moments an Adam
   * step just wrote and checked are not read again). It reads the optimiser's own moments
   * (liveState), not namedState()'s copies: copying 2 x the parameters every read cost more than the check.
   */
  private finiteProbe(): Tensor {
    return noGrad(() => allFinite(this.stateByName(this.optimizer.liveState()).values()).to('float32').reshape([1]));
  }

  private averages(): Averages {
    const r = this.running;
    const n = Math.max(r.images, 1);
    return { loss: r.loss / n, bce: r.bce / n, kl: r.kl / n, images: r.images };
  }

  /** Where training stands, for a checkpoint. */
  progress(): Progress {
    return { epoch: this.epoch, step: this.step, rngEpochStart: this.rngEpochStart, rng: this.rng.getState() };
  }

  /** Continues from a progress() (and an interrupted epoch's running averages). */
  restore(p: Progress, running?: Averages): void {
    this.epoch = p.epoch;
    this.step = p.step;
    this.rngEpochStart = p.rngEpochStart;
    this.rng.setState(p.rng);
    if (running) this.running = { loss: running.loss * running.images, bce: running.bce * running.images, kl: running.kl * running.images, images: running.images };
  }
}

const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** Test-set metrics of evaluate() (the names of the CLI's JSON output). */
export interface EvalResult {
  /** BCE + KL per image (the negative ELBO at beta 1). */
  test_loss: number;
  /** Reconstruction term per image. */
  test_bce: number;
  /** KL term per image. */
  test_kl: number;
  /** The ELBO per image (-test_loss). */
  elbo: number;
  /** Importance-weighted estimate of -log p(x) per image, in nats. */
  nll_iwae: number;
  /** nll_iwae in bits per pixel. */
  bits_per_dim: number;
  /** Samples per image of the IWAE estimate. */
  k: number;
  /** Test images evaluated. */
  images: number;
}

/**
 * Test-set metrics in eval mode with seeded noise: BCE + KL per image (the training objective
 * at beta = 1, i.e. the negative ELBO, from the first sample) and the importance-weighted
 * estimate of -log p(x) from k samples (IWAE), in nats and bits per pixel.
 */
export function evaluate(model: VAE, test: ImageDataset, opts: { k?: number; seed?: number; batchSize?: number } = {}): EvalResult {
  const k = opts.k ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new Error(`evaluate: k must be a positive integer, got ${k}`);
  const batchSize = opts.batchSize ?? 250;
  const g = new Generator(opts.seed ?? 0);
  model.eval();
  const halfLog2Pi = 0.5 * Math.log(2 * Math.PI) * model.latent;
  let bceSum = 0;
  let klSum = 0;
  let nllSum = 0;
  noGrad(() => {
    for (const [x] of new DataLoader(test, { batchSize })) {
      const n = x.shape[0]!;
      const { mu, logvar } = model.encode(x);
      const std = logvar.mul(0.5).exp();
      const logws: number[][] = Array.from({ length: n }, () => []);
      for (let j = 0; j < k; j++) {
        const eps = randn(mu.shape, { generator: g });
        const z = mu.add(std.mul(eps));
        const bcePer = binaryCrossEntropyWithLogits(model.decode(z), x, { reduction: 'none' }).reshape([n, -1]).sum(1).dataSync();
        const logPz = z.square().sum(1).mul(-0.5).sub(halfLog2Pi).dataSync();
        const logQz = eps.square().add(logvar).sum(1).mul(-0.5).sub(halfLog2Pi).dataSync();
        for (let i = 0; i < n; i++) logws[i]!.push(-bcePer[i]! + logPz[i]! - logQz[i]!);
        if (j === 0) {
          for (let i = 0; i < n; i++) bceSum += bcePer[i]!;
          klSum += mu.square().add(logvar.exp()).sub(logvar).sub(1).mul(0.5).sum().item();
        }
      }
      for (const lw of logws) {
        const m = Math.max(...lw);
        nllSum -= m + Math.log(lw.reduce((a, v) => a + Math.exp(v - m), 0)) - Math.log(k);
      }
    }
  });
  const n = test.n;
  const nll = nllSum / n;
  return {
    test_loss: (bceSum + klSum) / n, test_bce: bceSum / n, test_kl: klSum / n, elbo: -(bceSum + klSum) / n,
    nll_iwae: nll, bits_per_dim: nll / (784 * Math.LN2), k, images: n,
  };
}
