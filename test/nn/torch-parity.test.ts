// PyTorch parity of every nn layer: a state_dict saved by PyTorch (scripts/make-nn-fixtures.py)
// loads into the equivalent vaegrad module and gives the same outputs, loss, gradients and
// updated buffers, in train and eval mode. float32 throughout, so tolerances are float32's.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { loadSafetensorsWithMetadata } from '../../src/node/index.js';
import type { Tensor } from '../../src/index.js';

const dir = new URL('../fixtures/nn/', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as {
  fixtures: { name: string; file: string; mode: 'train' | 'eval'; stateAfter: boolean }[];
};

type Spec = { module: string; kwargs?: Record<string, unknown>; layers?: Spec[]; heads?: Record<string, Spec> };

/** The fixture script's Blocks: a ModuleList applied in turn, then heads.a(h) + heads.b(h) from a ModuleDict. */
class Blocks extends vg.nn.Module {
  layers: vg.nn.ModuleList;
  heads: vg.nn.ModuleDict;
  constructor(layers: vg.nn.Module[], heads: Record<string, vg.nn.Module>) {
    super();
    this.layers = new vg.nn.ModuleList(layers);
    this.heads = new vg.nn.ModuleDict(heads);
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) h = layer.forward(h) as Tensor;
    return (this.heads.get('a').forward(h) as Tensor).add(this.heads.get('b').forward(h) as Tensor);
  }
}

/** The vaegrad module a PyTorch module spec describes. */
export function build(spec: Spec): vg.nn.Module {
  const k = (spec.kwargs ?? {}) as Record<string, never>;
  const nn = vg.nn;
  switch (spec.module) {
    case 'Linear': return new nn.Linear(k.in_features, k.out_features, { bias: k.bias });
    case 'Conv2d': return new nn.Conv2d(k.in_channels, k.out_channels, k.kernel_size, { stride: k.stride, padding: k.padding, dilation: k.dilation, groups: k.groups, bias: k.bias });
    case 'ConvTranspose2d': return new nn.ConvTranspose2d(k.in_channels, k.out_channels, k.kernel_size, { stride: k.stride, padding: k.padding, dilation: k.dilation, groups: k.groups, bias: k.bias, outputPadding: k.output_padding });
    case 'BatchNorm1d': return new nn.BatchNorm1d(k.num_features, { eps: k.eps, momentum: k.momentum, affine: k.affine });
    case 'BatchNorm2d': return new nn.BatchNorm2d(k.num_features, { eps: k.eps, momentum: k.momentum, affine: k.affine });
    case 'MaxPool2d': return new nn.MaxPool2d(k.kernel_size, { stride: k.stride ?? undefined, padding: k.padding });
    case 'AvgPool2d': return new nn.AvgPool2d(k.kernel_size, { stride: k.stride ?? undefined, padding: k.padding, countIncludePad: k.count_include_pad });
    case 'ReLU': return new nn.ReLU();
    case 'LeakyReLU': return new nn.LeakyReLU(k.negative_slope);
    case 'Sigmoid': return new nn.Sigmoid();
    case 'Tanh': return new nn.Tanh();
    case 'Flatten': return new nn.Flatten(k.start_dim, k.end_dim);
    case 'Unflatten': return new nn.Unflatten(k.dim, k.unflattened_size);
    case 'LayerNorm': return new nn.LayerNorm(k.normalized_shape, { eps: k.eps, elementwiseAffine: k.elementwise_affine });
    case 'Embedding': return new nn.Embedding(k.num_embeddings, k.embedding_dim, { paddingIdx: k.padding_idx });
    case 'GELU': return new nn.GELU({ approximate: k.approximate });
    case 'SiLU': return new nn.SiLU();
    case 'ELU': return new nn.ELU(k.alpha);
    case 'Softmax': return new nn.Softmax(k.dim);
    case 'LogSoftmax': return new nn.LogSoftmax(k.dim);
    case 'AdaptiveAvgPool2d': return new nn.AdaptiveAvgPool2d(k.output_size);
    case 'Dropout2d': return new nn.Dropout2d(k.p);
    case 'Blocks': return new Blocks(spec.layers!.map(build), Object.fromEntries(Object.entries(spec.heads!).map(([n, s]) => [n, build(s)])));
    case 'Sequential': return new nn.Sequential(...spec.layers!.map(build));
    default: throw new Error(`no vaegrad equivalent for ${spec.module}`);
  }
}

export function expectClose(actual: Tensor, expected: Tensor, what: string, rtol = 1e-4, atol = 1e-5): number {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  const scale = Array.from(e).reduce((m, v) => Math.max(m, Math.abs(v)), 1);
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const err = Math.abs(a[i]! - e[i]!);
    worst = Math.max(worst, err / scale);
    if (!(err <= atol * scale + rtol * Math.abs(e[i]!))) {
      throw new Error(`${what}: element ${i}: vaegrad ${a[i]}, PyTorch ${e[i]} (|err| ${err})`);
    }
  }
  return worst;
}

function prefixed(t: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  return new Map([...t].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

describe.each(['js', 'wasm'])('PyTorch parity of nn layers (%s backend)', (backend) => {
  beforeAll(async () => {
    await vg.setBackend(backend);
  });

  it.each(manifest.fixtures.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    const { tensors, metadata } = await loadSafetensorsWithMetadata(`${dir}${f.file}`);
    const m = build(JSON.parse(metadata.spec!) as Spec);
    const state = prefixed(tensors, 'state.');
    expect([...m.stateDict().keys()].sort(), 'state_dict keys').toEqual([...state.keys()].sort()); // the file sorts its keys
    m.loadStateDict(state);
    if (f.mode === 'eval') m.eval();
    else m.train();
    const raw = tensors.get('input')!;
    const input = raw.dtype === 'int32' ? raw : raw.clone().requiresGrad_(); // Embedding's indices take no gradient
    const out = m.forward(input) as Tensor;
    expectClose(out, tensors.get('output')!, 'output');
    const loss = out.mul(tensors.get('v')!).sum();
    expectClose(loss, tensors.get('loss')!, 'loss');
    loss.backward();
    if (tensors.has('grad.input')) expectClose(input.grad!, tensors.get('grad.input')!, 'grad of input');
    for (const [name, p] of m.namedParameters()) expectClose(p.grad!, tensors.get(`grad.${name}`)!, `grad of ${name}`);
    if (f.stateAfter) {
      const after = prefixed(tensors, 'state_after.');
      for (const [k, v] of m.stateDict()) {
        if (v.dtype === 'int32') expect(v.item(), k).toBe(after.get(k)!.item());
        else expectClose(v, after.get(k)!, `state after forward: ${k}`);
      }
    }
  });
});
