// conv2d kernels of the reference model at batch 128, single thread, in GFLOP/s:
// vaegrad wasm (NCHW, im2col + SGEMM; copies in and out included) vs tfjs-backend-wasm
// (NHWC: conv2d via XNNPACK, conv2DBackpropInput via conv2dTranspose; it has no
// Conv2DBackpropFilter kernel: n/a) vs the js reference (one rep at batch 4: ~0.1-0.5 GFLOP/s).
// Conv-transpose layers are listed in conv terms: their forward is conv2dBackwardData, their
// input gradient conv2d, their weight gradient conv2dBackwardFilter(dY_convT, x_convT).
// Run alone: node bench/run.mjs conv

import { randf } from './run.mjs';

const N = 128;
const geo = (c, h, o, k, s, p) => {
  const oh = Math.floor((h + 2 * p - k) / s) + 1;
  return { n: N, c, h, w: h, o, kh: k, kw: k, oh, ow: oh, strideH: s, strideW: s, padH: p, padW: p, dilH: 1, dilW: 1, groups: 1 };
};

const LAYERS = [
  ['encoder.0 conv 1->32 k3 p1 28x28', geo(1, 28, 32, 3, 1, 1), false],
  ['encoder.4 conv 32->64 k3 p1 14x14', geo(32, 14, 64, 3, 1, 1), false],
  ['decoder.0 convT 64->32 k4 s2 p1 7->14', geo(32, 14, 64, 4, 2, 1), true],
  ['decoder.3 convT 32->1 k4 s2 p1 14->28', geo(1, 28, 32, 4, 2, 1), true],
];

export async function run({ timeit, timeInterleaved, tfjs, loadVaegrad }) {
  const { wasm, js } = await loadVaegrad();
  const { tf } = await tfjs();
  const rows = [];
  for (const [name, g, transposed] of LAYERS) {
    const flop = 2 * g.n * g.o * g.oh * g.ow * g.c * g.kh * g.kw;
    const x = randf(g.n * g.c * g.h * g.w);
    const w = randf(g.o * g.c * g.kh * g.kw);
    const dy = randf(g.n * g.o * g.oh * g.ow);
    const sx = wasm.fromArray(x), sw = wasm.fromArray(w), sdy = wasm.fromArray(dy);
    // tfjs: NHWC activations, filter [kh, kw, c, o] (values do not matter for timing)
    const tx = tf.tensor4d(x, [g.n, g.h, g.w, g.c]);
    const tdy = tf.tensor4d(dy, [g.n, g.oh, g.ow, g.o]);
    const tw = tf.tensor4d(w, [g.kh, g.kw, g.c, g.o]);
    const small = { ...g, n: 4 };
    const jsRate = (f) => {
      const ms = timeit(f, { warmup: 0, reps: 1 });
      return (flop * 4) / N / ms / 1e6;
    };
    const kernels = [
      ['conv2d', () => wasm.conv2d(sx, sw, g), () => { const r = tf.conv2d(tx, tw, g.strideH, g.padH); r.dataSync(); r.dispose(); },
        () => jsRate(() => js.conv2d(js.fromArray(x.subarray(0, 4 * g.c * g.h * g.w)), js.fromArray(w), small))],
      ['backward-data', () => wasm.conv2dBackwardData(sdy, sw, g), () => { const r = tf.conv2dTranspose(tdy, tw, [g.n, g.h, g.w, g.c], g.strideH, g.padH); r.dataSync(); r.dispose(); },
        () => jsRate(() => js.conv2dBackwardData(js.fromArray(dy.subarray(0, 4 * g.o * g.oh * g.ow)), js.fromArray(w), small))],
      ['backward-filter', () => wasm.conv2dBackwardFilter(sx, sdy, g), null,
        () => jsRate(() => js.conv2dBackwardFilter(js.fromArray(x.subarray(0, 4 * g.c * g.h * g.w)), js.fromArray(dy.subarray(0, 4 * g.o * g.oh * g.ow)), small))],
    ];
    for (const [kname, fw, ft, fj] of kernels) {
      const role = transposed ? (kname === 'conv2d' ? ' (convT input grad)' : kname === 'backward-data' ? ' (convT forward)' : ' (convT weight grad)') : '';
      const [tW, tT] = timeInterleaved([fw, ft], { warmup: 2, reps: 7 });
      const gf = (ms) => flop / ms / 1e6;
      rows.push([`${name}: ${kname}${role}`, gf(tW), tW, gf(tT), tT, tW > 0 && ft ? tT / tW : NaN, fj()]);
    }
    tx.dispose(); tdy.dispose(); tw.dispose();
  }
  return {
    title: `conv2d kernels of the reference model, batch ${N}, single thread (GFLOP/s)`,
    columns: ['layer: kernel', 'vaegrad wasm GF/s', 'ms', 'tfjs-wasm GF/s', 'ms', 'wasm / tfjs', 'js ref GF/s'],
    rows,
    notes: ['tfjs-wasm has no Conv2DBackpropFilter kernel (n/a). js ref: one rep at batch 4. Target: each kernel >= 2x tfjs-wasm.'],
  };
}
