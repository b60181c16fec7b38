// Gradients computed through the WASM kernels agree with the reference (js) backend, through
// the public API: a small conv net with the reference model's layer types (conv, max-pool,
// matmul, conv-transpose), forward on each backend, backward, compare every .grad.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import * as vg from '../../src/index.js';
import { randomF32 } from './backends.js';

type Params = Record<string, { data: Float32Array; shape: number[] }>;

function makeParams(): Params {
  const p = (shape: number[], seed: number, scale: number) => ({ data: randomF32(shape.reduce((a, b) => a * b, 1), seed).map((v) => v * scale), shape });
  return {
    x: p([3, 2, 8, 8], 1, 1),
    w1: p([4, 2, 3, 3], 2, 0.4),
    b1: p([4], 3, 0.1),
    w2: p([64, 10], 4, 0.2),
    w3: p([10, 4, 4, 4], 5, 0.2), // conv-transpose [in, out, kH, kW]
  };
}

function run(backend: string, params: Params): Record<string, Float32Array> {
  // awaited by the caller through setBackend; here the backend is already loaded
  const t: Record<string, vg.Tensor> = {};
  for (const [k, v] of Object.entries(params)) t[k] = vg.tensor(v.data.slice(), { shape: v.shape, requiresGrad: true });
  let h = vg.F.conv2d(t.x!, t.w1!, t.b1!, { padding: 1 }).relu(); // [3, 4, 8, 8]
  h = vg.F.maxPool2d(h, 2); // [3, 4, 4, 4]
  const z = h.reshape([3, 64]).matmul(t.w2!).sigmoid(); // [3, 10]
  const y = vg.F.convTranspose2d(z.reshape([3, 10, 1, 1]), t.w3!, null, { stride: 2, padding: 0 }); // [3, 4, 4, 4]
  const loss = y.mul(y).sum().add(h.mul(h).sum());
  loss.backward();
  expect(vg.getBackend()).toBe(backend);
  const out: Record<string, Float32Array> = { loss: loss.dataSync() as Float32Array };
  for (const k of Object.keys(params)) out[k] = t[k]!.grad!.dataSync() as Float32Array;
  return out;
}

describe('gradients through the wasm kernels agree with the js backend', () => {
  afterAll(async () => {
    await vg.setBackend('wasm');
  });

  it('conv / pool / matmul / conv-transpose network', async () => {
    const params = makeParams();
    await vg.setBackend('js');
    const ref = run('js', params);
    await vg.setBackend('wasm');
    const spies = (['conv2d', 'conv2dBackwardData', 'conv2dBackwardFilter', 'matmul', 'maxPool2d', 'maxPool2dBackward'] as const).map((m) => vi.spyOn(WasmBackend.prototype, m));
    const got = run('wasm', params);
    for (const s of spies) {
      expect(s, s.getMockName()).toHaveBeenCalled();
      s.mockRestore();
    }
    for (const k of Object.keys(ref)) {
      const r = ref[k]!;
      const g = got[k]!;
      expect(g.length).toBe(r.length);
      let scale = 0;
      for (let i = 0; i < r.length; i++) scale = Math.max(scale, Math.abs(r[i]!));
      // float32 sums of at most a few hundred terms, compared on the gradient's own scale
      for (let i = 0; i < r.length; i++) expect(Math.abs(g[i]! - r[i]!), `${k}[${i}]`).toBeLessThanOrEqual(1e-5 * (scale + 1));
    }
  });
});
