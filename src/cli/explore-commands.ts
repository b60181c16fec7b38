// `vaegrad sample | reconstruct | interpolate | latent | eval`: looking at a trained model.

import { noGrad } from '../autograd/grad-mode.js';
import { linspace, randn, tensor } from '../creation.js';
import { Generator } from '../random.js';
import { batchOf, spreadIndices } from '../vae/data.js';
import { evaluate } from '../vae/train.js';
import { tsne } from '../vae/tsne.js';
import type { ParsedFlags } from './args.js';
import type { evaluate as evalSpec, interpolate as interpSpec, latent as latentSpec, reconstruct as reconSpec, sample as sampleSpec } from './spec.js';
import { CliError, checkWritableFileDir, chooseBackend, loadSplit, loadModel, makeFileDir } from './context.js';
import { writeFileAtomic } from '../node/files.js';
import { imageGridPng, reconstructionsPng, scatterPng } from './pictures.js';

type Log = (line: string) => void;
type ModelFlags = { checkpoint: string; model?: 'conv' | 'mlp'; latent?: number; device: 'cpu' | 'gpu'; backend: 'wasm' | 'js'; threads?: number };

async function setup(f: ModelFlags, note: Log, ...outFiles: string[]): Promise<Awaited<ReturnType<typeof loadModel>>> {
  await chooseBackend(f.device, f.backend, note, f.threads);
  for (const file of outFiles) checkWritableFileDir(file);
  return loadModel(f.checkpoint, f.model, f.latent);
}

export async function sampleCommand(f: ParsedFlags<typeof sampleSpec.flags>, log: Log): Promise<number> {
  const model = await setup(f, log, f.out);
  const images = noGrad(() => model.decode(randn([f.n, model.latent], { generator: new Generator(f.seed) })).sigmoid().dataSync() as Float32Array);
  makeFileDir(f.out);
  await writeFileAtomic(f.out, await imageGridPng(images, f.n, Math.ceil(Math.sqrt(f.n))));
  log(`wrote ${f.n} samples to ${f.out}`);
  return 0;
}

export async function reconstructCommand(f: ParsedFlags<typeof reconSpec.flags>, log: Log): Promise<number> {
  const model = await setup(f, log, f.out);
  const test = await loadSplit(f.data, 'test');
  const n = Math.min(f.n, test.n);
  const { x } = batchOf(test, spreadIndices(test.n, n));
  const recon = noGrad(() => model.forward(x, { useMean: true }).logits.sigmoid().dataSync() as Float32Array);
  makeFileDir(f.out);
  await writeFileAtomic(f.out, await reconstructionsPng(x.dataSync() as Float32Array, recon, n));
  log(`wrote ${n} test images and their reconstructions to ${f.out}`);
  return 0;
}

export async function interpolateCommand(f: ParsedFlags<typeof interpSpec.flags>, log: Log): Promise<number> {
  const model = await setup(f, log, f.out);
  const test = await loadSplit(f.data, 'test');
  for (const [name, i] of [['--from', f.from], ['--to', f.to]] as const) {
    if (i >= test.n) throw new CliError(`${name} ${i}: the test set has ${test.n} images (0..${test.n - 1})`);
  }
  const images = noGrad(() => {
    const { mu } = model.encode(batchOf(test, Int32Array.from([f.from, f.to])).x);
    const t = linspace(0, 1, f.steps).reshape([-1, 1]);
    const z = mu.select(0, 0).mul(t.neg().add(1)).add(mu.select(0, 1).mul(t));
    return model.decode(z).sigmoid().dataSync() as Float32Array;
  });
  makeFileDir(f.out);
  await writeFileAtomic(f.out, await imageGridPng(images, f.steps, f.steps));
  log(`wrote ${f.steps} images from test image ${f.from} to test image ${f.to} to ${f.out}`);
  return 0;
}

export async function latentCommand(f: ParsedFlags<typeof latentSpec.flags>, log: Log): Promise<number> {
  const model = await setup(f, log, f.out);
  if (model.latent === 2) checkWritableFileDir(f.manifold);
  const test = await loadSplit(f.data, 'test', f.n, f.seed);
  if (f.perplexity >= test.n) throw new CliError(`--perplexity ${f.perplexity} must be smaller than the number of points (${test.n})`);
  const { x, labels } = batchOf(test, Int32Array.from({ length: test.n }, (_, i) => i));
  const mu = noGrad(() => model.encode(x).mu);
  const points = model.latent === 2 ? mu : tsne(mu, { perplexity: f.perplexity, iterations: f.iterations, seed: f.seed });
  const title = model.latent === 2 ? `Latent means of ${test.n} test images` : `t-SNE of the latent means of ${test.n} test images (latent ${model.latent})`;
  makeFileDir(f.out);
  await writeFileAtomic(f.out, await scatterPng(points.dataSync() as Float32Array, labels, title));
  log(`wrote ${f.out}`);
  if (model.latent === 2) {
    makeFileDir(f.manifold);
    // Decode a 20 x 20 grid of z over [-3, 3]^2 (rows: z1 from high to low, as a plot's y axis).
    const g = 20;
    const zs = new Float32Array(g * g * 2);
    for (let r = 0; r < g; r++) for (let c = 0; c < g; c++) zs.set([-3 + (6 * c) / (g - 1), 3 - (6 * r) / (g - 1)], (r * g + c) * 2);
    const images = noGrad(() => model.decode(tensor(zs, { shape: [g * g, 2] })).sigmoid().dataSync() as Float32Array);
    await writeFileAtomic(f.manifold, await imageGridPng(images, g * g, g));
    log(`wrote the decoded manifold to ${f.manifold}`);
  }
  return 0;
}

export async function evalCommand(f: ParsedFlags<typeof evalSpec.flags>, print: Log, note: Log): Promise<number> {
  const model = await setup(f, note);
  const test = await loadSplit(f.data, 'test', f.limit, f.seed);
  const r = evaluate(model, test, { k: f.k, seed: f.seed });
  print(JSON.stringify(r));
  return 0;
}
