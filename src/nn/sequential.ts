// Sequential: children numbered 0, 1, ... so state_dict keys match PyTorch's.

import { conv2dBnReluEval, convTranspose2dBnReluEval, gradWanted, linearBnReluEval, type EvalBatchNormSpec } from '../ops/fused.js';
import { Tensor } from '../tensor.js';
import { releaseInternal } from '../autograd/saved-frees.js';
import { BatchNorm1d, BatchNorm2d, BatchNormNd } from './batchnorm.js';
import { Conv2d, ConvTranspose2d } from './conv.js';
import * as layerClasses from './layers.js';
import { MaxPool2d, ReLU } from './layers.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

// Layer fusion. Sequential is where consecutive layers are visible, so the decision to fuse sits
// here and nowhere else; the layers, their parameters and state_dict keys are untouched, and a
// fused run gives the same numbers as the layers one by one (the fused kernels are checked bit
// for bit against their composition in test/conformance/fusion.test.ts). The patterns:
//   BatchNorm -> ReLU: BatchNormNd.forwardRelu (training and eval; one op, one graph node).
//   BatchNorm2d -> ReLU -> MaxPool2d: BatchNormNd.forwardReluMaxPool (one op; the full-size
//     activation stays in the backend).
//   Conv2d -> BatchNorm2d (eval) -> ReLU [-> MaxPool2d], when no gradient is wanted (inference):
//     ops/fused.ts runs the block per chunk of images without materialising the conv output.
//   ConvTranspose2d -> BatchNorm2d (eval) -> ReLU likewise, and Linear -> BatchNorm1d (eval) ->
//     ReLU on [N, features] (ops/fused.ts: the bias and the norm applied to each tile of the product).
// Only stock forward methods fuse: a subclass overriding forward, or an instance whose forward is
// patched (summary()'s instrumentation), runs layer by layer.
const stock = (m: Module | undefined, cls: abstract new (...a: never[]) => Module): boolean =>
  m instanceof cls && m.forward === cls.prototype.forward;

/** An eval-mode batch norm's running statistics and affine parameters, as ops/fused.ts takes them. */
const evalSpec = (bn: BatchNormNd): EvalBatchNormSpec => ({ runningMean: bn.runningMean!, runningVar: bn.runningVar!, weight: bn.weight, bias: bn.bias, eps: bn.eps });

/** Runs the fusable pattern that starts at layers[i] (returning its output and length), or null. */
function runFused(layers: readonly Module[], i: number, h: Tensor): [Tensor, number] | null {
  const [a, b, c, d] = [layers[i], layers[i + 1], layers[i + 2], layers[i + 3]];
  if ((stock(a, Conv2d) || stock(a, ConvTranspose2d)) && stock(b, BatchNorm2d) && stock(c, ReLU)) {
    const conv = a as Conv2d | ConvTranspose2d;
    const bn = b as BatchNormNd;
    if (!bn.training && bn.trackRunningStats && !gradWanted(h, conv.weight, conv.bias, bn.weight, bn.bias) && bn.numFeatures === conv.outChannels) {
      const params = { weight: conv.weight, bias: conv.bias, opts: conv.opts };
      const stats = evalSpec(bn);
      if (conv instanceof ConvTranspose2d) return [convTranspose2dBnReluEval(h, params, stats), 3];
      const pool = stock(d, MaxPool2d) ? (d as MaxPool2d) : null;
      return [conv2dBnReluEval(h, params, stats, pool && { kernelSize: pool.kernelSize, opts: pool.opts }), pool ? 4 : 3];
    }
  }
  if (stock(a, Linear) && stock(b, BatchNorm1d) && stock(c, ReLU)) {
    const lin = a as Linear;
    const bn = b as BatchNormNd;
    if (!bn.training && bn.trackRunningStats && !gradWanted(h, lin.weight, lin.bias, bn.weight, bn.bias) && h.ndim === 2 && bn.numFeatures === lin.outFeatures) {
      return [linearBnReluEval(h, { weight: lin.weight, bias: lin.bias }, evalSpec(bn)), 3];
    }
  }
  if (stock(a, BatchNorm2d) && stock(b, ReLU) && stock(c, MaxPool2d)) {
    const pool = c as MaxPool2d;
    return [(a as BatchNormNd).forwardReluMaxPool(h, { kernelSize: pool.kernelSize, opts: pool.opts }), 3];
  }
  if (stock(a, BatchNormNd) && stock(b, ReLU)) return [(a as BatchNormNd).forwardRelu(h), 2];
  return null;
}

// Intermediates. Between layers of the library (whose forward keeps no reference to its input
// or output; a user's layer may), an intermediate is unreachable but through the graph once the
// next layer has made its output from it, unless that output is a view of it. Its storage is
// freed (Backend.release: the wasm backend's block; a no-op elsewhere) there when no graph saved
// it (inference: one or two activations are held at a time, not all of them until the garbage
// collector runs), else once backward has run through the Functions that saved it with the graph
// released (autograd/saved-frees.ts).

/** The library's layers (stock forward methods only). */
const LIBRARY_LAYERS = new Set<unknown>([...Object.values(layerClasses), Linear, Conv2d, ConvTranspose2d, BatchNorm1d, BatchNorm2d, LayerNorm]);
const libraryLayer = (m: Module): boolean => LIBRARY_LAYERS.has(m.constructor) && m.forward === (m.constructor as { prototype: Module }).prototype.forward;

/** Whether every layer of seq is the library's own (none keeps a reference to what it makes or reads). */
export const libraryLayersOnly = (seq: Sequential): boolean => seq.children().every(libraryLayer);

export class Sequential extends Module {
  private readonly layers: Module[];
  /** A chain of these layers, applied in order. */
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
  /** The number of layers. */
  get length(): number {
    return this.layers.length;
  }
  /** Layer i (negative counts from the end) (indexing a torch.nn.Sequential). */
  at(i: number): Module {
    const m = this.layers.at(i);
    if (!m) throw new Error(`Sequential: index ${i} out of range for ${this.layers.length} layers`);
    return m;
  }
  /** Adds a layer at the end (torch.nn.Sequential.append). */
  append(m: Module): this {
    this.layers.push(m);
    return this;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    let hInternal = false; // h was made here, by library layers, from x
    for (let i = 0; i < this.layers.length; ) {
      const l = this.layers[i]!;
      const fused = runFused(this.layers, i, h);
      const n = fused ? fused[1] : 1;
      const y: unknown = fused ? fused[0] : l.forward(h);
      if (!(y instanceof Tensor)) throw new Error(`Sequential: layer ${i} (${l.constructor.name}) did not return a Tensor`);
      const library = this.layers.slice(i, i + n).every(libraryLayer);
      if (hInternal && library && y.storage !== h.storage) releaseInternal(h);
      hInternal = library && y.storage !== x.storage;
      h = y;
      i += n;
    }
    return h;
  }
}

LIBRARY_LAYERS.add(Sequential);
