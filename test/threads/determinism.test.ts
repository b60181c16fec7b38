// The wasm kernels give the same bits at any thread count and in any chunk order: each threaded
// kernel (GEMM tiles, pack-once panels and k blocks, conv by images, Winograd (3x3, and by phases for 4x4 stride-2 forwards,
// input and weight gradients), weight gradients by fixed chunks, batch norm by channels, with the conv bias gradients it adds up, the fused batch norm -> ReLU -> max pool by channels, pooling by images, row sums by
// rows, elementwise ops, Adam and allFinite by ranges) at 1-4 threads and with its chunks run in
// reverse and shuffled order (and the fused BCE with logits, a Linear's bias and eval BatchNorm1d
// + ReLU on its product's tiles, the eval conv blocks), a few reference-model training steps with Adam likewise, and
// the one-thread build over a plain memory (the fallback where no SharedArrayBuffer exists)
// against the threads build.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { registerBackend } from '../../src/backend/registry.js';
import { WasmBackend } from '../../src/backend/wasm/index.js';
import { loadSingleThreadKernelsSync } from '../../src/backend/wasm/loader.js';
import { setChunkOrderForTesting } from '../../src/backend/wasm/threads/config.js';
import { trainDigest } from '../vae/train-digest.js';

const bits = (t: vg.Tensor): Uint32Array => new Uint32Array(Float32Array.from(t.contiguous().dataSync() as Float32Array).buffer);

/** Every output of the threaded kernels (forward and gradients) on fixed inputs, as bits. */
function kernelOutputs(): Uint32Array[] {
  vg.manualSeed(3);
  const out: vg.Tensor[] = [];
  // GEMM: packed sgemm tiles (a partial last tile in both directions) and the gemmNT tiles
  const a = vg.randn([300, 530]), b = vg.randn([530, 270]), w = vg.randn([70, 530]);
  out.push(vg.matmul(a, b), vg.matmul(a, w.transpose(0, 1)), vg.matmul(vg.randn([3, 40, 50]), vg.randn([3, 50, 60])));
  // sgemm with A and B packed once by a job of 8 chunks, then 16 tiles; by k blocks, then their sums added in
  // block order (a Linear's input gradient's shape)
  out.push(vg.matmul(vg.randn([130, 300]), vg.randn([300, 250])), vg.matmul(vg.randn([130, 3001]), vg.randn([3001, 250])));
  // direct conv (1 -> 32 channels at 28x28; 2 -> 7 on 3-pixel rows), 4x4 stride-2 convs (forwards, input gradients
  // transposed convs and weight gradients by phase Winograd; 13x11 odd planes among them), conv by im2col
  // (a 7x7 plane with groups) and
  // Winograd (8 -> 16)
  const convs: [number[], number[], vg.F.Conv2dOptions | undefined][] = [
    [[37, 1, 28, 28], [32, 1, 3, 3], { padding: 1 }],
    [[37, 2, 9, 3], [7, 2, 3, 3], { padding: 1 }],
    [[37, 8, 14, 14], [16, 8, 4, 4], { stride: 2, padding: 1 }],
    [[37, 5, 13, 11], [6, 5, 4, 4], { stride: 2, padding: 1 }],
    [[37, 8, 7, 7], [12, 4, 3, 3], { padding: 1, groups: 2 }],
    [[37, 8, 14, 14], [16, 8, 3, 3], { padding: 1 }],
    [[37, 8, 13, 13], [16, 8, 3, 3], {}],
  ];
  for (const [xs, ws, opts] of convs) {
    const x = vg.randn(xs).requiresGrad_();
    const k = vg.randn(ws).requiresGrad_();
    const bias = vg.randn([ws[0]!]).requiresGrad_();
    const y = vg.F.conv2d(x, k, bias, opts);
    y.mul(vg.randn(y.shape)).sum().backward();
    out.push(y, x.grad!, k.grad!, bias.grad!);
    // transposed conv (its forward is the conv's input gradient)
    const yt = vg.F.convTranspose2d(y.detach(), k.detach(), null, opts);
    out.push(yt);
  }
  // batch norm (train mode: stats, forward, backward) -> ReLU -> max pool, average pooling, elementwise ops
  const h = vg.randn([37, 16, 20, 20]).requiresGrad_();
  const bn = new vg.nn.BatchNorm2d(16);
  const pooled = vg.F.maxPool2d(vg.F.relu(bn.forward(h)), 2);
  const avg = vg.F.avgPool2d(h, 2);
  const ew = h.sigmoid().add(h.mul(h)).sub(1);
  pooled.mul(vg.randn(pooled.shape)).sum().add(avg.sum()).add(ew.mean()).backward();
  out.push(pooled, avg, ew, h.grad!, bn.weight.grad!, bn.bias.grad!, bn.runningMean!, bn.runningVar!);
  // the fused BatchNorm2d -> ReLU -> MaxPool2d(2) of training (chunks of channels; planes of width 0 and 2 mod 4)
  for (const shape of [[37, 16, 20, 20], [37, 24, 14, 14]]) {
    const hf = vg.randn(shape).requiresGrad_();
    const bnf = new vg.nn.BatchNorm2d(shape[1]!);
    const yf = new vg.nn.Sequential(bnf, new vg.nn.ReLU(), new vg.nn.MaxPool2d(2)).forward(hf);
    yf.mul(vg.randn(yf.shape)).sum().backward();
    out.push(yf, hf.grad!, bnf.weight.grad!, bnf.bias.grad!);
  }
  // conv bias gradients that the batch norm backward adds up (chunks of channels): the 2x2 kernel's and the general one's
  for (const pooled of [true, false]) {
    const cv = new vg.nn.Conv2d(3, 24, 3, { padding: 1 });
    const tail = pooled ? new vg.nn.Sequential(new vg.nn.BatchNorm2d(24), new vg.nn.ReLU(), new vg.nn.MaxPool2d(2)) : new vg.nn.Sequential(new vg.nn.BatchNorm2d(24), new vg.nn.ReLU());
    const yb = tail.forward(cv.forward(vg.randn([37, 3, 14, pooled ? 14 : 13])));
    yb.mul(vg.randn(yb.shape)).sum().backward();
    out.push(cv.bias!.grad!, cv.weight.grad!);
  }
  // batch norm over [n, c] rows (BatchNorm1d; chunks of channels)
  const r = vg.randn([200, 700]).requiresGrad_();
  const bn1 = new vg.nn.BatchNorm1d(700);
  const rn = vg.F.relu(bn1.forward(r));
  rn.mul(vg.randn(rn.shape)).sum().backward();
  out.push(rn, r.grad!, bn1.weight.grad!, bn1.bias.grad!);
  // row sums by chunks of rows: [K, R] and [R, K, R] (a conv bias gradient's shape)
  const sx = vg.randn([37, 45, 19, 23]);
  out.push(sx.sum([1, 2, 3]), sx.sum([0, 2, 3]), sx.reshape([37 * 45, 19 * 23]).sum(1));
  // Adam over 70,000 parameters (several ranges) and small ones that share a range, in one job
  const ps = [70000, 7, 1000, 30001, 33].map((n) => vg.randn([n]).requiresGrad_());
  const opt = new vg.optim.Adam(ps, { lr: 1e-2 });
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    ps.reduce((s, p) => s.add(p.mul(p).sum()), vg.tensor(0)).backward();
    opt.step();
  }
  out.push(...ps.map((p) => p.detach()));
  // the fused BCE with logits and its gradient over 70,000 elements (several ranges)
  const lg = vg.randn([70000]).mul(4).requiresGrad_();
  const bce = vg.F.binaryCrossEntropyWithLogits(lg, vg.rand([70000]), { reduction: 'none' });
  bce.mul(vg.randn([70000])).sum().backward();
  out.push(bce, lg.grad!);
  // allFinite over 300,001 floats (five ranges that set their own flags), with a NaN or -Infinity in one range only
  const fin = vg.randn([300001]);
  const withAt = (i: number, v: number): vg.Tensor => { const d = Float32Array.from(fin.dataSync() as Float32Array); d[i] = v; return vg.tensor(d); };
  out.push(vg.stack([vg.allFinite(fin), vg.allFinite([fin, withAt(300000, NaN)]), vg.allFinite([withAt(70000, -Infinity), fin])]).to('float32'));
  // the inference epilogue: conv -> BN -> ReLU -> max pool, fused (pooled in the direct conv's registers: the
  // reference model's first block, and odd planes with an odd channel count)
  for (const [c, o, h, w] of [[1, 16, 28, 28], [2, 5, 13, 11]] as const) {
    const net = new vg.nn.Sequential(new vg.nn.Conv2d(c, o, 3, { padding: 1 }), new vg.nn.BatchNorm2d(o), new vg.nn.ReLU(), new vg.nn.MaxPool2d(2));
    net.eval();
    out.push(vg.noGrad(() => net.forward(vg.randn([37, c, h, w]))));
  }
  // and by Winograd with the epilogue in its output transform (8 -> 16 at 14x14: 49 tiles per image, groups across images)
  const wnet = new vg.nn.Sequential(new vg.nn.Conv2d(8, 16, 3, { padding: 1 }), new vg.nn.BatchNorm2d(16), new vg.nn.ReLU(), new vg.nn.MaxPool2d(2));
  wnet.eval();
  out.push(vg.noGrad(() => wnet.forward(vg.randn([37, 8, 14, 14]))));
  // Linear -> BatchNorm1d -> ReLU: in training the bias added to each tile of the product (gemmNT tiles), in
  // inference the eval batch norm and ReLU too (gemmNT tiles, also with odd m, n and k; sgemm packed once for k = 20)
  for (const [m, k, n] of [[130, 300, 517], [37, 67, 23], [130, 20, 259]]) {
    const fc = new vg.nn.Sequential(new vg.nn.Linear(k, n), new vg.nn.BatchNorm1d(n), new vg.nn.ReLU());
    const fx = vg.randn([m, k]).requiresGrad_();
    const fy = fc.forward(fx);
    fy.mul(vg.randn(fy.shape)).sum().backward();
    out.push(fy, fx.grad!, ...fc.parameters().map((t) => t.grad!));
    fc.eval();
    out.push(vg.noGrad(() => fc.forward(vg.randn([m, k]))));
  }
  return out.map(bits);
}

function expectSameBits(got: Uint32Array[], want: Uint32Array[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(g.length, `output ${i}`).toBe(want[i]!.length);
    const diff = g.findIndex((v, j) => v !== want[i]![j]);
    expect(diff, `output ${i}: first differing element`).toBe(-1);
  });
}

describe('thread-count independence (wasm threads build)', () => {
  let kernels1: Uint32Array[];
  let digest1: string;
  beforeAll(async () => {
    await vg.setBackend('wasm');
    expect(vg.getBackendInfo().sharedMemory).toBe(true);
    vg.setNumThreads(1);
    kernels1 = kernelOutputs();
    digest1 = trainDigest();
  });
  afterEach(() => setChunkOrderForTesting('natural'));
  afterAll(() => vg.setNumThreads(2));

  for (const threads of [2, 3, 4]) {
    it(`${threads} threads: every threaded kernel and three Adam training steps give the one-thread bits`, () => {
      vg.setNumThreads(threads);
      expect(vg.getBackendInfo().threads).toBe(threads);
      expectSameBits(kernelOutputs(), kernels1);
      expect(trainDigest()).toBe(digest1);
    });
  }

  for (const order of ['reverse', 'shuffle'] as const) {
    it(`chunks run in ${order} order (1 and 3 threads): the same bits`, () => {
      for (const threads of [1, 3]) {
        vg.setNumThreads(threads);
        setChunkOrderForTesting(order, threads * 7 + 1);
        expectSameBits(kernelOutputs(), kernels1);
        expect(trainDigest()).toBe(digest1);
      }
    });
  }

  it('the one-thread build over a plain memory (the no-SharedArrayBuffer fallback) gives the same bits', async () => {
    registerBackend('wasm-one-thread', () => new WasmBackend(loadSingleThreadKernelsSync()));
    await vg.setBackend('wasm-one-thread');
    try {
      vg.setNumThreads(4);
      const info = vg.getBackendInfo();
      expect(info).toMatchObject({ threads: 1, sharedMemory: false });
      expect(info.threadsNote).toMatch(/one-thread build/);
      expectSameBits(kernelOutputs(), kernels1);
      expect(trainDigest()).toBe(digest1);
    } finally {
      await vg.setBackend('wasm');
    }
  });
});
