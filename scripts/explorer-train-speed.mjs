#!/usr/bin/env node
// Training speed in the explorer's worker against Node, in one run: the same ConvVAE from scratch
// (batch 128, seed 1) on the same images (a stratified subset of what `vaegrad serve` serves),
// first in Node, then in the page's module worker in headless Chromium (Debian's /usr/bin/chromium),
// then in Node again (so a change of load on a shared machine shows). Prints images per second
// per epoch, and what the worker reported of its engine (getBackendInfo(), threads).
//
//   npm run build && node scripts/explorer-train-speed.mjs
//
// Options (environment): IMAGES per epoch (default 2000), EPOCHS (default 3; the first includes warm-up).
import { chromium } from 'playwright-core';
import * as vg from '../dist/src/index.js';
import { EXPLORER_TRAIN_IMAGES, startExplorer } from '../dist/src/cli/serve-command.js';
import { mnist } from '../dist/src/node/index.js';
import { DEFAULT_CONFIG, Trainer, stratifiedSubset } from '../dist/src/vae/index.js';

const images = Number(process.env.IMAGES ?? 2000);
const epochs = Number(process.env.EPOCHS ?? 3);
const rate = (xs) => xs.map((e) => Math.round(e.imagesPerSecond));

async function inNode() {
  await vg.setBackend('wasm');
  // What the server serves (seed 0), then the worker's subset of it (seed 1), pixels as served (k / 255).
  const served = stratifiedSubset(mnist({ train: true }), EXPLORER_TRAIN_IMAGES, 0);
  const data = stratifiedSubset(served, images, 1);
  const trainer = new Trainer({ ...DEFAULT_CONFIG, batchSize: 128 });
  const out = [];
  for (let e = 0; e < epochs; e++) {
    const t0 = performance.now();
    const { averages } = await trainer.trainEpoch(data);
    out.push({ epoch: e + 1, imagesPerSecond: averages.images / ((performance.now() - t0) / 1000) });
  }
  return out;
}

async function inBrowser() {
  const explorer = await startExplorer({ checkpoint: 'no-such-checkpoint.safetensors', port: 0, host: '127.0.0.1', data: undefined }, new Set(), () => {});
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    page.setDefaultTimeout(0);
    await page.goto(`${explorer.url}explorer/`, { waitUntil: 'commit' });
    await page.waitForFunction(() => 'explorer' in window);
    if (!(await page.evaluate(() => window.explorer.ready))) throw new Error(await page.textContent('#error'));
    await page.selectOption('#train-from', 'scratch');
    await page.fill('#epochs', String(epochs));
    await page.fill('#train-images', String(images));
    await page.fill('#batch-size', '128');
    await page.click('#train');
    await page.waitForFunction(() => !window.explorer.training, undefined, { timeout: 0, polling: 500 });
    const error = await page.isHidden('#error') ? null : await page.textContent('#error');
    if (error) throw new Error(error);
    return { epochs: await page.evaluate(() => window.explorer.epochs), engine: await page.textContent('#engine') };
  } finally {
    await browser.close();
    await explorer.close();
  }
}

const node1 = await inNode();
const page = await inBrowser();
const node2 = await inNode();
console.log(JSON.stringify({ images, epochs, batchSize: 128, nodeBefore: rate(node1), worker: rate(page.epochs), nodeAfter: rate(node2), engine: page.engine }));
