// The reference ConvVAE's training step and inference batch on the wasm backend (batch 128): ms,
// images/s, time in kernels and outside them, and the time spent copying tensor data between the
// JavaScript heap and WebAssembly memory (which tensor storage in linear memory brings near
// zero). Each mode runs bench/profile-step.mjs --json in a child process (median of 3 runs).

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const STEPS = process.env.STEP_PROFILE_STEPS ?? '6';

function profile(mode) {
  const args = [join(here, 'profile-step.mjs'), 'wasm', STEPS, '--json', ...(mode === 'infer' ? ['--infer'] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`profile-step ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

export async function run() {
  const rows = ['train', 'infer'].map((mode) => {
    const p = profile(mode);
    return [mode === 'train' ? 'training step' : 'inference (encode + decode)', p.stepMs, (p.batch / p.stepMs) * 1000, p.stepMs - p.outsideMs, p.outsideMs, p.copyMs, p.copyMB];
  });
  return {
    title: 'Step profile: the reference ConvVAE on wasm, batch 128 (node bench/profile-step.mjs for the per-kernel table)',
    columns: ['mode', 'ms / batch', 'images/s', 'in kernels (ms)', 'outside kernels (ms)', 'copies JS heap <-> wasm (ms)', 'copied (MiB)'],
    rows,
    notes: ['Copies: tensor data moved into or out of WebAssembly memory (first use, spills under the budget, reads); kernels read and write tensors in place.'],
  };
}
