// Adam and AdamW (torch.optim semantics, non-amsgrad), updated in place by the backend's fused
// adamUpdate kernel so one step touches each parameter once.

import { zerosLike } from '../creation.js';
import { adamUpdate_ } from '../ops/adam.js';
import type { Tensor } from '../tensor.js';
import type { ParamsArg, StateValue } from './optimizer.js';
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
  protected update(p: Tensor, grad: Tensor, s: Record<string, StateValue>, h: AdamOptions): void {
    if (s.step === undefined) {
      s.step = 0;
      s.exp_avg = zerosLike(p);
      s.exp_avg_sq = zerosLike(p);
    }
    s.step = (s.step as number) + 1;
    adamUpdate_(p, grad, s.exp_avg as Tensor, s.exp_avg_sq as Tensor, {
      lr: h.lr, beta1: h.betas[0], beta2: h.betas[1], eps: h.eps, weightDecay: h.weightDecay, decoupled: this.decoupled, step: s.step,
    });
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
