// `vaegrad train` checks before the first step that it can write PNGs: without the canvas peer
// (simulated by a resolve hook in a child process) it fails at once, naming the package and
// --no-images, and --no-images then trains and writes everything but the pictures.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { BIN, BUILT, ls, ROOT, scratch } from './helpers.js';

const tmp = scratch('images');
afterAll(() => tmp.cleanup());
const HOOK = `${ROOT}/test/cli/fixtures/without-canvas.mjs`;

function trainWithoutCanvas(extra: string[], out: string): { status: number | null; stderr: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', HOOK, BIN, 'train', '--limit', '64', '--test-limit', '20', '--epochs', '1', '--batch-size', '32', '--model', 'mlp', '--out', out, ...extra], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, ms: performance.now() - t0 };
}

describe.skipIf(!BUILT)('train without the canvas package', () => {
  it('fails before training, naming the package and --no-images, and writes nothing', () => {
    const out = tmp.path('fail');
    const r = trainWithoutCanvas([], out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/needs the optional package @napi-rs\/canvas.*npm install @napi-rs\/canvas/);
    expect(r.stderr).toMatch(/--no-images/);
    expect(r.stderr).not.toMatch(/epoch 1/);
    expect(existsSync(out)).toBe(false);
  });

  it('--no-images trains and writes checkpoint, weights and metrics, no PNG', () => {
    const out = tmp.path('plain');
    const r = trainWithoutCanvas(['--no-images'], out);
    expect(r.status, r.stderr).toBe(0);
    expect(ls(out)).toEqual(['checkpoint.safetensors', 'metrics.jsonl', 'model.safetensors']);
  });
});
