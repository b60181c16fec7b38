// The public surface the README promises: every name exists where users import it from.

import { describe, expect, it } from 'vitest';
import * as vg from '../src/index.js';
import * as node from '../src/node/index.js';
import * as vae from '../src/vae/index.js';

describe('public API (the README\'s names)', () => {
  it('exports the core functions and namespaces', () => {
    for (const name of ['manualSeed', 'tensor', 'randn', 'noGrad', 'setBackend', 'getBackend', 'gradcheck'] as const) {
      expect(typeof vg[name], name).toBe('function');
    }
    for (const name of ['conv2d', 'convTranspose2d', 'maxPool2d', 'batchNorm', 'binaryCrossEntropyWithLogits', 'gaussianKl'] as const) {
      expect(typeof vg.F[name], `F.${name}`).toBe('function');
    }
    expect(typeof vg.nn.Sequential).toBe('function');
    expect(typeof vg.nn.Linear).toBe('function');
    expect(typeof vg.nn.ReLU).toBe('function');
    expect(typeof vg.optim.Adam).toBe('function');
    expect(vg.setBackend('js')).toBeInstanceOf(Promise);
  });

  it('getBackendInfo() names the backend, and for wasm the kernel build', async () => {
    const before = vg.getBackend();
    try {
      await vg.setBackend('wasm');
      const info = vg.getBackendInfo();
      expect(info.name).toBe('wasm');
      expect(process.env.VAEGRAD_WASM_RELAXED === '1' ? ['simd', 'relaxed-simd'] : ['simd']).toContain(info.kernels);
      await vg.setBackend('js');
      expect(vg.getBackendInfo()).toEqual({ name: 'js' });
    } finally {
      await vg.setBackend(before);
    }
  });

  it('gives tensors the listed methods and properties', () => {
    const x = vg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const methods = [
      'add', 'sub', 'mul', 'div', 'pow', 'neg', 'exp', 'log', 'sqrt', 'abs', 'relu', 'sigmoid', 'tanh', 'matmul', 'sum', 'mean',
      'max', 'min', 'reshape', 'view', 'permute', 'transpose', 'slice', 'expand', 'squeeze', 'unsqueeze', 'flatten', 'contiguous',
      'detach', 'item', 'toArray', 'data', 'backward',
    ];
    for (const m of methods) expect(typeof (x as unknown as Record<string, unknown>)[m], m).toBe('function');
    expect(x.shape).toEqual([2, 2]);
    expect(x.dtype).toBe('float32');
    expect(x.requiresGrad).toBe(true);
    expect(x.grad).toBeNull();
  });

  it('gives modules and the VAE their listed methods', () => {
    const model = new vg.nn.Sequential(new vg.nn.Linear(784, 400), new vg.nn.ReLU());
    for (const m of ['parameters', 'namedParameters', 'stateDict', 'loadStateDict', 'train', 'eval']) {
      expect(typeof (model as unknown as Record<string, unknown>)[m], m).toBe('function');
    }
    const v = new vae.ConvVAE({ latent: 20 });
    for (const m of ['forward', 'encode', 'decode', 'loadStateDict']) expect(typeof (v as unknown as Record<string, unknown>)[m], m).toBe('function');
    expect(typeof vae.MlpVAE).toBe('function');
    expect(typeof node.loadSafetensors).toBe('function');
    expect(typeof node.saveSafetensors).toBe('function');
  });
});
