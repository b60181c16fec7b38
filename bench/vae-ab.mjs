#!/usr/bin/env node
// The reference ConvVAE on the wasm backend, this build against others: an inference batch
// (encode + decode with z = mu, + sigmoid, eval, no grad), a training step (forward, loss,
// backward, Adam), and the encoder's first block (Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d) and
// the encoder's and decoder's Linear -> BatchNorm1d -> ReLU blocks alone (eval, no grad), batch
// 128, one thread by default.
//
//   npm run build && node bench/vae-ab.mjs other/dist [...]     (BENCH_ROUNDS=6, BENCH_REPS=9)
//
// Each round runs every build in its own child process, in turn (this build, the other, ...,
// the order reversed every other round): two builds in one process disturb each other (a shared
// heap and collector, and the one loaded first ran 1-2% slower against an identical copy). A
// child times each case BENCH_REPS times in its process's CPU time (one thread: what the run
// used, not the time others took the core; BENCH_WALL=1 for wall-clock time) and reports the
// median; the table gives the median over rounds, so that the ratios survive a shared machine.

import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

process.env.VAEGRAD_THREADS ??= '1';
const REPS = Number(process.env.BENCH_REPS ?? 9);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const WALL = process.env.BENCH_WALL === '1';
const BATCH = 128;
const med = (a) => [...a].sort((u, v) => u - v)[(a.length - 1) >> 1];

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
  const encConv = new vg.nn.Sequential(...[0, 1, 2, 3].map((i) => model.encoder.at(i)));
  train(); // running statistics that are not the initial ones
  return {
    'training step': train, 'inference batch': infer, 'Conv2d(1, 32) -> BN2d -> ReLU -> MaxPool2d(2)': block(encConv, x),
    'Linear(3136, 256) -> BN1d -> ReLU': block(encFc, h), 'Linear(256, 3136) -> BN1d -> ReLU': block(decFc, z),
  };
}

if (process.argv[2] === '--child') {
  const now = () => {
    if (WALL) return performance.now();
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const c = await cases(process.argv[3]);
  const out = {};
  for (const [name, run] of Object.entries(c)) {
    run(); // warm
    const ts = [];
    for (let r = 0; r < REPS; r++) {
      const t = now();
      run();
      ts.push(now() - t);
    }
    out[name] = med(ts);
  }
  console.log(JSON.stringify(out));
} else {
  const dists = [join(process.cwd(), 'dist'), ...process.argv.slice(2).map((d) => resolve(d))];
  const self = fileURLToPath(import.meta.url);
  const rounds = dists.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of dists.map((_, i) => (r % 2 ? dists.length - 1 - i : i))) {
      const p = spawnSync(process.execPath, [self, '--child', dists[k]], { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`child for ${dists[k]} failed: ${p.stderr}`);
      rounds[k].push(JSON.parse(p.stdout.trim().split('\n').pop()));
    }
  }
  const names = Object.keys(rounds[0][0]);
  console.log(`ConvVAE, wasm, ${process.env.VAEGRAD_THREADS} thread(s), batch ${BATCH}: ${WALL ? 'wall-clock' : 'CPU'} ms, median over ${ROUNDS} rounds of each build's median of ${REPS} runs`);
  console.log(['case', ...dists.map((d, i) => (i === 0 ? 'this build' : d)), ...dists.slice(1).map((d) => `this / ${d}`)].join(' | '));
  for (const name of names) {
    const m = rounds.map((rs) => med(rs.map((o) => o[name])));
    console.log([name, ...m.map((v) => v.toFixed(2)), ...m.slice(1).map((v) => (m[0] / v).toFixed(3))].join(' | '));
  }
}
