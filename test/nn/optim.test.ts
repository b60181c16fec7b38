// Optimisers, clipping and schedulers against PyTorch trajectories (scripts/make-optim-fixtures.py),
// in float64 so any difference is a real one; plus exact resume through stateDict/loadStateDict.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';

const fx = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')) as {
  p0: number[]; shape: number[]; grads: number[][];
  cases: { name: string; optimizer: 'SGD' | 'Adam' | 'AdamW'; kwargs: Record<string, never>; traj: number[][] }[];
  schedulers: { name: string; kwargs: Record<string, number>; lrs: number[] }[];
  clip: { grads: number[][]; maxNorm: number; norm: number; clipped: number[][] };
};

const f64 = (v: number[], shape = fx.shape): vg.Tensor => vg.tensor(Float64Array.from(v), { shape });

function makeOpt(name: string, params: vg.Tensor[], k: Record<string, never>): vg.optim.Optimizer<{ lr: number }> {
  if (name === 'SGD') return new vg.optim.SGD(params, { lr: k.lr, momentum: k.momentum, dampening: k.dampening, weightDecay: k.weight_decay, nesterov: k.nesterov });
  const o = { lr: k.lr, ...(k.betas && { betas: k.betas }), ...(k.eps !== undefined && { eps: k.eps }), ...(k.weight_decay !== undefined && { weightDecay: k.weight_decay }) };
  return name === 'Adam' ? new vg.optim.Adam(params, o) : new vg.optim.AdamW(params, o);
}

function expectArrayClose(a: ArrayLike<number>, e: number[], tol = 1e-12): void {
  expect(a.length).toBe(e.length);
  e.forEach((v, i) => expect(Math.abs(a[i]! - v), `element ${i}: ${a[i]} vs ${v}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v))));
}

describe.each(['js', 'wasm'])('optimisers match torch.optim (%s backend)', (backend) => {
  beforeAll(async () => {
    await vg.setBackend(backend);
  });

  it.each(fx.cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const p = f64(fx.p0).requiresGrad_();
    const opt = makeOpt(c.optimizer, [p], c.kwargs);
    fx.grads.forEach((g, i) => {
      opt.zeroGrad();
      p.grad = f64(g);
      opt.step();
      expectArrayClose(p.dataSync(), c.traj[i]!);
    });
  });

  it.each(fx.cases.map((c) => [c.name, c] as const))('%s resumes exactly from stateDict', (_n, c) => {
    const p = f64(fx.p0).requiresGrad_();
    const opt = makeOpt(c.optimizer, [p], c.kwargs);
    const feed = (o: vg.optim.Optimizer<{ lr: number }>, q: vg.Tensor, g: number[]): void => {
      o.zeroGrad();
      q.grad = f64(g);
      o.step();
    };
    fx.grads.slice(0, 2).forEach((g) => feed(opt, p, g));
    const saved = opt.stateDict();
    const q = p.detach().clone().requiresGrad_();
    const opt2 = makeOpt(c.optimizer, [q], c.kwargs);
    opt2.loadStateDict(saved);
    fx.grads.slice(2).forEach((g) => {
      feed(opt, p, g);
      feed(opt2, q, g);
    });
    expect(Array.from(q.dataSync())).toEqual(Array.from(p.dataSync()));
  });
});

describe('float32 Adam on the WASM and reference backends agree', () => {
  it('gives the same float32 bits over 5 steps', async () => {
    const run = async (backend: string): Promise<Float32Array> => {
      await vg.setBackend(backend);
      const p = vg.tensor(Float32Array.from(fx.p0), { shape: fx.shape }).requiresGrad_();
      const opt = new vg.optim.Adam([p], { lr: 1e-2, weightDecay: 0.1 });
      for (const g of fx.grads) {
        opt.zeroGrad();
        p.grad = vg.tensor(Float32Array.from(g), { shape: fx.shape });
        opt.step();
      }
      return p.dataSync() as Float32Array;
    };
    const a = await run('js');
    const b = await run('wasm');
    // Both compute in float64 per element then round, or both in float32: allow 2 ulp.
    a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(2 * Math.abs(v) * 2 ** -23 + 1e-12));
  });
});

describe('learning-rate schedulers match torch.optim.lr_scheduler', () => {
  const make: Record<string, (o: vg.optim.Optimizer<{ lr: number }>, k: Record<string, number>) => vg.optim.LRScheduler> = {
    StepLR: (o, k) => new vg.optim.StepLR(o, k.step_size!, k.gamma),
    ExponentialLR: (o, k) => new vg.optim.ExponentialLR(o, k.gamma!),
    CosineAnnealingLR: (o, k) => new vg.optim.CosineAnnealingLR(o, k.T_max!, k.eta_min),
    LinearLR: (o, k) => new vg.optim.LinearWarmup(o, k.total_iters!, k.start_factor),
  };
  it.each(fx.schedulers.map((s) => [s.name, s] as const))('%s', (_n, s) => {
    const p = vg.zeros([1]).requiresGrad_();
    const opt = new vg.optim.SGD([p], { lr: 0.1 });
    const sched = make[s.name]!(opt, s.kwargs);
    const lrs = [sched.getLastLr()[0]!];
    for (let i = 0; i < 8; i++) {
      opt.step();
      sched.step();
      lrs.push(sched.getLastLr()[0]!);
    }
    expectArrayClose(lrs, s.lrs, 1e-12);
  });
  it('resumes from its stateDict', () => {
    const opt = new vg.optim.SGD([vg.zeros([1]).requiresGrad_()], { lr: 0.1 });
    const s = new vg.optim.StepLR(opt, 2, 0.5);
    for (let i = 0; i < 5; i++) s.step();
    const opt2 = new vg.optim.SGD([vg.zeros([1]).requiresGrad_()], { lr: 0.1 });
    const s2 = new vg.optim.StepLR(opt2, 2, 0.5);
    s2.loadStateDict(s.stateDict());
    expect(s2.getLastLr()).toEqual(s.getLastLr());
  });
});

describe('clipGradNorm', () => {
  it('matches torch.nn.utils.clip_grad_norm_', () => {
    const a = vg.zeros([2, 3], { dtype: 'float64' }).requiresGrad_();
    const b = vg.zeros([4], { dtype: 'float64' }).requiresGrad_();
    a.grad = vg.tensor(Float64Array.from(fx.clip.grads[0]!), { shape: [2, 3] });
    b.grad = vg.tensor(Float64Array.from(fx.clip.grads[1]!));
    const norm = vg.optim.clipGradNorm([a, b], fx.clip.maxNorm);
    expect(norm).toBeCloseTo(fx.clip.norm, 12);
    expectArrayClose(a.grad.dataSync(), fx.clip.clipped[0]!);
    expectArrayClose(b.grad.dataSync(), fx.clip.clipped[1]!);
  });
  it('leaves small gradients alone and rejects a bad maxNorm', () => {
    const a = vg.zeros([2]).requiresGrad_();
    a.grad = vg.tensor([0.1, 0.1]);
    vg.optim.clipGradNorm([a], 10);
    expect(Array.from(a.grad.dataSync())).toEqual([Math.fround(0.1), Math.fround(0.1)]);
    expect(() => vg.optim.clipGradNorm([a], 0)).toThrow(/maxNorm must be positive/);
  });
});

describe('optimiser errors', () => {
  it('names the problem', () => {
    expect(() => new vg.optim.Adam([], {})).toThrow(/empty parameter list/);
    expect(() => new vg.optim.Adam([vg.zeros([2])], {})).toThrow(/leaf tensor that requires grad/);
    const p = vg.zeros([2]).requiresGrad_();
    expect(() => new vg.optim.Adam([p, p])).toThrow(/more than once/);
    expect(() => new vg.optim.Adam([p], { lr: -1 })).toThrow(/invalid learning rate/);
    expect(() => new vg.optim.Adam([p], { betas: [1, 0.9] })).toThrow(/beta parameter at index 0/);
    expect(() => new vg.optim.SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov/);
    const opt = new vg.optim.Adam([p]);
    const q = vg.zeros([3]).requiresGrad_();
    const other = new vg.optim.Adam([q]);
    q.grad = vg.ones([3]);
    other.step();
    expect(() => opt.loadStateDict(other.stateDict())).toThrow(/shape \[3\]/);
  });
});

describe('Optimizer.zeroGrad({ free })', () => {
  it('frees the gradients now on wasm (a kept .grad throws use-after-free); without it a kept .grad stays readable', async () => {
    await vg.setBackend('wasm');
    const p = vg.randn([300]).requiresGrad_();
    const opt = new vg.optim.SGD([p], { lr: 0.1 });
    p.mul(p).sum().backward();
    const kept = p.grad!;
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    expect(kept.dataSync().length).toBe(300);
    p.mul(p).sum().backward();
    const freed = p.grad!;
    opt.zeroGrad({ free: true });
    expect(p.grad).toBeNull();
    expect(() => freed.dataSync()).toThrow(/use after free/);
  });
});

describe('gradients nobody has read are freed when replaced or cleared (wasm)', () => {
  const N = 100_000; // 400 KB a gradient
  const tensorBytes = (): number => vg.memoryStats().tensorBytes!;
  const lossOf = (p: vg.Tensor): vg.Tensor => p.sum(); // a backward that makes nothing but the gradient

  it('by Optimizer.zeroGrad and Module.zeroGrad; a .grad that was read stays readable', async () => {
    await vg.setBackend('wasm');
    const lin = new vg.nn.Linear(N / 100, 100, { bias: false });
    const p = lin.weight;
    const opt = new vg.optim.SGD([p], { lr: 0.1 });
    for (const clear of [() => opt.zeroGrad(), () => lin.zeroGrad()]) {
      const loss = lossOf(p);
      const before = tensorBytes();
      loss.backward();
      expect(tensorBytes() - before).toBeGreaterThanOrEqual(N * 4);
      clear();
      expect(tensorBytes() - before).toBeLessThan(N * 4);
    }
    lossOf(p).backward();
    const read = p.grad!;
    const want = Array.from(vg.onesLike(p).dataSync());
    opt.zeroGrad();
    lin.zeroGrad();
    expect(Array.from(read.dataSync())).toEqual(want);
  });

  it('by an accumulating backward and by clipGradNorm, each keeping one gradient', async () => {
    await vg.setBackend('wasm');
    const p = vg.randn([N]).requiresGrad_();
    const [l1, l2] = [lossOf(p), lossOf(p)];
    const before = tensorBytes();
    l1.backward();
    l2.backward(); // the sum replaces the first gradient
    expect(tensorBytes() - before).toBeLessThan(2 * N * 4);
    vg.optim.clipGradNorm([p], 1e-3); // the clipped copy replaces the sum
    expect(tensorBytes() - before).toBeLessThan(2 * N * 4);
    const norm = Math.sqrt(p.grad!.square().sum().item());
    expect(norm).toBeCloseTo(1e-3, 6);
    // a gradient the user read survives the next accumulation
    const read = p.grad!;
    const copy = Array.from(read.dataSync());
    lossOf(p).backward();
    expect(Array.from(read.dataSync())).toEqual(copy);
  });
});
