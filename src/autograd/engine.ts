// Reverse-mode differentiation: a topological walk from the output, gradients summed (never
// assigned) into each input, leaves' .grad accumulated across backward calls.

import { Tensor } from '../tensor.js';
import { onesLike } from '../creation.js';
import { fmtShape, shapeEq } from '../shape.js';
import { Function } from './function.js';
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
 * The reverse walk shared by backward() and grad(): pushes the roots' gradients through the
 * graph in topological order; `reached(t, g)` receives each tensor's total gradient and says
 * whether to continue through its gradFn.
 */
function walk(roots: readonly Tensor[], rootGrads: readonly Tensor[], opts: BackwardOptions, reached: (t: Tensor, g: Tensor) => boolean, order = topoOrder(roots)): void {
  const retain = opts.retainGraph || opts.createGraph;
  const run = <T>(f: () => T): T => (opts.createGraph ? enableGrad(f) : noGrad(f));
  const grads = new Map<Tensor, Tensor>();
  roots.forEach((r, i) => {
    const prev = grads.get(r);
    grads.set(r, prev ? run(() => prev.add(rootGrads[i]!)) : rootGrads[i]!);
  });
  for (const t of order) {
    const g = grads.get(t);
    grads.delete(t);
    if (!g || !reached(t, g) || !t.gradFn) continue;
    const fn = t.gradFn;
    if (fn instanceof Function && fn.isReleased) {
      throw new Error(RELEASED);
    }
    if (fn instanceof Function) fn.checkSaved();
    const inGrads = run(() => fn.backward(g));
    fn.inputs.forEach((input, i) => {
      const ig = inGrads[i];
      if (!input.requiresGrad || !ig) return;
      if (!shapeEq(ig.shape, input.shape)) {
        throw new Error(`internal: ${fn.name}.backward gave a gradient of shape ${fmtShape(ig.shape)} for an input of shape ${fmtShape(input.shape)}`);
      }
      const prev = grads.get(input);
      grads.set(input, prev ? run(() => prev.add(ig)) : ig);
    });
    if (!retain && fn instanceof Function) fn.release();
  }
}

export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  const g = checkGradFor('backward', root, grad, 'output');
  const run = <T>(f: () => T): T => (opts.createGraph ? enableGrad(f) : noGrad(f));
  walk([root], [g], opts, (t, tg) => {
    if (!t.gradFn || t.retainsGrad) t.grad = run(() => (t.grad ? t.grad.add(tg) : opts.createGraph ? tg : tg.clone()));
    return true;
  });
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
  walk(outs, rootGrads, opts, (t, g) => {
    if (wanted.has(t)) found.set(t, g);
    return leadsToInput.has(t);
  }, full.filter((t) => leadsToInput.has(t)));
  return ins.map((x, i) => {
    const g = found.get(x);
    // A fresh, contiguous tensor (a gradient may be a view of another one, or of gradOutputs).
    if (g) return opts.createGraph ? g : noGrad(() => g.clone());
    if (opts.allowUnused) return null;
    throw new Error(`autograd.grad: input ${i} ${fmtShape(x.shape)} is not part of the graph of the outputs; pass { allowUnused: true } to get null for it`);
  });
}
