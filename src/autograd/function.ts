// The Function base: one subclass per differentiable primitive, with forward and backward side
// by side (as in tinygrad's mlops). apply() runs forward and links the result into the graph.

import type { GradFn, Tensor } from '../tensor.js';
import { Tensor as TensorClass } from '../tensor.js';
import { isGradEnabled, noGrad } from './grad-mode.js';
import { MemoryLimitError } from '../backend/backend.js';
import type { Storage } from '../backend/backend.js';
import { countSaved, releaseInternal, uncountSaved } from './saved-frees.js';

/** The empty list every Function starts with (most ops run without recording a graph: no arrays to make). */
const NONE: never[] = Object.freeze([]) as never[];

const shapesOf = (args: unknown[]): string =>
  args.filter((a): a is Tensor => a instanceof TensorClass).map((t) => `[${t.shape.join(', ')}]`).join(' and ') || 'its inputs';

/** A tensor backward will read, with its version when it was saved and what it is, for the error. */
interface Saved {
  tensor: Tensor;
  /** Its storage when saved (counted in saved-frees.ts). */
  storage: Storage;
  version: number;
  role: string;
}

/** A Function subclass's forward, typed by its arguments (what apply() passes on). */
interface WithForward<A extends unknown[]> {
  /** Computes the output from these arguments. */
  forward(...args: A): Tensor;
}

export abstract class Function implements GradFn {
  /** The tensor inputs of the op, in order (empty once released). */
  declare inputs: Tensor[];
  /** needsGrad[i]: does input i want a gradient? backward may skip work where it does not. */
  declare needsGrad: boolean[];
  private declare released: boolean;
  private declare saved: Saved[];

  // Assigned, not class fields: a base class's field initialiser sees every subclass's shape, and
  // V8 (Node 20) defines fields at such a megamorphic site through the runtime, ~2 us per op
  // (half of a tiny model's step went to Function bookkeeping); assignments take the fast path.
  /** A Function before apply() runs it (apply() makes one per call: subclasses take no arguments). */
  constructor() {
    this.inputs = NONE;
    this.needsGrad = NONE;
    this.released = false;
    this.saved = NONE;
  }

  /** The op's name in messages: its class name (ExpBackward, ...). */
  get name(): string {
    return this.constructor.name;
  }

  /** Computes the output from the inputs (runs without recording a graph). */
  abstract forward(...args: never[]): Tensor;
  abstract backward(grad: Tensor): (Tensor | null)[];

  /** Runs forward and, when an input requires grad, links the output into the graph (torch.autograd.Function.apply). */
  static apply<A extends unknown[], F extends Function & WithForward<A>>(this: new () => F, ...args: A): Tensor {
    const fn = new this();
    // Forward may compose public ops; none of them belong in the graph, only this Function does.
    let out: Tensor;
    try {
      out = noGrad(() => fn.forward(...args));
    } catch (e) {
      // The backend cannot say which op asked; this is the one place that knows, for every op.
      if (e instanceof MemoryLimitError) throw new Error(`${fn.name.replace(/Backward$/, '')} on ${shapesOf(args)}: ${e.message}`);
      throw e;
    }
    const inputs = args.filter((a): a is Tensor => a instanceof TensorClass);
    if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
      fn.inputs = inputs;
      fn.needsGrad = inputs.map((t) => t.requiresGrad);
      out.gradFn = fn;
      out.requiresGrad = true;
      fn.saved = fn.recordSaved(out);
    }
    if (fn instanceof OpFunction) for (const t of fn.internalTensors()) if (t) releaseInternal(t);
    return out;
  }

  /**
   * The tensors backward reads, by field name. The default is every Tensor field; ops whose
   * gradient needs fewer (add needs none) say so, so that in-place writes to the others are allowed.
   */
  protected savedTensors(): Record<string, Tensor | null | undefined> {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(this)) if (v instanceof TensorClass && k !== 'inputs') out[k] = v;
    return out;
  }

  private recordSaved(out: Tensor): Saved[] {
    const saved: Saved[] = [];
    for (const [k, t] of Object.entries(this.savedTensors())) {
      if (!t) continue;
      const i = this.inputs.indexOf(t);
      const role = i >= 0 ? `input ${i}` : t === out ? 'the output' : `the saved tensor '${k}'`;
      saved.push({ tensor: t, storage: t.storage, version: t.version, role });
      countSaved(t.storage);
    }
    return saved;
  }

  /** Throws, naming the op and the tensor, when a saved tensor was modified in place after it was saved. */
  checkSaved(): void {
    for (const { tensor: t, version, role } of this.saved) {
      if (t.version === version) continue;
      throw new Error(
        `backward: ${role} of ${this.name} (${t.dtype} [${t.shape.join(', ')}]), which its gradient needs, was modified by an in-place operation ` +
          `after it was saved (version ${t.version}, expected ${version}); do the in-place update after backward(), or on a clone()`,
      );
    }
  }

  /** Drop saved tensors once backward has run, so the graph's memory can be collected (internal ones are freed: saved-frees.ts). */
  release(): void {
    for (const { storage } of this.saved) uncountSaved(storage);
    for (const k of Object.keys(this)) {
      if (k !== 'released') (this as Record<string, unknown>)[k] = undefined;
    }
    this.inputs = NONE;
    this.saved = NONE;
    this.released = true;
  }

  /** Whether backward already ran and freed the saved tensors. */
  get isReleased(): boolean {
    return this.released;
  }
}

/**
 * The library's own differentiable ops. Their backward reads its gradient and saved tensors and
 * keeps no reference to them or to its results, so the engine may free a gradient once such a
 * backward has consumed it (a user's Function may keep one: the engine leaves those alone).
 */
export abstract class OpFunction extends Function {
  /**
   * Tensors this op made in forward for its backward and never returns (batch statistics, argmax
   * indices): apply() hands them to releaseInternal, so they are freed once backward has run
   * with the graph released (at once when no graph was recorded).
   */
  internalTensors(): (Tensor | null)[] {
    return [];
  }
}
