// float32 Adam / AdamW against PyTorch 1.13 (scripts/make-adam-fixtures.py): parameters of sizes
// 1 to 1000 holding zeros, tiny, subnormal and huge values, five steps of gradients that are
// ordinary, zero, tiny (squares underflow) and huge (squares overflow to inf), four optimiser
// settings. Every parameter after every step and the moments after the last must be PyTorch's
// float32 values bit for bit: the backends compute in float32 in PyTorch's operation order, with
// its float32 scalars and its fused multiply-adds (src/backend/js/optim.ts).

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { loadSafetensorsWithMetadata } from '../../src/node/index.js';

const { tensors: fx, metadata } = await loadSafetensorsWithMetadata(new URL('../fixtures/adam-f32.safetensors', import.meta.url).pathname);
const sizes = JSON.parse(metadata.sizes!) as number[];
const steps = Number(metadata.steps);
const cases = JSON.parse(metadata.cases!) as { name: string; optimizer: 'Adam' | 'AdamW'; kwargs: { lr: number; betas?: [number, number]; eps?: number; weight_decay?: number } }[];
const total = sizes.reduce((a, b) => a + b, 0);
const data = (name: string): Float32Array => {
  const t = fx.get(name);
  if (!t) throw new Error(`adam-f32.safetensors: no tensor '${name}'`);
  return t.dataSync() as Float32Array;
};

/** Elements of got equal to want bit for bit (NaN counts as equal to NaN). */
function identical(got: Float32Array, want: Float32Array): number {
  let k = 0;
  for (let i = 0; i < want.length; i++) if (Object.is(got[i], want[i]) || (got[i] !== got[i] && want[i] !== want[i])) k++;
  return k;
}

describe.each(['js', 'wasm'])('float32 Adam matches torch.optim bit for bit (%s backend)', (backend) => {
  beforeAll(async () => {
    await vg.setBackend(backend);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const p0 = data('p0'), grads = data('grads'), traj = data(`${c.name}.p`);
    const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const params = sizes.map((n, i) => vg.tensor(p0.slice(offsets[i], offsets[i]! + n), { shape: [n] }).requiresGrad_());
    expect(params[0]!.dtype).toBe('float32');
    const k = c.kwargs;
    const o = { lr: k.lr, ...(k.betas && { betas: k.betas }), ...(k.eps !== undefined && { eps: k.eps }), ...(k.weight_decay !== undefined && { weightDecay: k.weight_decay }) };
    const opt = c.optimizer === 'Adam' ? new vg.optim.Adam(params, o) : new vg.optim.AdamW(params, o);
    const flat = (ts: vg.Tensor[]): Float32Array => {
      const out = new Float32Array(total);
      ts.forEach((t, i) => out.set(t.dataSync() as Float32Array, offsets[i]));
      return out;
    };
    const counts: string[] = [];
    for (let s = 0; s < steps; s++) {
      opt.zeroGrad();
      params.forEach((p, i) => { p.grad = vg.tensor(grads.slice(s * total + offsets[i]!, s * total + offsets[i]! + sizes[i]!), { shape: [sizes[i]!] }); });
      opt.step();
      const got = flat(params), want = traj.subarray(s * total, (s + 1) * total);
      counts.push(`${identical(got, want)}`);
      expect(identical(got, want), `step ${s + 1}: parameters bit-identical to PyTorch`).toBe(total);
    }
    const state = opt.stateDict().state;
    for (const key of ['exp_avg', 'exp_avg_sq'] as const) {
      const got = flat(params.map((_, i) => state.get(i)![key] as vg.Tensor));
      counts.push(`${key} ${identical(got, data(`${c.name}.${key}`))}`);
      expect(identical(got, data(`${c.name}.${key}`)), `${key} bit-identical to PyTorch`).toBe(total);
    }
    console.log(`${backend} ${c.name}: of ${total} elements, bit-identical to PyTorch after each step: ${counts.join(', ')}`);
  });
});
