// Moving float32 data between tensor storage and the per-call arena. Tensor storage lives on the
// JavaScript heap (HostStorage, shared with the js backend): a kernel call resets the arena,
// stages its inputs into it (copies, keeping strides where the kernel can read them), runs, and
// takes its outputs back out as fresh HostStorage. Every copy of the wasm backend is in this file.

import type { Storage, View } from '../../backend.js';
import { HostStorage, host } from '../../js/storage.js';
import { copy as referenceCopy } from '../../js/elementwise.js';
import { contiguousStrides, numel } from '../../../shape.js';
import type { WasmContext } from '../context.js';

/** Bytes per float32. */
export const F32 = 4;

export const f32 = (s: Storage): Float32Array => host(s) as Float32Array;
export const isF32 = (s: Storage): boolean => s.dtype === 'float32';

/** Row-major contiguous (size-1 dims may have any stride). */
export function isDense(v: View): boolean {
  for (let d = v.shape.length - 1, s = 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== s) return false;
    s *= v.shape[d]!;
  }
  return true;
}

/**
 * Drop size-1 dims and merge dims that are contiguous in every view, so most views become
 * 1-d (contiguous) or a few strided dims. Returns null above 4 dims (the gather's limit).
 */
function coalesce(shape: readonly number[], views: readonly View[]): { shape: number[]; strides: number[][] } | null {
  const sh: number[] = [];
  const st: number[][] = views.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = sh.length - 1;
    if (last >= 0 && views.every((v, k) => st[k]![last] === v.strides[d]! * shape[d]!)) {
      sh[last]! *= shape[d]!;
      views.forEach((v, k) => { st[k]![last] = v.strides[d]!; });
    } else {
      sh.push(shape[d]!);
      views.forEach((v, k) => st[k]!.push(v.strides[d]!));
    }
  }
  if (sh.length > 4) return null;
  while (sh.length < 4) {
    sh.unshift(1);
    st.forEach((s) => s.unshift(0));
  }
  return { shape: sh, strides: st };
}

/** A view staged in the arena: the byte offset of its element (0, 0, ...) and its strides there. */
export interface Staged {
  ptr: number;
  strides: number[];
}

/**
 * Copy the part of the storage a view spans into the arena, keeping its strides, so that the
 * GEMM packs straight from them. A view that spans far more than its elements (a small window
 * of a big storage) is materialised contiguously first instead.
 */
export function stage(ctx: WasmContext, v: View): Staged {
  const ar = ctx.arena;
  const data = f32(v.storage);
  let lo = v.offset;
  let hi = v.offset;
  let count = 1;
  for (let d = 0; d < v.shape.length; d++) {
    const ext = (v.shape[d]! - 1) * v.strides[d]!;
    if (ext < 0) lo += ext;
    else hi += ext;
    count *= v.shape[d]!;
  }
  if (hi - lo + 1 > 2 * count + 4096) {
    const dense = referenceCopy(v, new Float32Array(count)) as Float32Array;
    const p = ar.allocF32(dense.length);
    ar.f32.set(dense, p / F32);
    return { ptr: p, strides: contiguousStrides(v.shape) };
  }
  const p = ar.allocF32(hi - lo + 1);
  ar.f32.set(data.subarray(lo, hi + 1), p / F32);
  return { ptr: p + (v.offset - lo) * F32, strides: [...v.strides] };
}

/**
 * Copy the views (same shape) into dense float32 buffers in the arena. Returns their byte
 * offsets, or null when a view cannot be gathered (rank > 4 after coalescing, or a view
 * spanning far more memory than its elements).
 */
export function stageDense(ctx: WasmContext, shape: readonly number[], views: readonly View[]): number[] | null {
  const c = coalesce(shape, views);
  if (!c) return null;
  const count = numel(c.shape);
  const spans = views.map((v, k) => {
    let lo = v.offset, hi = v.offset;
    c.strides[k]!.forEach((s, d) => { const e = (c.shape[d]! - 1) * s; if (e < 0) lo += e; else hi += e; });
    return [lo, hi] as const;
  });
  if (spans.some(([lo, hi]) => hi - lo + 1 > 4 * count + 65536)) return null;
  const ar = ctx.arena;
  const ptrs: number[] = [];
  let geo = -1;
  views.forEach((v, k) => {
    const data = f32(v.storage);
    const [lo, hi] = spans[k]!;
    const st = c.strides[k]!;
    const dense = c.shape[0]! * c.shape[1]! * c.shape[2]! === 1 && st[3] === 1;
    if (dense) {
      const p = ar.allocF32(count);
      ar.f32.set(data.subarray(v.offset, v.offset + count), p / F32);
      ptrs.push(p);
      return;
    }
    if (geo < 0) geo = ar.alloc(32);
    const raw = ar.allocF32(hi - lo + 1);
    ar.f32.set(data.subarray(lo, hi + 1), raw / F32);
    const p = ar.allocF32(count);
    ar.i32.set([...c.shape, ...st], geo / F32);
    ctx.k.gather4(raw + (v.offset - lo) * F32, p, geo);
    ptrs.push(p);
  });
  return ptrs;
}

/** Reserve `count` floats and copy the whole float32 storage there; its offset. */
export function stageAll(ctx: WasmContext, s: Storage, count = s.size): number {
  const p = ctx.arena.allocF32(count);
  copyIn(ctx, f32(s), p);
  return p;
}

/** stageAll for each storage (`count` floats each: per-channel parameters); their offsets. */
export function stageEach(ctx: WasmContext, ts: readonly Storage[], count: number): number[] {
  return ts.map((t) => stageAll(ctx, t, count));
}

/** Reserve `count` int32 and copy the whole int32 storage there; its offset. */
export function stageI32(ctx: WasmContext, s: Storage, count = s.size): number {
  const p = ctx.arena.alloc(count * 4);
  ctx.arena.i32.set(host(s) as Int32Array, p / 4);
  return p;
}

export function copyIn(ctx: WasmContext, src: Float32Array, p: number): void {
  ctx.arena.f32.set(src, p / F32);
}

export function copyOut(ctx: WasmContext, p: number, count: number, dst: Float32Array, at = 0): void {
  dst.set(ctx.arena.f32.subarray(p / F32, p / F32 + count), at);
}

/** Zero `count` floats at p (outputs the kernels accumulate into). */
export function zeroF32(ctx: WasmContext, p: number, count: number): void {
  ctx.arena.f32.fill(0, p / F32, p / F32 + count);
}

/** Write a kernel's geometry block (up to 16 int32) into the arena; its offset. */
export function putGeo(ctx: WasmContext, values: number[]): number {
  const p = ctx.arena.alloc(64);
  ctx.arena.i32.set(values, p / F32);
  return p;
}

/** A result leaves the arena: `count` floats at p as a new float32 storage. */
export function takeF32(ctx: WasmContext, p: number, count: number): Storage {
  const out = new Float32Array(count);
  copyOut(ctx, p, count, out);
  return new HostStorage(out);
}

/** A result leaves the arena: `count` int32 at p as a new int32 storage. */
export function takeI32(ctx: WasmContext, p: number, count: number): Storage {
  return new HostStorage(ctx.arena.i32.slice(p / 4, p / 4 + count));
}

/** float64 accumulators (`count` at p) rounded to a new float32 storage. */
export function takeF64AsF32(ctx: WasmContext, p: number, count: number): Storage {
  const out = new Float32Array(count);
  out.set(new Float64Array(ctx.arena.memory.buffer, p, count));
  return new HostStorage(out);
}

/** Reserve `count` float64 accumulators, zeroed; their offset. */
export function zeroedF64(ctx: WasmContext, count: number): number {
  const p = ctx.arena.alloc(count * 8);
  new Float64Array(ctx.arena.memory.buffer, p, count).fill(0);
  return p;
}

/** An empty float32 storage (size-0 results never touch the arena). */
export const emptyF32 = (size = 0): Storage => new HostStorage(new Float32Array(size));
