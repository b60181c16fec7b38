// SGD with momentum, dampening, Nesterov and weight decay, as torch.optim.SGD.

import type { Tensor } from '../tensor.js';
import type { ParamsArg, StateValue } from './optimizer.js';
import { Optimizer, withDefaults } from './optimizer.js';

/** SGD's hyperparameters (torch.optim.SGD's lr, momentum, dampening, weight_decay, nesterov). */
export interface SGDOptions {
  /** Learning rate (required). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false). */
  nesterov: boolean;
}

/** Stochastic gradient descent with optional momentum, Nesterov and weight decay (torch.optim.SGD). */
export class SGD extends Optimizer<SGDOptions> {
  /** SGD over these parameters (or groups); lr is required. */
  constructor(params: ParamsArg<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    const o = withDefaults<SGDOptions>({ lr: opts.lr, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }, opts);
    if (!(o.lr >= 0)) throw new Error(`SGD: invalid learning rate ${o.lr}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new Error('SGD: nesterov momentum requires a momentum and zero dampening');
    super(params, o);
  }
  protected update(p: Tensor, grad: Tensor, s: Record<string, StateValue>, h: SGDOptions): void {
    let d = h.weightDecay ? grad.add(p.mul(h.weightDecay)) : grad;
    if (h.momentum) {
      const buf = s.momentum_buffer as Tensor | undefined;
      const next = buf ? buf.mul(h.momentum).add(d.mul(1 - h.dampening)) : d.clone();
      s.momentum_buffer = next;
      d = h.nesterov ? d.add(next.mul(h.momentum)) : next;
    }
    p.copy_(p.sub(d.mul(h.lr)));
  }
}
