#!/usr/bin/env node
// The reference ConvVAE's encoder convolutions at inference, one thread, batch 128: eval-mode
// Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d(2) as the wasm backend's conv2dBnRelu runs it
// (encoder.0: 1 -> 32 on 28x28, the direct kernel; encoder.4: 32 -> 64 on 14x14, Winograd with
// everything after the products fused into its output transform), ms per call (median).
//
//   npm run build && node bench/conv-bn-pool.mjs [other/dist ...]
//
// With other builds' dist folders, their backends run in the same process with the calls
// interleaved (this one, the other, this one, ...), so that the ratios survive a shared machine.
// Each call's output is freed at once, and a 64 MiB buffer is written between calls (cold caches).
// Times are the process's CPU time (one thread: time descheduled on a busy host is left out),
// BENCH_CLOCK=wall for wall-clock time.

import { join, resolve } from 'node:path';
import { loadWasmBackend, seededFloats } from './builds.mjs';

process.env.VAEGRAD_THREADS ??= '1';
const dists = [join(process.cwd(), 'dist'), ...process.argv.slice(2).map((d) => resolve(d))];
const REPS = Number(process.env.BENCH_REPS ?? 21);
const WALL = process.env.BENCH_CLOCK === 'wall';
/** Milliseconds of CPU time (or wall-clock time) that f takes. */
function timed(f) {
  if (WALL) {
    const t = performance.now();
    f();
    return performance.now() - t;
  }
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
}



/** One eval block at one shape on one backend: a function that runs it once and frees its output. */
function block(be, n, c, h, o) {
  const g = { n, c, h, w: h, o, kh: 3, kw: 3, oh: h, ow: h, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1 };
  const p = { n, c: o, h, w: h, oh: h / 2, ow: h / 2, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
  const x = be.fromArray(seededFloats(n * c * h * h, 1, (v) => Math.max(v, 0)));
  const w = be.fromArray(seededFloats(o * c * 9, 2, (v) => v * 0.2));
  const bias = be.fromArray(seededFloats(o, 3, (v) => v * 0.1));
  const bn = { mean: be.fromArray(seededFloats(o, 4, (v) => v * 0.1)), invstd: be.fromArray(seededFloats(o, 5, (v) => Math.abs(v) + 0.5)), weight: be.fromArray(seededFloats(o, 6, (v) => v + 1)), bias: be.fromArray(seededFloats(o, 7)) };
  return () => be.ctx.store.release(be.conv2dBnRelu(x, w, bias, bn, g, p));
}

const flush = new Float32Array(16 << 20);
const backends = [];
for (const d of dists) backends.push(await loadWasmBackend(d));
console.log(`Conv2d -> BatchNorm2d (eval) -> ReLU -> MaxPool2d(2), wasm, ${process.env.VAEGRAD_THREADS} thread(s), median of ${REPS} cold calls (ms of ${WALL ? 'wall-clock' : 'CPU'} time)`);
console.log(['block', ...dists.map((d, i) => (i === 0 ? 'this build' : d)), ...(dists.length > 1 ? ['ratio'] : [])].join(' | '));
for (const [name, c, h, o] of [['encoder.0', 1, 28, 32], ['encoder.4', 32, 14, 64]]) {
  const runs = backends.map((be) => block(be, 128, c, h, o));
  const times = runs.map(() => []);
  for (let r = 0; r < REPS + 2; r++) {
    runs.forEach((run, k) => {
      flush.fill(r);
      const t = timed(run);
      if (r >= 2) times[k].push(t);
    });
  }
  const med = times.map((t) => t.sort((a, b) => a - b)[(t.length - 1) >> 1]);
  const cells = med.map((m) => m.toFixed(2));
  if (med.length > 1) cells.push(med.slice(1).map((m) => (m / med[0]).toFixed(2) + 'x').join(' '));
  console.log([`${name} (${c} -> ${o}, ${h}x${h})`, ...cells].join(' | '));
}
