// Sequential: children numbered 0, 1, ... so state_dict keys match PyTorch's.

import { Tensor } from '../tensor.js';
import { Module } from './module.js';

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
    return this.layers.reduce((h, l, i) => {
      const y = l.forward(h);
      if (!(y instanceof Tensor)) throw new Error(`Sequential: layer ${i} (${l.constructor.name}) did not return a Tensor`);
      return y;
    }, x);
  }
}
