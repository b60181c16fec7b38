// How the conv drivers split a batch into chunks of images, and how they add up the chunks'
// partial sums. Both depend only on shapes and constants, never on the thread count: that is
// what makes the bits the same at any thread count.

import type { WasmContext } from '../context.js';
import { F32 } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';
import { WORK_PER_ELEMENT } from './norm.js';
import { BINARY } from './elementwise.js';

/** A job has at least this many chunks of images where the batch allows (so every thread of a pool gets some). */
export const MIN_IMAGE_CHUNKS = 16;

/** Images per chunk: the chunk's working set near colTarget floats (`perImage` each), and at least MIN_IMAGE_CHUNKS chunks. */
export function imagesPerChunk(ctx: WasmContext, n: number, perImage: number): number {
  return Math.max(1, Math.min(n, Math.floor(ctx.colTarget / Math.max(perImage, 1)), Math.ceil(n / MIN_IMAGE_CHUNKS)));
}

/** Fewest floats per range of sumParts' job. */
const SUM_MIN_RANGE = 1024;

/**
 * out = ((parts[0] + parts[1]) + parts[2]) + ... (`chunks` buffers of `size` floats): one fixed
 * order at any thread count. The adds run as a job of MIN_IMAGE_CHUNKS fixed ranges of the
 * elements (each element's sum is the same at any split): on the calling thread alone they were
 * ~1.5 ms of a one-thread step, all of it serial at N threads (the weight gradients' chunk sums).
 */
export function sumParts(ctx: WasmContext, parts: number, chunks: number, size: number, out: number): void {
  if (chunks === 1) {
    ctx.arena.f32.copyWithin(out / F32, parts / F32, parts / F32 + size);
    return;
  }
  const job = new Job(WORK_PER_ELEMENT * (chunks - 1) * size);
  // (a multiple of 4: SIMD runs stay whole; small sums, ~1k floats, in one range: a call per add, as on the calling thread)
  const range = Math.max(SUM_MIN_RANGE, Math.ceil(size / MIN_IMAGE_CHUNKS / 4) * 4);
  for (let i = 0; i < size; i += range) {
    const o = i * F32, len = Math.min(range, size - i);
    job.chunk();
    for (let c = 1; c < chunks; c++) job.call(FN.binaryF32, [BINARY.add!, (c === 1 ? parts : out) + o, parts + c * size * F32 + o, out + o, len]);
  }
  ctx.run(job);
}
