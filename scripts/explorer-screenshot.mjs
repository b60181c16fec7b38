// The README's picture of the explorer and its decode latency: serves a checkpoint the way
// `vaegrad serve` does, opens the page in headless Chromium (Debian's /usr/bin/chromium),
// computes the t-SNE, moves the pointer over the plot and reports the decode times the page
// measured, trains briefly in the worker (so the loss curve shows), then writes a screenshot.
//
//   npm run build && node scripts/explorer-screenshot.mjs runs/vae/model.safetensors [docs/explorer.png]
//
// Options (environment): POINTS (default 1000), ITERATIONS (t-SNE, default 500), HOVERS (default 100),
// TRAIN_IMAGES (default 2000; 0 skips the training run), VIEW (tsne or dims, default tsne).
import { chromium } from 'playwright-core';
import { startExplorer } from '../dist/src/cli/serve-command.js';

const [checkpoint, out = 'docs/explorer.png'] = process.argv.slice(2);
if (!checkpoint) {
  console.error('usage: node scripts/explorer-screenshot.mjs CHECKPOINT [OUT.png]');
  process.exit(2);
}
const env = (k, d) => Number(process.env[k] ?? d);
const points = env('POINTS', 1000);
const iterations = env('ITERATIONS', 500);
const hovers = env('HOVERS', 100);
const trainImages = env('TRAIN_IMAGES', 2000);
const view = process.env.VIEW ?? 'tsne'; // or 'dims': the two-latent-dimension view

const explorer = await startExplorer({ checkpoint, port: 0, host: '127.0.0.1', data: undefined }, new Set(['checkpoint']), (l) => console.error(l));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1340, height: 900 } });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  page.setDefaultTimeout(0); // a busy machine loads the ~100 modules slowly
  await page.goto(`${explorer.url}explorer/?points=${points}&iterations=${iterations}`, { waitUntil: 'commit' });
  await page.waitForFunction(() => 'explorer' in window);
  if (!(await page.evaluate(() => window.explorer.ready))) throw new Error(await page.textContent('#error'));
  // Train first (the page then shows the trained model), so that the t-SNE and the hovers are of the model pictured.
  if (trainImages > 0) {
    await page.fill('#epochs', '2');
    await page.fill('#train-images', String(trainImages));
    await page.click('#train');
    await page.waitForFunction(() => !window.explorer.training, undefined, { timeout: 0, polling: 500 });
  }
  const t0 = Date.now();
  if (view === 'tsne') {
    await page.selectOption('#view', 'tsne');
    await page.waitForFunction(() => window.explorer.hasTsne, undefined, { timeout: 0, polling: 500 });
  }
  const tsneSeconds = view === 'tsne' ? (Date.now() - t0) / 1000 : null;

  // The pointer sweeps the plot on a grid; the page times each decode (model.decode + sigmoid + readback).
  await page.locator('#latent').scrollIntoViewIfNeeded();
  const box = await page.locator('#latent').boundingBox();
  const side = Math.ceil(Math.sqrt(hovers));
  for (let k = 0; k < hovers; k++) {
    const count = (await page.evaluate(() => window.explorer.decodeMs)).length;
    await page.mouse.move(box.x + 70 + ((k % side) + 0.5) * (380 / side), box.y + 50 + (Math.floor(k / side) + 0.5) * (340 / side));
    await page.waitForFunction((c) => window.explorer.decodeMs.length > c, count);
  }
  const ms = (await page.evaluate(() => window.explorer.decodeMs)).sort((a, b) => a - b);
  const q = (f) => ms[Math.min(ms.length - 1, Math.floor(f * ms.length))];

  // End with the pointer on a point so that the decoded digit and the marker show.
  const p = (await page.evaluate(() => window.explorer.plotPoints()))[7];
  await page.locator('#latent').hover({ position: { x: p.cx, y: p.cy } });
  await page.waitForFunction(() => document.getElementById('offline').textContent.startsWith('Saved'), undefined, { timeout: 60_000 }).catch(() => {});
  await page.waitForTimeout(300);
  await page.screenshot({ path: out, fullPage: true });
  console.log(JSON.stringify({
    out, view, points, iterations, tsneSeconds, decodes: ms.length,
    decodeMs: { median: +q(0.5).toFixed(2), p90: +q(0.9).toFixed(2), min: +ms[0].toFixed(2), max: +ms[ms.length - 1].toFixed(2) },
    trainStatus: trainImages > 0 ? await page.textContent('#train-status') : null,
    status: await page.textContent('#status'),
    engine: await page.textContent('#engine'),
  }));
} finally {
  await browser.close();
  await explorer.close();
}
