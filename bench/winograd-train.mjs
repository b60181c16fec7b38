#!/usr/bin/env node
// The reference ConvVAE's Winograd convolutions of a training step, wasm backend, batch 128, one
// thread by default: encoder.4 (3x3, 32 -> 64 on 14x14, F(2x2, 3x3)) conv2dBias, weight gradient,
// input gradient; decoder.0 (ConvTranspose2d 64 -> 32, k4 s2 p1, 7x7 -> 14x14, phase Winograd)
// weight gradient, forward (conv2dBackwardDataBias) and input gradient (conv2d), in conv terms.
// ms per call (median), in the process's CPU time (a descheduled wait on a shared host is left
// out; with VAEGRAD_THREADS=2 it is both threads' time), BENCH_CLOCK=wall for wall-clock time.
//
//   npm run build && node bench/winograd-train.mjs [other/dist ...]      (BENCH_REPS=15)
//
// With other builds' dist folders, their backends run in the same process with the calls
// interleaved (the order reversed every other round), each call's output freed at once and a
// 64 MiB buffer written before each call (cold caches, as inside a training step).

import { join, resolve } from 'node:path';
import { loadWasmBackend, seededFloats } from './builds.mjs';

process.env.VAEGRAD_THREADS ??= '1';
const dists = [join(process.cwd(), 'dist'), ...process.argv.slice(2).map((d) => resolve(d))];
const REPS = Number(process.env.BENCH_REPS ?? 15);
const WALL = process.env.BENCH_CLOCK === 'wall';
const clock = () => {
  if (WALL) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const geo = (c, h, o, k, s, p) => {
  const oh = Math.floor((h + 2 * p - k) / s) + 1;
  return { n: 128, c, h, w: h, o, kh: k, kw: k, oh, ow: oh, strideH: s, strideW: s, padH: p, padW: p, dilH: 1, dilW: 1, groups: 1 };
};
const E4 = geo(32, 14, 64, 3, 1, 1);
const D0 = geo(32, 14, 64, 4, 2, 1); // ConvTranspose2d(64, 32, 4, 2, 1) as the conv it transposes

/** The six calls on one backend, each a function that runs once and frees its output. */
function calls(be) {
  const free = (s) => be.ctx.store.release(s);
  const data = (g) => ({
    x: be.fromArray(seededFloats(g.n * g.c * g.h * g.w, 1)), w: be.fromArray(seededFloats(g.o * g.c * g.kh * g.kw, 2, (v) => v * 0.1)),
    dy: be.fromArray(seededFloats(g.n * g.o * g.oh * g.ow, 3)), bo: be.fromArray(seededFloats(g.o, 4)), bc: be.fromArray(seededFloats(g.c, 5)),
  });
  const e = data(E4), d = data(D0);
  return [
    ['encoder.4 conv2dBias', () => free(be.conv2dBias(e.x, e.w, e.bo, E4))],
    ['encoder.4 conv2dBackwardFilter', () => free(be.conv2dBackwardFilter(e.x, e.dy, E4))],
    ['encoder.4 conv2dBackwardData', () => free(be.conv2dBackwardData(e.dy, e.w, E4))],
    ['decoder.0 conv2dBackwardFilter', () => free(be.conv2dBackwardFilter(d.x, d.dy, D0))],
    ['decoder.0 conv2dBackwardDataBias', () => free(be.conv2dBackwardDataBias(d.dy, d.w, d.bc, D0))],
    ['decoder.0 conv2d', () => free(be.conv2d(d.x, d.w, D0))],
  ];
}

const flush = new Float32Array(16 << 20);
const sets = [];
for (const d of dists) sets.push(calls(await loadWasmBackend(d)));
console.log(`Winograd convolutions of a training step, wasm, ${process.env.VAEGRAD_THREADS} thread(s), median of ${REPS} cold calls (${WALL ? 'wall' : 'CPU'} ms)`);
console.log(['call', ...dists.map((d, i) => (i === 0 ? 'this build' : d)), ...(dists.length > 1 ? ['ratio'] : [])].join(' | '));
const sums = dists.map(() => 0);
for (let i = 0; i < sets[0].length; i++) {
  const times = sets.map(() => []);
  for (let r = 0; r < REPS + 2; r++) {
    for (let j = 0; j < sets.length; j++) {
      const k = r & 1 ? sets.length - 1 - j : j;
      flush.fill(r);
      const t = clock();
      sets[k][i][1]();
      if (r >= 2) times[k].push(clock() - t);
    }
  }
  const med = times.map((t) => t.sort((a, b) => a - b)[(t.length - 1) >> 1]);
  med.forEach((m, k) => (sums[k] += m));
  const cells = med.map((m) => m.toFixed(2));
  if (med.length > 1) cells.push(med.slice(1).map((m) => (m / med[0]).toFixed(3) + 'x').join(' '));
  console.log([sets[0][i][0], ...cells].join(' | '));
}
const total = sums.map((m) => m.toFixed(2));
if (sums.length > 1) total.push(sums.slice(1).map((m) => (m / sums[0]).toFixed(3) + 'x').join(' '));
console.log(['sum', ...total].join(' | '));
