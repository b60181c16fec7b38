// The GPU backend's kernels at training size: a reference-model step in GPU.js cpu mode (the same
// generated kernels the device runs) matches wasm at batch 32; at batch 256 no kernel of a step
// loops more than 4,096 times per thread (the launch profile); Adam is one launch; and a tensor
// the float32 index arithmetic cannot address is refused with a clear error.
//
// The batch-256 profile runs on a dry-run GPU.js: kernels are generated and recorded exactly as
// in cpu mode, but a launch returns ones instead of running the kernel. Which kernels a step
// launches and how long their loops are depend only on shapes, never on values, so the profile
// is the real one; running the kernels as JavaScript would take minutes and block the test
// worker for over a minute a step (vitest's worker RPC times out after 60 s).
import { afterAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { configureGpuBackend } from '../../src/backend/gpu/index.js';
import { currentBackend, registerBackend } from '../../src/backend/registry.js';
import { GpuBackend, type GpuJsModule, type KernelLaunch } from '../../src/backend/gpu/backend.js';
import { MAX_ELEMENTS } from '../../src/backend/gpu/codegen.js';
import { Trainer, stratifiedSubset } from '../../src/vae/index.js';
import { mnist } from '../../src/node/index.js';
import { gpuCpuBackend } from './helpers.js';

/**
 * GPU.js with every kernel launch answered by ones of the kernel's output size (ones, not zeros:
 * the Trainer's finite probe reads 1 as "every parameter is finite" and takes no extra path).
 */
const dryRunGpuJs: GpuJsModule = {
  GPU: class {
    mode = 'cpu';
    Kernel = null;
    createKernel(_src: string, settings: Record<string, unknown>) {
      const n = (settings.output as number[])[0]!;
      return () => new Float32Array(n).fill(1);
    }
    createKernelMap(maps: Record<string, string>, _src: string, settings: Record<string, unknown>) {
      const n = (settings.output as number[])[0]!;
      return () => Object.fromEntries(['result', ...Object.keys(maps)].map((k) => [k, new Float32Array(n).fill(1)]));
    }
    destroy(): void {}
  },
};
registerBackend('gpu-dry-run', () => new GpuBackend(dryRunGpuJs, { mode: 'cpu' }));

/** Two training steps' losses on `backend` (its launch profile too, with `profile`). */
async function twoSteps(backend: string, batch: number, profile = false): Promise<{ losses: number[]; launches: KernelLaunch[] }> {
  await vg.setBackend(backend);
  const launches: KernelLaunch[] = [];
  if (profile) (currentBackend() as GpuBackend).launches = launches;
  const data = stratifiedSubset(mnist({ train: true }), 2 * batch, 3);
  const tr = new Trainer({ model: 'conv', latent: 20, batchSize: batch, lr: 1e-3, beta: 1, seed: 11 });
  const losses: number[] = [];
  await tr.trainEpoch(data, { onStep: (_s, _t, st) => losses.push(st.loss) });
  if (profile) (currentBackend() as GpuBackend).launches = null;
  return { losses, launches };
}

describe('gpu backend at training size (GPU.js cpu mode)', () => {
  afterAll(async () => { await vg.setBackend('wasm'); });

  it('a batch-32 reference-model step matches wasm (forward, then backward and Adam)', async () => {
    const want = (await twoSteps('wasm', 32)).losses;
    configureGpuBackend({ mode: 'cpu' });
    const { losses: got, launches } = await twoSteps('gpu', 32, true);
    // the dry run (next test) launches the same kernels, in the same order, with the same loops
    expect((await twoSteps('gpu-dry-run', 32, true)).launches).toEqual(launches);
    // step 1: the forward pass on equal parameters; step 2: after a backward pass and an Adam update on each side
    expect(got).toHaveLength(2);
    for (let i = 0; i < 2; i++) expect(Math.abs(got[i]! - want[i]!) / want[i]!).toBeLessThan(1e-4);
    console.log(`batch 32: losses gpu ${got.map((l) => l.toFixed(4)).join(' ')} | wasm ${want.map((l) => l.toFixed(4)).join(' ')}`);
  }, 600_000); // GPU.js cpu mode runs every kernel as JavaScript

  it('a batch-256 step launches no kernel whose per-thread loop exceeds 4,096 iterations', async () => {
    const { launches } = await twoSteps('gpu-dry-run', 256, true);
    const maxLoop = Math.max(...launches.map((l) => l.loop));
    expect(launches.length).toBeGreaterThan(100);
    expect(maxLoop).toBeLessThanOrEqual(4096);
    expect(maxLoop).toBeGreaterThan(1);
    console.log(`batch 256: ${launches.length / 2} launches per step, longest loop ${maxLoop}`);
  });

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
