// Running a job: choose how many threads it gets, place each thread's scratch in the arena, and
// run the chunks, either here one after another or on the pool from shared memory. Either way
// the chunks and their calls are the same words (job.ts), so the bits are the same.

import type { WasmContext } from '../context.js';
import { chunkPermutation } from './config.js';
import { execChunk, FN_NAMES, type Job } from './job.js';

const ALIGN = 64;

export function runJob(ctx: WasmContext, job: Job): void {
  job.seal();
  const n = job.chunks;
  if (n === 0) return;
  const order = chunkPermutation(n);
  const threads = job.work < ctx.minParallelWork ? 1 : Math.min(ctx.threads, n);
  const stride = Math.ceil(job.scratchBytes / ALIGN) * ALIGN;
  const scratch = stride > 0 ? ctx.arena.alloc(stride * threads) : 0;
  const k = ctx.k as unknown as Record<string, (...a: number[]) => void>;
  if (threads === 1) {
    for (let i = 0; i < n; i++) execChunk(k, FN_NAMES, ctx.arena.memory, job.words, job.starts[order ? order[i]! : i]!, scratch, false);
    return;
  }
  // float64 words in the arena: the chunk starts in claim order, then the calls
  const prog = ctx.arena.alloc((n + job.words.length) * 8);
  const f = new Float64Array(ctx.arena.memory.buffer, prog, n + job.words.length);
  for (let i = 0; i < n; i++) f[i] = n + job.starts[order ? order[i]! : i]!;
  f.set(job.words, n);
  ctx.poolFor().run(prog, n, scratch, stride, threads, k);
}
