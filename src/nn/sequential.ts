// Sequential: children numbered 0, 1, ... so state_dict keys match PyTorch's.

import { Tensor } from '../tensor.js';
import { BatchNormNd } from './batchnorm.js';
import { ReLU } from './layers.js';
import { Module } from './module.js';

/**
 * A BatchNorm followed by a ReLU runs as one fused op (BatchNormNd.forwardRelu: the same numbers,
 * one pass over memory each way instead of two). The decision sits here, where the pair is
 * visible, and nowhere else: the layers and their state_dict keys are untouched. Only the stock
 * forward methods fuse: a subclass overriding forward, or an instance whose forward is patched
 * (summary()'s instrumentation), runs layer by layer.
 */
function fusesWithRelu(l: Module, next: Module | undefined): l is BatchNormNd {
  return l instanceof BatchNormNd && l.forward === BatchNormNd.prototype.forward && next instanceof ReLU && next.forward === ReLU.prototype.forward;
}

export class Sequential extends Module {
  private readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((l, i) => {
      if (!(l instanceof Module)) throw new Error(`Sequential: argument ${i} is not a Module`);
    });
    this.layers = layers;
  }
  override namedChildren(): [string, Module][] {
    return this.layers.map((l, i) => [String(i), l]);
  }
  get length(): number {
    return this.layers.length;
  }
  at(i: number): Module {
    const m = this.layers.at(i);
    if (!m) throw new Error(`Sequential: index ${i} out of range for ${this.layers.length} layers`);
    return m;
  }
  append(m: Module): this {
    this.layers.push(m);
    return this;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      const fuse = fusesWithRelu(l, this.layers[i + 1]);
      const y: unknown = fuse ? l.forwardRelu(h) : l.forward(h);
      if (!(y instanceof Tensor)) throw new Error(`Sequential: layer ${i} (${l.constructor.name}) did not return a Tensor`);
      h = y;
      if (fuse) i++;
    }
    return h;
  }
}
