// Reverse-mode differentiation: a topological walk from the output, gradients summed (never
// assigned) into each input, leaves' .grad accumulated across backward calls.

import type { Tensor } from '../tensor.js';
import { onesLike } from '../creation.js';
import { fmtShape, shapeEq } from '../shape.js';
import { Function } from './function.js';
import { enableGrad, noGrad } from './grad-mode.js';

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward pass itself (for gradients of gradients); implies retainGraph. */
  createGraph?: boolean;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
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

export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error('backward: tensor does not require grad and has no gradFn (did you forget requiresGrad, or call it inside noGrad?)');
  if (!grad) {
    if (root.numel !== 1) throw new Error(`backward: grad can be implicitly created only for scalar outputs, got shape ${fmtShape(root.shape)}; pass a gradient of that shape`);
    grad = onesLike(root);
  } else if (!shapeEq(grad.shape, root.shape)) {
    throw new Error(`backward: gradient of shape ${fmtShape(grad.shape)} does not match output shape ${fmtShape(root.shape)}`);
  } else if (grad.dtype !== root.dtype) {
    throw new Error(`backward: gradient dtype ${grad.dtype} does not match output dtype ${root.dtype}`);
  }
  const retain = opts.retainGraph || opts.createGraph;
  const run = <T>(f: () => T): T => (opts.createGraph ? enableGrad(f) : noGrad(f));
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  const order = topoOrder(root);
  for (const t of order) {
    const g = grads.get(t);
    grads.delete(t);
    if (!g) continue;
    if (!t.gradFn || t.retainsGrad) {
      t.grad = run(() => (t.grad ? t.grad.add(g) : opts.createGraph ? g : g.clone()));
      if (!t.gradFn) continue;
    }
    const fn = t.gradFn;
    if (fn instanceof Function && fn.isReleased) {
      throw new Error('backward: trying to backward through the graph a second time; pass { retainGraph: true } to the first backward');
    }
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
