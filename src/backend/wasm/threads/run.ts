// Running a job: choose how many threads it gets, place each thread's scratch in the arena, and
// run the chunks, either here one after another or on the pool from shared memory (returning
// once the workers have it, where the caller need not wait: WasmContext.launch). Either way the
// chunks and their calls are the same words (job.ts), so the bits are the same.

import type { WasmContext } from '../context.js';
import { chunkPermutation } from './config.js';
import { execChunk, FN_NAMES, type Job, type KernelTable } from './job.js';

const ALIGN = 64;

/** Run a job's chunks (WasmContext.run and launch); with wait false, a pooled job may still run on return. */
export function runJob(ctx: WasmContext, job: Job, wait: boolean): void {
  job.seal();
  const n = job.chunks;
  if (n === 0) return;
  const order = chunkPermutation(n);
  // A job under minParallelWork is not worth waking many threads. A job for one thread (that, or
  // one chunk) runs here when waited for; else one worker takes it while this thread goes on
  // (and helps with what is left once it waits).
  const many = job.work < ctx.minParallelWork ? 1 : Math.min(ctx.threads, n);
  const threads = many > 1 ? many : wait || ctx.threads === 1 ? 1 : 2;
  const stride = Math.ceil(job.scratchBytes / ALIGN) * ALIGN;
  const scratch = stride > 0 ? ctx.arena.alloc(stride * threads) : 0;
  if (threads === 1) {
    ctx.sync();
    const k = ctx.kernels as unknown as KernelTable;
    for (let i = 0; i < n; i++) execChunk(k, FN_NAMES, ctx.arena.memory, job.words, job.starts[order ? order[i]! : i]!, scratch, false);
    return;
  }
  // float64 words in the arena: the chunk starts in claim order, then the calls
  const prog = ctx.arena.alloc((n + job.words.length) * 8);
  const f = new Float64Array(ctx.arena.memory.buffer, prog, n + job.words.length);
  for (let i = 0; i < n; i++) f[i] = n + job.starts[order ? order[i]! : i]!;
  f.set(job.words, n);
  ctx.publish(prog, n, scratch, stride, threads);
  if (wait) ctx.sync();
}
