#!/usr/bin/env node
// The reference ConvVAE on the wasm backend, this build against others in one process: an
// inference batch (encode + decode with z = mu + sigmoid, eval, no grad), a training step
// (forward, loss, backward, Adam), and the decoder's and encoder's Linear -> BatchNorm1d -> ReLU
// blocks alone (eval, no grad), batch 128, one thread by default: ms of this process's CPU time
// (one thread: what the run itself used, not the time others took the core), median over
// interleaved runs (this build, the other, this one, ...), so that the ratios survive a shared
// machine (BENCH_WALL=1: wall-clock time instead).
//
//   npm run build && node bench/vae-ab.mjs other/dist [...]     (BENCH_REPS=15 by default)

import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

process.env.VAEGRAD_THREADS ??= '1';
const dists = [join(process.cwd(), 'dist'), ...process.argv.slice(2).map((d) => resolve(d))];
const REPS = Number(process.env.BENCH_REPS ?? 15);
const BATCH = 128;
const WALL = process.env.BENCH_WALL === '1';
const now = () => {
  if (WALL) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Deterministic grey levels in [0, 1]. */
const pixels = (n) => Float32Array.from({ length: n }, (_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898));

async function cases(d) {
  const load = (p) => import(pathToFileURL(join(d, 'src', p)).href);
  const vg = await load('index.js');
  const { ConvVAE, vaeLoss } = await load('vae/index.js');
  await vg.setBackend('wasm');
  vg.manualSeed(1);
  const model = new ConvVAE({ latent: 20 });
  const opt = new vg.optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = vg.tensor(pixels(BATCH * 784), { shape: [BATCH, 1, 28, 28] });
  const gen = new vg.Generator(2);
  const train = () => {
    model.train();
    const out = model.forward(x, { generator: gen });
    const { loss } = vaeLoss(out.logits, x, out.mu, out.logvar, 1);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    loss.item();
  };
  const infer = () => {
    model.eval();
    vg.noGrad(() => model.decode(model.encode(x).mu).sigmoid().dataSync());
  };
  // the fully connected blocks alone, on inputs of their sizes
  const h = vg.tensor(pixels(BATCH * 3136), { shape: [BATCH, 3136] });
  const z = vg.tensor(pixels(BATCH * 256), { shape: [BATCH, 256] });
  const encFc = new vg.nn.Sequential(...[9, 10, 11].map((i) => model.encoder.at(i)));
  const decFc = new vg.nn.Sequential(...[3, 4, 5].map((i) => model.decoderInput.at(i)));
  const block = (seq, input) => () => {
    seq.eval();
    vg.noGrad(() => seq.forward(input).dataSync());
  };
  train(); // running statistics that are not the initial ones
  return { 'training step': train, 'inference batch': infer, 'Linear(3136, 256) -> BN1d -> ReLU': block(encFc, h), 'Linear(256, 3136) -> BN1d -> ReLU': block(decFc, z) };
}

const all = [];
for (const d of dists) all.push(await cases(d));
const names = Object.keys(all[0]);
const times = all.map(() => Object.fromEntries(names.map((n) => [n, []])));
for (let r = 0; r < REPS + 2; r++) {
  for (const name of names) {
    all.forEach((c, k) => {
      const t = now();
      c[name]();
      if (r >= 2) times[k][name].push(now() - t);
    });
  }
}
const med = (a) => a.sort((u, v) => u - v)[(a.length - 1) >> 1];
console.log(`ConvVAE, wasm, ${process.env.VAEGRAD_THREADS} thread(s), batch ${BATCH}, median of ${REPS} interleaved runs (${WALL ? 'wall-clock' : 'CPU'} ms)`);
console.log(['case', ...dists.map((d, i) => (i === 0 ? 'this build' : d)), ...dists.slice(1).map((d) => `this / ${d}`)].join(' | '));
for (const name of names) {
  const m = times.map((t) => med(t[name]));
  console.log([name, ...m.map((v) => v.toFixed(2)), ...m.slice(1).map((v) => (m[0] / v).toFixed(3))].join(' | '));
}
