// The vaegrad commands end to end on small subsets: train (plain, JSON, TTY bar, mlp, --data),
// sample, reconstruct, interpolate, latent (t-SNE and the 2-D manifold), eval, and every --help.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import * as spec from '../../src/cli/spec.js';
import { loadSafetensors } from '../../src/node/index.js';
import { imageGridSize } from '../../src/vae/draw.js';
import { ConvVAE } from '../../src/vae/models.js';
import { CONTROL, FASHION, ls, pngSize, run, scratch, writeIdxDir, type RunResult } from './helpers.js';

const tmp = scratch('cli');
const out = tmp.path('run');
let trained: RunResult;

beforeAll(async () => {
  trained = await run(['train', '--limit', '256', '--test-limit', '100', '--epochs', '2', '--batch-size', '64', '--out', out]);
});
afterAll(() => tmp.cleanup());

const grid = (n: number, cols: number): { width: number; height: number } => {
  const { width, height } = imageGridSize(n, 28, 28, { cols, scale: 3, pad: 2 });
  return { width, height };
};

describe('vaegrad train', () => {
  it('writes the checkpoint, weights, pictures and metrics of every epoch', () => {
    expect(trained.code, trained.stderr).toBe(0);
    expect(ls(out)).toEqual([
      'checkpoint.safetensors', 'loss.png', 'metrics.jsonl', 'model.safetensors',
      'recon_epoch_1.png', 'recon_epoch_2.png', 'samples_epoch_1.png', 'samples_epoch_2.png',
    ]);
    for (const e of [1, 2]) {
      expect(pngSize(`${out}/samples_epoch_${e}.png`)).toEqual(grid(64, 8));
      // 32 test images above their reconstructions: 4 pairs of rows of 8.
      expect(pngSize(`${out}/recon_epoch_${e}.png`)).toEqual(grid(64, 8));
    }
    expect(pngSize(`${out}/loss.png`)).toEqual({ width: 640, height: 400 });
    const lines = readFileSync(`${out}/metrics.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
    for (const l of lines) {
      for (const k of ['train_loss', 'train_bce', 'train_kl', 'test_loss', 'test_bce', 'test_kl']) expect(Number.isFinite(l[k]), k).toBe(true);
      expect(l.train_loss).toBeCloseTo(l.train_bce! + l.train_kl!, 3);
      expect(l.test_loss).toBeCloseTo(l.test_bce! + l.test_kl!, 3);
    }
  });

  it('writes model.safetensors as a PyTorch state_dict that loads into a ConvVAE', async () => {
    const sd = await loadSafetensors(`${out}/model.safetensors`);
    for (const k of ['encoder.0.weight', 'encoder.1.running_mean', 'encoder.1.num_batches_tracked', 'fc_mu.weight', 'fc_logvar.bias', 'decoder_input.0.weight', 'decoder.3.weight']) {
      expect(sd.has(k), k).toBe(true);
    }
    expect([...sd.keys()].some((k) => k.startsWith('optimizer.'))).toBe(false);
    const model = new ConvVAE({ latent: 20 });
    model.loadStateDict(sd);
    expect(model.fcMu.weight.shape).toEqual([20, sd.get('fc_mu.weight')!.shape[1]]);
  });

  it('prints one plain line per epoch without control characters when not on a terminal', () => {
    expect(trained.stdout).toBe('');
    const lines = trained.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^training conv VAE \(latent 20\) on 256 images/);
    expect(lines.filter((l) => /^epoch \d\/2 /.test(l))).toHaveLength(2);
    expect(lines).toHaveLength(3);
    expect(trained.stderr).not.toMatch(CONTROL);
    expect(lines[2]).toMatch(/^epoch 2\/2 .*loss [\d.]+.*test [\d.]+/);
  });

  it('--json prints one JSON line per epoch on stdout and nothing else', async () => {
    const r = await run(['train', '--json', '--limit', '64', '--test-limit', '20', '--epochs', '2', '--batch-size', '32', '--model', 'mlp', '--out', tmp.path('json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.event, l.epoch])).toEqual([['epoch', 1], ['epoch', 2]]);
    for (const l of lines) for (const k of ['train_loss', 'test_loss', 'train_bce', 'train_kl', 'test_bce', 'test_kl']) expect(typeof l[k]).toBe('number');
  });

  it('--model mlp trains the MLP VAE and records it in model.safetensors', async () => {
    const dir = tmp.path('mlp');
    const r = await run(['train', '--model', 'mlp', '--latent', '8', '--limit', '128', '--test-limit', '50', '--epochs', '1', '--batch-size', '64', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training mlp VAE \(latent 8\)/);
    const sd = await loadSafetensors(`${dir}/model.safetensors`);
    expect([...sd.keys()].sort()).toEqual(['fc1.bias', 'fc1.weight', 'fc21.bias', 'fc21.weight', 'fc22.bias', 'fc22.weight', 'fc3.bias', 'fc3.weight', 'fc4.bias', 'fc4.weight']);
    expect(sd.get('fc21.weight')!.shape).toEqual([8, 400]);
    expect(existsSync(`${dir}/samples_epoch_1.png`)).toBe(true);
  });

  it('draws a live bar on a terminal', async () => {
    const r = await run(['train', '--model', 'mlp', '--limit', '64', '--test-limit', '20', '--epochs', '1', '--batch-size', '16', '--out', tmp.path('tty')], { isTTY: true });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\r/);
    expect(r.stderr).toMatch(/epoch 1\/1/);
  });

  it('--data reads a directory of gzipped IDX files', async () => {
    const data = tmp.path('idx');
    writeIdxDir(data, { gzip: true, train: 96, test: 40 });
    const dir = tmp.path('idx-run');
    const r = await run(['train', '--data', data, '--model', 'mlp', '--epochs', '1', '--batch-size', '32', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/on 96 images of .*idx/);
    expect(ls(dir)).toContain('model.safetensors');
  });

  it.runIf(existsSync(FASHION))('--data /usr/share/datasets/fashion-mnist trains on Fashion-MNIST', async () => {
    const dir = tmp.path('fashion');
    const r = await run(['train', '--data', FASHION, '--limit', '128', '--test-limit', '50', '--epochs', '1', '--batch-size', '64', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`on 128 images of ${FASHION}`);
    expect(ls(dir)).toContain('checkpoint.safetensors');
    const e = await run(['eval', '--checkpoint', `${dir}/checkpoint.safetensors`, '--data', FASHION, '--limit', '20', '--k', '2']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).images).toBe(20);
  });
  if (!existsSync(FASHION)) console.log(`notice: ${FASHION} is absent (apt-get install dataset-fashion-mnist): skipping the Fashion-MNIST test`);
});

describe('exploring a trained model', () => {
  const ckpt = (): string => `${out}/checkpoint.safetensors`;

  it('sample: N images from N(0, I) to a PNG grid', async () => {
    const file = tmp.path('explore', 'samples.png');
    const r = await run(['sample', '--checkpoint', ckpt(), '--n', '10', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote 10 samples to ${file}`);
    expect(pngSize(file)).toEqual(grid(10, 4));
  });

  it('sample reads a bare model.safetensors too', async () => {
    const file = tmp.path('explore', 'samples-bare.png');
    const r = await run(['sample', '--checkpoint', `${out}/model.safetensors`, '--n', '4', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(pngSize(file)).toEqual(grid(4, 2));
  });

  it('reconstruct: test images above their reconstructions', async () => {
    const file = tmp.path('explore', 'recon.png');
    const r = await run(['reconstruct', '--checkpoint', ckpt(), '--n', '16', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(pngSize(file)).toEqual(grid(32, 8));
  });

  it('interpolate: a strip between two test images', async () => {
    const file = tmp.path('explore', 'interp.png');
    const r = await run(['interpolate', '--checkpoint', ckpt(), '--from', '3', '--to', '7', '--steps', '6', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('from test image 3 to test image 7');
    expect(pngSize(file)).toEqual(grid(6, 6));
  });

  it('latent: a t-SNE plot of the latent means', async () => {
    const file = tmp.path('explore', 'latent.png');
    const manifold = tmp.path('explore', 'manifold.png');
    const r = await run(['latent', '--checkpoint', ckpt(), '--n', '60', '--iterations', '50', '--perplexity', '10', '--out', file, '--manifold', manifold]);
    expect(r.code, r.stderr).toBe(0);
    expect(pngSize(file)).toEqual({ width: 720, height: 600 });
    expect(existsSync(manifold)).toBe(false); // latent 20: no manifold
  });

  it('latent: a 2-D latent model also gets the decoded manifold', async () => {
    const dir = tmp.path('latent2');
    const t = await run(['train', '--latent', '2', '--limit', '128', '--test-limit', '60', '--epochs', '1', '--batch-size', '64', '--out', dir]);
    expect(t.code, t.stderr).toBe(0);
    const file = tmp.path('explore2', 'latent.png');
    const manifold = tmp.path('explore2', 'manifold.png');
    const r = await run(['latent', '--checkpoint', `${dir}/checkpoint.safetensors`, '--n', '60', '--iterations', '50', '--out', file, '--manifold', manifold]);
    expect(r.code, r.stderr).toBe(0);
    expect(pngSize(file)).toEqual({ width: 720, height: 600 });
    expect(pngSize(manifold)).toEqual(grid(400, 20));
    expect(r.stderr).toContain(`wrote the decoded manifold to ${manifold}`);
  });

  it('eval: one JSON line, the same on a rerun', async () => {
    const argv = ['eval', '--checkpoint', ckpt(), '--limit', '100', '--k', '5'];
    const a = await run(argv);
    expect(a.code, a.stderr).toBe(0);
    const lines = a.stdout.split('\n');
    expect(lines).toHaveLength(2); // one line and its newline
    const r = JSON.parse(lines[0]!) as Record<string, number>;
    for (const k of ['test_loss', 'test_bce', 'test_kl', 'nll_iwae', 'bits_per_dim', 'k']) expect(Number.isFinite(r[k]), k).toBe(true);
    expect(r.k).toBe(5);
    expect(r.images).toBe(100);
    expect(r.test_loss).toBeCloseTo(r.test_bce! + r.test_kl!, 3);
    expect(r.bits_per_dim).toBeCloseTo(r.nll_iwae! / (784 * Math.LN2), 9);
    // The IWAE bound with k samples is no looser than the ELBO estimate, give or take noise.
    expect(r.nll_iwae).toBeLessThan(r.test_loss! * 1.05);
    const b = await run(argv);
    expect(b.stdout).toBe(a.stdout);
  });
});

describe('--help', () => {
  it('vaegrad --help lists the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of spec.cli.commands) expect(r.stdout).toContain(c.name);
  });

  for (const c of spec.cli.commands) {
    it(`vaegrad ${c.name} --help lists its flags`, async () => {
      const r = await run([c.name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`vaegrad ${c.name}`);
      for (const flag of Object.keys(c.flags)) expect(r.stdout).toContain(`--${flag}`);
      const short = await run([c.name, '-h']);
      expect(short.stdout).toBe(r.stdout);
    });
  }
});
