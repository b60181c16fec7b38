// The direct convolution (assembly/conv.ts convDirect) against the im2col + GEMM path it replaces
// (the same backend with directMaxK = 0), at batch 128, single thread, interleaved in one process
// (so that both see the same background load on a shared machine): the reference model's first
// layer (1 -> 32, 3x3, padding 1, 28x28) forward with its bias (training) and fused with eval
// BatchNorm + ReLU + 2x2 max pool (inference), and the classifier's first layer (1 -> 32, 5x5,
// padding 2). Each result is released at once (a loop with no await would otherwise fill the
// tensor budget and time the spilling). Run alone: node bench/run.mjs direct-conv

import { randf } from './run.mjs';

const N = 128;
const geo = (c, h, o, k, p) => {
  const oh = h + 2 * p - k + 1;
  return { n: N, c, h, w: h, o, kh: k, kw: k, oh, ow: oh, strideH: 1, strideW: 1, padH: p, padW: p, dilH: 1, dilW: 1, groups: 1 };
};

export async function run({ timeInterleaved, loadVaegrad }) {
  const { wasm } = await loadVaegrad();
  const direct = wasm.directMaxK;
  const rows = [];
  const layers = [
    ['encoder.0 conv 1->32 k3 p1 28x28 + bias (training)', geo(1, 28, 32, 3, 1), false],
    ['encoder.0 + eval BN + ReLU + max pool (inference)', geo(1, 28, 32, 3, 1), true],
    ['classifier conv 1->32 k5 p2 28x28 + bias', geo(1, 28, 32, 5, 2), false],
  ];
  for (const [name, g, fused] of layers) {
    const K = g.c * g.kh * g.kw;
    const x = wasm.fromArray(randf(g.n * g.c * g.h * g.w)), w = wasm.fromArray(randf(g.o * K)), b = wasm.fromArray(randf(g.o));
    const ones = wasm.fromArray(new Float32Array(g.o).fill(1)), zeros = wasm.fromArray(new Float32Array(g.o));
    const bn = { mean: zeros, invstd: ones, weight: ones, bias: zeros };
    const pool = { n: N, c: g.o, h: g.oh, w: g.ow, kh: 2, kw: 2, oh: g.oh >> 1, ow: g.ow >> 1, strideH: 2, strideW: 2, padH: 0, padW: 0, dilH: 1, dilW: 1 };
    const call = (maxK) => () => {
      wasm.directMaxK = maxK;
      wasm.ctx.store.release(fused ? wasm.conv2dBnRelu(x, w, b, bn, g, pool) : wasm.conv2dBias(x, w, b, g));
    };
    const [tGemm, tDirect] = timeInterleaved([call(0), call(direct)], { warmup: 3, reps: 21 });
    const gf = (ms) => (2 * g.n * g.o * g.oh * g.ow * K) / ms / 1e6;
    rows.push([name, tGemm, gf(tGemm), tDirect, gf(tDirect), tGemm / tDirect]);
  }
  wasm.directMaxK = direct;
  return {
    title: `Direct convolution vs im2col + GEMM, batch ${N}, single thread (ms, GFLOP/s)`,
    columns: ['layer', 'im2col + GEMM ms', 'GF/s', 'direct ms', 'GF/s', 'speed-up'],
    rows,
    notes: ['Medians of 21 interleaved reps; the same bits either way (test/conformance/conv-direct.test.ts).'],
  };
}
