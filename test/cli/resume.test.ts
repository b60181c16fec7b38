// --resume ends with the same weights as an uninterrupted run: after a finished epoch, after a
// stop before an epoch's first step, and after a real Ctrl-C (SIGINT) in the middle of an epoch.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { readCheckpoint } from '../../src/vae/checkpoint.js';
import { BUILT, ls, run, scratch, spawnCli } from './helpers.js';

const tmp = scratch('resume');
afterAll(() => tmp.cleanup());

const FLAGS = ['--limit', '256', '--test-limit', '50', '--batch-size', '64'];
const bytes = (file: string): Buffer => readFileSync(file);
const tempFiles = (dir: string): string[] => ls(dir).filter((n) => n.startsWith('.') || n.endsWith('.tmp'));

describe('train --resume', () => {
  let full: string;

  it('1 epoch + --resume --epochs 2 gives the bytes of an uninterrupted 2-epoch run', async () => {
    full = tmp.path('full');
    const a = await run(['train', ...FLAGS, '--epochs', '2', '--out', full]);
    expect(a.code, a.stderr).toBe(0);
    const part = tmp.path('part');
    const b = await run(['train', ...FLAGS, '--epochs', '1', '--out', part]);
    expect(b.code, b.stderr).toBe(0);
    const c = await run(['train', ...FLAGS, '--epochs', '2', '--resume', '--out', part]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(/epoch 2\/2/);
    expect(c.stderr).not.toMatch(/epoch 1\/2/);
    expect(bytes(`${part}/model.safetensors`).equals(bytes(`${full}/model.safetensors`))).toBe(true);
    expect(bytes(`${part}/checkpoint.safetensors`).equals(bytes(`${full}/checkpoint.safetensors`))).toBe(true);
    // The metrics file keeps epoch 1 and gains epoch 2, with the same losses.
    const losses = (dir: string): number[][] => readFileSync(`${dir}/metrics.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).map((m) => [m.epoch!, m.train_loss!, m.test_loss!]);
    expect(losses(part)).toEqual(losses(full));
    expect(ls(part)).toEqual(ls(full));
  });

  it('a stop between epochs (before the first step) resumes to the same bytes', async () => {
    const dir = tmp.path('stop0');
    // Ctrl-C as the epoch-1 line is printed, i.e. after the epoch's files and before epoch 2's first step:
    // call the SIGINT handler that train installed (emitting SIGINT would reach the test runner's too).
    const before = new Set(process.listeners('SIGINT'));
    let sent = false;
    const a = await run(['train', ...FLAGS, '--epochs', '2', '--out', dir], {
      onStderr: (chunk) => {
        if (sent || !/^epoch 1\/2/m.test(chunk)) return;
        sent = true;
        for (const l of process.listeners('SIGINT')) if (!before.has(l)) (l as () => void)();
      },
    });
    expect(sent).toBe(true);
    expect(a.code, a.stderr).toBe(130);
    expect(a.stderr).toMatch(/saved .*checkpoint\.safetensors at epoch 2, step 0; continue with --resume/);
    expect(process.listeners('SIGINT').filter((l) => !before.has(l))).toHaveLength(0);
    const ck = readCheckpoint(new Uint8Array(bytes(`${dir}/checkpoint.safetensors`)), 'checkpoint');
    expect(ck.meta.progress).toMatchObject({ epoch: 1, step: 0 });
    const b = await run(['train', ...FLAGS, '--epochs', '2', '--resume', '--out', dir]);
    expect(b.code, b.stderr).toBe(0);
    expect(bytes(`${dir}/model.safetensors`).equals(bytes(`${full}/model.safetensors`))).toBe(true);
  });
});

describe.runIf(BUILT)('Ctrl-C (a real SIGINT to `node bin/vaegrad.js train`)', () => {
  it('exits 130 with a valid checkpoint and no temp files; --resume ends bit-identical to an uninterrupted run', async () => {
    // 8 steps per epoch: SIGINT lands in epoch 2 (or, on a slow machine, in epoch 3; either way mid-run).
    const flags = ['train', '--limit', '512', '--test-limit', '50', '--batch-size', '64', '--epochs', '3'];
    const stopped = tmp.path('sigint');
    const uninterrupted = tmp.path('sigint-full');
    let sentAt = '';
    const [a, full] = await Promise.all([
      spawnCli([...flags, '--out', stopped], {
        onStderr: (text, child) => {
          if (sentAt || !/^epoch 1\/3/m.test(text)) return;
          sentAt = text;
          setTimeout(() => child.kill('SIGINT'), 300);
        },
      }),
      spawnCli([...flags, '--out', uninterrupted]),
    ]);
    expect(full.code, full.stderr).toBe(0);
    expect(sentAt).not.toBe('');
    expect(a.code, a.stderr).toBe(130);
    const saved = /saved .*checkpoint\.safetensors at epoch (\d), step (\d+); continue with --resume/.exec(a.stderr);
    expect(saved, a.stderr).not.toBeNull();
    expect(tempFiles(stopped)).toEqual([]);
    const ck = readCheckpoint(new Uint8Array(bytes(`${stopped}/checkpoint.safetensors`)), 'checkpoint');
    expect(ck.meta.progress.epoch).toBe(Number(saved![1]) - 1);
    expect(ck.meta.progress.step).toBe(Number(saved![2]));
    expect(ck.meta.config).toMatchObject({ model: 'conv', latent: 20, batchSize: 64, seed: 1 });

    const b = await spawnCli([...flags, '--resume', '--out', stopped]);
    expect(b.code, b.stderr).toBe(0);
    expect(tempFiles(stopped)).toEqual([]);
    expect(bytes(`${stopped}/model.safetensors`).equals(bytes(`${uninterrupted}/model.safetensors`))).toBe(true);
    expect(bytes(`${stopped}/checkpoint.safetensors`).equals(bytes(`${uninterrupted}/checkpoint.safetensors`))).toBe(true);
    expect(ls(stopped)).toEqual(ls(uninterrupted));
  });

  it('a second Ctrl-C quits at once (130), leaving a valid checkpoint and no temp files', async () => {
    const dir = tmp.path('sigint2');
    let first = false;
    let second = false;
    const r = await spawnCli(['train', ...FLAGS, '--epochs', '3', '--out', dir], {
      onStderr: (text, child) => {
        if (!first && /^epoch 1\/3/m.test(text)) {
          first = true;
          setTimeout(() => child.kill('SIGINT'), 100);
        } else if (first && !second && /stopping after this step/.test(text)) {
          second = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(second, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(tempFiles(dir)).toEqual([]);
    // The epoch-1 checkpoint, or the interrupted epoch's if its save beat the second signal.
    const ck = readCheckpoint(new Uint8Array(bytes(`${dir}/checkpoint.safetensors`)), 'checkpoint');
    expect(ck.meta.progress.epoch).toBe(1);
  });
});
if (!BUILT) console.log('notice: dist/ is not built (npm run build): skipping the Ctrl-C test, which runs bin/vaegrad.js');
