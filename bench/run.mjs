#!/usr/bin/env node
// The bench runner: `npm run bench` (= npm run build && node bench/run.mjs).
//
// Runs bench/gemm.mjs, bench/conv.mjs and then every bench/*.bench.mjs (sorted by name), each
// in a fresh child process (an end-to-end epoch timed after tfjs and GPU.js have loaded in the
// same process ran up to 10% slower), and prints one table per bench. A bench module exports
//   export async function run(ctx) -> { title, columns: string[], rows: (string|number)[][], notes?: string[] }
// where ctx = { timeit, timeInterleaved, tfjs, loadVaegrad } (helpers below). Run one bench alone with
// `node bench/run.mjs gemm` (names are matched against file names).
// Benches import the built JavaScript (dist/, from `npm run build:ts`) and the embedded wasm.
//
// Timing: `timeit(fn)` runs `warmup` untimed calls, then `reps` timed ones, and reports the
// median (ms); `timeInterleaved([f, g])` alternates the contenders' reps so both see the same
// background load. The machine may be shared, so medians, not means.
//
// Threads: every bench but threads.bench.mjs runs the wasm kernels on one thread
// (VAEGRAD_THREADS=1 unless set), so its tables compare single-thread figures;
// threads.bench.mjs sets each thread count itself (VAEGRAD_BENCH_MAX_THREADS caps them).

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

export function timeit(fn, { warmup = 2, reps = 7, maxMs = Infinity } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const times = [];
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
    if (performance.now() - start > maxMs) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor((times.length - 1) / 2)];
}

/**
 * Time several functions with their reps interleaved (a, b, a, b, ...), so that on a shared
 * machine every contender sees the same background load; returns each one's median (ms).
 * Entries may be null (-> NaN).
 */
export function timeInterleaved(fns, { warmup = 2, reps = 7 } = {}) {
  const live = fns.map((f) => f ?? null);
  for (let i = 0; i < warmup; i++) for (const f of live) f?.();
  const times = live.map(() => []);
  for (let r = 0; r < reps; r++) {
    live.forEach((f, k) => {
      if (!f) return;
      const t = performance.now();
      f();
      times[k].push(performance.now() - t);
    });
  }
  return times.map((t) => {
    if (!t.length) return NaN;
    t.sort((a, b) => a - b);
    return t[Math.floor((t.length - 1) / 2)];
  });
}

let tfjsPromise = null;
/** @tensorflow/tfjs-core with the wasm (XNNPACK) backend, one thread. */
export function tfjs() {
  tfjsPromise ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const tfw = await import('@tensorflow/tfjs-backend-wasm');
    tfw.setThreadsCount(1); // Node has no wasm threads for tfjs anyway (platform-facts)
    await tf.setBackend('wasm');
    await tf.ready();
    return { tf, simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), threads: tfw.getThreadsCount() };
  })();
  return tfjsPromise;
}

/**
 * The Python that runs the PyTorch contenders: Debian's python3-torch at /usr/bin/python3, or
 * VAEGRAD_BENCH_PYTHON (e.g. a virtualenv's python3 on a machine where torch lives elsewhere).
 */
export const PYTHON = process.env.VAEGRAD_BENCH_PYTHON || '/usr/bin/python3';

/** vaegrad's backends from the built dist/. */
export async function loadVaegrad() {
  const wasm = await import(pathToFileURL(join(root, 'dist/src/backend/wasm/index.js')).href);
  const js = await import(pathToFileURL(join(root, 'dist/src/backend/js/index.js')).href);
  return { wasm: wasm.createWasmBackendSync(), js: new js.JsBackend() };
}

/** n uniform values in [-1, 1): benchmark inputs (values do not matter for timing). */
export function randf(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

export function printTable({ title, columns, rows, notes = [] }) {
  const cells = [columns, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : String(c))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  console.log(`\n## ${title}\n`);
  console.log(line(cells[0]));
  console.log('|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|');
  for (const r of cells.slice(1)) console.log(line(r));
  for (const n of notes) console.log(`\n${n}`);
}

const fmt = (x) => (Number.isNaN(x) ? 'n/a' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

async function main() {
  process.env.VAEGRAD_THREADS ??= '1';
  const filter = process.argv.slice(2);
  const files = ['gemm.mjs', 'conv.mjs', ...readdirSync(here).filter((f) => f.endsWith('.bench.mjs')).sort()];
  const chosen = filter.length ? files.filter((f) => filter.some((p) => f.includes(p))) : files;
  if (process.env.VAEGRAD_BENCH_CHILD !== '1') console.log(`# vaegrad benchmarks (node ${process.version}, single thread, medians after warm-up)`);
  for (const f of chosen) {
    if (chosen.length > 1) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), f], { stdio: 'inherit', env: { ...process.env, VAEGRAD_BENCH_CHILD: '1' } });
      if (r.status !== 0) throw new Error(`bench ${f} failed (exit ${r.status})`);
      continue;
    }
    const mod = await import(pathToFileURL(join(here, f)).href);
    const table = await mod.run({ timeit, timeInterleaved, tfjs, loadVaegrad });
    printTable(table);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
