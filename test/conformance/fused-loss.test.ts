// Conformance: the optional fused loss kernels (Backend.bceWithLogits / bceWithLogitsBackward)
// give the same bits as the composition src/ops/loss.ts runs where a backend lacks them, on
// the backends that offer them (wasm; js and gpu run the composition itself): per-element losses and logits gradients over sizes that are
// not a multiple of the SIMD width or of a chunk, with NaN, +-0, +-Infinity and saturated
// logits, targets at 0, 1 and in between; plus the reductions and a non-contiguous input.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { currentBackend } from '../../src/backend/registry.js';
import * as vg from '../../src/index.js';
import { randomF32, rng } from './backends.js';

const FUSED = ['bceWithLogits', 'bceWithLogitsBackward'] as const;

/** Backends with the fused loss kernels. */
const FUSING = ['wasm'];

/** Runs body counting the calls of the backend's fused loss kernels; the count. */
function fusedCalls(be: Backend, body: () => void): number {
  const table = be as unknown as Record<string, (...a: unknown[]) => unknown>;
  let n = 0;
  for (const k of FUSED) {
    const orig = table[k]!;
    table[k] = (...a: unknown[]) => { n++; return orig.apply(be, a); };
  }
  try {
    body();
  } finally {
    for (const k of FUSED) delete table[k];
  }
  return n;
}

/** Runs body with the backend's fused loss kernels hidden (the ops then compose), restoring them after. */
function unfused<T>(be: Backend, body: () => T): T {
  const table = be as unknown as Record<string, unknown>;
  for (const k of FUSED) table[k] = undefined;
  try {
    return body();
  } finally {
    for (const k of FUSED) delete table[k];
  }
}

/** Logits with specials (NaN, +-0, +-Infinity, saturating magnitudes) and targets in [0, 1] with exact 0s and 1s. */
function inputs(n: number, seed: number): { l: Float32Array; t: Float32Array; g: Float32Array } {
  const r = rng(seed);
  const sp = [NaN, 0, -0, Infinity, -Infinity, 90, -90, 1e-40];
  const l = Float32Array.from(randomF32(n, seed), (v) => (r() < 0.15 ? sp[Math.floor(r() * sp.length)]! : v * 6));
  const t = Float32Array.from({ length: n }, () => { const u = r(); return u < 0.3 ? 0 : u < 0.6 ? 1 : r(); });
  const g = randomF32(n, seed + 1);
  return { l, t, g };
}

const values = (t: vg.Tensor): Float32Array => Float32Array.from(t.contiguous().dataSync() as Float32Array);

/** Same bits, or both NaN (a NaN's sign and payload are not specified by WebAssembly; Object.is tells -0 from +0). */
function expectBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (!(Object.is(g, w) || (g !== g && w !== w))) throw new Error(`${what}, element ${i}: got ${g}, want ${w}`);
  }
}

function lossAndGrad(l: Float32Array, t: Float32Array, g: Float32Array, shape: number[], reduction: 'none' | 'sum' | 'mean'): Float32Array[] {
  const logits = vg.tensor(l).reshape(shape).requiresGrad_();
  const loss = vg.F.binaryCrossEntropyWithLogits(logits, vg.tensor(t).reshape(shape), { reduction });
  (reduction === 'none' ? loss.mul(vg.tensor(g).reshape(shape)).sum() : loss).backward();
  return [values(loss), values(logits.grad!)];
}

afterAll(() => vg.setBackend('wasm'));

describe.each(FUSING)('fused BCE with logits equals its composition bit for bit [%s]', (name) => {
  it('per element, summed and averaged; odd sizes; specials', async () => {
    await vg.setBackend(name);
    const be = currentBackend();
    expect(fusedCalls(be, () => lossAndGrad(new Float32Array(5), new Float32Array(5), new Float32Array(5), [5], 'sum'))).toBe(2);
    for (const [k, n] of [1, 3, 4, 7, 33, 1000, 70001].entries()) {
      const { l, t, g } = inputs(n, 100 + k);
      for (const reduction of ['none', 'sum', 'mean'] as const) {
        const fused = lossAndGrad(l, t, g, [n], reduction);
        const composed = unfused(be, () => lossAndGrad(l, t, g, [n], reduction));
        fused.forEach((f, i) => expectBits(f, composed[i]!, `n ${n}, ${reduction}, output ${i}`));
      }
    }
  });

  it('a transposed (non-contiguous) logits view and createGraph (which composes)', async () => {
    await vg.setBackend(name);
    const be = currentBackend();
    const { l, t } = inputs(6 * 5, 7);
    const run = (): Float32Array[] => {
      const base = vg.tensor(l).reshape([6, 5]).requiresGrad_();
      const loss = vg.F.binaryCrossEntropyWithLogits(base.transpose(0, 1), vg.tensor(t).reshape([5, 6]), { reduction: 'sum' });
      loss.backward();
      return [values(loss), values(base.grad!)];
    };
    const fused = run();
    const composed = unfused(be, run);
    fused.forEach((f, i) => expectBits(f, composed[i]!, `transposed, output ${i}`));
    // second derivative through the loss: the backward composes differentiable ops
    const x = vg.tensor([0.3, -1.2, 2.5]).requiresGrad_();
    const [gx] = vg.autograd.grad(vg.F.binaryCrossEntropyWithLogits(x, vg.tensor([0, 1, 0.5]), { reduction: 'sum' }), [x], { createGraph: true });
    gx!.sum().backward();
    const s = [0.3, -1.2, 2.5].map((v) => 1 / (1 + Math.exp(-v)));
    s.forEach((p, i) => expect(x.grad!.dataSync()[i]).toBeCloseTo(p * (1 - p), 5));
  });
});
