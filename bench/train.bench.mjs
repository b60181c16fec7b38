// End-to-end throughput of the reference ConvVAE (images/s), side by side:
//   train : one full epoch over a fixed seeded subset of the real MNIST training set (9,000
//           images, stratified by label, seed 0; TRAIN_BENCH_IMAGES=60000 for the whole set)
//           in shuffled batches of 128 (batching, forward, loss, backward, Adam and loss.item()
//           included), after a warm-up of 2 batches;
//   infer : encode + decode (z = mu, eval mode, no grad, sigmoid of the logits) over the same
//           images in batches of 128.
// vaegrad runs its default 'wasm' backend from dist/ (Trainer + mnist(), the code a user runs).
// PyTorch (bench/torch_bench.py under /usr/bin/python3, one thread, where torch is importable)
// trains and infers the same model on the same images (their indices are passed to it). TensorFlow.js with
// tfjs-backend-wasm (XNNPACK, SIMD, one thread) runs the same inference graph with random
// weights (timing only); it is not timed for training: tfjs-backend-wasm has no
// Conv2DBackpropFilter kernel, so it cannot train this model, and tfjs-backend-cpu takes
// minutes per step.
//
// Run alone: node bench/run.mjs train   (after npm run build). Env: TRAIN_BENCH_EPOCHS=n
// (vaegrad epochs timed, median taken; default 3), TRAIN_BENCH_TORCH=0 to skip PyTorch.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PYTHON } from './run.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
const BATCH = 128;
const IMAGES = Math.min(60000, Number(process.env.TRAIN_BENCH_IMAGES ?? 9000));

async function vaegradRates() {
  const vg = await dist('index.js');
  const { Trainer, subset, stratifiedIndices, batchOf } = await dist('vae/index.js');
  const { mnist } = await dist('node/index.js');
  await vg.setBackend('wasm');
  const all = mnist({ train: true });
  const indices = stratifiedIndices(all.labelValues, IMAGES, 0);
  const train = subset(all, indices);
  const tr = new Trainer({ model: 'conv', latent: 20, batchSize: BATCH, lr: 1e-3, beta: 1, seed: 1 });
  await tr.trainEpoch(subset(train, Int32Array.from({ length: 2 * BATCH }, (_, i) => i))); // warm-up
  const epochs = Number(process.env.TRAIN_BENCH_EPOCHS ?? 3);
  const trainTimes = [];
  let lastLoss = NaN;
  for (let e = 0; e < epochs; e++) {
    const t0 = performance.now();
    const r = await tr.trainEpoch(train);
    trainTimes.push(performance.now() - t0);
    lastLoss = r.averages.loss;
  }
  const model = tr.model.eval();
  const idx = (s) => Int32Array.from({ length: Math.min(BATCH, train.n - s) }, (_, i) => s + i);
  const inferPass = () =>
    vg.noGrad(() => {
      for (let s = 0; s < train.n; s += BATCH) {
        const { x } = batchOf(train, idx(s));
        const { mu } = model.encode(x);
        model.decode(mu).sigmoid().dataSync();
      }
    });
  vg.noGrad(() => model.decode(model.encode(batchOf(train, idx(0)).x).mu).dataSync()); // warm-up
  const inferTimes = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    inferPass();
    inferTimes.push(performance.now() - t0);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  return { n: train.n, train: (train.n / med(trainTimes)) * 1000, infer: (train.n / med(inferTimes)) * 1000, lastLoss, epochs, images: train, indices };
}

function torchRates(indices) {
  if (process.env.TRAIN_BENCH_TORCH === '0') return { note: 'PyTorch skipped (TRAIN_BENCH_TORCH=0)' };
  const py = PYTHON;
  const script = join(root, 'bench/torch_bench.py');
  if (!existsSync(py) || !existsSync(script)) return { note: 'PyTorch not run: /usr/bin/python3 or bench/torch_bench.py missing' };
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { note: `PyTorch not run: torch is not importable by ${py}` };
  // one thread (vaegrad is single-threaded); OpenBLAS core types: the machine's default and AVX-512
  const dir = mkdtempSync(join(tmpdir(), 'vaegrad-bench-'));
  const file = join(dir, 'indices.json');
  writeFileSync(file, JSON.stringify(Array.from(indices)));
  const r = spawnSync(py, [script, '--threads', '1', '--coretypes', 'inherit,SkylakeX', '--repeats', '3', '--indices', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  rmSync(dir, { recursive: true, force: true });
  const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const configs = [];
  for (const env of lines.filter((l) => l.kind === 'env')) {
    const same = (l) => l.OPENBLAS_CORETYPE === env.OPENBLAS_CORETYPE && l.threads === env.threads;
    const tr = lines.find((l) => l.kind === 'train_summary' && same(l));
    const inf = lines.find((l) => l.kind === 'infer_summary' && same(l));
    const blas = (env.blas_libs ?? []).filter((l) => /openblas|mkl/.test(l.split('/').pop())).map((l) => l.split('/').slice(-2).join('/')).join(', ') || '?';
    configs.push({
      label: `PyTorch ${env.torch}, ${env.threads} thread, OPENBLAS_CORETYPE=${env.OPENBLAS_CORETYPE ?? '(unset)'} (OpenBLAS kernels: ${env.openblas_corename}; ${blas}; mkldnn ${env.mkldnn})`,
      train: tr?.median_images_per_s ?? NaN,
      infer: inf?.median_images_per_s ?? NaN,
    });
  }
  if (!configs.length) return { note: `PyTorch run failed (exit ${r.status}): ${(r.stderr ?? '').slice(-300)}` };
  return { configs };
}

/** The ConvVAE's encode + decode with tfjs ops (NHWC), random weights, eval-mode batch norm. */
function tfjsModel(tf) {
  const rnd = (shape, fan) => tf.randomUniform(shape, -1 / Math.sqrt(fan), 1 / Math.sqrt(fan));
  const bn = (c) => ({ mean: tf.zeros([c]), variance: tf.ones([c]), offset: tf.zeros([c]), scale: tf.ones([c]) });
  const p = {
    c1: rnd([3, 3, 1, 32], 9), b1: rnd([32], 9), n1: bn(32),
    c2: rnd([3, 3, 32, 64], 288), b2: rnd([64], 288), n2: bn(64),
    l1: rnd([3136, 256], 3136), lb1: rnd([256], 3136), n3: bn(256),
    mu: rnd([256, 20], 256), mub: rnd([20], 256), lv: rnd([256, 20], 256), lvb: rnd([20], 256),
    d1: rnd([20, 256], 20), db1: rnd([256], 20), n4: bn(256),
    d2: rnd([256, 3136], 256), db2: rnd([3136], 256), n5: bn(3136),
    t1: rnd([4, 4, 32, 64], 512), tb1: rnd([32], 512), n6: bn(32), // conv2dTranspose filter [kh, kw, out, in]
    t2: rnd([4, 4, 1, 32], 16), tb2: rnd([1], 16),
  };
  const norm = (x, n) => tf.batchNorm(x, n.mean, n.variance, n.offset, n.scale, 1e-5);
  const dense = (x, w, b) => tf.add(tf.matMul(x, w), b);
  return (x) =>
    tf.tidy(() => {
      let h = tf.relu(norm(tf.add(tf.conv2d(x, p.c1, 1, 'same'), p.b1), p.n1));
      h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.relu(norm(tf.add(tf.conv2d(h, p.c2, 1, 'same'), p.b2), p.n2));
      h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [-1, 3136]); // Flatten in NCHW order
      h = tf.relu(norm(dense(h, p.l1, p.lb1), p.n3));
      const mu = dense(h, p.mu, p.mub);
      dense(h, p.lv, p.lvb);
      let d = tf.relu(norm(dense(mu, p.d1, p.db1), p.n4));
      d = tf.relu(norm(dense(d, p.d2, p.db2), p.n5));
      const n = x.shape[0];
      d = tf.transpose(tf.reshape(d, [n, 64, 7, 7]), [0, 2, 3, 1]);
      d = tf.relu(norm(tf.add(tf.conv2dTranspose(d, p.t1, [n, 14, 14, 32], 2, 'same'), p.tb1), p.n6));
      return tf.sigmoid(tf.add(tf.conv2dTranspose(d, p.t2, [n, 28, 28, 1], 2, 'same'), p.tb2));
    });
}

async function tfjsInfer(ctx, images) {
  try {
    const { tf, simd, threads } = await ctx.tfjs();
    const model = tfjsModel(tf);
    const n = images.n;
    const px = images.pixels;
    const pass = () => {
      for (let s = 0; s < n; s += BATCH) {
        const b = Math.min(BATCH, n - s);
        const x = tf.tensor4d(px.subarray(s * 784, (s + b) * 784), [b, 28, 28, 1]);
        const y = model(x);
        y.dataSync();
        x.dispose();
        y.dispose();
      }
    };
    const x0 = tf.tensor4d(px.subarray(0, BATCH * 784), [BATCH, 28, 28, 1]);
    model(x0).dataSync(); // warm-up
    const ms = ctx.timeit(pass, { warmup: 0, reps: 3 });
    return { rate: (n / ms) * 1000, label: `tfjs ${tf.version_core} wasm (SIMD ${simd}, threads ${threads})` };
  } catch (e) {
    return { rate: NaN, label: `tfjs-backend-wasm failed: ${e.message}` };
  }
}

export async function run(ctx) {
  const v = await vaegradRates();
  const t = torchRates(v.indices);
  const tj = await tfjsInfer(ctx, v.images);
  const rows = [[`vaegrad wasm (1 thread), loss after epoch ${v.lastLoss.toFixed(1)}`, v.train, v.infer, '1.00', '1.00']];
  const notes = [];
  for (const c of t.configs ?? []) rows.push([c.label, c.train, c.infer, (v.train / c.train).toFixed(2), (v.infer / c.infer).toFixed(2)]);
  if (t.note) notes.push(t.note);
  rows.push([tj.label, NaN, tj.rate, 'n/a', (v.infer / tj.rate).toFixed(2)]);
  notes.push(
    `${v.n} MNIST training images (${v.n < 60000 ? 'a fixed subset stratified by label, seed 0; TRAIN_BENCH_IMAGES=60000 for the whole set' : 'the whole training set'}), the same images for every contender; train: ${v.epochs} full epoch(s) of shuffled batches of ${BATCH} (median); infer: encode + decode (z = mu) + sigmoid, eval mode, batches of ${BATCH} (median of 3 passes).`,
    "Ratio columns: vaegrad's images/s divided by that row's (above 1: vaegrad is faster).",
    'tfjs is timed for inference only: tfjs-backend-wasm has no Conv2DBackpropFilter kernel (it cannot train this model) and tfjs-backend-cpu takes minutes per step.',
  );
  return { title: 'Reference ConvVAE end to end (images/s, single thread)', columns: ['contender', 'train img/s', 'infer img/s', 'vaegrad/this train', 'vaegrad/this infer'], rows, notes };
}
