// Adam and AdamW (torch.optim semantics, non-amsgrad), updated in place by the backend's fused
// adamUpdate kernel so one step touches each parameter once, all of a group's parameters in
// one backend call (adamUpdateMany).

import { zerosLike } from '../creation.js';
import { adamUpdateMany_, type AdamTensors } from '../ops/adam.js';
import type { Tensor } from '../tensor.js';
import type { ParamsArg, ParamUpdate, StateValue } from './optimizer.js';
import { Optimizer, withDefaults } from './optimizer.js';

/** Adam's hyperparameters (torch.optim.Adam's lr, betas, eps, weight_decay). */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moments (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps: number;
  /** L2 penalty (Adam: added to the gradient; AdamW: decoupled, default 0.01 there). */
  weightDecay: number;
}

function check(name: string, o: AdamOptions): void {
  if (!(o.lr >= 0)) throw new Error(`${name}: invalid learning rate ${o.lr}`);
  if (!(o.eps >= 0)) throw new Error(`${name}: invalid eps ${o.eps}`);
  o.betas.forEach((b, i) => {
    if (!(b >= 0 && b < 1)) throw new Error(`${name}: invalid beta parameter at index ${i}: ${b}`);
  });
}

/** Adam (torch.optim.Adam): per-parameter adaptive steps from running gradient moments. */
export class Adam extends Optimizer<AdamOptions> {
  protected readonly decoupled: boolean = false;
  /** Adam over these parameters (or groups), lr 1e-3 by default. */
  constructor(params: ParamsArg<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    const o = withDefaults<AdamOptions>({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }, opts);
    check(new.target.name, o);
    super(params, o);
  }
  /** The group's parameters in one adamUpdateMany_ per step count (they share one unless some missed a step without a gradient). */
  protected override updateGroup(items: readonly ParamUpdate[], h: AdamOptions): void {
    const bySteps = new Map<number, AdamTensors[]>();
    for (const { p, grad, state: s } of items) {
      if (s.step === undefined) {
        s.step = 0;
        s.exp_avg = zerosLike(p);
        s.exp_avg_sq = zerosLike(p);
      }
      s.step = (s.step as number) + 1;
      const same = bySteps.get(s.step) ?? bySteps.set(s.step, []).get(s.step)!;
      same.push({ param: p, grad, expAvg: s.exp_avg as Tensor, expAvgSq: s.exp_avg_sq as Tensor });
    }
    for (const [step, ts] of bySteps) {
      adamUpdateMany_(ts, { lr: h.lr, beta1: h.betas[0], beta2: h.betas[1], eps: h.eps, weightDecay: h.weightDecay, decoupled: this.decoupled, step });
    }
  }
  protected update(p: Tensor, grad: Tensor, s: Record<string, StateValue>, h: AdamOptions): void {
    this.updateGroup([{ p, grad, state: s }], h);
  }
}

/** Adam with decoupled weight decay (default 0.01, as torch.optim.AdamW). */
export class AdamW extends Adam {
  protected override readonly decoupled = true;
  /** AdamW over these parameters (or groups), weight decay 0.01 by default. */
  constructor(params: ParamsArg<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, withDefaults<Partial<AdamOptions>>({ weightDecay: 0.01 }, opts));
  }
}
