// Issue 15, the trainer's side: outputs that cannot go stale, one trainer per directory, --resume
// that refuses other data, nothing non-finite committed or used, checkpoint metadata checked
// field by field, and flags refused up front with messages that name them.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { tensor } from '../../src/creation.js';
import { safetensorsToStateDict, stateDictToSafetensors } from '../../src/io/state-dict.js';
import { makeDirectorySync } from '../../src/node/files.js';
import { readCheckpoint } from '../../src/vae/checkpoint.js';
import { ls, run, scratch, writeIdxDir, type RunResult } from './helpers.js';

const tmp = scratch('hardening');
afterAll(() => tmp.cleanup());

const idx = tmp.path('idx');
const FLAGS = ['--model', 'mlp', '--data', idx, '--batch-size', '16', '--test-limit', '10'];
const train = (out: string, ...more: string[]): Promise<RunResult> => run(['train', ...FLAGS, '--out', out, ...more]);
const one = tmp.path('one'); // 1 epoch
const two = tmp.path('two'); // 2 epochs, uninterrupted
const bytes = (file: string): Buffer => readFileSync(file);
let n = 0;
/** A copy of a run's directory to damage. */
const copyOf = (dir: string): string => {
  const to = tmp.path(`copy${++n}`);
  cpSync(dir, to, { recursive: true });
  return to;
};
const losses = (dir: string): unknown[] => readFileSync(`${dir}/metrics.jsonl`, 'utf8').trim().split('\n').map((l) => {
  const { seconds: _s, images_per_s: _i, ...rest } = JSON.parse(l) as Record<string, unknown>;
  return rest;
});

/** Rewrite a checkpoint's metadata (and tensors) as a crafted file would. */
function editCheckpoint(file: string, edit: (meta: Record<string, any>, tensors: Map<string, ReturnType<typeof tensor>>) => void): void {
  const { tensors, metadata } = safetensorsToStateDict(new Uint8Array(readFileSync(file)), file);
  const meta = JSON.parse(metadata.vaegrad!) as Record<string, any>;
  edit(meta, tensors);
  writeFileSync(file, stateDictToSafetensors(tensors, { ...metadata, vaegrad: JSON.stringify(meta) }));
}

/** The tensor with one element replaced. */
function poisoned(t: ReturnType<typeof tensor>, value: number): ReturnType<typeof tensor> {
  const d = Float32Array.from(t.dataSync() as Float32Array);
  d[3] = value;
  return tensor(d, { shape: t.shape });
}

/** A process id that exists (a child that sleeps until killed) or that no longer does. */
function liveProcess(): { pid: number; stop: () => void } {
  const c = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  return { pid: c.pid!, stop: () => c.kill('SIGKILL') };
}
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

function failed(r: RunResult, message: RegExp, code = 1): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
}

beforeAll(async () => {
  writeIdxDir(idx, { train: 32, test: 10 });
  for (const [dir, epochs] of [[one, '1'], [two, '2']] as const) {
    const r = await train(dir, '--epochs', epochs);
    if (r.code !== 0) throw new Error(r.stderr);
  }
}, 120_000);

describe('the checkpoint commits an epoch; --resume restores its outputs', () => {
  it('outputs missing or older than the checkpoint are rewritten (the final-epoch model too)', async () => {
    const dir = copyOf(two);
    copyFileSync(`${one}/model.safetensors`, `${dir}/model.safetensors`); // the previous epoch's weights
    rmSync(`${dir}/samples_epoch_2.png`);
    writeFileSync(`${dir}/metrics.jsonl`, readFileSync(`${one}/metrics.jsonl`)); // lost a line
    const r = await train(dir, '--epochs', '2', '--resume');
    failed(r, /already done 2 epochs/);
    expect(r.stderr).toMatch(/restored from .*checkpoint\.safetensors \(epoch 2\): model\.safetensors, samples_epoch_2\.png, metrics\.jsonl\n/);
    expect(ls(dir)).toEqual(ls(two));
    for (const f of ['model.safetensors', 'samples_epoch_2.png', 'loss.png', 'checkpoint.safetensors']) expect(bytes(`${dir}/${f}`).equals(bytes(`${two}/${f}`)), f).toBe(true);
    expect(losses(dir)).toEqual(losses(two));
  });

  it('outputs of an epoch that never committed are put back to the committed one', async () => {
    // A kill after epoch 2's model and pictures but before its checkpoint.
    const dir = copyOf(one);
    for (const f of ['model.safetensors', 'samples_epoch_2.png', 'recon_epoch_2.png', 'metrics.jsonl']) copyFileSync(`${two}/${f}`, `${dir}/${f}`);
    const r = await train(dir, '--epochs', '1', '--resume');
    failed(r, /already done 1 epoch;/);
    expect(r.stderr).toMatch(/removed recon_epoch_2\.png, removed samples_epoch_2\.png/);
    expect(ls(dir)).toEqual(ls(one));
    expect(bytes(`${dir}/model.safetensors`).equals(bytes(`${one}/model.safetensors`))).toBe(true);
    expect(losses(dir)).toEqual(losses(one));
  });

  it('a damaged metrics.jsonl is rewritten from the checkpoint, keeping the times of the lines that agree', async () => {
    const dir = copyOf(two);
    const lines = readFileSync(`${dir}/metrics.jsonl`, 'utf8').split('\n');
    writeFileSync(`${dir}/metrics.jsonl`, `${lines[0]}\n{"epoch": 2, "train_lo\n`);
    failed(await train(dir, '--epochs', '2', '--resume'), /already done/);
    const fixed = readFileSync(`${dir}/metrics.jsonl`, 'utf8').trim().split('\n');
    expect(fixed[0]).toBe(lines[0]);
    expect(JSON.parse(fixed[1]!)).toMatchObject({ epoch: 2, seconds: null, images_per_s: null });
    expect(losses(dir)).toEqual(losses(two));
  });

  it('a checkpoint without the record (older vaegrad) reads metrics.jsonl, naming a damaged line', async () => {
    const dir = copyOf(one);
    editCheckpoint(`${dir}/checkpoint.safetensors`, (meta) => delete meta.run);
    writeFileSync(`${dir}/metrics.jsonl`, `${readFileSync(`${dir}/metrics.jsonl`, 'utf8')}not json\n`);
    failed(await train(dir, '--epochs', '2', '--resume'), /metrics\.jsonl:2: not a JSON line/);
  });
});

describe('temporary files and the lock', () => {
  it('temp files of a dead writer are removed; those of a live one are kept', async () => {
    const dir = copyOf(one);
    const live = liveProcess();
    try {
      const stale = `.model.safetensors.${await deadPid()}.0123456789ab.tmp`;
      const busy = `.loss.png.${live.pid}.0123456789ab.tmp`;
      writeFileSync(`${dir}/${stale}`, 'x');
      writeFileSync(`${dir}/${busy}`, 'x');
      const r = await train(dir, '--epochs', '1', '--resume');
      expect(r.stderr).toMatch(/removed 1 temporary file of an interrupted run/);
      expect(existsSync(`${dir}/${stale}`)).toBe(false);
      expect(existsSync(`${dir}/${busy}`)).toBe(true);
    } finally {
      live.stop();
    }
  });

  it('a live trainer on the same --out is refused; a dead one\'s lock is taken over and released', async () => {
    const dir = copyOf(one);
    const live = liveProcess();
    try {
      writeFileSync(`${dir}/.vaegrad-train.lock`, `${live.pid}\n`);
      const r = await train(dir, '--epochs', '2', '--resume');
      failed(r, new RegExp(`another vaegrad train \\(process ${live.pid}\\) is writing to .*copy\\d+; wait for it to end or use another --out`));
      expect(existsSync(`${dir}/samples_epoch_2.png`)).toBe(false);
    } finally {
      live.stop();
    }
    writeFileSync(`${dir}/.vaegrad-train.lock`, `${await deadPid()}\n`);
    const r = await train(dir, '--epochs', '2', '--resume');
    expect(r.code, r.stderr).toBe(0);
    expect(ls(dir)).toEqual(ls(two));
  });
});

describe('--resume refuses other data and other settings, naming the flag', () => {
  it.each([
    [['--limit', '16'], /--limit 16: .* was trained without --limit; drop --limit to continue it/],
    [['--test-limit', '5'], /--test-limit 5: .* was trained with --test-limit 10/],
    [['--lr', '0.01'], /--lr 0\.01: .* was trained with --lr 0\.001/],
    [['--model', 'conv'], /--model conv: .* was trained with --model mlp/],
    [['--batch-size', '8'], /--batch-size 8: .* was trained with --batch-size 16/],
  ])('%j', async (flags, message) => {
    const dir = copyOf(one);
    failed(await run(['train', ...FLAGS, '--out', dir, '--epochs', '2', '--resume', ...flags]), message);
    expect(existsSync(`${dir}/samples_epoch_2.png`)).toBe(false);
  });

  it('another --data directory', async () => {
    const other = tmp.path('idx-other');
    writeIdxDir(other, { train: 32, test: 10 });
    const dir = copyOf(one);
    failed(await run(['train', ...FLAGS, '--data', other, '--out', dir, '--epochs', '2', '--resume']), /--data .*idx-other: .* was trained with --data .*idx;/);
  });

  it('a data directory whose contents changed', async () => {
    const changed = tmp.path('idx-changed');
    writeIdxDir(changed, { train: 32, test: 10 });
    const dir = tmp.path('changed-run');
    expect((await run(['train', ...FLAGS, '--data', changed, '--out', dir, '--epochs', '1'])).code).toBe(0);
    writeIdxDir(changed, { train: 40, test: 10 });
    failed(await run(['train', '--out', dir, '--epochs', '2', '--resume']), /now gives 40 training images, but .* was trained on 32: the data changed/);
  });

  it('without the flags, the checkpoint\'s data and settings are used: the same bytes as an uninterrupted run', async () => {
    const dir = copyOf(one);
    const r = await run(['train', '--out', dir, '--epochs', '2', '--resume']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['model.safetensors', 'checkpoint.safetensors', 'samples_epoch_2.png']) expect(bytes(`${dir}/${f}`).equals(bytes(`${two}/${f}`)), f).toBe(true);
  });
});

describe('nothing non-finite is committed or used', () => {
  it('--lr 1e3 with one step per epoch: an error naming what went non-finite and the step, and nothing written', async () => {
    const dir = tmp.path('lr1e3');
    const r = await run(['train', '--data', idx, '--limit', '32', '--batch-size', '32', '--test-limit', '10', '--lr', '1e3', '--epochs', '2', '--out', dir]);
    failed(r, /training diverged: (the test loss is NaN|[a-z_.\d]+ holds -?(NaN|Infinity)) after step 1 \(epoch 1/);
    expect(ls(dir)).toEqual([]);
  });

  it('--beta 1e30: Adam\'s state goes infinite; the error names the moment, its parameter and the step', async () => {
    const r = await run(['train', ...FLAGS, '--beta', '1e30', '--epochs', '1', '--out', tmp.path('beta')]);
    failed(r, /training diverged: optimizer\.\d+\.exp_avg_sq \(Adam's second moment of fc\d+\.(weight|bias)\) holds Infinity \(element \d+\) after step 1 \(epoch 1, batch 1 of 2\)/);
  });

  it('a diverging epoch never overwrites the good checkpoint', async () => {
    const dir = copyOf(one);
    editCheckpoint(`${dir}/checkpoint.safetensors`, (meta) => (meta.config.beta = 1e30));
    const before = ['checkpoint.safetensors', 'model.safetensors', 'metrics.jsonl'].map((f) => bytes(`${dir}/${f}`));
    const r = await train(dir, '--epochs', '2', '--resume');
    failed(r, /training diverged: optimizer\.\d+\.exp_avg_sq .* after step 3 \(epoch 2, batch 1 of 2\); nothing of the epoch was written, and .*checkpoint\.safetensors keeps the state of the last good checkpoint/);
    ['checkpoint.safetensors', 'model.safetensors', 'metrics.jsonl'].forEach((f, i) => expect(bytes(`${dir}/${f}`).equals(before[i]!), f).toBe(true));
    expect(existsSync(`${dir}/samples_epoch_2.png`)).toBe(false);
  });

  it('sample, eval and --resume refuse weights that are not finite, naming the tensor', async () => {
    const dir = copyOf(one);
    const { tensors, metadata } = safetensorsToStateDict(new Uint8Array(bytes(`${dir}/model.safetensors`)), 'model');
    tensors.set('fc3.weight', poisoned(tensors.get('fc3.weight')!, NaN));
    writeFileSync(`${dir}/model.safetensors`, stateDictToSafetensors(tensors, metadata));
    const model = `${dir}/model.safetensors`;
    failed(await run(['sample', '--checkpoint', model, '--out', `${dir}/s.png`]), /model\.safetensors: fc3\.weight holds NaN \(element 3\): the model's weights are not finite/);
    failed(await run(['eval', '--checkpoint', model, '--data', idx, '--k', '1']), /fc3\.weight holds NaN/);
    expect(existsSync(`${dir}/s.png`)).toBe(false);
    editCheckpoint(`${dir}/checkpoint.safetensors`, (_m, t) => t.set('optimizer.1.exp_avg', poisoned(t.get('optimizer.1.exp_avg')!, Infinity)));
    failed(await train(dir, '--epochs', '2', '--resume'), /checkpoint\.safetensors: optimizer\.1\.exp_avg holds Infinity \(element 3\): the checkpoint is not finite/);
  });
});

describe('checkpoint metadata is validated field by field', () => {
  it.each([
    ['config.lr', -1, /checkpoint field config\.lr must be a positive number, got -1/],
    ['config.lr', '0.001', /checkpoint field config\.lr must be a positive number, got "0\.001"/],
    ['config.beta', null, /checkpoint field config\.beta must be a non-negative number, got null/],
    ['config.batchSize', 1.5, /checkpoint field config\.batchSize must be an integer of at least 2, got 1\.5/],
    ['config.model', 'big', /checkpoint field config\.model must be 'conv' or 'mlp', got "big"/],
    ['config.latent', 1e9, /checkpoint field config\.latent 1000000000: the mlp VAE would have 1\.20e\+12 parameters, and training needs 17\.5 TiB/],
    ['progress.epoch', -1, /checkpoint field progress\.epoch must be a non-negative integer, got -1/],
    ['progress.step', 0.5, /checkpoint field progress\.step must be a non-negative integer, got 0\.5/],
    ['progress.step', 7, /checkpoint field progress\.step is 7, but an epoch of 32 images in batches of 16 has 2 steps/],
    ['progress.rng', { s: [1, 2, 3] }, /checkpoint field progress\.rng must be a generator state/],
    ['optimizer.lr', 0, /checkpoint field optimizer\.lr must be a positive number, got 0/],
    ['optimizer.steps', { x: 1 }, /checkpoint field optimizer\.steps must be an object from parameter indices to step counts/],
    ['running', { loss: 'a', bce: 0, kl: 0, images: 1 }, /checkpoint field running\.loss must be a finite number, got "a"/],
    ['run.history', 'none', /checkpoint field run\.history must be an array of metrics lines/],
    ['run.limit', 0, /checkpoint field run\.limit must be a positive integer or null, got 0/],
  ])('%s = %j', async (path, value, message) => {
    const dir = copyOf(one);
    editCheckpoint(`${dir}/checkpoint.safetensors`, (meta) => {
      const keys = path.split('.');
      const last = keys.pop()!;
      keys.reduce((o, k) => o[k], meta)[last] = value;
    });
    failed(await train(dir, '--epochs', '2', '--resume'), message);
    expect(existsSync(`${dir}/samples_epoch_2.png`)).toBe(false);
  });

  it('the commands that only read the model check it too', async () => {
    const dir = copyOf(one);
    editCheckpoint(`${dir}/checkpoint.safetensors`, (meta) => (meta.progress.step = 'x'));
    failed(await run(['sample', '--checkpoint', `${dir}/checkpoint.safetensors`, '--out', `${dir}/s.png`]), /checkpoint field progress\.step must be a non-negative integer, got "x"/);
  });
});

describe('flags and output directories refused before training', () => {
  it('--out in a directory that cannot be created (/proc) fails at once, without training', async () => {
    const r = await run(['train', ...FLAGS, '--epochs', '1', '--out', '/proc/vaegrad-x/run']);
    failed(r, /^vaegrad train: cannot write to output directory \/proc\/vaegrad-x\/run: cannot create directory \/proc\/vaegrad-x/);
    expect(r.stderr).not.toMatch(/epoch 1/);
    failed(await run(['sample', '--checkpoint', `${one}/checkpoint.safetensors`, '--out', '/proc/vaegrad-x/s.png']), /cannot write to output directory \/proc\/vaegrad-x/);
    expect(() => makeDirectorySync('/proc/vaegrad-x/y')).toThrow(/cannot create directory \/proc\/vaegrad-x/);
  }, 30_000);

  it('--out under a file', async () => {
    failed(await run(['train', ...FLAGS, '--out', `${one}/metrics.jsonl/run`]), /cannot write to output directory .*metrics\.jsonl\/run: .*metrics\.jsonl is not a directory/);
  });

  it('--batch-size 1 is refused up front; --help says why and that a last batch of one image is dropped', async () => {
    failed(await run(['train', '--batch-size', '1']), /--batch-size: expected an integer at least 2, got '1'/, 2);
    expect((await run(['train', '--help'])).stdout).toMatch(/at least 2 \(batch norm needs two\); a\s+last batch of a single image is left out of the epoch/);
  });

  it('a last batch of one image is dropped: 33 images in batches of 16 train in 2 steps (the conv model\'s batch norm)', async () => {
    const dir = tmp.path('odd');
    const odd = tmp.path('idx-33');
    writeIdxDir(odd, { train: 33, test: 10 });
    const r = await run(['train', '--data', odd, '--batch-size', '16', '--epochs', '1', '--no-images', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const ck = readCheckpoint(new Uint8Array(bytes(`${dir}/checkpoint.safetensors`)), 'ck');
    expect(Object.values(ck.meta.optimizer.steps)).toContain(2);
  }, 180_000);

  it('--limit 1 leaves no batch to train on', async () => {
    failed(await run(['train', ...FLAGS, '--limit', '1', '--out', tmp.path('one-image')]), /1 training image \(--limit 1\): training needs at least 2 \(batch norm\)/);
  });

  it('--latent 1000000000 names the flag and the bytes', async () => {
    failed(await run(['train', '--latent', '1000000000', '--out', tmp.path('huge')]), /--latent 1000000000: the conv VAE would have 7\.70e\+11 parameters, and training needs 11\.2 TiB for them .*, more than this machine's/);
  });

  it('--batch-size 60000 names the flag and the bytes, before any step', async () => {
    const big = tmp.path('idx-big');
    writeIdxDir(big, { train: 7000, test: 10 });
    const r = await run(['train', '--data', big, '--batch-size', '60000', '--out', tmp.path('big')]);
    failed(r, /--batch-size 60000: a training step of the conv VAE on 7000 images needs about 2\.3 GiB of WebAssembly memory, more than its 2\.0 GiB; use --batch-size 6112 or less/);
    expect(r.stderr).not.toMatch(/epoch 1/);
  }, 60_000);
});
