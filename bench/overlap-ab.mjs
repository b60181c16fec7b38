#!/usr/bin/env node
// The calling thread's JavaScript overlapping the workers (WasmContext.overlap, the default)
// against waiting for every job, in one process: reference-model training epochs of `steps`
// steps at `threads` threads, overlap off and on in turn (which goes first alternates), `pairs`
// times; the median step of each, the median of the pairs' ratios and how many pairs overlap won.
// Pairs, not two long runs, so that a shared machine's slow minutes fall on both sides.
//
//   npm run build && node bench/overlap-ab.mjs [pairs=30] [steps=3] [threads=2]
//
// Synthetic images (only shapes matter), batch 128, Adam (the Trainer).

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
const vg = await dist('index.js');
const { Trainer, ImageDataset, DEFAULT_CONFIG } = await dist('vae/index.js');
const { currentBackend } = await dist('backend/registry.js');

await vg.setBackend('wasm');
const ctx = currentBackend().ctx;
const [pairs, steps, threads] = [30, 3, 2].map((d, i) => Number(process.argv[2 + i] ?? d));
vg.setNumThreads(threads);
if (!ctx.shared || vg.getBackendInfo().threads !== threads) throw new Error(`overlap-ab: ${threads} threads unavailable here (${JSON.stringify(vg.getBackendInfo())})`);
const n = DEFAULT_CONFIG.batchSize * steps;
const px = Float32Array.from({ length: n * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898));
const data = new ImageDataset(px, new Int32Array(n), 'synthetic', { inRange: true });
const trainer = new Trainer({ ...DEFAULT_CONFIG });
await trainer.trainEpoch(data, {}); // warm-up

/** Milliseconds per step of one epoch with overlap on or off. */
async function epoch(overlap) {
  ctx.overlap = overlap;
  const t = performance.now();
  await trainer.trainEpoch(data, {});
  return (performance.now() - t) / steps;
}

const on = [], off = [], ratios = [];
for (let i = 0; i < pairs; i++) {
  const first = i % 2 === 0;
  const a = await epoch(first), b = await epoch(!first);
  const [tOn, tOff] = first ? [a, b] : [b, a];
  on.push(tOn);
  off.push(tOff);
  ratios.push(tOff / tOn);
}
ctx.overlap = true;
const median = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
console.log(`${threads} threads, ${pairs} pairs of ${steps}-step epochs: a step takes ${median(off).toFixed(1)} ms waiting for every job, ${median(on).toFixed(1)} ms overlapped; median ratio ${median(ratios).toFixed(3)}; overlap faster in ${ratios.filter((r) => r > 1).length} of ${pairs} pairs`);
