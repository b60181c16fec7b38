// The wasm thread pool in headless Chromium (Debian's /usr/bin/chromium through playwright-core,
// as browser.test.ts): a page served cross-origin isolated (COOP/COEP on every response) runs
// test/browser/threads.js in a module worker and on its main thread. With 3 threads the pool's
// module workers (threads/browser-worker.js) start and run chunks: a job of the throwInWorker
// test hook, which throws only where a worker runs it, fails; a 512x512 matmul gives the same
// bits on 3 threads as on 1. Chromium starts a nested worker only once its creator's event loop
// turns: while the caller stays busy, the caller runs every chunk (slower, same bits).
//
// Needs dist/ built (`npm test` builds it). Skips with a notice outside CI when Chromium is absent.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { browserSuite, CHROMIUM, FLAGS, ISOLATION_HEADERS, missing, ROOT, serveRoot } from './chromium.js';

const suite = browserSuite('browser threads');

interface Check {
  ok: boolean;
  error?: string;
  isolated: boolean;
  busy: { jobs: number; workerChunks: number };
  first: { jobs: number; error: string | null };
  info: Record<string, unknown>;
  workers: number;
  matmulMismatches: number;
  matmulFinite: boolean;
}

suite('the wasm thread pool in headless Chromium (cross-origin isolated)', () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  const problems: string[] = [];
  const workerUrls: string[] = [];
  let result!: { worker: Check; page: Check };
  let setupError: unknown;

  beforeAll(async () => {
    try {
      if (missing) throw new Error(`${CHROMIUM} is absent: install Debian's chromium (apt-get install chromium); .ci/run does`);
      if (!existsSync(join(ROOT, 'dist/src/index.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does)');
      server = await serveRoot(ISOLATION_HEADERS);
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
      const page = await browser.newPage();
      page.on('console', (m) => { if (m.type() === 'error') problems.push(`console.error: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
      page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
      // Nested workers show here (Playwright reports no requestfinished for their scripts).
      page.on('worker', (w) => workerUrls.push(new URL(w.url()).pathname));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/test/browser/threads.html`);
      await page.waitForFunction(() => '__threads' in globalThis, undefined, { timeout: 15_000 });
      result = await page.evaluate(() => (globalThis as unknown as { __threads: Promise<{ worker: Check; page: Check }> }).__threads);
    } catch (e) {
      setupError = new Error(`${String(e)}\n  ${problems.join('\n  ')}`);
    }
  }, 60_000);
  beforeEach(() => {
    if (setupError) throw setupError;
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
  });

  it('runs without errors, cross-origin isolated, on the threads build', () => {
    expect(result.worker.error, result.worker.error).toBeUndefined();
    expect(result.page.error, result.page.error).toBeUndefined();
    expect(problems).toEqual([]);
    for (const r of [result.worker, result.page]) {
      expect(r.isolated).toBe(true);
      expect(r.info).toEqual({ name: 'wasm', kernels: 'simd', threads: 3, sharedMemory: true });
    }
  });

  it("starts the pool's module workers and they run chunks, in a worker and on a page's main thread", () => {
    // two pool workers for each of the two callers, from the file beside pool.js
    expect(workerUrls.filter((u) => u === '/dist/src/backend/wasm/threads/browser-worker.js')).toHaveLength(4);
    for (const [where, r] of Object.entries(result)) {
      expect(r.workers, where).toBe(2);
      expect(r.first.error, `${where}: no worker ran a chunk within 10 s`).toMatch(/wasm thread pool: a chunk failed in worker [01]: a chunk that throws in a worker \(test hook\)/);
    }
  });

  it('runs every chunk on the caller while it stays busy (the workers start once its event loop turns)', () => {
    for (const r of [result.worker, result.page]) {
      expect(r.busy.jobs).toBeGreaterThan(1);
      expect(r.busy.workerChunks).toBe(0); // no job of 300 ms of them had a chunk run by a worker
      expect(r.first.jobs).toBeGreaterThan(1); // nor the first after the pool started (no turn yet)
    }
  });

  it('gives a 512x512 matmul the same bits on 3 threads as on 1', () => {
    for (const [where, r] of Object.entries(result)) {
      expect(r.matmulMismatches, where).toBe(0);
      expect(r.matmulFinite, where).toBe(true);
    }
  });
});
