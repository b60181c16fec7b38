#!/usr/bin/env node
// Where a training step of the reference ConvVAE spends its time, per backend kernel.
//
//   npm run build && node bench/profile-step.mjs [backend=wasm] [steps=8] [--json] [--infer]
//
// --infer profiles inference instead: encode + decode (z = mu) + sigmoid, eval mode, no grad.
//
// Wraps every kernel of the active backend (the Backend interface's table) with a timer, trains
// one warm-up batch, then `steps` shuffled batches of 128 of MNIST training images (the Trainer's
// own loop: data handling, loss.item() and all), and prints a markdown table: ms per step for
// each kernel (elementwise kernels split by op), its share of the step, and the time outside
// kernels (autograd bookkeeping, tensor creation, data batching). The machine may be shared:
// the table is the median over three runs of `steps` steps each, per row.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const asJson = process.argv.includes('--json');
const infer = process.argv.includes('--infer');
const backendName = args[0] ?? 'wasm';
const steps = Number(args[1] ?? 8);
const BATCH = 128;
// Every method of the backend is a kernel except its storage plumbing: a kernel added to the
// Backend interface is timed without being listed here (a fixed list once missed new ones, and
// their time showed up as "outside kernels").
const NOT_KERNELS = new Set(['constructor', 'memoryStats', 'setMemoryBudget', 'release', 'readSync', 'read', 'owns']);
function kernelNames(obj) {
  const names = new Set();
  for (let p = obj; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) if (!NOT_KERNELS.has(n) && typeof obj[n] === 'function') names.add(n);
  }
  return names;
}

const vg = await dist('index.js');
const { Trainer, stratifiedSubset, subset, batchOf } = await dist('vae/index.js');
const { mnist } = await dist('node/index.js');
const { currentBackend } = await dist('backend/registry.js');

await vg.setBackend(backendName);
const be = currentBackend();
const times = new Map();
let depth = 0; // a kernel that calls another (a fused one composed of two) is timed once, outermost
for (const name of kernelNames(be)) {
  const orig = be[name].bind(be);
  be[name] = (...a) => {
    if (depth > 0) return orig(...a);
    depth++;
    const t = performance.now();
    try {
      return orig(...a);
    } finally {
      depth--;
      const key = name + (typeof a[0] === 'string' ? `:${a[0]}` : '');
      times.set(key, (times.get(key) ?? 0) + performance.now() - t);
    }
  };
}

const train = mnist({ train: true });
const tr = new Trainer({ model: 'conv', latent: 20, batchSize: BATCH, lr: 1e-3, beta: 1, seed: 1 });
await tr.trainEpoch(stratifiedSubset(train, BATCH, 0)); // warm-up (JIT, arena growth)

// Tensor data copied between the JavaScript heap and WebAssembly memory (the wasm backend's store:
// moved in on first use or after a spill, moved out under memory pressure, read back).
const copyStats = () => be.ctx?.store?.stats() ?? { copiedBytes: 0, copyMs: 0 };
const runs = [];
for (let r = 0; r < 3; r++) {
  const idx = Array.from({ length: steps * BATCH }, (_, i) => (i + r * 997) % train.n);
  const ds = subset(train, idx);
  times.clear();
  const c0 = copyStats();
  const t0 = performance.now();
  if (infer) {
    const model = tr.model.eval();
    vg.noGrad(() => {
      for (let s = 0; s < ds.n; s += BATCH) {
        const { x } = batchOf(ds, Int32Array.from({ length: BATCH }, (_, i) => s + i));
        model.decode(model.encode(x).mu).sigmoid().dataSync();
      }
    });
  } else {
    await tr.trainEpoch(ds);
  }
  const total = performance.now() - t0;
  const c1 = copyStats();
  runs.push({ total: total / steps, kernels: new Map([...times].map(([k, v]) => [k, v / steps])), copyMs: (c1.copyMs - c0.copyMs) / steps, copyMB: (c1.copiedBytes - c0.copiedBytes) / 2 ** 20 / steps });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const keys = [...new Set(runs.flatMap((r) => [...r.kernels.keys()]))];
const rows = keys.map((k) => [k, median(runs.map((r) => r.kernels.get(k) ?? 0))]).sort((a, b) => b[1] - a[1]);
const step = median(runs.map((r) => r.total));
const inKernels = rows.reduce((s, r) => s + r[1], 0);
const copyMs = median(runs.map((r) => r.copyMs));
const copyMB = median(runs.map((r) => r.copyMB));

if (asJson) {
  console.log(JSON.stringify({ backend: vg.getBackend(), mode: infer ? 'infer' : 'train', batch: BATCH, stepMs: step, outsideMs: step - inKernels, copyMs, copyMB, kernels: Object.fromEntries(rows) }));
} else {
  console.log(`${infer ? 'Inference (encode + decode, eval, batch of 128)' : 'Training step'} of the reference ConvVAE, backend '${vg.getBackend()}', batch ${BATCH}, node ${process.version}: ` +
    `${step.toFixed(1)} ms/step (${((BATCH / step) * 1000).toFixed(0)} images/s), median of 3 runs of ${steps} ${infer ? 'batches' : 'steps'}\n`);
  console.log('| kernel | ms / step | % of step |');
  console.log('|---|---:|---:|');
  for (const [k, v] of rows) {
    if (v < 0.05) continue;
    console.log(`| ${k} | ${v.toFixed(1)} | ${((100 * v) / step).toFixed(1)} |`);
  }
  console.log(`| *outside kernels* (autograd, tensor bookkeeping, batching) | ${(step - inKernels).toFixed(1)} | ${((100 * (step - inKernels)) / step).toFixed(1)} |`);
  console.log(`| **total** | **${step.toFixed(1)}** | 100 |`);
  console.log(`\nOf which copies of tensor data between the JS heap and WebAssembly memory (in kernels and outside): ${copyMs.toFixed(2)} ms/step, ${copyMB.toFixed(1)} MiB/step.`);
}
