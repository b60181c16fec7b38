// How a kernel call reaches its tensors. Float32 inputs are WasmStorage already in linear memory
// (or moved in once): the kernels read them by pointer, strided views included; only strided
// views an elementwise kernel cannot read are gathered into the per-call arena, and only inputs
// a kernel overwrites are copied there. Float32 outputs are new resident storages the kernels
// write in place. int32 results of kernels (argmax indices) are resident too, read in place by
// their backward; other int32 and bool storage stays on the JS heap, copied into the arena.
// Every copy between the JS heap and linear memory of a kernel call is in this file or storage.ts.

import type { Storage, View } from '../../backend.js';
import { HostStorage, host } from '../../js/storage.js';
import { numel } from '../../../shape.js';
import type { WasmContext } from '../context.js';
import { WasmStorage, isWasmStorage } from './storage.js';
import { FN } from '../threads/job.js';

/** Bytes per float32. */
export const F32 = 4;

export const isF32 = (s: Storage): boolean => s.dtype === 'float32';

function wasmStorage(s: Storage): WasmStorage {
  if (!(s instanceof WasmStorage) || s.dtype !== 'float32') throw new Error(`internal: a float32 storage of the wasm backend was expected (got ${s.constructor.name} of ${s.dtype})`);
  return s;
}

/** Pointer to the values of a float32 storage (moved into linear memory where needed). Call after arena.reset(). */
export function input(ctx: WasmContext, s: Storage): number {
  return ctx.store.ptr(wasmStorage(s));
}

/** input() for each storage. */
export function inputs(ctx: WasmContext, ss: readonly Storage[]): number[] {
  return ss.map((s) => input(ctx, s));
}

/** A new float32 result of `count` floats: its storage and the pointer kernels write to. */
export interface Output {
  storage: Storage;
  ptr: number;
}

export function output(ctx: WasmContext, count: number): Output {
  if (count === 0) return { storage: emptyF32(ctx), ptr: 0 };
  return ctx.store.create(count);
}

/** output(), zero-filled (for kernels that accumulate). */
export function zeroedOutput(ctx: WasmContext, count: number): Output {
  const o = output(ctx, count);
  zeroF32(ctx, o.ptr, count);
  return o;
}

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

/** A view in linear memory: the byte offset of its element (0, 0, ...) and its strides. */
export interface Placed {
  ptr: number;
  strides: number[];
}

/** A float32 view as the GEMM reads it: in place, any strides. */
export function place(ctx: WasmContext, v: View): Placed {
  return { ptr: input(ctx, v.storage) + v.offset * F32, strides: [...v.strides] };
}

/**
 * Pointers to the views (same shape) as dense float32 buffers: in place where a view is dense,
 * else gathered into the arena (or into `dst`, for a single view). Null when a view cannot be
 * gathered (rank > 4 after coalescing).
 */
export function stageDense(ctx: WasmContext, shape: readonly number[], views: readonly View[], dst = 0): number[] | null {
  const c = coalesce(shape, views);
  if (!c) return null;
  const count = numel(c.shape);
  const ar = ctx.arena;
  return views.map((v, k) => {
    const base = input(ctx, v.storage) + v.offset * F32;
    const st = c.strides[k]!;
    if (c.shape[0]! * c.shape[1]! * c.shape[2]! === 1 && st[3] === 1) {
      if (dst) ctx.launchCall(FN.copy, [dst, base, count * F32]);
      return dst || base;
    }
    const geo = ar.alloc(32); // one per view: the first gather may still be running when the second is written
    const p = dst || ar.allocF32(count);
    ar.own32.set([...c.shape, ...st], geo / F32);
    ctx.launchCall(FN.gather4, [base, p, geo]);
    return p;
  });
}

/**
 * Pointer to an int32 storage's values, readable for `count` int32 (up to 8 past its end): in
 * place where resident (a kernel's result), else reserved in the arena and the storage copied there.
 */
export function inputI32(ctx: WasmContext, s: Storage, count = s.size): number {
  if (isWasmStorage(s)) return ctx.store.ptr(s);
  const p = ctx.arena.alloc(count * 4);
  ctx.arena.i32.set(host(s) as Int32Array, p / 4);
  return p;
}

/** Zero `count` floats at p (outputs the kernels accumulate into). */
export function zeroF32(ctx: WasmContext, p: number, count: number): void {
  ctx.arena.f32.fill(0, p / F32, p / F32 + count);
}

/** Write a kernel's geometry block (up to 16 int32) into the arena; its offset. */
export function putGeo(ctx: WasmContext, values: number[]): number {
  const p = ctx.arena.alloc(64);
  ctx.arena.own32.set(values, p / F32);
  return p;
}

/** A new int32 result of `count` int32 (resident, like output()'s): its storage and the pointer kernels write to. */
export function outputI32(ctx: WasmContext, count: number): Output {
  if (count === 0) return { storage: new HostStorage(new Int32Array(0)), ptr: 0 };
  return ctx.store.create(count, 'int32');
}

/** Reserve `count` float64 accumulators, zeroed; their offset. */
export function zeroedF64(ctx: WasmContext, count: number): number {
  const p = ctx.arena.alloc(count * 8);
  new Float64Array(ctx.arena.memory.buffer, p, count).fill(0);
  return p;
}

/** An empty (or zero-filled) float32 storage: values on the JS heap until a kernel reads them. */
export const emptyF32 = (ctx: WasmContext, size = 0): Storage => ctx.store.fromHost(new Float32Array(size));
