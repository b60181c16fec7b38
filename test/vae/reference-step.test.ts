// One full training step of the reference ConvVAE against PyTorch (scripts/make-vae-step-fixture.py):
// same initial weights (an integer hash both sides compute), same batch and eps; forward outputs,
// losses, every gradient, and every parameter and BatchNorm statistic after one Adam step.

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { loadSafetensorsWithMetadata } from '../../src/node/index.js';
import { ConvVAE, vaeLoss } from '../../src/vae/index.js';
import type { Tensor } from '../../src/index.js';

/** Mirror of hash_uniform in the fixture script: n values in [0, 1) for tensor k. */
export function hashUniform(k: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let h = (Math.imul(i + 1, 2654435761) + (k + 1) * 40503) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    out[i] = h / 2 ** 32;
  }
  return out;
}

function hashInit(model: ConvVAE): void {
  const layers = new Map(model.namedModules().filter(([, m]) => m instanceof vg.nn.Linear || m instanceof vg.nn.Conv2d || m instanceof vg.nn.ConvTranspose2d));
  vg.noGrad(() => {
    model.namedParameters().forEach(([name, p], k) => {
      const owner = layers.get(name.slice(0, name.lastIndexOf('.'))) as vg.nn.Linear | undefined;
      if (!owner) return;
      const w = owner.weight.shape;
      const b = 1 / Math.sqrt(w.slice(1).reduce((a, d) => a * d, 1));
      const u = hashUniform(k, p.numel);
      p.copy_(vg.tensor(Float32Array.from(u, (v) => (2 * v - 1) * b), { shape: p.shape }));
    });
  });
}

type Fixture = Map<string, Tensor>;
const PRE_BN_BIASES = ['encoder.0.bias', 'encoder.4.bias', 'encoder.9.bias', 'decoder_input.0.bias', 'decoder_input.3.bias', 'decoder.0.bias'];
const worst = new Map<string, number>();

/** Compare against a full tensor, or against its every-61st sample plus sum and sum of squares. */
function compare(fx: Fixture, key: string, actual: Tensor, group: string, rtol: number, atolScale: number): void {
  const a = actual.contiguous().dataSync();
  const check = (exp: ArrayLike<number>, act: ArrayLike<number>, what: string, tol = rtol): void => {
    let scale = 0;
    for (let i = 0; i < exp.length; i++) scale = Math.max(scale, Math.abs(exp[i]!));
    for (let i = 0; i < exp.length; i++) {
      const err = Math.abs(act[i]! - exp[i]!);
      worst.set(group, Math.max(worst.get(group) ?? 0, err / (scale || 1)));
      if (!(err <= tol * Math.abs(exp[i]!) + atolScale * scale)) throw new Error(`${what}[${i}]: vaegrad ${act[i]}, PyTorch ${exp[i]} (scale ${scale})`);
    }
  };
  const full = fx.get(key);
  if (full) {
    expect(actual.shape, key).toEqual(full.shape);
    check(full.dataSync(), a, key);
    return;
  }
  const sample = fx.get(`${key}@61`);
  if (!sample) throw new Error(`fixture has no ${key}`);
  const picked = Array.from({ length: sample.numel }, (_, i) => a[i * 61]!);
  check(sample.dataSync(), picked, `${key}@61`);
  let s = 0;
  let sq = 0;
  for (const v of a) {
    s += v;
    sq += v * v;
  }
  // Sums cancel: compare them against the sum of magnitudes, not their own size.
  const sumAbs = Array.from(a).reduce((acc, v) => acc + Math.abs(v), 0);
  expect(Math.abs(s - fx.get(`${key}@sum`)!.item()), `${key}@sum`).toBeLessThanOrEqual(1e-4 * sumAbs + 1e-6);
  expect(Math.abs(sq - fx.get(`${key}@sumsq`)!.item()) / sq, `${key}@sumsq`).toBeLessThanOrEqual(1e-3);
}

describe.each(['wasm', 'js'])('reference ConvVAE, one training step vs PyTorch (%s backend)', (backend) => {
  let fx: Fixture;
  beforeAll(async () => {
    await vg.setBackend(backend);
    fx = (await loadSafetensorsWithMetadata(new URL('../fixtures/vae-step.safetensors', import.meta.url).pathname)).tensors;
  });

  it('matches the eval-mode forward, the train-mode forward, gradients and the Adam update', () => {
    const model = new ConvVAE({ latent: 20 });
    hashInit(model);
    const x = fx.get('x')!;

    model.eval();
    const ev = vg.noGrad(() => model.forward(x, { useMean: true }));
    compare(fx, 'eval.logits', ev.logits, 'eval forward', 1e-4, 1e-5);
    compare(fx, 'eval.mu', ev.mu, 'eval forward', 1e-4, 1e-5);
    compare(fx, 'eval.logvar', ev.logvar, 'eval forward', 1e-4, 1e-5);

    model.train();
    const opt = new vg.optim.Adam(model.parameters(), { lr: 1e-3 });
    const out = model.forward(x, { eps: fx.get('eps')! });
    compare(fx, 'logits', out.logits, 'train forward', 1e-4, 1e-5);
    compare(fx, 'mu', out.mu, 'train forward', 1e-4, 1e-5);
    compare(fx, 'logvar', out.logvar, 'train forward', 1e-4, 1e-5);
    const { loss, bce, kl } = vaeLoss(out.logits, x, out.mu, out.logvar);
    compare(fx, 'loss', loss, 'loss', 1e-5, 0);
    compare(fx, 'bce', bce, 'loss', 1e-5, 0);
    compare(fx, 'kl', kl, 'loss', 1e-4, 0);
    opt.zeroGrad();
    loss.backward();
    // A bias right before a training-mode BatchNorm has an exact gradient of 0 (BN subtracts the
    // batch mean): both sides give float rounding noise there, so it is checked against zero at
    // the scale of the other gradients, and after Adam (which normalises that noise to a step of
    // up to lr each way) to within 2 lr.
    const gradScale = Math.max(...model.namedParameters().map(([, p]) => p.grad!.abs().max().item()));
    for (const [name, p] of model.namedParameters()) {
      if (PRE_BN_BIASES.includes(name)) {
        expect(p.grad!.abs().max().item(), name).toBeLessThanOrEqual(1e-5 * gradScale);
        const e = fx.get(`grad.${name}`)!;
        expect(e.abs().max().item(), name).toBeLessThanOrEqual(1e-5 * gradScale);
      } else {
        compare(fx, `grad.${name}`, p.grad!, 'gradients', 1e-3, 1e-4);
      }
    }
    opt.step();
    for (const [name, t] of model.stateDict()) {
      if (t.dtype === 'int32') expect(t.item(), name).toBe(fx.get(`after.${name}`)!.item());
      else if (PRE_BN_BIASES.includes(name)) compare(fx, `after.${name}`, t, 'after Adam (pre-BN biases)', 0, 2.1e-3 / t.abs().max().item());
      else compare(fx, `after.${name}`, t, 'after Adam', 1e-5, 1e-5);
    }
    console.info(`[${backend}] largest error / max |PyTorch value| per group: ${[...worst].map(([g, e]) => `${g} ${e.toExponential(1)}`).join(', ')}`);
  });
});
