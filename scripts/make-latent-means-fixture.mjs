#!/usr/bin/env node
// test/fixtures/latent-means.safetensors: the latent means (mu, [1000, 20] float32) and labels
// ([1000] int32) of the 1,000 test images the explorer page plots by default, encoded by a trained
// reference ConvVAE (eval mode): the stratified 2,000-image test subset `vaegrad serve` serves
// (seed 0), every other image, as the page's plotIndices picks them. t-SNE's test uses them: on
// these means the early exaggeration once contracted the whole embedding to ~1e-29.
// Run after `npm run build`, with the model of the README's run (10 epochs, seed 1):
//   node scripts/make-latent-means-fixture.mjs runs/vae/model.safetensors [test/fixtures/latent-means.safetensors]
import { readFileSync, writeFileSync } from 'node:fs';
import { noGrad, stateDictToSafetensors, tensor } from '../dist/src/index.js';
import { mnist } from '../dist/src/node/index.js';
import { stratifiedSubset, vaeFromSafetensors } from '../dist/src/vae/index.js';
import { EXPLORER_TEST_IMAGES } from '../dist/src/cli/serve-command.js';

const [modelFile, out = 'test/fixtures/latent-means.safetensors'] = process.argv.slice(2);
if (!modelFile) {
  console.error('usage: node scripts/make-latent-means-fixture.mjs MODEL.safetensors [OUT]');
  process.exit(2);
}
const N = 1000;
const model = vaeFromSafetensors(new Uint8Array(readFileSync(modelFile)), modelFile);
const test = stratifiedSubset(mnist({ train: false }), EXPLORER_TEST_IMAGES, 0);
const idx = Array.from({ length: N }, (_, i) => Math.floor((i * test.n) / N));
const x = new Float32Array(N * 784);
// The page sees the served bytes: pixels rounded to k / 255.
idx.forEach((s, i) => { for (let k = 0; k < 784; k++) x[i * 784 + k] = Math.round(test.pixels[s * 784 + k] * 255) / 255; });
const mu = noGrad(() => model.encode(tensor(x, { shape: [N, 1, 28, 28] })).mu.contiguous());
const labels = tensor(Int32Array.from(idx, (s) => test.labelValues[s]), { shape: [N], dtype: 'int32' });
writeFileSync(out, stateDictToSafetensors(new Map([['mu', mu], ['labels', labels]]), { source: `latent means of ${N} explorer test images, ${modelFile}` }));
console.log(`wrote ${out}`);
