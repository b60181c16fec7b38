// Drivers of assembly/elementwise.ts: float32 copy (materialising a view), unary and binary ops
// over views gathered densely into the arena.
//
// Measured (bench of 128x32x28x28 = 3.2M float32, single thread, this machine under load):
// js reference relu 45 ms, sigmoid 114 ms, exp 65 ms, add 12 ms, broadcast sub 42 ms; the
// wasm path's copy in + copy out costs ~1.3 ms, so elementwise ops earn a wasm kernel.
// Each driver returns null where the views cannot be staged (the table then runs the reference).
// Unary and binary kernels run as jobs of fixed ranges (elementwise: the bits do not depend on
// the split or the thread count).

import { COMPARISONS } from '../../backend.js';
import type { BinaryOp, Storage, UnaryOp, View } from '../../backend.js';
import { HostStorage } from '../../js/storage.js';
import { numel } from '../../../shape.js';
import type { WasmContext } from '../context.js';
import { F32, emptyF32, inputs, output, stageDense } from '../memory/staging.js';
import { FN, Job, WORK_PER_ELEMENT } from '../threads/job.js';

/** Elements per chunk (a multiple of 4: SIMD runs stay whole). */
const CHUNK = 1 << 15;

/** unaryF32 (x, null) or binaryF32 (x, y) of n elements into out, by fixed ranges. */
function runElementwise(ctx: WasmContext, code: number, n: number, out: number, x: number, y: number | null, a = 0, b = 0): void {
  const job = new Job(WORK_PER_ELEMENT * n);
  for (let i = 0; i < n; i += CHUNK) {
    const o = i * F32, len = Math.min(CHUNK, n - i);
    job.chunk().call(y === null ? FN.unaryF32 : FN.binaryF32, y === null ? [code, x + o, out + o, len, a, b] : [code, x + o, y + o, out + o, len]);
  }
  ctx.launch(job);
}

/** Op codes of assembly/elementwise.ts. */
export const UNARY: Partial<Record<UnaryOp, number>> = {
  neg: 0, exp: 1, log: 2, log1p: 3, sqrt: 4, abs: 5, sign: 6, relu: 7, sigmoid: 8, tanh: 9, softplus: 10,
  reciprocal: 11, square: 12, step: 13, leakyRelu: 14, clamp: 15, powScalar: 16, addScalar: 17, mulScalar: 18, inRange: 19, erf: 20,
};
export const BINARY: Partial<Record<BinaryOp, number>> = {
  add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5, eq: 6, ne: 7, lt: 8, le: 9, gt: 10, ge: 11, mulStep: 12,
};

/** A float32 view materialised contiguously (a dense view: one copy inside linear memory). */
export function copy(ctx: WasmContext, x: View): Storage | null {
  const n = numel(x.shape);
  if (n === 0) return emptyF32(ctx);
  ctx.arena.reset();
  const o = output(ctx, n);
  if (!stageDense(ctx, x.shape, [x], o.ptr)) return null;
  return o.storage;
}

export function unary(ctx: WasmContext, code: number, x: View, a: number, b: number): Storage | null {
  const n = numel(x.shape);
  if (n === 0) return emptyF32(ctx);
  ctx.arena.reset();
  const ptrs = stageDense(ctx, x.shape, [x]);
  if (!ptrs) return null;
  const o = output(ctx, n);
  runElementwise(ctx, code, n, o.ptr, ptrs[0]!, null, a, b);
  return o.storage;
}

export function binary(ctx: WasmContext, op: BinaryOp, code: number, a: View, b: View): Storage | null {
  const n = numel(a.shape);
  const cmp = COMPARISONS.has(op); // the kernel writes 0.0 / 1.0; the result is a bool storage (on the JS heap)
  if (n === 0) return cmp ? new HostStorage(new Uint8Array(0)) : emptyF32(ctx);
  ctx.arena.reset();
  const ptrs = stageDense(ctx, a.shape, [a, b]);
  if (!ptrs) return null;
  if (!cmp) {
    const o = output(ctx, n);
    runElementwise(ctx, code, n, o.ptr, ptrs[0]!, ptrs[1]!);
    return o.storage;
  }
  const p = ctx.arena.allocF32(n);
  runElementwise(ctx, code, n, p, ptrs[0]!, ptrs[1]!);
  const out = new Uint8Array(n);
  out.set(ctx.arena.f32.subarray(p / F32, p / F32 + n));
  return new HostStorage(out);
}

/**
 * dst = dst * a + src * b in place (float32 storages of one size): the products in float64
 * rounded to float32 (unaryF32's mulScalar) and their float32 sum (binaryF32's add). One small
 * job (batch norm's running statistics: one value per channel), so that the calling thread need
 * not wait for the jobs before it; it leaves finiteness unknown (the probe reads a few values).
 */
export function scaledAddInPlace(ctx: WasmContext, dst: Storage, a: number, src: Storage, b: number): void {
  const n = dst.size;
  if (n === 0) return;
  ctx.arena.reset();
  const [d, s] = inputs(ctx, [dst, src]) as [number, number];
  const t = ctx.arena.allocF32(2 * n);
  ctx.launch(scaledAddCalls(new Job(0).chunk(), d, a, s, b, t, t + n * F32, n));
}

/** Appends scaledAddInPlace's calls over n floats at d and s (t, u: n floats of temporaries). */
export function scaledAddCalls(job: Job, d: number, a: number, s: number, b: number, t: number, u: number, n: number): Job {
  const mul = UNARY.mulScalar!;
  return job.call(FN.unaryF32, [mul, d, t, n, a, 0]).call(FN.unaryF32, [mul, s, u, n, b, 0]).call(FN.binaryF32, [BINARY.add!, t, u, d, n]);
}

/**
 * The fused binary cross-entropy with logits (per element) or, with g, its logits gradient
 * g * (sigmoid(l) - t): contiguous float32 storages of one size, by fixed ranges.
 */
export function bceWithLogits(ctx: WasmContext, l: Storage, t: Storage, g: Storage | null = null): Storage {
  const n = l.size;
  if (n === 0) return emptyF32(ctx);
  ctx.arena.reset();
  const [lp, tp, gp] = inputs(ctx, g ? [l, t, g] : [l, t]) as [number, number, number?];
  const o = output(ctx, n);
  const job = new Job(WORK_PER_ELEMENT * n);
  for (let i = 0; i < n; i += CHUNK) {
    const at = i * F32, len = Math.min(CHUNK, n - i);
    job.chunk().call(gp === undefined ? FN.bceWithLogits : FN.bceWithLogitsGrad,
      gp === undefined ? [lp + at, tp + at, o.ptr + at, len] : [lp + at, tp + at, gp + at, o.ptr + at, len]);
  }
  ctx.launch(job);
  return o.storage;
}

/** Floats per nonFinite call (and at most per chunk: small views share a chunk). */
const FINITE_CHUNK = 1 << 16;

/**
 * Whether every value of the float32 views is finite (Backend.allFinite): dense views are read
 * in place, others gathered into the arena; one job of fixed ranges, each call setting its own
 * flag (the answer cannot depend on the split). Null where a view cannot be staged.
 */
export function allFinite(ctx: WasmContext, xs: readonly View[]): boolean | null {
  ctx.arena.reset();
  const runs: [number, number][] = []; // [pointer, floats]
  let total = 0;
  for (const x of xs) {
    const n = numel(x.shape);
    if (n === 0) continue;
    const p = stageDense(ctx, x.shape, [x]);
    if (!p) return null;
    runs.push([p[0]!, n]);
    total += n;
  }
  if (total === 0) return true;
  const calls = runs.reduce((k, [, n]) => k + Math.ceil(n / FINITE_CHUNK), 0);
  const flags = ctx.arena.alloc(calls * 4);
  const job = new Job(WORK_PER_ELEMENT * total);
  let k = 0, inChunk = FINITE_CHUNK;
  for (const [p, n] of runs) {
    for (let i = 0; i < n; i += FINITE_CHUNK) {
      const len = Math.min(FINITE_CHUNK, n - i);
      if (inChunk + len > FINITE_CHUNK) {
        job.chunk();
        inChunk = 0;
      }
      job.call(FN.nonFinite, [p + i * F32, len, flags + 4 * k++]);
      inChunk += len;
    }
  }
  ctx.launch(job);
  return ctx.arena.i32.subarray(flags / 4, flags / 4 + calls).every((f) => f === 0);
}
