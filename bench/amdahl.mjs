#!/usr/bin/env node
// How far a training step can scale with threads, from a one-thread run: the share of the step
// spent in jobs big enough for the worker pool (parallel), in jobs under the pool's threshold and
// outside jobs (JavaScript, autograd, small kernels: serial), and Amdahl's prediction of the
// speedup at N threads, counting each job's chunks in rounds of N (a 19-chunk job at 16 threads
// takes two rounds). An upper bound: it assumes free hand-offs and a machine with N full cores.
//
//   npm run build && VAEGRAD_THREADS=1 node bench/amdahl.mjs [steps=16] [--json]
//
// --json prints one line instead ({ stepMs, serialMs, rows: [{ threads, stepMs, speedup,
// efficiency, perfectEfficiency }] }; amdahl.bench.mjs reads it for `npm run bench`).
// The reference ConvVAE at batch 128 through the Trainer, on synthetic images (only shapes matter).

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
const vg = await dist('index.js');
const { WasmContext } = await dist('backend/wasm/context.js');
const { FN_NAMES, END } = await dist('backend/wasm/threads/job.js');
const { Trainer, ImageDataset, DEFAULT_CONFIG } = await dist('vae/index.js');

if (process.env.VAEGRAD_THREADS !== '1') console.warn('note: run with VAEGRAD_THREADS=1 (the prediction starts from a one-thread step)');
await vg.setBackend('wasm');
const WARM = 3;
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const steps = Number(args.find((a) => !a.startsWith('--')) ?? 16);
const n = DEFAULT_CONFIG.batchSize * (WARM + steps);
const px = Float32Array.from({ length: n * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898));
const trainer = new Trainer({ ...DEFAULT_CONFIG });

/** A job's name: the kernels its first chunk calls (zero and copy are execChunk's own). */
function jobName(job) {
  const names = new Set();
  const w = job.words;
  for (let at = job.starts[0] ?? 0; w[at] !== END && at < w.length; at += 3 + w[at + 1]) if (FN_NAMES[w[at]]) names.add(FN_NAMES[w[at]]);
  return `${[...names].join('+') || 'zero/copy'} x${job.starts.length}`;
}

const pooled = new Map();
const small = new Map();
let timing = false;
let bookkeeping = 0; // this script's own time inside the step (naming and tallying jobs), left out of it
const run = WasmContext.prototype.run;
WasmContext.prototype.run = function (job) {
  if (!timing) return run.call(this, job);
  const t = performance.now();
  run.call(this, job);
  const end = performance.now();
  const ms = end - t;
  const table = job.work >= this.minParallelWork ? pooled : small;
  const key = jobName(job);
  const e = table.get(key) ?? { ms: 0, calls: 0, chunks: job.starts.length };
  e.ms += ms;
  e.calls++;
  table.set(key, e);
  bookkeeping += performance.now() - end;
};

let start = 0;
let done = 0;
await trainer.trainEpoch(new ImageDataset(px, new Int32Array(n), 'synthetic', { inRange: true }), {
  onStep: () => {
    if (++done === WARM) {
      timing = true;
      start = performance.now();
    }
  },
});
timing = false;
const stepMs = (performance.now() - start - bookkeeping) / steps;
const perStep = (m) => [...m.values()].reduce((a, e) => a + e.ms, 0) / steps;
const inPool = perStep(pooled);
const serial = stepMs - inPool;
const rows = [2, 4, 8, 16, 32].map((threads) => {
  let par = 0;
  for (const e of pooled.values()) par += (e.ms * Math.ceil(e.chunks / threads)) / e.chunks;
  const t = serial + par / steps;
  return { threads, stepMs: t, speedup: stepMs / t, efficiency: stepMs / t / threads, perfectEfficiency: stepMs / (serial + inPool / threads) / threads };
});
if (asJson) {
  console.log(JSON.stringify({ stepMs, serialMs: serial, rows }));
  process.exit(0);
}
const pct = (x) => `${((100 * x) / stepMs).toFixed(1)}%`;
console.log(`one-thread step ${stepMs.toFixed(1)} ms: pooled jobs ${inPool.toFixed(1)} ms (${pct(inPool)}); serial ${serial.toFixed(1)} ms (${pct(serial)}: small jobs ${perStep(small).toFixed(1)}, outside jobs ${(serial - perStep(small)).toFixed(1)})`);
console.log('\n| threads | predicted step (ms) | speedup | efficiency | with perfect chunking |\n|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.threads} | ${r.stepMs.toFixed(1)} | ${r.speedup.toFixed(2)} | ${r.efficiency.toFixed(2)} | ${r.perfectEfficiency.toFixed(2)} |`);
console.log('\npooled jobs, ms per step at one thread (calls per step):');
for (const [k, e] of [...pooled].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${k.padEnd(44)} ${(e.ms / steps).toFixed(2).padStart(8)} (${e.calls / steps})`);
process.exit(0);
