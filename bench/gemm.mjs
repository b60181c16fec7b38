// GEMM GFLOP/s, single thread: vaegrad wasm (Backend.matmul, copies in and out included) vs
// @tensorflow/tfjs-backend-wasm matMul (XNNPACK, 1 thread, dataSync included) vs the js
// reference backend (one rep, and only up to ~0.3 GFLOP per product: it runs at ~1 GFLOP/s).
// Run alone: node bench/run.mjs gemm

import { randf } from './run.mjs';

const SHAPES = [
  [512, 512, 512],
  [1024, 1024, 1024],
  [128, 3136, 256], // M x K x N: encoder.9 weight grad / decoder input
  [3136, 128, 256],
  [256, 3136, 128],
];

export async function run({ timeit, timeInterleaved, tfjs, loadVaegrad }) {
  const { wasm, js } = await loadVaegrad();
  const { tf } = await tfjs();
  const rows = [];
  for (const [m, k, n] of SHAPES) {
    const flop = 2 * m * k * n;
    const A = randf(m * k);
    const B = randf(k * n);
    const va = (be) => ({ storage: be.fromArray(A), shape: [1, m, k], strides: [0, k, 1], offset: 0 });
    const vb = (be) => ({ storage: be.fromArray(B), shape: [1, k, n], strides: [0, n, 1], offset: 0 });
    const wa = va(wasm), wb = vb(wasm);
    const ta = tf.tensor2d(A, [m, k]), tb = tf.tensor2d(B, [k, n]);
    const [tw, tt] = timeInterleaved([
      () => wasm.matmul(wa, wb),
      () => { const c = tf.matMul(ta, tb); c.dataSync(); c.dispose(); },
    ], { warmup: 3, reps: 9 });
    ta.dispose(); tb.dispose();
    let tj = NaN;
    if (flop <= 3e8) {
      const ja = va(js), jb = vb(js);
      tj = timeit(() => js.matmul(ja, jb), { warmup: 0, reps: 1 });
    }
    const g = (ms) => flop / ms / 1e6;
    rows.push([`${m}x${k}x${n}`, g(tw), tw, g(tt), tt, g(tw) / g(tt), g(tj)]);
  }
  return {
    title: 'GEMM, single thread (GFLOP/s; M x K x N)',
    columns: ['shape', 'vaegrad wasm GF/s', 'ms', 'tfjs-wasm GF/s', 'ms', 'wasm / tfjs', 'js ref GF/s'],
    rows,
    notes: ['js ref: one rep, skipped (n/a) above 0.3 GFLOP per product. Targets: >= 1.8x tfjs at 512^3/1024^3, >= 1.3x on the model shapes.'],
  };
}
