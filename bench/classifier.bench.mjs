// The classifier row: the MNIST CNN of examples/classifier.mjs (conv 1->32 5x5, pool, conv 32->64
// 5x5, pool, linear 3136->128, linear 128->10, cross-entropy, Adam 1e-3), trained in shuffled
// batches of 64 from a DataLoader, images/s side by side with PyTorch on the same images:
//   vaegrad : vg.data.DataLoader over mnist()'s ImageDataset (its batch fast path), wasm backend;
//   PyTorch : bench/torch_classifier.py under /usr/bin/python3, one thread, torch.utils.data.DataLoader
//             over a TensorDataset (num_workers=0), the same model, the same image indices.
// Each times full epochs (forward, loss, backward, Adam, loss.item() and batching included) after
// 2 warm-up steps, and measures the time spent inside the loader's iterator: its share of the
// epoch shows whether batching is a bottleneck.
//
// The images: a fixed subset of the MNIST training set (CLASSIFIER_BENCH_IMAGES, default 6,000,
// stratified by label, seed 0; 60000 for one whole epoch). Run alone: node bench/run.mjs classifier
// (after npm run build). Env: CLASSIFIER_BENCH_EPOCHS=n (timed epochs, median; default 1),
// CLASSIFIER_BENCH_TORCH=0 to skip PyTorch.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PYTHON } from './run.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
const BATCH = 64;
const WARMUP_STEPS = 2;
const IMAGES = Math.min(60000, Number(process.env.CLASSIFIER_BENCH_IMAGES ?? 6000));
const EPOCHS = Number(process.env.CLASSIFIER_BENCH_EPOCHS ?? 1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function vaegradRates() {
  const vg = await dist('index.js');
  const { subset, stratifiedIndices } = await dist('vae/index.js');
  const { mnist } = await dist('node/index.js');
  await vg.setBackend('wasm');
  const { nn, optim, F, data } = vg;
  const all = mnist({ train: true });
  const indices = stratifiedIndices(all.labelValues, IMAGES, 0);
  const train = subset(all, indices);
  vg.manualSeed(0);
  const model = new nn.Sequential(
    new nn.Conv2d(1, 32, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(3136, 128), new nn.ReLU(), new nn.Linear(128, 10),
  );
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const loader = new data.DataLoader(train, { batchSize: BATCH, shuffle: true, generator: new vg.Generator(0) });
  model.train();
  const step = (x, y) => {
    const loss = F.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  };
  let k = 0;
  for (const [x, y] of loader) if (k++ < WARMUP_STEPS) step(x, y); else break;
  const rates = [];
  const shares = [];
  let loss = NaN;
  for (let e = 0; e < EPOCHS; e++) {
    let loaderMs = 0;
    let lossSum = 0;
    const t0 = performance.now();
    const it = loader[Symbol.iterator]();
    for (;;) {
      const t = performance.now();
      const r = it.next();
      loaderMs += performance.now() - t;
      if (r.done) break;
      const [x, y] = r.value;
      lossSum += step(x, y) * x.shape[0];
    }
    const ms = performance.now() - t0;
    rates.push((train.n / ms) * 1000);
    shares.push(loaderMs / ms);
    loss = lossSum / train.n;
  }
  return { n: train.n, rate: median(rates), share: median(shares), loss, indices };
}

function torchRates(indices) {
  if (process.env.CLASSIFIER_BENCH_TORCH === '0') return { note: 'PyTorch skipped (CLASSIFIER_BENCH_TORCH=0)' };
  const py = PYTHON;
  const script = join(root, 'bench/torch_classifier.py');
  if (!existsSync(py) || !existsSync(script)) return { note: 'PyTorch not run: /usr/bin/python3 or bench/torch_classifier.py missing' };
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { note: `PyTorch not run: torch is not importable by ${py}` };
  const dir = mkdtempSync(join(tmpdir(), 'vaegrad-bench-'));
  const file = join(dir, 'indices.json');
  writeFileSync(file, JSON.stringify(Array.from(indices)));
  const args = [script, '--indices', file, '--batch', String(BATCH), '--epochs', String(EPOCHS), '--warmup', String(WARMUP_STEPS), '--threads', '1'];
  const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  rmSync(dir, { recursive: true, force: true });
  const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const env = lines.find((l) => l.kind === 'env');
  const summary = lines.find((l) => l.kind === 'summary');
  if (!env || !summary) return { note: `PyTorch run failed (exit ${r.status}): ${(r.stderr ?? '').slice(-300)}` };
  const epochs = lines.filter((l) => l.kind === 'epoch');
  return {
    label: `PyTorch ${env.torch}, ${env.threads} thread, torch DataLoader, loss ${epochs.at(-1).loss.toFixed(3)}`,
    rate: summary.median_images_per_s,
    share: summary.median_loader_share,
  };
}

export async function run() {
  const v = await vaegradRates();
  const t = torchRates(v.indices);
  const pct = (s) => `${(s * 100).toFixed(1)}%`;
  const rows = [[`vaegrad wasm (1 thread), vg.data.DataLoader, loss ${v.loss.toFixed(3)}`, v.rate, pct(v.share), '1.00']];
  const notes = [];
  if (t.note) notes.push(t.note);
  else rows.push([t.label, t.rate, pct(t.share), (v.rate / t.rate).toFixed(2)]);
  notes.push(
    `${v.n} MNIST training images (${v.n < 60000 ? 'a fixed subset stratified by label, seed 0; CLASSIFIER_BENCH_IMAGES=60000 for one whole epoch' : 'one whole epoch'}), the same images for both; ${EPOCHS} timed epoch(s) of shuffled batches of ${BATCH} (median) after ${WARMUP_STEPS} warm-up steps.`,
    "Loader share: the time inside the DataLoader's iterator (gathering and stacking a batch) as a part of the epoch. Ratio: vaegrad's images/s divided by that row's (above 1: vaegrad is faster).",
  );
  return { title: 'MNIST classifier (examples/classifier.mjs) through DataLoader (images/s, single thread)', columns: ['contender', 'train img/s', 'loader share', 'vaegrad/this'], rows, notes };
}
