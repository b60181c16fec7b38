// Runs in headless Chromium (see threads.test.ts), in a module worker and on the page's main
// thread (the page starts the worker from this same file): with 3 threads, wait until the pool's
// workers run chunks (a job of FN.throwInWorker chunks throws only where a worker ran one), then
// compare a 512x512 matmul's bits with one thread's. Findings go to window.__threads (a promise
// of { worker, page }).
import * as vg from '/dist/src/index.js';
import { currentBackend } from '/dist/src/backend/registry.js';
import { FN, Job } from '/dist/src/backend/wasm/threads/job.js';

const bits = (t) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Run 400-chunk jobs of FN.throwInWorker, yielding between them, until one throws: what it threw, and after how many jobs. */
async function firstWorkerChunk(ctx, deadlineMs) {
  for (let jobs = 1, end = performance.now() + deadlineMs; performance.now() < end; jobs++) {
    ctx.arena.reset();
    const job = new Job(1 << 30);
    for (let i = 0; i < 400; i++) job.chunk().call(FN.throwInWorker, []);
    try {
      ctx.run(job);
    } catch (e) {
      return { jobs, error: String(e.message) };
    }
    await sleep(10); // Chromium starts a nested worker only once its creator's event loop turns
  }
  return { jobs: 0, error: null };
}

async function check() {
  await vg.setBackend('wasm');
  const ctx = currentBackend().ctx;
  const r = { isolated: globalThis.crossOriginIsolated === true };
  // Busy for 300 ms without yielding: the workers exist but have not started, the caller runs every chunk.
  vg.setNumThreads(3);
  r.busy = { jobs: 0, workerChunks: 0 };
  for (const end = performance.now() + 300; performance.now() < end; r.busy.jobs++) {
    ctx.arena.reset();
    const job = new Job(1 << 30);
    for (let i = 0; i < 400; i++) job.chunk().call(FN.throwInWorker, []);
    try {
      ctx.run(job);
    } catch {
      r.busy.workerChunks++;
    }
  }
  r.first = await firstWorkerChunk(ctx, 10_000);
  r.info = vg.getBackendInfo();
  r.workers = ctx.workers;
  vg.manualSeed(1);
  const a = vg.randn([512, 512]), b = vg.randn([512, 512]);
  vg.setNumThreads(1);
  const one = bits(vg.matmul(a, b));
  vg.setNumThreads(3);
  const three = bits(vg.matmul(a, b));
  r.matmulMismatches = one.filter((x, i) => x !== three[i]).length;
  r.matmulFinite = vg.matmul(a, b).dataSync().every(Number.isFinite);
  return r;
}

const settle = (p) => p.then((r) => ({ ok: true, ...r }), (e) => ({ ok: false, error: String(e && e.stack ? e.stack : e) }));

if (typeof document === 'undefined') {
  settle(check()).then((r) => postMessage(r));
} else {
  window.__threads = (async () => {
    const w = new Worker(import.meta.url, { type: 'module' });
    const worker = await new Promise((ok) => {
      w.onmessage = (e) => ok(e.data);
      w.onerror = (e) => ok({ ok: false, error: `worker error: ${e.message}` });
    });
    w.terminate();
    return { worker, page: await settle(check()) };
  })();
}
