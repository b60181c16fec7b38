// What a reference-model training step leaves in WebAssembly memory for the garbage collector:
// page faults, live bytes grown and ms per step, through the Trainer and a plain user loop
// (bench/step-memory.mjs in a child process, one thread).

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export async function run() {
  const r = spawnSync(process.execPath, [join(here, 'step-memory.mjs'), process.env.STEP_MEMORY_STEPS ?? '30', '--json'], { encoding: 'utf8', env: { ...process.env, VAEGRAD_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`step-memory failed: ${r.stderr}`);
  const { steps, results } = JSON.parse(r.stdout.trim().split('\n').pop());
  return {
    title: `Step memory: what a training step of the reference ConvVAE leaves to the collector (wasm, 1 thread, batch 128, means of steps 6-${steps})`,
    columns: ['loop', 'page faults / step', 'live MB grown / step', 'ms / step'],
    rows: results.map((x) => [x.loop, Math.round(x.faults), x.grownMB.toFixed(2), x.ms.toFixed(1)]),
    notes: ['Growth is tensors dropped but not yet freed (they wait for a major collection); each step then writes into fresh pages (the page faults). The user loop keeps its batch and outputs until collected.'],
  };
}
