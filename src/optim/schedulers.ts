// Learning-rate schedulers (torch.optim.lr_scheduler): call step() once per epoch (or per
// iteration, as you choose); each sets the lr of every parameter group from its base lr.

import type { Optimizer } from './optimizer.js';

/** Base of the learning-rate schedulers: sets each group's lr from its base lr and the epoch (torch.optim.lr_scheduler.LRScheduler). */
export abstract class LRScheduler {
  /** Steps taken so far (torch's last_epoch). */
  lastEpoch = 0;
  /** Each group's lr when the scheduler was made. */
  readonly baseLrs: number[];
  /** A scheduler of this optimiser's learning rates; subclasses set the first epoch's lr. */
  constructor(protected readonly optimizer: Optimizer<{ lr: number }>) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.options.lr);
  }
  /** lr for group i at epoch this.lastEpoch. */
  protected abstract lrAt(base: number, epoch: number): number;
  /** Subclasses call this last in their constructor, once their own fields are set. */
  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.options.lr = this.lrAt(this.baseLrs[i]!, this.lastEpoch)));
  }
  /** Advances one epoch (or iteration) and sets the new lr of every group. */
  step(): void {
    this.lastEpoch++;
    this.apply();
  }
  /** The lr of each group now (torch's get_last_lr). */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.options.lr);
  }
  /** The state to save: the epoch reached. */
  stateDict(): {
    /** Steps taken. */
    lastEpoch: number;
  } {
    return { lastEpoch: this.lastEpoch };
  }
  /** Restores a stateDict() and sets the lr it implies. */
  loadStateDict(s: { lastEpoch: number }): void {
    if (!Number.isInteger(s?.lastEpoch) || s.lastEpoch < 0) throw new Error(`${this.constructor.name}.loadStateDict: lastEpoch must be a non-negative integer`);
    this.lastEpoch = s.lastEpoch;
    this.apply();
  }
}

/** lr * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  /** Decays the lr by gamma every stepSize epochs. */
  constructor(
    opt: Optimizer<{ lr: number }>,
    /** Epochs between decays. */
    readonly stepSize: number,
    /** The decay factor (default 0.1). */
    readonly gamma = 0.1,
  ) {
    if (!Number.isInteger(stepSize) || stepSize <= 0) throw new Error(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
    super(opt);
    this.apply();
  }
  protected lrAt(base: number, e: number): number { return base * this.gamma ** Math.floor(e / this.stepSize); }
}

/** lr * gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  /** Decays the lr by gamma every epoch. */
  constructor(
    opt: Optimizer<{ lr: number }>,
    /** The decay factor per epoch. */
    readonly gamma: number,
  ) {
    super(opt);
    this.apply();
  }
  protected lrAt(base: number, e: number): number { return base * this.gamma ** e; }
}

/** Cosine from lr down to etaMin over tMax epochs, and back up after (the closed form of CosineAnnealingLR). */
export class CosineAnnealingLR extends LRScheduler {
  /** Cosine annealing from the lr to etaMin over tMax epochs. */
  constructor(
    opt: Optimizer<{ lr: number }>,
    /** Epochs of the descent to etaMin. */
    readonly tMax: number,
    /** The lowest lr (default 0). */
    readonly etaMin = 0,
  ) {
    if (!(tMax > 0)) throw new Error(`CosineAnnealingLR: tMax must be positive, got ${tMax}`);
    super(opt);
    this.apply();
  }
  protected lrAt(base: number, e: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * e) / this.tMax))) / 2;
  }
}

/** Linear warm-up from startFactor * lr to lr over totalIters epochs, then constant (LinearLR). */
export class LinearWarmup extends LRScheduler {
  /** Linear warm-up from startFactor * lr to lr over totalIters epochs. */
  constructor(
    opt: Optimizer<{ lr: number }>,
    /** Epochs of the warm-up. */
    readonly totalIters: number,
    /** The first epoch's lr as a fraction of the base lr (default 1/3). */
    readonly startFactor = 1 / 3,
  ) {
    if (!(startFactor > 0 && startFactor <= 1)) throw new Error(`LinearWarmup: startFactor must be in (0, 1], got ${startFactor}`);
    super(opt);
    this.apply();
  }
  protected lrAt(base: number, e: number): number {
    return base * (this.startFactor + ((1 - this.startFactor) * Math.min(e, this.totalIters)) / this.totalIters);
  }
}
