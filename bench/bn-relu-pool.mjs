#!/usr/bin/env node
// The training-mode BatchNorm2d -> ReLU -> MaxPool2d(2) kernels of the wasm backend at the
// reference ConvVAE's shapes (batch 128: 32 channels of 28x28, 64 of 14x14), one thread:
// batchNormStats, the fused forward and the fused backward (without and with dx's channel sums),
// ms per call (median). BENCH_CALLS=backward,backward+sums (say) runs only those.
//
//   npm run build && node bench/bn-relu-pool.mjs [other/dist ...]
//
// With other builds' dist folders (e.g. a checkout of an earlier commit, built), their backends
// run in the same process with the calls interleaved (this one, the other, this one, ...), so
// that the ratios survive a shared machine. Each call's outputs are freed at once (as autograd
// does), and a 64 MiB buffer is written between calls, so that every call starts from cold
// caches as it does inside a training step. BENCH_CPU=1 times the calls in the process's CPU time
// (one thread: what the calls used, not the time others took the core on a shared machine).

import { join, resolve } from 'node:path';
import { loadWasmBackend, seededFloats } from './builds.mjs';

process.env.VAEGRAD_THREADS ??= '1';
const dists = [join(process.cwd(), 'dist'), ...process.argv.slice(2).map((d) => resolve(d))];
const REPS = Number(process.env.BENCH_REPS ?? 15);
const CPU = process.env.BENCH_CPU === '1';
const MIN = process.env.BENCH_MIN === '1'; // the fastest call instead of the median (what interference on a loaded machine cannot lower)
const now = CPU ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();



/** The three calls at one shape on one backend, each a function that runs once and frees its outputs. */
function calls(be, n, c, h) {
  const s = h * h;
  const g = { n, c, s };
  const p = { n, c, h, w: h, oh: h / 2, ow: h / 2, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
  const x = be.fromArray(seededFloats(n * c * s, 1, (v) => v * 3));
  const mean = be.fromArray(seededFloats(c, 2, (v) => v * 0.1));
  const invstd = be.fromArray(seededFloats(c, 3, (v) => Math.abs(v) + 0.5));
  const w = be.fromArray(seededFloats(c, 4, (v) => v + 1));
  const b = be.fromArray(seededFloats(c, 5));
  const dy = be.fromArray(seededFloats((n * c * s) / 4, 6, (v) => v * 1e-3));
  const { indices } = be.batchNormReluMaxPool(x, mean, invstd, w, b, g, p);
  const free = (...ss) => { for (const t of ss) if (t.dtype === 'float32') be.ctx.store.release(t); };
  return {
    stats: () => { const r = be.batchNormStats(x, g); free(r.mean, r.variance); },
    forward: () => free(be.batchNormReluMaxPool(x, mean, invstd, w, b, g, p).out),
    backward: () => { const r = be.batchNormReluMaxPoolBackward(dy, indices, x, mean, invstd, w, b, g, p, true); free(r.dx, r.dweight, r.dbias); },
    // as training calls it after a conv with a bias: dx's channel sums too
    'backward+sums': () => { const r = be.batchNormReluMaxPoolBackward(dy, indices, x, mean, invstd, w, b, g, p, true, true); free(r.dx, r.dweight, r.dbias, r.dxSum ?? r.dx); },
  };
}

const flush = new Float32Array(16 << 20);
const backends = [];
for (const d of dists) backends.push(await loadWasmBackend(d));
const shapes = [[128, 32, 28], [128, 64, 14]];
console.log(`BatchNorm2d -> ReLU -> MaxPool2d(2), wasm, ${process.env.VAEGRAD_THREADS} thread(s), ${MIN ? 'fastest' : 'median'} of ${REPS} cold calls (${CPU ? 'CPU' : 'wall-clock'} ms)`);
console.log(['shape', 'call', ...dists.map((d, i) => (i === 0 ? 'this build' : d)), ...(dists.length > 1 ? ['ratio'] : [])].join(' | '));
for (const [n, c, h] of shapes) {
  const sets = backends.map((be) => calls(be, n, c, h));
  for (const name of (process.env.BENCH_CALLS ?? 'stats,forward,backward,backward+sums').split(',')) {
    const times = sets.map(() => []);
    for (let r = 0; r < REPS + 2; r++) {
      sets.forEach((set, k) => {
        flush.fill(r);
        const t = now();
        set[name]();
        if (r >= 2) times[k].push(now() - t);
      });
    }
    const med = times.map((t) => t.sort((a, b) => a - b)[MIN ? 0 : (t.length - 1) >> 1]);
    const cells = med.map((m) => m.toFixed(2));
    if (med.length > 1) cells.push(med.slice(1).map((m) => (m / med[0]).toFixed(2) + 'x').join(' '));
    console.log([`n=${n} c=${c} ${h}x${h}`, name, ...cells].join(' | '));
  }
}
