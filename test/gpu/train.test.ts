// Training the reference ConvVAE on the GPU.js backend gives the same losses as the wasm
// backend with the same seed: one epoch over a small stratified subset of MNIST (4 steps
// of 16), every step's loss within 1% (in practice far closer: float32 vs float32 with
// different summation orders). Runs in headlessgl where it is available (ANGLE on Vulkan,
// lavapipe in CI), else in GPU.js's cpu mode. Also checks that --device gpu's path,
// setBackend('gpu'), reports the mode, and that the loop keeps tensors on the device.
import { afterAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { configureGpuBackend } from '../../src/backend/gpu/index.js';
import type { GpuBackend } from '../../src/backend/gpu/backend.js';
import { Trainer, stratifiedSubset } from '../../src/vae/index.js';
import { mnist } from '../../src/node/index.js';
import { headlessglUnavailable } from './helpers.js';

const mode = headlessglUnavailable() ? 'cpu' : 'headlessgl';
if (mode === 'cpu') console.warn('notice: GPU training test runs in GPU.js cpu mode (headlessgl unavailable here: see the notice of the headlessgl suite)');

async function losses(backend: string): Promise<number[]> {
  await vg.setBackend(backend);
  const train = mnist({ train: true });
  const tr = new Trainer({ model: 'conv', latent: 20, batchSize: 16, lr: 1e-3, beta: 1, seed: 7 });
  const out: number[] = [];
  await tr.trainEpoch(stratifiedSubset(train, 64, 7), { onStep: (_s, _t, st) => out.push(st.loss) });
  return out;
}

describe(`reference VAE training on the gpu backend (${mode} mode)`, () => {
  afterAll(async () => { await vg.setBackend('wasm'); });

  it('one epoch on 64 digits: losses within 1% of the wasm backend, same seed', async () => {
    const want = await losses('wasm');
    configureGpuBackend({ mode });
    const got = await losses('gpu');
    const info = vg.getBackendInfo();
    expect(info).toMatchObject({ name: 'gpu', mode });
    expect(info.renderer).toMatch(mode === 'cpu' ? /GPU.js cpu mode/ : /ANGLE/);
    if (mode === 'cpu') expect(info.software).toBe(true);
    console.log(`gpu (${mode}) losses ${got.map((l) => l.toFixed(3)).join(' ')} | wasm ${want.map((l) => l.toFixed(3)).join(' ')}`);
    expect(got.length).toBe(4);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!) / want[i]!).toBeLessThan(0.01);
    const b = (await import('../../src/backend/registry.js')).currentBackend() as GpuBackend;
    expect(b.stats.hostFloat32Calls).toBe(0); // every float32 kernel of the step ran as a GPU.js kernel
  }, 400_000); // lavapipe runs the shaders on the CPU: about 50 s on a quiet 2-core machine
});
