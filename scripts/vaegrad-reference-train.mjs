#!/usr/bin/env node
// The vaegrad side of the test-loss comparison with PyTorch (scripts/torch_reference_train.py):
// trains the reference ConvVAE on the bundled digits with the spec's split and hyperparameters
// for several seeds and prints, per seed, the test loss (mean over test images of BCE summed
// over pixels + KL, eval mode) with sampled z and with z = mu, then the mean and spread, as JSON
// lines. Run after `npm run build`:  node scripts/vaegrad-reference-train.mjs --seeds 1,2,3 --epochs 10
import { readFileSync } from 'node:fs';
import { loadBundledDigits } from '../dist/src/node/index.js';
import { Trainer, evaluate } from '../dist/src/vae/index.js';
import { noGrad } from '../dist/src/index.js';
import { batchOf, vaeLoss } from '../dist/src/vae/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seeds = arg('seeds', '1,2,3').split(',').map(Number);
const epochs = Number(arg('epochs', '10'));
const { train, test } = await loadBundledDigits();

function testLossWithMean(model) {
  model.eval();
  return noGrad(() => {
    const { x } = batchOf(test, Int32Array.from({ length: test.n }, (_, i) => i));
    const out = model.forward(x, { useMean: true });
    return vaeLoss(out.logits, x, out.mu, out.logvar).loss.item();
  });
}

const results = [];
for (const seed of seeds) {
  const t = new Trainer({ model: 'conv', latent: 20, batchSize: 128, lr: 1e-3, beta: 1, seed });
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) await t.trainEpoch(train);
  const ev = evaluate(t.model, test, { seed: 1234, k: 1 });
  const r = { seed, epochs, test_loss_sampled: ev.test_loss, test_loss_zmu: testLossWithMean(t.model), test_kl: ev.test_kl, seconds: (performance.now() - t0) / 1000 };
  results.push(r);
  console.log(JSON.stringify(r));
}
const mean = (k) => results.reduce((s, r) => s + r[k], 0) / results.length;
const spread = (k) => (Math.max(...results.map((r) => r[k])) - Math.min(...results.map((r) => r[k]))) / mean(k);
const summary = { summary: true, seeds, test_loss_sampled_mean: mean('test_loss_sampled'), test_loss_sampled_spread: spread('test_loss_sampled'), test_loss_zmu_mean: mean('test_loss_zmu'), test_loss_zmu_spread: spread('test_loss_zmu') };
try {
  const torch = JSON.parse(readFileSync(new URL('./torch_reference_results.json', import.meta.url), 'utf8'));
  summary.torch = torch.summary ?? null;
} catch {
  summary.torch = null;
}
console.log(JSON.stringify(summary));
