// Driver of the float32 sums in assembly/norm.ts (sumRows, sumCols): bias gradients ([N, C, H, W]
// -> C, [N, F] -> F) and per-image loss sums. The input is staged densely, its dims merged into
// alternating kept/reduced groups, and the patterns [R], [K, R], [R, K], [K, R, K] and [R, K, R]
// run as row sums or column sums with float64 accumulators (as the reference). Returns null for
// other patterns (the table runs the reference; so do max/min). Row sums ([K, R] and [R, K, R])
// run by chunks of kept rows: every output keeps its own order of additions, so the bits do not
// depend on the chunking; a whole-tensor sum [R] and the column sums are one-chunk jobs. The job
// that adds up a sum also rounds it to float32 (each chunk its own outputs), so that no second
// job follows it.

import type { Storage, View } from '../../backend.js';
import { numel } from '../../../shape.js';
import type { WasmContext } from '../context.js';
import { F32, output, stageDense, zeroedF64 } from '../memory/staging.js';
import { FN, Job, WORK_PER_ELEMENT } from '../threads/job.js';

/** Kept rows per chunk of a row sum (fixed, so the work split never depends on the thread count). */
const ROWS_PER_CHUNK = 16;

/**
 * acc[k] += sum of the row x + k * len (an outer loop over `outer` blocks of `stride` floats), by
 * chunks of rows; each chunk rounds its rows' sums into out.
 */
function sumRowsByChunks(ctx: WasmContext, xp: number, outer: number, stride: number, rows: number, len: number, acc: number, out: number): void {
  const job = new Job(WORK_PER_ELEMENT * outer * rows * len);
  for (let r0 = 0; r0 < rows; r0 += ROWS_PER_CHUNK) {
    const cnt = Math.min(ROWS_PER_CHUNK, rows - r0);
    job.chunk();
    for (let i = 0; i < outer; i++) job.call(FN.sumRows, [xp + (i * stride + r0 * len) * F32, cnt, len, acc + r0 * 8]);
    job.call(FN.f64ToF32, [acc + r0 * 8, out + r0 * F32, cnt]);
  }
  ctx.launch(job);
}

export function sum(ctx: WasmContext, x: View, axes: readonly number[]): Storage | null {
  // groups of consecutive dims (size-1 dims dropped): [size, reduced?]
  const groups: [number, boolean][] = [];
  let outSize = 1;
  for (let d = 0; d < x.shape.length; d++) {
    const n = x.shape[d]!;
    const r = axes.includes(d);
    if (!r) outSize *= n;
    if (n === 1) continue;
    const last = groups[groups.length - 1];
    if (last && last[1] === r) last[0] *= n;
    else groups.push([n, r]);
  }
  const pat = groups.map((g) => (g[1] ? 'R' : 'K')).join('');
  if (numel(x.shape) === 0 || !['R', 'KR', 'RK', 'KRK', 'RKR'].includes(pat)) return null;
  ctx.arena.reset();
  const ptrs = stageDense(ctx, x.shape, [x]);
  if (!ptrs) return null;
  const xp = ptrs[0]!;
  const acc = zeroedF64(ctx, outSize);
  const o = output(ctx, outSize);
  const sz = groups.map((g) => g[0]);
  /** One chunk: the sums, then their rounding. */
  const whole = (calls: (job: Job) => void): void => {
    const job = new Job(0).chunk();
    calls(job);
    ctx.launch(job.call(FN.f64ToF32, [acc, o.ptr, outSize]));
  };
  switch (pat) {
    case 'R': whole((job) => job.call(FN.sumRows, [xp, 1, sz[0]!, acc])); break;
    case 'KR': sumRowsByChunks(ctx, xp, 1, 0, sz[0]!, sz[1]!, acc, o.ptr); break;
    case 'RK': whole((job) => job.call(FN.sumCols, [xp, sz[0]!, sz[1]!, acc])); break;
    case 'KRK': {
      const [a, b, c] = sz as [number, number, number];
      whole((job) => {
        for (let i = 0; i < a; i++) job.call(FN.sumCols, [xp + i * b * c * F32, b, c, acc + i * c * 8]);
      });
      break;
    }
    default: {
      const [a, b, c] = sz as [number, number, number];
      sumRowsByChunks(ctx, xp, a, b * c, b, c, acc, o.ptr);
    }
  }
  return o.storage;
}
