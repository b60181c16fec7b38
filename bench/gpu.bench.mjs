// One training step of the reference ConvVAE (forward, loss, backward, Adam, loss.item()) on the
// GPU.js backend against the wasm backend, same seed and batch; prints the GPU.js mode that ran.
//
// GPU.js picks its mode (headlessgl in Node: ANGLE on Vulkan with no display; GPU.js's cpu or
// webasm fallbacks only when asked for with GPU_BENCH_MODES). The renderer is printed: on this
// project's machines it is lavapipe (Mesa's Vulkan on the CPU), so these figures say nothing
// about real GPU hardware: they check that the path works and what it costs in the worst case.
//
// Env: GPU_BENCH_BATCH (default 32), GPU_BENCH_STEPS (timed steps, default 3),
// GPU_BENCH_MODES=cpu,webasm,headlessgl (force modes; default: GPU.js's own choice; a
// VAEGRAD_GPU_MODE setting is that choice).
// Run alone: node bench/run.mjs gpu   (after npm run build).

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);

export async function run() {
  const vg = await dist('index.js');
  const { createGpuBackend } = await dist('backend/gpu/index.js');
  const { Trainer, stratifiedSubset } = await dist('vae/index.js');
  const { mnist } = await dist('node/index.js');
  const batch = Number(process.env.GPU_BENCH_BATCH ?? 32);
  const steps = Number(process.env.GPU_BENCH_STEPS ?? 3);
  const modes = (process.env.GPU_BENCH_MODES ?? '').split(',').filter(Boolean);
  const data = stratifiedSubset(mnist({ train: true }), batch, 0);

  const contenders = [{ label: 'wasm', name: 'wasm' }];
  if (modes.length === 0) contenders.push({ label: 'gpu', name: 'gpu' });
  for (const m of modes) {
    vg.registerBackend(`gpu:${m}`, () => createGpuBackend({ mode: m }));
    contenders.push({ label: `gpu`, name: `gpu:${m}` });
  }

  const rows = [];
  const notes = [];
  let wasmMs = NaN;
  for (const c of contenders) {
    try {
      await vg.setBackend(c.name);
    } catch (e) {
      rows.push([c.label, 'unavailable', NaN, NaN, NaN, NaN]);
      notes.push(`${c.name}: ${e.message.split('\n')[0]}`);
      continue;
    }
    const info = vg.getBackendInfo();
    const tr = new Trainer({ model: 'conv', latent: 20, batchSize: batch, lr: 1e-3, beta: 1, seed: 1 });
    let loss = NaN;
    const step = async () => { loss = (await tr.trainEpoch(data)).averages.loss; };
    const t0 = performance.now();
    await step(); // compiles the kernels (GPU.js: once per shape)
    const firstMs = performance.now() - t0;
    const times = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      await step();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const ms = times[Math.floor((times.length - 1) / 2)];
    if (c.name === 'wasm') wasmMs = ms;
    rows.push([info.mode ? `${info.name} (GPU.js ${info.mode})` : info.name, ms, (batch / ms) * 1000, ms / wasmMs, firstMs, loss]);
    if (info.renderer) notes.push(`${c.name}: renderer ${info.renderer}${info.software ? ' (software: not a GPU)' : ''}`);
  }
  await vg.setBackend('wasm');
  notes.push(`batch ${batch}, median of ${steps} steps after a first (compiling) step; GPU.js 'gpu' rows name the mode that ran.`);
  notes.push('A renderer marked software is the CPU (lavapipe/llvmpipe or GPU.js cpu mode): not a GPU figure.');
  return {
    title: 'Reference ConvVAE training step: GPU.js backend vs wasm',
    columns: ['backend', 'ms/step', 'images/s', 'x wasm time', 'first step ms', 'loss after'],
    rows,
    notes,
  };
}
