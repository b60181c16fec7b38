// The explorer page of `vaegrad serve`, end to end in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core, as browser.test.ts): a tiny ConvVAE trained here is
// served; the page loads it, draws samples, decodes the point under the pointer, interpolates
// with the slider, rejects a corrupt dropped file and keeps working, downloads a model that
// Node loads with the same outputs, trains in its worker (the loss falls; Stop stops), embeds
// the means with t-SNE and decodes its neighbourhoods, and works offline once served (the server
// stopped, a reload still loads, decodes and trains). Canvases are checked on content (drawn,
// changed, closer to the right digit), not on exact pixels.
//
// Needs dist/ built (`npm test` builds it). Skips with a notice outside CI when Chromium is absent.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import * as vg from '../../src/index.js';
import { browserSuite, CHROMIUM, FLAGS, missing, ROOT } from './chromium.js';
import { loadModel } from '../../src/cli/context.js';
import type { Explorer } from '../../src/cli/serve-command.js';
import { mnist } from '../../src/node/mnist.js';
import { DEFAULT_CONFIG, Trainer, checkpointBytes, stratifiedSubset } from '../../src/vae/index.js';
import { neighbourAgreement } from '../../src/vae/tsne.js';
import { scratch } from '../cli/helpers.js';

const suite = browserSuite('explorer');

/** Grey levels (red channel, 0..255) of a canvas region. */
async function pixels(page: Page, id: string, region?: [number, number, number, number]): Promise<number[]> {
  return page.evaluate(([id, region]) => {
    const c = document.getElementById(id as string) as HTMLCanvasElement;
    const [x, y, w, h] = (region as number[] | undefined) ?? [0, 0, c.width, c.height];
    const d = c.getContext('2d')!.getImageData(x!, y!, w!, h!).data;
    return Array.from({ length: d.length / 4 }, (_, i) => d[4 * i]!);
  }, [id, region] as const);
}

/** Not blank: many grey levels and real contrast. */
function expectDrawn(grey: number[], what: string): void {
  const levels = new Set(grey).size;
  const mean = grey.reduce((a, b) => a + b, 0) / grey.length;
  const std = Math.sqrt(grey.reduce((a, b) => a + (b - mean) ** 2, 0) / grey.length);
  expect(levels, `${what}: distinct grey levels`).toBeGreaterThan(16);
  expect(std, `${what}: contrast`).toBeGreaterThan(20);
}

interface PlotPoint { index: number; label: number; cx: number; cy: number }

const meanAbsDiff = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
/** 28x28 grey bytes from a canvas region drawn at `scale`, as values in [0, 1]. */
const downsample = (grey: number[], scale: number): number[] =>
  Array.from({ length: 784 }, (_, k) => grey[Math.floor(k / 28) * scale * 28 * scale + (k % 28) * scale]! / 255);

// Generous per-test limits: the suite shares two cores in CI, and this project's machine far more.
suite('the explorer page (vaegrad serve) in headless Chromium', { timeout: 300_000 }, () => {
  const tmp = scratch('explorer');
  let explorer: Explorer | undefined;
  let browser: Browser | undefined;
  let page!: Page;
  const problems: string[] = [];
  /** Page loads so far (a reload adds one), and the load each request was made in. */
  let documents = 0;
  const startedIn = new WeakMap<object, number>();
  let setupError: unknown;
  let checkpoint!: Uint8Array;

  beforeAll(async () => {
    try {
      if (missing) throw new Error(`${CHROMIUM} is absent: install Debian's chromium (apt-get install chromium); .ci/run does`);
      if (!existsSync(join(ROOT, 'dist/src/index.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does)');
      // A tiny ConvVAE: two epochs on 1,024 training images (32 steps), enough to tell a 0 from a 1.
      const trainer = new Trainer({ ...DEFAULT_CONFIG, batchSize: 64, seed: 1 });
      const train = stratifiedSubset(mnist({ train: true }), 1024, 1);
      for (let e = 0; e < 2; e++) await trainer.trainEpoch(train);
      checkpoint = checkpointBytes(trainer);
      writeFileSync(tmp.path('checkpoint.safetensors'), checkpoint);
      const { startExplorer } = await import('../../src/cli/serve-command.js');
      explorer = await startExplorer({ checkpoint: tmp.path('checkpoint.safetensors'), port: 0, host: '127.0.0.1', data: undefined } as never, new Set(['checkpoint']), () => {});
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
      page = await (await browser.newContext({ acceptDownloads: true, viewport: { width: 1340, height: 1000 } })).newPage();
      page.setDefaultTimeout(120_000);
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console.error: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e.message}`));
      // Playwright never reports a nested worker's script (the pool's browser-worker.js) or, while it is
      // still loading, the modules it imports as finished, so a navigation "aborts" the ones the page
      // before it started; a script that fails to load is a 404 (below) or no pool.
      page.on('request', (r) => startedIn.set(r, documents));
      page.on('requestfailed', (r) => {
        const byNavigation = r.failure()?.errorText === 'net::ERR_ABORTED' && startedIn.get(r) !== documents;
        if (!byNavigation) problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
      });
      page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
      // 300 plotted points keep the suite fast on two busy cores; 300 t-SNE iterations (250 of them
      // early exaggeration) are what the t-SNE of the README's screenshot run once collapsed in.
      await page.goto(`${explorer.url}explorer/?points=300&iterations=300`, { waitUntil: 'commit' });
      await page.waitForFunction(() => 'explorer' in window);
      const started = await page.evaluate(() => (window as unknown as { explorer: { ready: Promise<boolean> } }).explorer.ready);
      if (!started) throw new Error(`the page did not start: ${await page.textContent('#error')}\n${problems.join('\n')}`);
    } catch (e) {
      setupError = e;
    }
  }, 600_000);
  beforeEach(() => {
    if (setupError) throw setupError;
  });
  afterAll(async () => {
    await browser?.close();
    await explorer?.close();
    tmp.cleanup();
  });

  const api = <T>(fn: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(([fn, args]) => {
      const ex = (window as unknown as { explorer: Record<string, unknown> }).explorer;
      const v = ex[fn as string];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown)(...(args as unknown[])) : v;
    }, [fn, args] as const) as Promise<T>;

  it('loads the served checkpoint, cross-origin isolated, with no errors', async () => {
    expect(await page.textContent('#status')).toMatch(/Loaded checkpoint\.safetensors \(2000 MNIST test images\)/);
    expect(await page.textContent('#model-info')).toMatch(/convolutional VAE, latent 20, 1,6\d\d,\d\d\d parameters/);
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    expect(await page.isHidden('#error')).toBe(true);
    // What runs, as getBackendInfo() reports it on the page and in the training worker (started with the page).
    await page.waitForFunction(() => !document.getElementById('engine')!.textContent!.includes('loading'));
    // The training worker runs the pool on every core while the server answers (one thread offline: see the offline test).
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(await page.textContent('#engine')).toBe('vaegrad on this page: wasm backend (simd kernels), 1 thread; '
      + `in the training worker: wasm backend (simd kernels), ${cores} thread${cores === 1 ? '' : 's'}. The page is cross-origin isolated.`);
    expect(problems).toEqual([]);
  });

  it('draws a grid of samples, and new ones on the button', async () => {
    const before = await pixels(page, 'samples');
    expectDrawn(before, 'sample grid');
    await page.click('#sample');
    const after = await pixels(page, 'samples');
    expectDrawn(after, 'new sample grid');
    expect(meanAbsDiff(before, after)).toBeGreaterThan(2);
  });

  it('plots the latent means with a legend, and decodes two different digits under the pointer', async () => {
    expectDrawn(await pixels(page, 'latent'), 'latent plot');
    const points = await api<PlotPoint[]>('plotPoints');
    expect(points.length).toBe(300);
    const zero = points.find((p) => p.label === 0)!;
    const one = points.find((p) => p.label === 1)!;
    const hover = async (p: PlotPoint): Promise<number[]> => {
      const count = (await api<number[]>('decodeMs')).length;
      await page.locator('#latent').hover({ position: { x: p.cx, y: p.cy } });
      await page.waitForFunction((c) => (window as unknown as { explorer: { decodeMs: number[] } }).explorer.decodeMs.length > c, count);
      return pixels(page, 'decoded');
    };
    const a = await hover(zero);
    const b = await hover(one);
    expectDrawn(a, 'decoded point');
    expect(meanAbsDiff(a, b), 'two points decode two different images').toBeGreaterThan(10);
    const ms = await api<number[]>('decodeMs');
    expect(ms.every((t) => t > 0 && Number.isFinite(t))).toBe(true);
    expect(await page.textContent('#decode-info')).toMatch(/^decoded in \d+\.\d ms \(median \d+\.\d ms over the last \d+\)$/);
    // The keyboard reaches it too: focus, then an arrow key decodes the next point.
    const count = ms.length;
    await page.focus('#latent');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((c) => (window as unknown as { explorer: { decodeMs: number[] } }).explorer.decodeMs.length > c, count);
  });

  it('computes a t-SNE of the latent means in a worker, and the pointer decodes each digit near its own image', async () => {
    await page.selectOption('#view', 'tsne');
    await page.waitForFunction(() => (window as unknown as { explorer: { hasTsne: boolean } }).explorer.hasTsne, undefined, { timeout: 120_000 });
    expect(await page.textContent('#latent-info')).toMatch(/nearest plotted neighbours/);
    expect(await page.textContent('#status')).toMatch(/^checkpoint\.safetensors: t-SNE of 300 points done \(KL \d\.\d\d\d\)\.$/);
    const points = await api<PlotPoint[]>('plotPoints');
    // A real embedding, not a collapsed cloud: spread out, and the digits apart about as well as
    // in the 20-D means themselves (nearest-neighbour label agreement, the means computed here).
    const embedding = await api<number[]>('tsnePoints');
    expect(embedding.length).toBe(600);
    const rms = Math.sqrt(embedding.reduce((s, v) => s + v * v, 0) / embedding.length);
    expect(rms, 'spread of the t-SNE').toBeGreaterThan(1);
    const labels = points.map((p) => p.label);
    const images = await page.evaluate(() => {
      const ex = (window as unknown as { explorer: { plotPoints(): PlotPoint[]; testImage(i: number): number[] } }).explorer;
      return ex.plotPoints().flatMap((p) => ex.testImage(p.index));
    });
    const model = await loadModel(tmp.path('checkpoint.safetensors'));
    const mu = vg.noGrad(() => model.encode(vg.tensor(Float32Array.from(images), { shape: [300, 1, 28, 28] })).mu);
    const inMeans = neighbourAgreement(mu, labels);
    const inPlot = neighbourAgreement(vg.tensor(Float32Array.from(embedding), { shape: [300, 2] }), labels);
    expect(inMeans, 'the model tells digits apart').toBeGreaterThan(0.5);
    expect(inPlot, `t-SNE neighbour agreement (means: ${inMeans})`).toBeGreaterThan(0.85 * inMeans);
    const decodeAt = async (p: PlotPoint): Promise<number[]> => {
      const count = (await api<number[]>('decodeMs')).length;
      await page.locator('#latent').hover({ position: { x: p.cx, y: p.cy } });
      await page.waitForFunction((c) => (window as unknown as { explorer: { decodeMs: number[] } }).explorer.decodeMs.length > c, count);
      return downsample(await pixels(page, 'decoded'), 5);
    };
    const zero = points.find((p) => p.label === 0)!;
    const one = points.find((p) => p.label === 1)!;
    const [z0, z1] = [await decodeAt(zero), await decodeAt(one)];
    const [x0, x1] = [await api<number[]>('testImage', zero.index), await api<number[]>('testImage', one.index)];
    expect(meanAbsDiff(z0, x0)).toBeLessThan(meanAbsDiff(z0, x1));
    expect(meanAbsDiff(z1, x1)).toBeLessThan(meanAbsDiff(z1, x0));
    expect(problems).toEqual([]);
  });

  it('interpolates between two test images with the slider', async () => {
    const middle: [number, number, number, number] = [136, 8, 112, 112];
    // A 0 and a 1 from the plot (test images of two different digits).
    const labelled = await api<PlotPoint[]>('plotPoints');
    const [from, to] = [labelled.find((p) => p.label === 0)!.index, labelled.find((p) => p.label === 1)!.index];
    await page.fill('#from', String(from));
    await page.fill('#to', String(to));
    await page.locator('#to').dispatchEvent('change');
    const a = await api<number[]>('testImage', from);
    const b = await api<number[]>('testImage', to);
    await page.focus('#t');
    await page.keyboard.press('Home');
    const atA = downsample(await pixels(page, 'interp', middle), 4);
    expect(await page.textContent('#t-value')).toBe('0.00');
    await page.keyboard.press('End');
    const atB = downsample(await pixels(page, 'interp', middle), 4);
    expect(await page.textContent('#t-value')).toBe('1.00');
    expect(meanAbsDiff(atA, atB), 'the slider changes the decoded image').toBeGreaterThan(0.03);
    // Each end decodes (close to) its own test image, not the other one.
    expect(meanAbsDiff(atA, a)).toBeLessThan(meanAbsDiff(atA, b));
    expect(meanAbsDiff(atB, b)).toBeLessThan(meanAbsDiff(atB, a));
    expectDrawn(await pixels(page, 'interp', [4, 128, 544, 64]), 'interpolation strip');
  });

  it('shows an error for a corrupt dropped file and keeps working', async () => {
    const broken = Array.from(checkpoint.subarray(0, 4096));
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'broken.safetensors'));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, broken);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toMatch(/^Could not load broken\.safetensors: broken\.safetensors: /);
    expect(await api<string>('modelName')).toBe('checkpoint.safetensors');
    const before = await pixels(page, 'samples');
    await page.click('#sample');
    expect(meanAbsDiff(before, await pixels(page, 'samples'))).toBeGreaterThan(2);
    expect(problems).toEqual([]);
  });

  it('downloads a model.safetensors that Node loads with the same outputs, and loads it back from the file input', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toBe('model.safetensors');
    const file = tmp.path('downloaded.safetensors');
    await download.saveAs(file);
    const model = await loadModel(file);
    expect([model.kind, model.latent]).toEqual(['conv', 20]);
    const z = Array.from(vg.randn([3, 20], { generator: new vg.Generator(5) }).dataSync());
    const inPage = await api<number[]>('decode', z);
    const inNode = Array.from(vg.noGrad(() => model.decode(vg.tensor(Float32Array.from(z), { shape: [3, 20] })).sigmoid().dataSync()));
    expect(inPage.length).toBe(3 * 784);
    expect(Math.max(...inPage.map((v, i) => Math.abs(v - inNode[i]!)))).toBeLessThan(1e-5);
    // The same file through the file input (the keyboard way in): it loads and clears the error.
    await page.setInputFiles('#file', file);
    await page.waitForFunction(() => (window as unknown as { explorer: { modelName: string } }).explorer.modelName === 'downloaded.safetensors');
    expect(await page.isHidden('#error')).toBe(true);
    expect(readFileSync(file).length).toBeGreaterThan(1_000_000);
  });

  it('trains from scratch in the worker: the loss falls, samples appear each epoch; Stop stops', async () => {
    await page.selectOption('#train-from', 'scratch');
    await page.fill('#epochs', '3');
    await page.fill('#train-images', '64');
    await page.fill('#batch-size', '32');
    await page.click('#train');
    expect(await page.isDisabled('#stop')).toBe(false);
    await page.waitForFunction(() => !(window as unknown as { explorer: { training: boolean } }).explorer.training, undefined, { timeout: 90_000 });
    expect(await page.isHidden('#error'), await page.textContent('#error') ?? '').toBe(true);
    const losses = await api<number[]>('losses');
    expect(losses.length).toBe(6); // 3 epochs of 2 steps
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[5]!).toBeLessThan(losses[0]! * 0.9);
    expect(await page.textContent('#train-status')).toMatch(/^epoch 3: loss \d+\.\d\d \(BCE .*\), \d+\.\d s, \d+ images\/s\. Done; the model shown is the trained one\.$/);
    expect(await api<string>('modelName')).toBe('trained in this tab (epoch 3)');
    const epochs = await api<{ epoch: number; seconds: number; imagesPerSecond: number }[]>('epochs');
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(epochs.every((e) => e.seconds > 0 && Math.abs(e.imagesPerSecond * e.seconds - 64) < 1e-6)).toBe(true);
    // The status line follows the new model: the t-SNE view (still chosen) embeds it, and says so when done.
    await page.waitForFunction(() => (window as unknown as { explorer: { hasTsne: boolean } }).explorer.hasTsne, undefined, { timeout: 120_000 });
    expect(await page.textContent('#status')).toMatch(/^trained in this tab \(epoch 3\): t-SNE of 300 points done \(KL \d\.\d\d\d\)\.$/);
    expectDrawn(await pixels(page, 'loss'), 'loss curve');
    expectDrawn(await pixels(page, 'train-samples'), 'samples of the trained model');

    // A long run, stopped after its first step: the page gets the model where it stopped.
    await page.selectOption('#train-from', 'continue');
    await page.fill('#epochs', '100');
    await page.click('#train');
    await page.waitForFunction(() => (window as unknown as { explorer: { losses: number[] } }).explorer.losses.length > 0, undefined, { timeout: 60_000 });
    await page.click('#stop');
    await page.waitForFunction(() => !(window as unknown as { explorer: { training: boolean } }).explorer.training, undefined, { timeout: 60_000 });
    expect(await page.textContent('#train-status')).toMatch(/^(epoch \d+: .* images\/s\. )?Stopped; the model shown is where training stopped\.$/);
    expect(await api<string>('modelName')).toMatch(/^trained in this tab \(epoch \d+\)$/);
    // No in-progress text is left behind: back on two dimensions, the status is the stopped run's.
    await page.selectOption('#view', 'dims');
    // (100 epochs: a run short enough to finish before the Stop click lands would say "done")
    await page.selectOption('#train-from', 'continue');
    await page.fill('#epochs', '100');
    await page.click('#train');
    await page.click('#stop');
    await page.waitForFunction(() => !(window as unknown as { explorer: { training: boolean } }).explorer.training, undefined, { timeout: 60_000 });
    expect(await page.textContent('#status')).toMatch(/^Training stopped: showing the model trained in this tab \(epoch \d+\)\.$/);
    expect(problems).toEqual([]);
  });

  // Last: it stops the server.
  it('works offline once served: with the server stopped, a reload loads the model, decodes and trains', async () => {
    await page.waitForFunction(() => document.getElementById('offline')!.textContent!.startsWith('Saved for offline use'), undefined, { timeout: 120_000 });
    explorer!.server.closeAllConnections();
    await explorer!.close();
    await expect(fetch(`${explorer!.url}explorer/`)).rejects.toThrow(); // the server is gone
    const before = problems.length;
    documents++;
    await page.reload({ waitUntil: 'commit' });
    await page.waitForFunction(() => 'explorer' in window);
    expect(await page.evaluate(() => (window as unknown as { explorer: { ready: Promise<boolean> } }).explorer.ready), await page.textContent('#error') ?? '').toBe(true);
    expect(await page.textContent('#status')).toBe('Loaded checkpoint.safetensors (2000 MNIST test images). The server is not reachable: this is the copy saved for offline use.');
    expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    expectDrawn(await pixels(page, 'samples'), 'sample grid, offline');
    // Offline, the pool's worker script cannot load (Chromium fetches it outside the service worker): one thread.
    await page.waitForFunction(() => !document.getElementById('engine')!.textContent!.includes('loading'));
    expect(await page.textContent('#engine')).toContain('in the training worker: wasm backend (simd kernels), 1 thread.');
    const z = Array.from(vg.randn([1, 20], { generator: new vg.Generator(9) }).dataSync());
    expect((await api<number[]>('decode', z)).length).toBe(784);
    // The training images were saved too.
    await page.selectOption('#train-from', 'scratch');
    await page.fill('#epochs', '1');
    await page.fill('#train-images', '64');
    await page.fill('#batch-size', '32');
    await page.click('#train');
    await page.waitForFunction(() => !(window as unknown as { explorer: { training: boolean } }).explorer.training, undefined, { timeout: 90_000 });
    expect(await page.isHidden('#error'), await page.textContent('#error') ?? '').toBe(true);
    expect(await api<number[]>('losses')).toHaveLength(2);
    expect(problems.slice(before)).toEqual([]);
  });
});
