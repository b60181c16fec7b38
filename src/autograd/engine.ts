// Reverse-mode differentiation: a topological walk from the output, gradients summed (never
// assigned) into each input, leaves' .grad accumulated across backward calls.
//
// Gradients the walk makes are freed as soon as they are consumed (GradientFrees), so a backward
// pass holds only the gradients still pending, not all of them until the garbage collector runs.

import type { Storage } from '../backend/backend.js';
import { Tensor, bornAfter, lastStorageSerial, peekGrad, releaseStorageOf, replaceGrad } from '../tensor.js';
import { onesLike } from '../creation.js';
import { fmtShape, shapeEq } from '../shape.js';
import { Function, OpFunction } from './function.js';
import { enableGrad, noGrad } from './grad-mode.js';

/** Options of backward() (torch.Tensor.backward's retain_graph and create_graph). */
export interface BackwardOptions {
  /** Keep the graph so backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward pass itself (for gradients of gradients); implies retainGraph. */
  createGraph?: boolean;
}

const RELEASED = 'backward: trying to backward through the graph a second time; pass { retainGraph: true } to the first backward';

/** Tensors that need a gradient, outputs first, each after every tensor computed from it. */
function topoOrder(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = roots.map((r) => [r, false]);
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const p of t.gradFn?.inputs ?? []) if (p.requiresGrad && !seen.has(p)) stack.push([p, false]);
  }
  return order.reverse();
}

/** The gradient to start from at an output (`label`: 'output' or 'output i'): given and checked, or ones for a scalar. */
function checkGradFor(op: string, root: Tensor, grad: Tensor | null | undefined, label: string): Tensor {
  if (!root.requiresGrad) {
    throw new Error(`${op}: ${label === 'output' ? 'tensor' : label} does not require grad and has no gradFn (did you forget requiresGrad, or call it inside noGrad?)`);
  }
  if (!grad) {
    if (root.numel !== 1) throw new Error(`${op}: grad can be implicitly created only for scalar outputs, got shape ${fmtShape(root.shape)}${label === 'output' ? '' : ` for ${label}`}; pass a gradient of that shape`);
    return onesLike(root);
  }
  if (!shapeEq(grad.shape, root.shape)) throw new Error(`${op}: gradient of shape ${fmtShape(grad.shape)} does not match ${label} shape ${fmtShape(root.shape)}`);
  if (grad.dtype !== root.dtype) throw new Error(`${op}: gradient dtype ${grad.dtype} does not match ${label} dtype ${root.dtype}`);
  return grad;
}

/**
 * Frees the gradients a walk has consumed, where it can prove nothing else reaches them: the
 * storage was made by an op during this walk (never the user's gradient or anything older), it
 * was never given to or made by a user-written Function's backward (which may keep it), no
 * pending gradient shares it (add's backward hands one gradient to both inputs; views share
 * storage), and the walk does not hand it out (grad() returns its results). Off with createGraph,
 * where gradients are part of a graph.
 */
class GradientFrees {
  /** Pending gradients (entries of the walk's map) per storage. */
  private readonly pending = new Map<Storage, number>();
  private readonly kept = new Set<Storage>();
  private readonly freed = new Set<Storage>();

  /** mark: lastStorageSerial() before the walk made anything (storage numbered above it is the walk's). */
  constructor(
    private readonly mark: number,
    private readonly enabled: boolean,
  ) {}

  add(g: Tensor): void {
    if (this.enabled) this.pending.set(g.storage, (this.pending.get(g.storage) ?? 0) + 1);
  }

  remove(g: Tensor): void {
    if (!this.enabled) return;
    const n = this.pending.get(g.storage)! - 1;
    if (n === 0) this.pending.delete(g.storage);
    else this.pending.set(g.storage, n);
  }

  /** Never free this gradient's storage (handed out, or touched by user code). */
  keep(g: Tensor): void {
    if (this.enabled) this.kept.add(g.storage);
  }

  /** Whether nothing but this tensor can reach its storage (so it may be freed, or handed out instead of a copy). */
  private sole(g: Tensor): boolean {
    const s = g.storage;
    return this.enabled && !this.pending.has(s) && !this.kept.has(s) && !this.freed.has(s) && bornAfter(s, this.mark);
  }

  /** The gradient was consumed: free its storage if nothing can reach it. */
  consumed(g: Tensor): void {
    if (!this.sole(g)) return;
    this.freed.add(g.storage);
    releaseStorageOf(g);
  }

  /** The gradient itself as a leaf's new .grad where nothing else reaches it and it is a whole contiguous storage (else null: clone it). */
  take(g: Tensor): Tensor | null {
    if (!this.sole(g) || g.offset !== 0 || !g.isContiguous() || g.storage.size !== g.numel) return null;
    this.kept.add(g.storage);
    return g;
  }
}

/**
 * The reverse walk shared by backward() and grad(): pushes the roots' gradients through the
 * graph in topological order; `reached(t, g)` receives each tensor's total gradient and says
 * whether to continue through its gradFn; `holds(t)`: whether reached() kept t's gradient itself.
 */
function walk(roots: readonly Tensor[], rootGrads: readonly Tensor[], opts: BackwardOptions, frees: GradientFrees, reached: (t: Tensor, g: Tensor) => boolean, holds: (t: Tensor) => boolean, order = topoOrder(roots)): void {
  const retain = opts.retainGraph || opts.createGraph;
  const run = <T>(f: () => T): T => (opts.createGraph ? enableGrad(f) : noGrad(f));
  const grads = new Map<Tensor, Tensor>();
  /** Sum a gradient into input's pending total (the previous total is consumed by the add). */
  const accumulate = (input: Tensor, ig: Tensor): void => {
    const prev = grads.get(input);
    const total = prev ? run(() => prev.add(ig)) : ig;
    grads.set(input, total);
    frees.add(total);
    if (prev) {
      frees.remove(prev);
      frees.consumed(prev);
    }
  };
  roots.forEach((r, i) => accumulate(r, rootGrads[i]!));
  for (const t of order) {
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    frees.remove(g);
    const go = reached(t, g) && t.gradFn;
    if (holds(t)) frees.keep(g);
    if (!go) {
      frees.consumed(g);
      continue;
    }
    const fn = t.gradFn!;
    if (fn instanceof Function && fn.isReleased) {
      throw new Error(RELEASED);
    }
    if (fn instanceof Function) fn.checkSaved();
    const inGrads = run(() => fn.backward(g));
    const userCode = !(fn instanceof OpFunction);
    if (userCode) frees.keep(g);
    fn.inputs.forEach((input, i) => {
      const ig = inGrads[i];
      if (!input.requiresGrad || !ig) return;
      if (!shapeEq(ig.shape, input.shape)) {
        throw new Error(`internal: ${fn.name}.backward gave a gradient of shape ${fmtShape(ig.shape)} for an input of shape ${fmtShape(input.shape)}`);
      }
      if (userCode) frees.keep(ig);
      accumulate(input, ig);
    });
    frees.consumed(g);
    if (!retain && fn instanceof Function) fn.release();
  }
}

export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  const frees = new GradientFrees(lastStorageSerial(), !opts.createGraph);
  const g = checkGradFor('backward', root, grad, 'output');
  const run = <T>(f: () => T): T => (opts.createGraph ? enableGrad(f) : noGrad(f));
  // .grad gets the walk's gradient itself where nothing else reaches it (createGraph: always), else a clone; or a sum
  walk([root], [g], opts, frees, (t, tg) => {
    if (!t.gradFn || t.retainsGrad) {
      const prev = peekGrad(t);
      replaceGrad(t, run(() => (prev ? prev.add(tg) : opts.createGraph ? tg : frees.take(tg) ?? tg.clone())), opts.createGraph);
    }
    return true;
  }, () => false);
}

/** Options of autograd.grad() (torch.autograd.grad's grad_outputs, retain_graph, create_graph, allow_unused). */
export interface GradOptions extends BackwardOptions {
  /** d(outputs)/d(output) to start from, one per output (null or absent: ones, for scalar outputs only). */
  gradOutputs?: Tensor | readonly (Tensor | null)[];
  /** Give null for an input the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/**
 * The gradients of the outputs (summed) with respect to each input, as new tensors: no .grad is
 * read or written (torch.autograd.grad). With createGraph the results are themselves differentiable.
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs: Tensor[] = Array.isArray(outputs) ? [...outputs] : [outputs as Tensor];
  const ins: Tensor[] = Array.isArray(inputs) ? [...inputs] : [inputs as Tensor];
  const gos: (Tensor | null)[] = opts.gradOutputs === undefined ? [] : Array.isArray(opts.gradOutputs) ? [...opts.gradOutputs] : [opts.gradOutputs as Tensor];
  if (outs.length === 0) throw new Error('autograd.grad: no outputs given');
  if (gos.length && gos.length !== outs.length) throw new Error(`autograd.grad: ${gos.length} gradOutputs for ${outs.length} outputs`);
  const frees = new GradientFrees(lastStorageSerial(), !opts.createGraph);
  const rootGrads = outs.map((o, i) => checkGradFor('autograd.grad', o, gos[i], outs.length > 1 ? `output ${i}` : 'output'));
  ins.forEach((x, i) => {
    if (!(x instanceof Tensor)) throw new Error(`autograd.grad: input ${i} is not a Tensor`);
    if (!x.requiresGrad) throw new Error(`autograd.grad: input ${i} ${fmtShape(x.shape)} does not require grad, so it is not in any graph`);
  });
  // Only the part of the graph between the outputs and the inputs is walked.
  const full = topoOrder(outs);
  const leadsToInput = new Set<Tensor>(ins);
  for (let k = full.length - 1; k >= 0; k--) {
    const t = full[k]!;
    if (t.gradFn instanceof Function && t.gradFn.isReleased) throw new Error(RELEASED);
    if (t.gradFn?.inputs.some((p) => leadsToInput.has(p))) leadsToInput.add(t);
  }
  const wanted = new Set(ins);
  const found = new Map<Tensor, Tensor>();
  walk(outs, rootGrads, opts, frees, (t, g) => {
    if (wanted.has(t)) found.set(t, g);
    return leadsToInput.has(t);
  }, (t) => wanted.has(t), full.filter((t) => leadsToInput.has(t)));
  return ins.map((x, i) => {
    const g = found.get(x);
    // A fresh, contiguous tensor (a gradient may be a view of another one, or of gradOutputs).
    if (g) return opts.createGraph ? g : noGrad(() => g.clone());
    if (opts.allowUnused) return null;
    throw new Error(`autograd.grad: input ${i} ${fmtShape(x.shape)} is not part of the graph of the outputs; pass { allowUnused: true } to get null for it`);
  });
}
