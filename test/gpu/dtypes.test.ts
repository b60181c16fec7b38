// The GPU.js backend (cpu mode, every run) with bool and int32 tensors: comparisons make bool
// storages that float32 kernels read on the device (where, masks, casts), integer work and the
// indexing kernels run on the host, and every result equals the js reference backend's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { configureGpuBackend } from '../../src/backend/gpu/index.js';
import type { GpuBackend } from '../../src/backend/gpu/backend.js';

/** The same computation on the js reference and on the gpu backend: the results as arrays, and their dtypes. */
async function both(f: () => vg.Tensor[]): Promise<{ js: unknown[]; gpu: unknown[]; dtypes: string[][]; hostFloat32: number }> {
  await vg.setBackend('js');
  const js = f();
  await vg.setBackend('gpu');
  const b = (await import('../../src/backend/registry.js')).currentBackend() as GpuBackend;
  const before = b.stats.hostFloat32Calls;
  const gpu = f();
  const hostFloat32 = b.stats.hostFloat32Calls - before;
  return { js: js.map((t) => t.toArray()), gpu: gpu.map((t) => t.toArray()), dtypes: [js.map((t) => t.dtype), gpu.map((t) => t.dtype)], hostFloat32 };
}

describe('bool and int32 tensors on the gpu backend (GPU.js cpu mode)', () => {
  beforeAll(() => configureGpuBackend({ mode: 'cpu' }));
  afterAll(async () => { await vg.setBackend('wasm'); });

  it('comparisons, where, masks and casts agree with the js backend and stay on the device', async () => {
    const r = await both(() => {
      const x = vg.tensor([[0.5, -1, 2], [NaN, 3, -0.25]]);
      const m = x.gt(0);
      return [m, vg.where(m, x, x.mul(0.1)), x.mul(m), x.maskedFill(x.lt(0), 0), m.to('float32'), x.to('bool'), x.isnan(), vg.tensor([1, 2]).eq(vg.tensor([1, 3]))];
    });
    expect(r.gpu).toEqual(r.js);
    expect(r.dtypes[1]).toEqual(r.dtypes[0]);
    expect(r.dtypes[1]![0]).toBe('bool');
    expect(r.hostFloat32).toBe(0);
  });

  it('int32 labels, bool counts, gather and indexSelect (host kernels) agree with the js backend', async () => {
    const r = await both(() => {
      const logits = vg.tensor([[0.1, 2, 0.3], [3, 0, 1], [0, 0, 5]]);
      const labels = vg.tensor([1, 0, 1], { dtype: 'int32' });
      const correct = logits.argmax(1).eq(labels);
      return [correct, correct.sum(), labels.add(1), labels.div(2), logits.gather(1, labels.unsqueeze(1)), logits.indexSelect(0, labels)];
    });
    expect(r.gpu).toEqual(r.js);
    expect(r.dtypes[1]).toEqual(r.dtypes[0]);
  });

  it('crossEntropy with weights, ignoreIndex and label smoothing: value and logits gradient agree with the js backend', async () => {
    const r = await both(() => {
      const logits = vg.tensor([[0.1, 2, 0.3], [3, 0, 1], [0, 0, 5], [1, 1, 1]], { requiresGrad: true });
      const labels = vg.tensor([1, 0, -100, 2], { dtype: 'int32' });
      const loss = vg.F.crossEntropy(logits, labels, { weight: vg.tensor([1, 2, 0.5]), labelSmoothing: 0.1 });
      loss.backward();
      return [loss, logits.grad!];
    });
    expect(r.dtypes[1]).toEqual(r.dtypes[0]);
    const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);
    const [js, gpu] = [r.js.flatMap(flat), r.gpu.flatMap(flat)];
    js.forEach((v, i) => expect(Math.abs(gpu[i]! - v)).toBeLessThan(1e-6 * (1 + Math.abs(v))));
  });
});
