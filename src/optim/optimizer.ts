// Optimizer base: parameter groups with their hyperparameters, per-parameter state, zeroGrad,
// and stateDict/loadStateDict in PyTorch's shape so that training resumes exactly.

import { noGrad } from '../autograd/grad-mode.js';
import { fmtShape, shapeEq } from '../shape.js';
import { Tensor, clearGrad, peekGrad } from '../tensor.js';

/** Parameters that share hyperparameters (torch's param_groups entry). */
export interface ParamGroup<H> {
  /** The parameters of the group. */
  params: Tensor[];
  /** The group's hyperparameters (lr, ...): change them to change the next steps. */
  options: H;
}

/** What an optimiser takes: the parameters, or groups of them with their own options. */
export type ParamsArg<H> = Tensor[] | ParamGroupArg<H>[];

/** One parameter group as an optimiser takes it: the parameters and the options that differ from the defaults. */
export interface ParamGroupArg<H> {
  /** The group's parameters. */
  params: Tensor[];
  /** Hyperparameters of this group (the rest are the optimiser's). */
  options?: Partial<H>;
}

/** A saved parameter group: its options and its parameters' indices across all groups. */
export interface SavedParamGroup<H> {
  /** The group's hyperparameters. */
  options: H;
  /** Indices of its parameters (counting across all groups, as PyTorch). */
  params: number[];
}

/** What every optimiser's hyperparameters include. */
export interface HasLr {
  /** The learning rate. */
  lr: number;
}

/** One entry of an optimiser's per-parameter state (a moment tensor, a step count). */
export type StateValue = Tensor | number;
/** An optimiser's state_dict, as PyTorch's: per-parameter state and the groups' options. */
export interface OptimizerState<H> {
  /** Per-parameter state, keyed by the parameter's index across all groups (as PyTorch). */
  state: Map<number, Record<string, StateValue>>;
  /** Each group's options and the indices of its parameters. */
  paramGroups: SavedParamGroup<H>[];
}

/** One parameter's part of a step: the parameter, its gradient (contiguous) and its state. */
export interface ParamUpdate {
  p: Tensor;
  grad: Tensor;
  state: Record<string, StateValue>;
}

/** defaults overridden by the options that are set (an explicit undefined keeps the default). */
export function withDefaults<H extends object>(defaults: H, opts: Partial<H> = {}): H {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Base of the optimisers: parameter groups, per-parameter state, zeroGrad, step and state dicts (torch.optim.Optimizer). */
export abstract class Optimizer<H extends HasLr> {
  /** The parameter groups, with their options (torch's param_groups). */
  readonly paramGroups: ParamGroup<H>[];
  protected state = new Map<Tensor, Record<string, StateValue>>();

  /** Checks the parameters (leaves that require grad, each once) and fills each group's options from the defaults. */
  constructor(params: ParamsArg<H>, defaults: H) {
    const name = new.target.name;
    if (!Array.isArray(params) || params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const groups = params[0] instanceof Tensor ? [{ params: params as Tensor[] }] : (params as ParamGroupArg<H>[]);
    this.paramGroups = groups.map((g, gi) => {
      g.params.forEach((p, i) => {
        if (!(p instanceof Tensor)) throw new Error(`${name}: parameter ${i} of group ${gi} is not a Tensor`);
        if (!p.requiresGrad || !p.isLeaf) throw new Error(`${name}: parameter ${i} of group ${gi} ${fmtShape(p.shape)} must be a leaf tensor that requires grad`);
      });
      return { params: [...g.params], options: withDefaults(defaults, (g as { options?: Partial<H> }).options) };
    });
    const all = this.paramGroups.flatMap((g) => g.params);
    if (new Set(all).size !== all.length) throw new Error(`${name}: some parameters appear more than once`);
  }

  /**
   * Clears the gradients of every parameter (sets .grad to null, as torch's set_to_none). A
   * gradient nobody has read (.grad) is freed now; one that was read is left to the garbage
   * collector, unless `free`: the caller vouches nothing holds them, and all are freed now (a
   * kept .grad then throws use-after-free).
   */
  zeroGrad(opts: { free?: boolean } = {}): void {
    for (const g of this.paramGroups) for (const p of g.params) clearGrad(p, opts.free);
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        const items: ParamUpdate[] = [];
        for (const p of group.params) {
          const grad = peekGrad(p);
          if (!grad) continue;
          let s = this.state.get(p);
          if (!s) this.state.set(p, (s = {}));
          items.push({ p, grad: grad.contiguous(), state: s });
        }
        this.updateGroup(items, group.options);
      }
    });
  }

  /** The updates of one group's parameters that have a gradient: one by one (update), unless an optimiser batches them. */
  protected updateGroup(items: readonly ParamUpdate[], h: H): void {
    for (const { p, grad, state } of items) this.update(p, grad, state, h);
  }

  protected abstract update(p: Tensor, grad: Tensor, state: Record<string, StateValue>, h: H): void;

  /** The state to save: per-parameter state (by index) and the groups' options (torch's state_dict). */
  stateDict(): OptimizerState<H> {
    const state = new Map<number, Record<string, StateValue>>();
    for (const [i, s] of this.liveState()) state.set(i, Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Tensor ? v.clone() : v])));
    let i = 0;
    const paramGroups = this.paramGroups.map((g) => ({ options: { ...g.options }, params: g.params.map(() => i++) }));
    return { state, paramGroups };
  }

  /**
   * The per-parameter state by index as stateDict() numbers it, holding the optimiser's own
   * tensors (stateDict() hands out copies). For read-only checks inside the library that run
   * every few steps (the Trainer's finite probe), where copying every moment would cost more
   * than the check: the tensors change in place at the next step and must not be kept or written.
   * @internal
   */
  liveState(): Map<number, Readonly<Record<string, StateValue>>> {
    const out = new Map<number, Readonly<Record<string, StateValue>>>();
    this.paramGroups.flatMap((g) => g.params).forEach((p, i) => {
      const s = this.state.get(p);
      if (s) out.set(i, s);
    });
    return out;
  }

  /** Restores a stateDict(), checking that it fits these parameters (torch's load_state_dict). */
  loadStateDict(sd: OptimizerState<H>): void {
    const name = this.constructor.name;
    const params = this.paramGroups.flatMap((g) => g.params);
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`${name}.loadStateDict: ${sd.paramGroups.length} parameter groups in the state, ${this.paramGroups.length} in the optimizer`);
    }
    sd.paramGroups.forEach((g, gi) => {
      if (g.params.length !== this.paramGroups[gi]!.params.length) {
        throw new Error(`${name}.loadStateDict: group ${gi} has ${g.params.length} parameters in the state, ${this.paramGroups[gi]!.params.length} in the optimizer`);
      }
    });
    for (const [i, s] of sd.state) {
      const p = params[i];
      if (!p) throw new Error(`${name}.loadStateDict: state for parameter ${i}, but the optimizer has ${params.length}`);
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor && !shapeEq(v.shape, p.shape)) {
          throw new Error(`${name}.loadStateDict: state '${k}' of parameter ${i} has shape ${fmtShape(v.shape)}, parameter has ${fmtShape(p.shape)}`);
        }
      }
    }
    this.paramGroups.forEach((g, gi) => Object.assign(g.options, sd.paramGroups[gi]!.options));
    this.state = new Map();
    for (const [i, s] of sd.state) {
      const p = params[i]!;
      this.state.set(p, Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v instanceof Tensor ? v.to(p.dtype).clone() : v])));
    }
  }
}
