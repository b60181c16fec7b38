// How the conv drivers split a batch into chunks of images, and how they add up the chunks'
// partial sums. Both depend only on shapes and constants, never on the thread count: that is
// what makes the bits the same at any thread count.

import type { WasmContext } from '../context.js';
import { F32 } from '../memory/staging.js';
import { FN, Job } from '../threads/job.js';

/** A job has at least this many chunks of images where the batch allows (so every thread of a pool gets some). */
export const MIN_IMAGE_CHUNKS = 16;

/** Images per chunk: the chunk's working set near colTarget floats (`perImage` each), and at least MIN_IMAGE_CHUNKS chunks. */
export function imagesPerChunk(ctx: WasmContext, n: number, perImage: number): number {
  return Math.max(1, Math.min(n, Math.floor(ctx.colTarget / Math.max(perImage, 1)), Math.ceil(n / MIN_IMAGE_CHUNKS)));
}

/** out = ((parts[0] + parts[1]) + parts[2]) + ... (`chunks` buffers of `size` floats): one fixed order at any thread count. */
export function sumParts(ctx: WasmContext, parts: number, chunks: number, size: number, out: number): void {
  const job = new Job(chunks * size).chunk();
  if (chunks === 1) job.call(FN.copy, [out, parts, size * F32]);
  for (let c = 1; c < chunks; c++) job.call(FN.binaryF32, [0, c === 1 ? parts : out, parts + c * size * F32, out, size]); // op 0: add
  ctx.launch(job);
}
