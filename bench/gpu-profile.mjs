#!/usr/bin/env node
// Launch profile of the GPU backend: the kernel launches of one training step of the reference
// ConvVAE (forward, loss, backward, Adam, loss.item()) at batch 128, after a warm-up step (so the
// one-time uploads of the parameters are not counted).
//
//   npm run build && node bench/gpu-profile.mjs [--json] [--batch N]
//
// --json prints one line: {"launches", "min_outputs", "max_loop", ...}: kernel launches, the
// smallest output size among them, the longest per-thread loop in iterations (read from the
// generated kernel sources). Without --json, a table per backend method. The counts do not depend
// on the GPU.js mode, so it runs in cpu mode unless VAEGRAD_GPU_MODE says otherwise (headlessgl
// on lavapipe gives the same table, slower). The target: no per-thread loop over 4,096 iterations.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);

const asJson = process.argv.includes('--json');
const bi = process.argv.indexOf('--batch');
const batch = bi > 0 ? Number(process.argv[bi + 1]) : 128;
if (!(Number.isInteger(batch) && batch > 0)) throw new Error(`--batch: a positive integer, not ${process.argv[bi + 1]}`);

const vg = await dist('index.js');
const { configureGpuBackend } = await dist('backend/gpu/index.js');
const { currentBackend } = await dist('backend/registry.js');
const { Trainer, stratifiedSubset } = await dist('vae/index.js');
const { mnist } = await dist('node/index.js');

configureGpuBackend({ mode: process.env.VAEGRAD_GPU_MODE || 'cpu' });
await vg.setBackend('gpu');
const be = currentBackend();
const info = vg.getBackendInfo();

// attribute launches to the outermost backend method that made them
const byOp = new Map();
let depth = 0;
const proto = Object.getPrototypeOf(be);
for (const name of Object.getOwnPropertyNames(proto)) {
  if (name === 'constructor' || typeof be[name] !== 'function' || ['readSync', 'read', 'owns', 'destroy'].includes(name)) continue;
  const orig = be[name].bind(be);
  be[name] = (...a) => {
    if (depth > 0 || !be.launches) return orig(...a);
    const before = be.launches.length;
    depth++;
    try {
      return orig(...a);
    } finally {
      depth--;
      const key = name + (typeof a[0] === 'string' ? `:${a[0]}` : '');
      const row = byOp.get(key) ?? { calls: 0, launches: 0, minOutputs: Infinity, maxLoop: 0 };
      row.calls++;
      for (const l of be.launches.slice(before)) {
        row.launches++;
        row.minOutputs = Math.min(row.minOutputs, l.outputs);
        row.maxLoop = Math.max(row.maxLoop, l.loop);
      }
      byOp.set(key, row);
    }
  };
}

const data = stratifiedSubset(mnist({ train: true }), batch, 0);
const tr = new Trainer({ model: 'conv', latent: 20, batchSize: batch, lr: 1e-3, beta: 1, seed: 1 });
await tr.trainEpoch(data); // warm-up: compiles the kernels, uploads the parameters
byOp.clear();
be.launches = [];
const t0 = performance.now();
await tr.trainEpoch(data);
const ms = performance.now() - t0;
const launches = be.launches;
be.launches = null;

const summary = {
  launches: launches.length,
  min_outputs: Math.min(...launches.map((l) => l.outputs)),
  max_loop: Math.max(...launches.map((l) => l.loop)),
  batch,
  mode: info.mode,
  renderer: info.renderer,
};
if (asJson) {
  console.log(JSON.stringify(summary));
} else {
  console.log(`Kernel launches of one reference ConvVAE training step at batch ${batch} on the gpu backend (GPU.js ${info.mode} mode, ${info.renderer}), ${ms.toFixed(0)} ms:\n`);
  console.log('| backend method | calls | launches | smallest output | longest loop |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [k, r] of [...byOp].sort((a, b) => b[1].launches - a[1].launches)) {
    if (r.launches) console.log(`| ${k} | ${r.calls} | ${r.launches} | ${r.minOutputs} | ${r.maxLoop} |`);
  }
  const outside = launches.length - [...byOp.values()].reduce((s, r) => s + r.launches, 0);
  if (outside) console.log(`| (uploads outside a method) | | ${outside} | | |`);
  console.log(`\n${summary.launches} launches; smallest output ${summary.min_outputs}; longest per-thread loop ${summary.max_loop} iterations (target: at most 4,096).`);
}
await vg.setBackend('wasm');
