// nn.Module behaviour: discovery of parameters, buffers and children; dotted names; train/eval;
// stateDict/loadStateDict (all-or-nothing, clear errors); init; summary; layer errors.

import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { loadSafetensors, saveSafetensors } from '../../src/node/index.js';
import { ConvVAE, MlpVAE } from '../../src/vae/index.js';

const { nn } = vg;

class Net extends nn.Module {
  fc1 = new nn.Linear(4, 3);
  bn = new nn.BatchNorm1d(3);
  head = new nn.Sequential(new nn.ReLU(), new nn.Linear(3, 2, { bias: false }));
  forward(x: vg.Tensor): vg.Tensor {
    return this.head.forward(this.bn.forward(this.fc1.forward(x)));
  }
}

beforeAll(async () => {
  await vg.setBackend('js');
});

describe('Module', () => {
  it('finds parameters and children in declaration order with dotted names', () => {
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual(['fc1.weight', 'fc1.bias', 'bn.weight', 'bn.bias', 'head.1.weight']);
    expect(net.namedBuffers().map(([n]) => n)).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'fc1', 'bn', 'head', 'head.0', 'head.1']);
    expect([...net.stateDict().keys()]).toEqual([
      'fc1.weight', 'fc1.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'head.1.weight',
    ]);
  });

  it('gives the reference model exactly the PyTorch state_dict keys of the spec', () => {
    const keys = [...new ConvVAE().stateDict().keys()];
    const bn = (p: string): string[] => ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map((k) => `${p}.${k}`);
    const lin = (p: string): string[] => [`${p}.weight`, `${p}.bias`];
    expect(keys).toEqual([
      ...lin('encoder.0'), ...bn('encoder.1'), ...lin('encoder.4'), ...bn('encoder.5'), ...lin('encoder.9'), ...bn('encoder.10'),
      ...lin('fc_mu'), ...lin('fc_logvar'),
      ...lin('decoder_input.0'), ...bn('decoder_input.1'), ...lin('decoder_input.3'), ...bn('decoder_input.4'),
      ...lin('decoder.0'), ...bn('decoder.1'), ...lin('decoder.3'),
    ]);
    expect(new ConvVAE().stateDict().get('encoder.1.num_batches_tracked')!.dtype).toBe('int32');
    expect([...new MlpVAE().stateDict().keys()]).toEqual(['fc1', 'fc21', 'fc22', 'fc3', 'fc4'].flatMap(lin));
  });

  it('switches train/eval recursively and zeroes gradients', () => {
    const net = new Net();
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    net.forward(vg.randn([5, 4])).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('applies a function to every module, children first', () => {
    const seen: string[] = [];
    new Net().apply((m) => seen.push(m.constructor.name));
    expect(seen).toEqual(['Linear', 'BatchNorm1d', 'ReLU', 'Linear', 'Sequential', 'Net']);
  });

  it('round-trips a state dict in place, so optimisers keep their parameters', () => {
    const a = new Net();
    const b = new Net();
    a.forward(vg.randn([6, 4])); // moves running stats and the step counter
    const w = b.fc1.weight;
    b.loadStateDict(a.stateDict());
    expect(b.fc1.weight).toBe(w);
    for (const [k, v] of a.stateDict()) expect(Array.from(b.stateDict().get(k)!.dataSync()), k).toEqual(Array.from(v.dataSync()));
    expect(b.bn.numBatchesTracked!.item()).toBe(1);
  });

  it('reports missing, unexpected and mis-shaped keys and changes nothing on failure', () => {
    const net = new Net();
    const before = Array.from(net.fc1.weight.dataSync());
    const sd = new Net().stateDict();
    sd.delete('fc1.bias');
    sd.set('extra.weight', vg.zeros([1]));
    sd.set('head.1.weight', vg.zeros([9, 9]));
    expect(() => net.loadStateDict(sd)).toThrow(/missing keys: fc1.bias[\s\S]*unexpected keys: extra.weight[\s\S]*head.1.weight: shape \[9, 9\] in the state dict, \[2, 3\] in the model/);
    expect(Array.from(net.fc1.weight.dataSync())).toEqual(before);
    sd.set('head.1.weight', vg.zeros([2, 3]));
    const r = net.loadStateDict(sd, { strict: false });
    expect(r).toEqual({ missingKeys: ['fc1.bias'], unexpectedKeys: ['extra.weight'] });
  });

  it('prints a torchinfo-like summary', () => {
    const s = new ConvVAE().summary(vg.zeros([2, 1, 28, 28]));
    expect(s).toMatch(/Conv2d \(encoder\.0\)\s+\[2, 32, 28, 28\]\s+320/);
    expect(s).toMatch(/ConvTranspose2d \(decoder\.3\)\s+\[2, 1, 28, 28\]\s+513/);
    expect(s).toMatch(/Total params: 1,684,361/);
  });

  it('round-trips the reference model through a safetensors file (num_batches_tracked as I64)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vaegrad-sd-'));
    const m = new ConvVAE();
    m.forward(vg.rand([3, 1, 28, 28]));
    await saveSafetensors(join(dir, 'm.safetensors'), m.stateDict());
    const m2 = new ConvVAE();
    m2.loadStateDict(await loadSafetensors(join(dir, 'm.safetensors')));
    for (const [k, v] of m.stateDict()) expect(Array.from(m2.stateDict().get(k)!.dataSync()), k).toEqual(Array.from(v.dataSync()));
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    writeFileSync(join(dir, 'bad.safetensors'), 'not a safetensors file at all');
    await expect(loadSafetensors(join(dir, 'bad.safetensors'))).rejects.toThrow(/bad\.safetensors/);
  });
});

describe('initialisation', () => {
  const bound = (t: vg.Tensor): number => t.abs().max().item();
  it("uses PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for Linear, Conv2d and ConvTranspose2d", () => {
    vg.manualSeed(3);
    const lin = new nn.Linear(400, 300);
    expect(bound(lin.weight)).toBeLessThanOrEqual(1 / 20);
    expect(bound(lin.weight)).toBeGreaterThan(0.95 / 20);
    expect(bound(lin.bias!)).toBeLessThanOrEqual(1 / 20);
    const conv = new nn.Conv2d(32, 64, 3);
    expect(bound(conv.weight)).toBeLessThanOrEqual(1 / Math.sqrt(32 * 9));
    expect(bound(conv.weight)).toBeGreaterThan(0.95 / Math.sqrt(32 * 9));
    // fan_in of ConvTranspose2d is weight.shape[1] * kH * kW = out_channels / groups * 16
    const ct = new nn.ConvTranspose2d(64, 32, 4, { stride: 2, padding: 1 });
    expect(ct.weight.shape).toEqual([64, 32, 4, 4]);
    expect(bound(ct.weight)).toBeLessThanOrEqual(1 / Math.sqrt(32 * 16));
    expect(bound(ct.weight)).toBeGreaterThan(0.95 / Math.sqrt(32 * 16));
    const bn = new nn.BatchNorm2d(8);
    expect(Array.from(bn.weight!.dataSync())).toEqual(new Array(8).fill(1));
    expect(Array.from(bn.bias!.dataSync())).toEqual(new Array(8).fill(0));
  });

  it('kaiming and xavier helpers have the right spread, and are seeded', () => {
    const t = vg.zeros([256, 512]);
    const std = (x: vg.Tensor): number => Math.sqrt(x.var().item());
    vg.nn.init.kaimingNormal_(t, { nonlinearity: 'relu' });
    expect(std(t)).toBeCloseTo(Math.sqrt(2 / 512), 2);
    vg.nn.init.kaimingUniform_(t, { nonlinearity: 'relu', mode: 'fanOut' });
    expect(bound(t)).toBeLessThanOrEqual(Math.sqrt(6 / 256));
    vg.nn.init.xavierUniform_(t);
    expect(bound(t)).toBeLessThanOrEqual(Math.sqrt(6 / 768));
    vg.nn.init.xavierNormal_(t);
    expect(std(t)).toBeCloseTo(Math.sqrt(2 / 768), 2);
    vg.nn.init.zeros_(t);
    expect(t.abs().sum().item()).toBe(0);
    vg.nn.init.ones_(t);
    expect(t.sum().item()).toBe(256 * 512);
    const a = vg.zeros([5]);
    const b = vg.zeros([5]);
    vg.nn.init.normal_(a, 0, 1, { generator: new vg.Generator(9) });
    vg.nn.init.normal_(b, 0, 1, { generator: new vg.Generator(9) });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(() => vg.nn.init.xavierUniform_(vg.zeros([3]))).toThrow(/at least 2 dims/);
  });
});

describe('layers', () => {
  it('Dropout drops in training only, and is seeded', () => {
    const d = new nn.Dropout(0.5, { generator: new vg.Generator(1) });
    const x = vg.ones([1000]);
    const y = d.forward(x);
    const kept = Array.from(y.dataSync()).filter((v) => v !== 0);
    expect(kept.every((v) => v === 2)).toBe(true);
    expect(kept.length).toBeGreaterThan(430);
    expect(kept.length).toBeLessThan(570);
    d.eval();
    expect(d.forward(x)).toBe(x);
    expect(() => new nn.Dropout(1.5)).toThrow(/probability/);
  });

  it('BatchNorm in eval mode uses running statistics; momentum null averages cumulatively', () => {
    const bn = new nn.BatchNorm1d(2, { momentum: null });
    bn.forward(vg.tensor([[1, 2], [3, 6]]));
    bn.forward(vg.tensor([[5, 2], [7, 6]]));
    expect(Array.from(bn.runningMean!.dataSync())).toEqual([4, 4]);
    expect(bn.numBatchesTracked!.item()).toBe(2);
    bn.eval();
    const y = bn.forward(vg.tensor([[4, 4]]));
    expect(Array.from(y.dataSync()).every((v) => Math.abs(v) < 1e-6)).toBe(true);
  });

  it('BatchNorm in eval mode reuses its invstd until the running variance or eps changes (in place, loadStateDict, a training step)', async () => {
    const { currentBackend } = await import('../../src/backend/registry.js');
    const be = currentBackend();
    const unary = be.unary.bind(be);
    let pows = 0;
    be.unary = (op, ...rest) => {
      if (op === 'powScalar') pows++;
      return unary(op, ...rest);
    };
    try {
      const bn = new nn.BatchNorm1d(3).eval();
      const x = vg.tensor([[1, 2, 3], [4, 5, 6]]);
      // what eval mode must give for the running statistics as they are now
      const fresh = (eps = bn.eps): number[] => {
        const [m, v] = [bn.runningMean!, bn.runningVar!].map((t) => Array.from(t.dataSync()));
        const w = Array.from(bn.weight!.dataSync()), b = Array.from(bn.bias!.dataSync());
        return Array.from(x.dataSync(), (xi, i) => Math.fround((xi - m[i % 3]!) / Math.sqrt(v[i % 3]! + eps) * w[i % 3]! + b[i % 3]!));
      };
      const expectFresh = (calls: number, eps?: number): void => {
        const before = pows;
        const y = eps === undefined ? bn.forward(x) : vg.F.batchNorm(x, bn.runningMean, bn.runningVar, bn.weight, bn.bias, { eps });
        Array.from(y.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(fresh(eps)[i]!, 5));
        expect(pows - before).toBe(calls);
      };
      expectFresh(1);
      expectFresh(0);
      expectFresh(0);
      bn.runningVar!.mul_(4); // in place
      expectFresh(1);
      bn.runningVar!.slice(0, 1, 2).fill_(9); // through a view
      expectFresh(1);
      bn.loadStateDict(new Map([...bn.stateDict()].map(([k, t]) => [k, k === 'running_var' ? vg.tensor([0.5, 2, 3]) : t])));
      expectFresh(1);
      bn.train().forward(x.mul(3)); // a training step's update of the running statistics
      bn.eval();
      expectFresh(1);
      expectFresh(1, 0.25); // another eps
      expectFresh(0, 0.25);
      expectFresh(1);
    } finally {
      delete (be as { unary?: unknown }).unary;
    }
  });

  it('rejects wrong input shapes and bad configurations with clear messages', () => {
    expect(() => new nn.BatchNorm2d(3).forward(vg.zeros([2, 4, 5, 5]))).toThrow(/BatchNorm2d\(3\): expected input of rank 4 with 3 channels in dim 1, got \[2, 4, 5, 5\]/);
    expect(() => new nn.Linear(3, 2).forward(vg.zeros([2, 4]))).toThrow(/matmul.*\[2, 4\].*\[3, 2\]/);
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrow(/groups=2 must divide/);
    expect(() => new nn.Conv2d(1, 4, 3).forward(vg.zeros([1, 2, 5, 5]))).toThrow(/conv2d.*input channels/);
    expect(() => new nn.Sequential(new nn.ReLU()).at(3)).toThrow(/out of range/);
  });
});

describe('loss modules and short functional names', () => {
  it('give the functional losses with the stored reduction', () => {
    const a = vg.tensor([[0.5, -1], [2, 0]]);
    const t = vg.tensor([[1, 0], [0, 1]]);
    expect(new nn.BCEWithLogitsLoss().forward(a, t).item()).toBeCloseTo(vg.F.binaryCrossEntropyWithLogits(a, t).item(), 6);
    expect(new nn.MSELoss('sum').forward(a, t).item()).toBeCloseTo(0.25 + 1 + 4 + 1, 5);
    expect(new nn.L1Loss('none').forward(a, t).toArray()).toEqual([[0.5, 1], [2, 1]]);
    expect(new nn.BCELoss().forward(a.sigmoid(), t).item()).toBeCloseTo(vg.F.bceWithLogits(a, t).item(), 5);
    expect(vg.F.mse(a, t).item()).toBeCloseTo(6.25 / 4, 6);
    expect(vg.F.l1(a, t, { reduction: 'sum' }).item()).toBeCloseTo(4.5, 6);
    expect(new nn.GaussianKLLoss('sum').forward(vg.zeros([2, 3]), vg.zeros([2, 3])).item()).toBe(0);
    expect(new nn.MSELoss().toString()).toBe("MSELoss(reduction='mean')");
  });
});
