// The six matrix products of the reference ConvVAE's big Linear layers (encoder Linear(3136, 256),
// decoder Linear(256, 3136)) at batch 128, through the wasm backend's matmul with the exact views
// a training step hands it (transposed weights and all), single thread: ms and GFLOP/s per shape.
//
//   node bench/run.mjs linear-gemm
//   VAEGRAD_BENCH_BASE=/path/to/other/dist VAEGRAD_BENCH_REPS=31 node bench/run.mjs linear-gemm
//
// With VAEGRAD_BENCH_BASE (another build's dist/ folder, e.g. main's), that build's matmul runs
// interleaved with this one in the same process, rep by rep, so both see the same background
// load on a shared machine; the table then gives both and the speed-up.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randf } from './run.mjs';

/** Timed reps per shape (VAEGRAD_BENCH_REPS; more on a busy machine). */
const REPS = Number(process.env.VAEGRAD_BENCH_REPS ?? 9);

/** [label, A view (shape, strides), B view (shape, strides)], as in a training step's profile. */
const SHAPES = [
  ['decoder fwd x @ W^T', [128, 256], [256, 1], [256, 3136], [1, 256]],
  ['encoder fwd x @ W^T', [128, 3136], [3136, 1], [3136, 256], [1, 3136]],
  ['decoder dW^T = x^T @ dy', [256, 128], [1, 256], [128, 3136], [3136, 1]],
  ['encoder dx = dy @ W', [128, 256], [256, 1], [256, 3136], [3136, 1]],
  ['decoder dx = dy @ W', [128, 3136], [3136, 1], [3136, 256], [256, 1]],
  ['encoder dW^T = x^T @ dy', [3136, 128], [1, 3136], [128, 256], [256, 1]],
];

/** A [1, r, c] view of `data` with the given 2-d strides, over storage that holds r * c floats. */
const view = (be, data, [r, c], [sr, sc]) => ({ storage: be.fromArray(data), shape: [1, r, c], strides: [r * c, sr, sc], offset: 0 });

async function wasmBackend(dist) {
  const m = await import(pathToFileURL(join(dist, 'src/backend/wasm/index.js')).href);
  return m.createWasmBackendSync();
}

export async function run({ timeInterleaved, loadVaegrad }) {
  const { wasm } = await loadVaegrad();
  const baseDir = process.env.VAEGRAD_BENCH_BASE;
  const base = baseDir ? await wasmBackend(baseDir) : null;
  const rows = [];
  let sum = 0, sumBase = 0;
  for (const [label, sa, ta, sb, tb] of SHAPES) {
    const [m, k] = sa, n = sb[1];
    const flop = 2 * m * k * n;
    const A = randf(m * k), B = randf(k * n);
    const mk = (be) => {
      const a = view(be, A, sa, ta), b = view(be, B, sb, tb);
      return () => be.release?.(be.matmul(a, b)); // freed at once, as autograd frees consumed tensors: the next output reuses warm memory
    };
    const [t, tBase] = timeInterleaved([mk(wasm), base ? mk(base) : null], { warmup: 2, reps: REPS });
    sum += t;
    sumBase += tBase;
    const g = (ms) => flop / ms / 1e6;
    rows.push(base ? [label, `${m}x${k}x${n}`, tBase, t, tBase / t, g(t)] : [label, `${m}x${k}x${n}`, t, g(t)]);
  }
  rows.push(base ? ['total', '', sumBase, sum, sumBase / sum, NaN] : ['total', '', sum, NaN]);
  return {
    title: 'Linear-layer products of the reference ConvVAE, batch 128, single thread',
    columns: base ? ['product', 'M x K x N', 'base ms', 'ms', 'speed-up', 'GF/s'] : ['product', 'M x K x N', 'ms', 'GF/s'],
    rows,
    notes: [`Medians of ${REPS} reps${base ? `, interleaved with the build in ${baseDir}` : ''}; copies into wasm memory and out included.`],
  };
}
