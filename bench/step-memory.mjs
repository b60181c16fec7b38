#!/usr/bin/env node
// What a training step of the reference ConvVAE leaves behind on the wasm backend: per step, the
// minor page faults (fresh wasm pages written), the growth of live wasm bytes (tensors dropped but
// not yet freed), and wall time; through the Trainer and through a plain user loop
// (forward, vaeLoss, opt.zeroGrad(), backward, step). Synthetic images, batch 128.
//
//   npm run build && VAEGRAD_THREADS=1 node bench/step-memory.mjs [steps=30] [other/dist] [--json]
//
// Steps before the first major collection show the growth; the means skip the first 5 steps.
// --json prints one line of the means (bench/step-memory.bench.mjs reads it).

import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const JSON_OUT = process.argv.includes('--json');
const args = process.argv.slice(2).filter((a) => a !== '--json');
const STEPS = Number(args[0] ?? 30);
const dist = resolve(args[1] ?? join(fileURLToPath(import.meta.url), '../../dist'));
const load = (p) => import(pathToFileURL(join(dist, 'src', p)).href);
const vg = await load('index.js');
const { Trainer, ImageDataset, DEFAULT_CONFIG, vaeLoss } = await load('vae/index.js');
await vg.setBackend('wasm');

const n = 128 * STEPS;
const pixels = Float32Array.from({ length: n * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898));
const train = new ImageDataset(pixels, new Int32Array(n), 'synthetic', { inRange: true });

function meter() {
  const rows = [];
  let faults = process.resourceUsage().minorPageFault;
  let live = vg.memoryStats().liveBytes;
  let t = performance.now();
  return {
    rows,
    step() {
      const f = process.resourceUsage().minorPageFault, l = vg.memoryStats().liveBytes, now = performance.now();
      rows.push({ faults: f - faults, grownMB: (l - live) / 1e6, ms: now - t });
      [faults, live, t] = [f, l, now];
    },
  };
}

const mean = (rows, k) => rows.slice(5).reduce((s, r) => s + r[k], 0) / Math.max(rows.length - 5, 1);
const results = [];
const report = (name, rows) => {
  const r = { loop: name, faults: mean(rows, 'faults'), grownMB: mean(rows, 'grownMB'), ms: mean(rows, 'ms') };
  results.push(r);
  if (!JSON_OUT) console.log(`${name.padEnd(12)} | ${r.faults.toFixed(0).padStart(6)} | ${r.grownMB.toFixed(2).padStart(6)} | ${r.ms.toFixed(1).padStart(7)}`);
};

if (!JSON_OUT) {
  console.log(`reference ConvVAE, batch 128, ${STEPS} steps, ${vg.getBackendInfo().threads} thread(s), ${dist}`);
  console.log('loop         | page faults / step | live MB grown / step | ms / step (means after step 5)');
}

const trainer = new Trainer({ ...DEFAULT_CONFIG });
const m1 = meter();
await trainer.trainEpoch(train, { onStep: () => m1.step() });
report('Trainer', m1.rows);

const own = new Trainer({ ...DEFAULT_CONFIG });
const model = own.model.train();
const m2 = meter();
for (const [x] of new vg.data.DataLoader(train, { batchSize: 128, shuffle: true, generator: own.rng })) {
  const out = model.forward(x, { generator: own.rng });
  const { loss } = vaeLoss(out.logits, x, out.mu, out.logvar, 1);
  own.optimizer.zeroGrad();
  loss.backward();
  own.optimizer.step();
  loss.item();
  m2.step();
  await new Promise((r) => setImmediate(r));
}
report('user loop', m2.rows);
if (JSON_OUT) console.log(JSON.stringify({ steps: STEPS, threads: vg.getBackendInfo().threads, results }));
