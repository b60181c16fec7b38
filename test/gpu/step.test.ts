// The GPU backend's kernels at training size, in GPU.js cpu mode (the same generated kernels the
// device runs; on lavapipe a batch-256 step takes minutes, so the device suites use small
// batches): a batch-256 reference-model step matches wasm, no kernel of the step loops more than
// 4,096 times per thread (the launch profile), Adam is one launch, and a tensor the float32 index
// arithmetic cannot address is refused with a clear error.
import { afterAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { configureGpuBackend } from '../../src/backend/gpu/index.js';
import { currentBackend } from '../../src/backend/registry.js';
import type { GpuBackend, KernelLaunch } from '../../src/backend/gpu/backend.js';
import { MAX_ELEMENTS } from '../../src/backend/gpu/codegen.js';
import { Trainer, stratifiedSubset } from '../../src/vae/index.js';
import { mnist } from '../../src/node/index.js';
import { gpuCpuBackend } from './helpers.js';

async function twoSteps(backend: string, batch: number, record?: (b: GpuBackend) => void): Promise<number[]> {
  await vg.setBackend(backend);
  if (record) record(currentBackend() as GpuBackend);
  const data = stratifiedSubset(mnist({ train: true }), 2 * batch, 3);
  const tr = new Trainer({ model: 'conv', latent: 20, batchSize: batch, lr: 1e-3, beta: 1, seed: 11 });
  const out: number[] = [];
  await tr.trainEpoch(data, { onStep: (_s, _t, st) => out.push(st.loss) });
  return out;
}

describe('gpu backend at training size (GPU.js cpu mode)', () => {
  afterAll(async () => { await vg.setBackend('wasm'); });

  it('a batch-256 reference-model step matches wasm; no per-thread loop over 4,096 iterations', async () => {
    const want = await twoSteps('wasm', 256);
    configureGpuBackend({ mode: 'cpu' });
    let launches: KernelLaunch[] = [];
    const got = await twoSteps('gpu', 256, (b) => { b.launches = launches = []; });
    (currentBackend() as GpuBackend).launches = null;
    // step 1: the forward pass on equal parameters; step 2: after a backward pass and an Adam update on each side
    expect(got).toHaveLength(2);
    for (let i = 0; i < 2; i++) expect(Math.abs(got[i]! - want[i]!) / want[i]!).toBeLessThan(1e-4);
    const maxLoop = Math.max(...launches.map((l) => l.loop));
    expect(maxLoop).toBeLessThanOrEqual(4096);
    expect(maxLoop).toBeGreaterThan(1);
    console.log(`batch 256: losses gpu ${got.map((l) => l.toFixed(4)).join(' ')} | wasm ${want.map((l) => l.toFixed(4)).join(' ')}; ${launches.length / 2} launches per step, longest loop ${maxLoop}`);
  }, 1_500_000); // GPU.js cpu mode runs every kernel as JavaScript: 17 minutes with the 2-core machine heavily shared

  it('Adam is one launch per parameter (a kernel map writes param, m and v)', () => {
    const b = gpuCpuBackend();
    const s = (n: number): ReturnType<typeof b.fromArray> => b.fromArray(new Float32Array(n).fill(0.5));
    const [p, g, m, v] = [s(10), s(10), s(10), s(10)];
    const before = b.stats.kernelCalls;
    b.adamUpdate(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 1 });
    expect(b.stats.kernelCalls - before).toBe(1);
    expect(Array.from(b.readSync(m)).every((x) => Math.abs(x - 0.5) < 1e-6)).toBe(true); // 0.9 * 0.5 + 0.1 * 0.5
  });

  it('refuses a tensor above 2^24 elements with a clear error', () => {
    const b = gpuCpuBackend();
    const n = MAX_ELEMENTS + 1;
    const x = b.fromArray(new Float32Array(n));
    expect(() => b.unary('neg', { storage: x, shape: [n], strides: [1], offset: 0 })).toThrow(/16,777,217 elements.*exact up to 2\^24 = 16,777,216 elements per tensor: use a smaller batch/);
  });
});
