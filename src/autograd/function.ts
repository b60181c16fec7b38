// The Function base: one subclass per differentiable primitive, with forward and backward side
// by side (as in tinygrad's mlops). apply() runs forward and links the result into the graph.

import type { GradFn, Tensor } from '../tensor.js';
import { Tensor as TensorClass } from '../tensor.js';
import { isGradEnabled, noGrad } from './grad-mode.js';

export abstract class Function implements GradFn {
  inputs: Tensor[] = [];
  /** needsGrad[i]: does input i want a gradient? backward may skip work where it does not. */
  needsGrad: boolean[] = [];
  private released = false;

  get name(): string {
    return this.constructor.name;
  }

  abstract forward(...args: never[]): Tensor;
  abstract backward(grad: Tensor): (Tensor | null)[];

  static apply<A extends unknown[], F extends Function & { forward(...args: A): Tensor }>(this: new () => F, ...args: A): Tensor {
    const fn = new this();
    // Forward may compose public ops; none of them belong in the graph, only this Function does.
    const out = noGrad(() => fn.forward(...args));
    const inputs = args.filter((a): a is Tensor => a instanceof TensorClass);
    if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
      fn.inputs = inputs;
      fn.needsGrad = inputs.map((t) => t.requiresGrad);
      out.gradFn = fn;
      out.requiresGrad = true;
    }
    return out;
  }

  /** Drop saved tensors once backward has run, so the graph's memory can be collected. */
  release(): void {
    for (const k of Object.keys(this)) {
      if (k !== 'released') (this as Record<string, unknown>)[k] = undefined;
    }
    this.inputs = [];
    this.released = true;
  }

  get isReleased(): boolean {
    return this.released;
  }
}
