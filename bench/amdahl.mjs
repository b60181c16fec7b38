#!/usr/bin/env node
// How far a training step can scale with threads, from a one-thread run: the share of the step
// spent in jobs big enough for the worker pool (parallel), in jobs under the pool's threshold and
// outside jobs (JavaScript, autograd, small kernels: serial), and Amdahl's prediction of the
// speedup at N threads, counting each job's chunks in rounds of N (a 19-chunk job at 16 threads
// takes two rounds); and the same step replayed as launch() runs it, each job handed to the
// workers while the calling thread goes on with its JavaScript (WasmContext.overlap). Upper
// bounds: they assume free hand-offs and a machine with N full cores.
//
//   npm run build && VAEGRAD_THREADS=1 node bench/amdahl.mjs [steps=16] [--json]
//   (what-ifs for the replay: AMDAHL_DEPTH=16 AMDAHL_CHUNKS=4, see overlapped())
//
// It also counts a step's jobs and the points where the calling thread waits for them.
//
// --json prints one line instead ({ stepMs, serialMs, rows: [{ threads, stepMs, speedup,
// efficiency, perfectEfficiency, overlapStepMs, overlapEfficiency }] }; amdahl.bench.mjs reads
// it for `npm run bench`).
// The reference ConvVAE at batch 128 through the Trainer, on synthetic images (only shapes matter).

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
const vg = await dist('index.js');
const { WasmContext } = await dist('backend/wasm/context.js');
const { chunkKernels } = await dist('backend/wasm/threads/job.js');
const { Trainer, ImageDataset, DEFAULT_CONFIG } = await dist('vae/index.js');

if (process.env.VAEGRAD_THREADS !== '1') console.warn('note: run with VAEGRAD_THREADS=1 (the prediction starts from a one-thread step)');
await vg.setBackend('wasm');
const WARM = 3;
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const steps = Number(args.find((a) => !a.startsWith('--')) ?? 16);
const n = DEFAULT_CONFIG.batchSize * (WARM + steps);
const px = Float32Array.from({ length: n * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898));
const trainer = new Trainer({ ...DEFAULT_CONFIG });

/** A job's name: the kernels its first chunk calls, and its chunk count. */
const jobName = (job) => `${chunkKernels(job.words, job.starts[0] ?? 0).replaceAll(', ', '+')} x${job.starts.length}`;

const pooled = new Map();
const small = new Map();
let timing = false;
let bookkeeping = 0; // this script's own time inside the step (naming and tallying jobs), left out of it
/**
 * The step as the calling thread lives it, on a clock without the bookkeeping: each job (start,
 * ms, chunks, pooled) and, between jobs, the first point that waits for the job before (a read
 * of results, a direct kernel call: WasmContext.sync), as { wait: time }.
 */
const timeline = [];
let inLaunch = false;
const launch = WasmContext.prototype.launch;
WasmContext.prototype.launch = function (job) {
  if (!timing) return launch.call(this, job);
  const t = performance.now();
  inLaunch = true;
  launch.call(this, job);
  inLaunch = false;
  const end = performance.now();
  const ms = end - t;
  const isPooled = job.work >= this.minParallelWork;
  const table = isPooled ? pooled : small;
  const key = jobName(job);
  const e = table.get(key) ?? { ms: 0, calls: 0, chunks: job.starts.length };
  e.ms += ms;
  e.calls++;
  table.set(key, e);
  timeline.push({ start: t - bookkeeping, ms, chunks: job.starts.length, pooled: isPooled });
  bookkeeping += performance.now() - end;
};
const sync = WasmContext.prototype.sync;
WasmContext.prototype.sync = function () {
  if (timing && !inLaunch && timeline.length > 0 && timeline[timeline.length - 1].wait === undefined) {
    const t = performance.now();
    timeline.push({ wait: t - bookkeeping });
    bookkeeping += performance.now() - t;
  }
  return sync.call(this);
};

/**
 * The timeline replayed at N threads as launch() runs it (WasmContext.overlap): the calling
 * thread hands a job over and goes on with its JavaScript; at the next launch or wait it joins
 * the job (taking chunks until none is left) and waits for its end. A job's chunks (each its
 * one-thread time over the chunk count) go to whichever thread is free first: its workers from
 * the hand-over (min(N, chunks) - 1 for a pooled job, but at least one; one for a small job), the
 * calling thread once it joins. Jobs run in order, each after the one before. Free hand-offs, N
 * full cores.
 *
 * What-ifs for designs not built (the defaults are the library's): AMDAHL_DEPTH=D lets D jobs be
 * out at once (the caller joins the oldest only when D are out, or at a wait); AMDAHL_CHUNKS=c
 * splits every pooled job into c times as many chunks.
 */
const DEPTH = Number(process.env.AMDAHL_DEPTH ?? 1);
const CHUNKS = Number(process.env.AMDAHL_CHUNKS ?? 1);
function overlapped(threads, from, to) {
  let t = from; // the calling thread's clock
  let last = from; // end of the last event, on the one-thread clock
  let prevEnd = from; // when the last job taken off the queue ended
  const out = []; // jobs handed over, oldest first
  const finish = (job, begin, callerAt) => {
    const free = new Array(job.pooled ? Math.max(1, Math.min(threads, job.chunks) - 1) : 1).fill(begin);
    if (callerAt !== null) free.push(Math.max(callerAt, begin));
    let end = begin;
    for (let i = 0; i < job.chunks; i++) {
      let k = 0;
      for (let j = 1; j < free.length; j++) if (free[j] < free[k]) k = j;
      free[k] += job.ms / job.chunks;
      end = Math.max(end, free[k]);
    }
    return end;
  };
  /** The caller (at t) joins the oldest jobs until fewer than `keep` are out. */
  const join = (keep) => {
    while (out.length > 0 && out.length >= keep) {
      const job = out.shift();
      const begin = Math.max(job.pub, prevEnd);
      const alone = finish(job, begin, null);
      if (alone <= t) {
        prevEnd = alone;
        continue;
      }
      prevEnd = t = finish(job, begin, t);
    }
  };
  for (const ev of timeline) {
    if (ev.wait !== undefined) {
      t += ev.wait - last;
      last = ev.wait;
      join(1);
      continue;
    }
    t += ev.start - last;
    join(DEPTH);
    out.push({ pub: t, ms: ev.ms, chunks: ev.pooled ? ev.chunks * CHUNKS : ev.chunks, pooled: ev.pooled });
    last = ev.start + ev.ms;
  }
  t += to - last;
  join(1);
  return t - from;
}

let start = 0;
let done = 0;
await trainer.trainEpoch(new ImageDataset(px, new Int32Array(n), 'synthetic', { inRange: true }), {
  onStep: () => {
    if (++done === WARM) {
      timing = true;
      start = performance.now();
    }
  },
});
timing = false;
const end = performance.now() - bookkeeping;
const stepMs = (end - start) / steps;
const perStep = (m) => [...m.values()].reduce((a, e) => a + e.ms, 0) / steps;
const inPool = perStep(pooled);
const serial = stepMs - inPool;
const rows = [2, 4, 8, 16, 32].map((threads) => {
  let par = 0;
  for (const e of pooled.values()) par += (e.ms * Math.ceil(e.chunks / threads)) / e.chunks;
  const t = serial + par / steps;
  const o = overlapped(threads, start, end) / steps;
  return {
    threads, stepMs: t, speedup: stepMs / t, efficiency: stepMs / t / threads, perfectEfficiency: stepMs / (serial + inPool / threads) / threads,
    overlapStepMs: o, overlapEfficiency: stepMs / o / threads,
  };
});
if (asJson) {
  console.log(JSON.stringify({ stepMs, serialMs: serial, rows }));
  process.exit(0);
}
const pct = (x) => `${((100 * x) / stepMs).toFixed(1)}%`;
console.log(`one-thread step ${stepMs.toFixed(1)} ms: pooled jobs ${inPool.toFixed(1)} ms (${pct(inPool)}); serial ${serial.toFixed(1)} ms (${pct(serial)}: small jobs ${perStep(small).toFixed(1)}, outside jobs ${(serial - perStep(small)).toFixed(1)})`);
const calls = (m) => [...m.values()].reduce((a, e) => a + e.calls, 0) / steps;
console.log(`jobs per step: ${calls(pooled) + calls(small)} (${calls(pooled)} for the pool, ${calls(small)} small); the calling thread waits for them at ${timeline.filter((e) => e.wait !== undefined).length / steps} points`);
console.log('\n| threads | jobs waited for: step (ms) | speedup | efficiency | with perfect chunking | jobs overlapped (launch): step (ms) | efficiency |\n|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.threads} | ${r.stepMs.toFixed(1)} | ${r.speedup.toFixed(2)} | ${r.efficiency.toFixed(2)} | ${r.perfectEfficiency.toFixed(2)} | ${r.overlapStepMs.toFixed(1)} | ${r.overlapEfficiency.toFixed(2)} |`);
console.log('\npooled jobs, ms per step at one thread (calls per step):');
for (const [k, e] of [...pooled].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${k.padEnd(44)} ${(e.ms / steps).toFixed(2).padStart(8)} (${e.calls / steps})`);
process.exit(0);
