#!/usr/bin/env node
// The Adam update of the wasm backend over the reference ConvVAE's parameters (1.68 M float32
// in its 30-odd tensors, as one optimiser step updates them), one thread: ms per step (median).
//
//   npm run build && node bench/adam.mjs [other/dist ...]
//
// With other builds' dist folders (e.g. a checkout of an earlier commit, built), their backends
// run in the same process with the steps interleaved (this one, the other, this one, ...), so
// that the ratios survive a shared machine. A 64 MiB buffer is written between steps, so that
// every step starts from cold caches as it does after a backward pass.

import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

process.env.VAEGRAD_THREADS ??= '1';
const dists = [join(process.cwd(), 'dist'), ...process.argv.slice(2).map((d) => resolve(d))];
const REPS = Number(process.env.BENCH_REPS ?? 21);

const dist = (d, p) => import(pathToFileURL(join(d, 'src', p)).href);
const { ConvVAE } = await dist(dists[0], 'vae/index.js');
const sizes = new ConvVAE({ latent: 20 }).parameters().map((p) => p.numel);

/** n deterministic values in [-scale, scale] (or their squares: the second moment is non-negative). */
const values = (n, seed, scale, square = false) => Float32Array.from({ length: n }, (_, i) => {
  const x = scale * Math.sin(i * 12.9898 + seed * 78.233);
  return square ? x * x : x;
});

/** One optimiser step over every parameter tensor on one backend, as a function (step number counts up). */
function adamStep(be) {
  const ts = sizes.map((n, k) => [values(n, k, 1), values(n, k + 0.25, 1e-3), values(n, k + 0.5, 1e-4), values(n, k + 0.75, 1e-4, true)].map((a) => be.fromArray(a)));
  let step = 0;
  return () => {
    step++;
    for (const [p, g, m, v] of ts) be.adamUpdate(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step });
  };
}

const flush = new Float32Array(16 << 20);
const steps = [];
for (const d of dists) {
  const { createWasmBackendSync } = await dist(d, 'backend/wasm/index.js');
  steps.push(adamStep(createWasmBackendSync()));
}
const times = steps.map(() => []);
for (let r = 0; r < REPS + 2; r++) {
  steps.forEach((step, k) => {
    flush.fill(r);
    const t = performance.now();
    step();
    if (r >= 2) times[k].push(performance.now() - t);
  });
}
const med = times.map((t) => t.sort((a, b) => a - b)[(t.length - 1) >> 1]);
console.log(`Adam update, wasm, ${process.env.VAEGRAD_THREADS} thread(s), ${sizes.length} tensors, ${sizes.reduce((a, b) => a + b, 0)} parameters, median of ${REPS} cold steps (ms)`);
console.log(['build', 'ms / step', 'ratio to this build'].join(' | '));
dists.forEach((d, i) => console.log([i === 0 ? 'this build' : d, med[i].toFixed(2), (med[i] / med[0]).toFixed(2) + 'x'].join(' | ')));
