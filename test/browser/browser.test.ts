// The browser claim, tested: `import * as vg from 'vaegrad'` works in a page with no bundler.
// A tiny static server (node:http) serves the repository root; headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) opens test/browser/page.html, whose module
// (page.js) imports /dist/src/index.js and /dist/src/vae/index.js by URL and reports back:
// the wasm backend loads with `await setBackend('wasm')`, matmul/conv2d gradients match the js
// backend, a ConvVAE training step gives a finite loss, seeded randn matches Node, and
// safetensors bytes round-trip. Any console error, page error or failed request fails the test.
//
// Needs dist/ built (`npm test` builds it first). Outside CI (no CI environment variable) the
// suite skips with a notice when /usr/bin/chromium is absent; in CI it fails instead
// (.ci/run installs Debian's chromium).
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import * as vg from '../../src/index.js';
import { browserSuite, CHROMIUM, FLAGS, missing, ROOT, serveRoot } from './chromium.js';

const suite = browserSuite('browser');

interface PageResult {
  ok: boolean;
  error?: string;
  defaultBackend: string;
  backends: string[];
  backendAfterSet: string;
  backendInfo: { name: string; kernels?: string };
  grads: { wasm: Record<string, number[]>; js: Record<string, number[]>; maxDiff: Record<string, number> };
  randn: number[];
  asyncCompiles?: number;
  train: { backend: string; loss: number; ms: number; paramMoved: number };
  safetensors: { bytes: number; isUint8Array: boolean; tensors: number; back: number; mismatched: string[]; metadata: Record<string, string>; again: number };
}

/**
 * Chromium may allow synchronous compiles of a module this size on the main thread; older Chrome
 * (a 4 KB limit) and other engines refuse them. This init script makes the page refuse them
 * too, so that the fallback (default 'js', then `await setBackend('wasm')` compiles async) runs.
 */
const REFUSE_SYNC_COMPILE = `{
  const Module = WebAssembly.Module;
  WebAssembly.Module = new Proxy(Module, {
    construct(target, args) {
      const b = args[0];
      if ((b.byteLength ?? b.length) > 4096) throw new RangeError('WebAssembly.Module(): synchronous compile refused on the main thread (simulated by the test)');
      return Reflect.construct(target, args);
    },
  });
  const compile = WebAssembly.compile;
  globalThis.__asyncCompiles = 0;
  WebAssembly.compile = (...args) => (globalThis.__asyncCompiles++, compile(...args));
}`;

suite('vaegrad in headless Chromium (no bundler)', () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  const problems: string[] = [];
  let result!: PageResult;
  let refused!: PageResult;
  /** A failed setup fails every test (a throwing beforeAll would leave them all 'skipped'). */
  let setupError: unknown;

  /** Open page.html in a fresh page and wait for what page.js reports. */
  async function openPage(base: string, refuseSyncCompile: boolean): Promise<PageResult> {
    const page = await browser!.newPage();
    const tag = refuseSyncCompile ? '[sync compile refused] ' : '';
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${tag}console.error: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`${tag}page error: ${e.stack ?? e.message}`));
    page.on('requestfailed', (r) => problems.push(`${tag}request failed: ${r.url()} (${r.failure()?.errorText})`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`${tag}HTTP ${r.status()}: ${r.url()}`); });
    if (refuseSyncCompile) await page.addInitScript(REFUSE_SYNC_COMPILE);
    const seen = problems.length;
    await page.goto(`${base}/test/browser/page.html`);
    // page.js sets window.__vaegrad once its imports resolve; a broken import never runs it and
    // reports a failed request or a page error instead: stop at the first such report.
    for (const deadline = Date.now() + 15_000; ;) {
      if (await page.evaluate(() => 'then' in ((globalThis as { __vaegrad?: object }).__vaegrad ?? {}))) break;
      if (problems.length > seen || Date.now() > deadline) {
        await new Promise((ok) => setTimeout(ok, 200)); // let the rest of the reports arrive
        throw new Error(`${tag}page.js never ran (its module graph failed to load):\n  ${problems.join('\n  ')}`);
      }
      await new Promise((ok) => setTimeout(ok, 50));
    }
    const r = await page.evaluate(() => (globalThis as unknown as { __vaegrad: Promise<PageResult> }).__vaegrad);
    await page.close();
    return r;
  }

  beforeAll(async () => {
    try {
      await setup();
    } catch (e) {
      setupError = e;
    }
  }, 60_000);
  beforeEach(() => {
    if (setupError) throw setupError;
  });

  async function setup(): Promise<void> {
    if (missing) throw new Error(`${CHROMIUM} is absent: install Debian's chromium (apt-get install chromium); .ci/run does`);
    if (!existsSync(join(ROOT, 'dist/src/index.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does)');
    server = await serveRoot();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    result = await openPage(base, false);
    refused = await openPage(base, true);
  }

  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
  });

  it('runs the page without errors', () => {
    expect(result.error, result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(refused.error, refused.error).toBeUndefined();
    expect(refused.ok).toBe(true);
    expect(problems).toEqual([]);
  });

  it("loads the wasm backend with await setBackend('wasm')", () => {
    expect(result.backends).toEqual(expect.arrayContaining(['js', 'wasm', 'gpu']));
    // The default before any await: 'wasm' where the engine compiles synchronously, else 'js'.
    expect(['wasm', 'js']).toContain(result.defaultBackend);
    expect(result.backendAfterSet).toBe('wasm');
    // this page is not cross-origin isolated: no SharedArrayBuffer, so the one-thread build (same chunks, same bits), and it says why
    expect(result.backendInfo).toEqual({ name: 'wasm', kernels: 'simd', threads: 1, sharedMemory: false, threadsNote: expect.stringMatching(/cross-origin isolation/) });
    expect(result.train.backend).toBe('wasm');
  });

  it("falls back to 'js' where the main thread refuses sync compiles, and await setBackend('wasm') still loads wasm", () => {
    expect(refused.defaultBackend).toBe('js');
    expect(refused.backendAfterSet).toBe('wasm');
    expect(refused.train.backend).toBe('wasm');
    expect(Number.isFinite(refused.train.loss)).toBe(true);
    // Same seeds, same kernels: the same gradients, draws and loss as the page that compiled synchronously.
    expect(refused.grads.wasm).toEqual(result.grads.wasm);
    expect(refused.randn).toEqual(result.randn);
    expect(refused.train.loss).toBe(result.train.loss);
    // One async compile, though both the default pick and setBackend('wasm') asked for it.
    expect(refused.asyncCompiles).toBe(1);
  });

  it('gives matmul and conv2d gradients that match the js backend (and Node)', async () => {
    const { wasm, js, maxDiff } = result.grads;
    for (const [k, d] of Object.entries(maxDiff)) {
      const scale = Math.max(1, ...js[k]!.map(Math.abs));
      expect(d, `${k}: wasm vs js`).toBeLessThanOrEqual(1e-5 * scale);
      expect(wasm[k]!.every(Number.isFinite), k).toBe(true);
    }
    // The same seeded computation in Node on the js backend gives the same numbers.
    const before = vg.getBackend();
    await vg.setBackend('js');
    try {
      const g = new vg.Generator(7);
      const a = vg.randn([5, 7], { generator: g, requiresGrad: true });
      const b = vg.randn([7, 3], { generator: g, requiresGrad: true });
      vg.matmul(a, b).tanh().sum().backward();
      const near = (got: number[], want: ArrayLike<number>) => got.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 6));
      near(js.matmulA!, a.grad!.dataSync());
      near(js.matmulB!, b.grad!.dataSync());
    } finally {
      await vg.setBackend(before);
    }
  });

  it('trains one ConvVAE step on a batch of 4 with a finite loss', () => {
    expect(Number.isFinite(result.train.loss), `loss ${result.train.loss}`).toBe(true);
    expect(result.train.loss).toBeGreaterThan(0);
    expect(result.train.paramMoved).toBeGreaterThan(0);
  });

  it('draws the same seeded randn as Node', () => {
    vg.manualSeed(1);
    expect(result.randn).toEqual(Array.from(vg.randn([5]).dataSync()));
  });

  it('round-trips safetensors bytes', () => {
    const s = result.safetensors;
    expect(s.isUint8Array).toBe(true);
    expect(s.bytes).toBeGreaterThan(0);
    expect(s.back).toBe(s.tensors);
    expect(s.mismatched).toEqual([]);
    expect(s.metadata).toEqual({ where: 'browser' });
    expect(s.again).toBe(0);
  });
});
