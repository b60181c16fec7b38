// The WASM SIMD backend: the Backend table. Each entry is a dtype guard, then either the driver
// of an AssemblyScript kernel (drivers/, one file per file of assembly/) or the js reference.
// Where the rooms are:
//   context.ts          kernel exports, scratch arena, tensor store, GEMM blocking, tunables
//   memory/allocator.ts the caching allocator over linear memory
//   memory/storage.ts   float32 tensor storage in linear memory: lifetime, budget, spilling
//   memory/arena.ts     the per-call scratch region of linear memory
//   memory/staging.ts   how a kernel call reaches its inputs and outputs
//   drivers/*.ts        elementwise, reduce, gemm, conv, winograd, pool, norm, optim
//   fused.ts            the fused epilogues (conv -> bias/BN/ReLU/pool; BN -> ReLU -> pool)
//
// Float32 storage is WasmStorage, in linear memory (memory/storage.ts), and so are max pooling's
// int32 argmax indices; float64, bool and other int32 storage stay on the JS heap (the js
// backend's HostStorage), and their calls, like max/min
// reductions, where, assign, argReduce, gather and scatterAdd, run on the js reference, which
// borrows float32 values (a copy) and whose float32 results are adopted without a copy. Which
// kernels earn a wasm version was measured (bench/, and the numbers in the drivers' comments).

import type { AdamHyper, AdamStorages, Backend, BatchNormGrads, BatchNormParams, BinaryOp, ChannelGeometry, Conv2dGeometry, MemoryStats, Pool2dGeometry, ReduceOp, RunningUpdate, Storage, TrainStats, UnaryOp, View } from '../backend.js';
import * as composite from '../composite.js';
import type { DType, TypedArray } from '../../dtype.js';
import { JsBackend } from '../js/index.js';
import type { LoadedKernels } from './loader.js';
import { WasmContext } from './context.js';
import type { Arena } from './memory/arena.js';
import { isF32 } from './memory/staging.js';
import { isWasmStorage } from './memory/storage.js';
import { HostStorage } from '../js/storage.js';
import { allFinite as jsAllFinite } from '../js/reduce.js';
import * as ew from './drivers/elementwise.js';
import * as reduce from './drivers/reduce.js';
import * as gemm from './drivers/gemm.js';
import * as conv from './drivers/conv.js';
import * as pool from './drivers/pool.js';
import * as norm from './drivers/norm.js';
import * as optim from './drivers/optim.js';
import * as fused from './fused.js';

const allF32 = (...s: Storage[]): boolean => s.every(isF32);

export class WasmBackend implements Backend {
  readonly name: string = 'wasm';
  readonly flavor: string;
  readonly ctx: WasmContext;
  /** The reference, for the dtypes and ops without a wasm kernel. */
  private readonly ref = new JsBackend();

  constructor(loaded: LoadedKernels) {
    this.flavor = loaded.flavor;
    this.ctx = new WasmContext(loaded);
  }

  get arena(): Arena { return this.ctx.arena; }

  /** For getBackendInfo(): the threads kernels run on now, and whether the shared-memory build is in use. */
  threadInfo(): { threads: number; sharedMemory: boolean; threadsNote?: string } {
    const note = this.ctx.sharedNote;
    return { threads: this.ctx.threads, sharedMemory: this.ctx.shared, ...(note ? { threadsNote: note } : {}) };
  }
  /** See WasmContext.colTarget. */
  get colTarget(): number { return this.ctx.colTarget; }
  set colTarget(v: number) { this.ctx.colTarget = v; }
  /** See WasmContext.winogradMinChannels. */
  get winogradMinChannels(): number { return this.ctx.winogradMinChannels; }
  set winogradMinChannels(v: number) { this.ctx.winogradMinChannels = v; }
  /** See WasmContext.winogradS2MinChannels. */
  get winogradS2MinChannels(): number { return this.ctx.winogradS2MinChannels; }
  set winogradS2MinChannels(v: number) { this.ctx.winogradS2MinChannels = v; }
  /** See WasmContext.directMaxK. */
  get directMaxK(): number { return this.ctx.directMaxK; }
  set directMaxK(v: number) { this.ctx.directMaxK = v; }

  /** The allocator's view of linear memory: resident tensor blocks and the scratch arena. */
  memoryStats(): MemoryStats {
    const s = this.ctx.stats();
    const t = this.ctx.store.stats();
    return {
      backend: this.name, wasmBytes: s.wasmBytes, liveBytes: s.liveBytes, liveBlocks: s.liveBlocks, cachedBytes: s.cachedBytes,
      spilledBytes: t.spilledBytes, scratchBytes: this.ctx.arena.heldBytes, tensorBytes: t.residentBytes, tensorBlocks: t.residentBlocks,
      budgetBytes: this.ctx.store.budget, spills: t.spills,
    };
  }

  /** Resident tensor bytes above which least recently used tensors move to the JS heap (memory/storage.ts). */
  setMemoryBudget(bytes: number): void {
    this.ctx.store.budget = bytes;
  }

  // ---- storage: float32 in linear memory, other dtypes on the JS heap
  fromArray(data: TypedArray): Storage { return data instanceof Float32Array ? this.ctx.store.fromHost(data) : this.ref.fromArray(data); }
  zeros(dtype: DType, size: number): Storage { return dtype === 'float32' ? this.ctx.store.fromHost(new Float32Array(size)) : this.ref.zeros(dtype, size); }
  // (a tensor in linear memory is always read as a copy: memory.grow would detach a view)
  readSync(s: Storage, fresh = false): TypedArray { return isWasmStorage(s) ? s.slot.store.read(s) : this.ref.readSync(s, fresh); }
  read(s: Storage, fresh = false): Promise<TypedArray> { return Promise.resolve(this.readSync(s, fresh)); }
  owns(s: Storage): boolean { return isWasmStorage(s) ? s.slot.store === this.ctx.store : s instanceof HostStorage && s.dtype !== 'float32'; }
  /** Free a float32 storage's block now (the caller proves nothing reads it again); host storage is left to the GC. */
  release(s: Storage): void { if (isWasmStorage(s) && s.slot.store === this.ctx.store) this.ctx.store.release(s); }

  /** A float32 result of the reference kernels as wasm storage (its array taken over, moved in on first use). */
  private adopt(s: Storage): Storage {
    return s instanceof HostStorage && s.data instanceof Float32Array ? this.ctx.store.fromHost(s.data) : s;
  }

  // ---- elementwise
  copy(x: View, dtype: DType = x.storage.dtype): Storage {
    if (!isF32(x.storage) || dtype !== 'float32') return this.adopt(this.ref.copy(x, dtype));
    return ew.copy(this.ctx, x) ?? this.adopt(this.ref.copy(x, dtype));
  }
  unary(op: UnaryOp, x: View, a = 0, b = 0): Storage {
    const code = ew.UNARY[op];
    if (!isF32(x.storage) || code === undefined) return this.adopt(this.ref.unary(op, x, a, b));
    return ew.unary(this.ctx, code, x, a, b) ?? this.adopt(this.ref.unary(op, x, a, b));
  }
  binary(op: BinaryOp, a: View, b: View): Storage {
    const code = ew.BINARY[op];
    if (!isF32(a.storage) || !isF32(b.storage) || code === undefined) return this.adopt(this.ref.binary(op, a, b));
    return ew.binary(this.ctx, op, code, a, b) ?? this.adopt(this.ref.binary(op, a, b));
  }
  bceWithLogits(logits: Storage, target: Storage): Storage { return ew.bceWithLogits(this.ctx, logits, target); }
  bceWithLogitsBackward(logits: Storage, target: Storage, g: Storage): Storage { return ew.bceWithLogits(this.ctx, logits, target, g); }
  where(cond: View, a: View, b: View): Storage { return this.adopt(this.ref.where(cond, a, b)); }
  scaledAddInPlace(dst: Storage, a: number, src: Storage, b: number): void {
    ew.scaledAddInPlace(this.ctx, dst, a, src, b);
  }
  assign(dst: View, src: View): void {
    // the reference writes into the host array, so a resident destination moves out first (src may be the same storage)
    if (isWasmStorage(dst.storage)) this.ctx.store.hostForWrite(dst.storage);
    this.ref.assign(dst, src);
  }

  // ---- reductions
  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    if (op !== 'sum' || !isF32(x.storage)) return this.adopt(this.ref.reduce(op, x, axes));
    return reduce.sum(this.ctx, x, axes) ?? this.adopt(this.ref.reduce(op, x, axes));
  }
  argReduce(op: 'max' | 'min', x: View, axis: number): Storage { return this.ref.argReduce(op, x, axis); }
  /** float32 views by the nonFinite kernel (at memory speed), other dtypes by the reference. */
  allFinite(xs: readonly View[]): Storage {
    const f32 = xs.filter((x) => isF32(x.storage));
    const others = xs.filter((x) => !isF32(x.storage));
    const ok = (ew.allFinite(this.ctx, f32) ?? jsAllFinite(f32)) && jsAllFinite(others);
    return new HostStorage(Uint8Array.of(ok ? 1 : 0));
  }

  // ---- indexing
  gather(x: View, axis: number, index: View): Storage { return this.adopt(this.ref.gather(x, axis, index)); }
  scatterAdd(base: View, axis: number, index: View, src: View): Storage { return this.adopt(this.ref.scatterAdd(base, axis, index, src)); }

  // ---- linear algebra
  matmul(a: View, b: View): Storage {
    if (!isF32(a.storage) || !isF32(b.storage)) return this.ref.matmul(a, b);
    return gemm.matmul(this.ctx, a, b);
  }
  /** The bias (and eval-mode BN + ReLU) applied to each tile of the product while it is in cache (fused.ts). */
  linear(a: View, b: View, bias: Storage | null, bn: BatchNormParams | null): Storage {
    const all = [a.storage, b.storage, ...(bias ? [bias] : []), ...(bn ? [bn.mean, bn.invstd, bn.weight, bn.bias] : [])];
    if (!allF32(...all) || a.shape[1] === 0) return composite.linear(this, a, b, bias, bn);
    return gemm.linear(this.ctx, a, b, bias, bn);
  }

  // ---- convolution
  conv2d(x: Storage, w: Storage, g: Conv2dGeometry): Storage {
    if (!allF32(x, w)) return this.ref.conv2d(x, w, g);
    return conv.forward(this.ctx, x, w, null, g);
  }
  /** The bias is added to each output chunk while it is in cache (instead of a separate broadcast add over the whole output). */
  conv2dBias(x: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage {
    if (!allF32(x, w, bias)) return this.ref.conv2dBias(x, w, bias, g);
    return conv.forward(this.ctx, x, w, bias, g);
  }
  conv2dBackwardData(dy: Storage, w: Storage, g: Conv2dGeometry): Storage {
    if (!allF32(dy, w)) return this.ref.conv2dBackwardData(dy, w, g);
    return conv.backwardData(this.ctx, dy, w, null, g)!;
  }
  conv2dBackwardDataBias(dy: Storage, w: Storage, bias: Storage, g: Conv2dGeometry): Storage {
    if (!allF32(dy, w, bias)) return this.ref.conv2dBackwardDataBias(dy, w, bias, g);
    return conv.backwardData(this.ctx, dy, w, bias, g) ?? this.adopt(this.ref.conv2dBackwardDataBias(dy, w, bias, g));
  }
  conv2dBackwardFilter(x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
    if (!allF32(x, dy)) return this.ref.conv2dBackwardFilter(x, dy, g);
    return conv.backwardFilter(this.ctx, x, dy, g);
  }
  /** Eval-mode Conv -> BN -> ReLU [-> MaxPool] for inference, fused into the conv's chunks (fused.ts). */
  conv2dBnRelu(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry, p: Pool2dGeometry | null): Storage {
    const all = [x, w, bn.mean, bn.invstd, bn.weight, bn.bias, ...(bias ? [bias] : [])];
    if (!allF32(...all) || (p && (p.n !== g.n || p.c !== g.o || p.h !== g.oh || p.w !== g.ow))) return composite.conv2dBnRelu(this, x, w, bias, bn, g, p);
    return conv.forward(this.ctx, x, w, bias, g, bn, p);
  }
  /** Eval-mode ConvTranspose -> BN -> ReLU for inference, fused into the conv's chunks (fused.ts). */
  convTranspose2dBnRelu(x: Storage, w: Storage, bias: Storage | null, bn: BatchNormParams, g: Conv2dGeometry): Storage {
    const all = [x, w, bn.mean, bn.invstd, bn.weight, bn.bias, ...(bias ? [bias] : [])];
    if (!allF32(...all) || g.n * g.c * g.h * g.w === 0 || g.oh * g.ow === 0 || g.o === 0) return composite.convTranspose2dBnRelu(this, x, w, bias, bn, g);
    return conv.backwardData(this.ctx, x, w, bias, g, bn)!;
  }

  // ---- pooling
  maxPool2d(x: Storage, g: Pool2dGeometry): { out: Storage; indices: Storage } {
    if (!isF32(x)) return this.ref.maxPool2d(x, g);
    const r = pool.maxPool2d(this.ctx, x, g, true);
    return { out: r.out, indices: r.indices! };
  }
  maxPool2dValues(x: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(x)) return this.ref.maxPool2dValues(x, g);
    return pool.maxPool2d(this.ctx, x, g, false).out;
  }
  maxPool2dBackward(dy: Storage, indices: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(dy) || indices.dtype !== 'int32') return this.ref.maxPool2dBackward(dy, indices, g);
    return pool.maxPool2dBackward(this.ctx, dy, indices, g);
  }
  avgPool2d(x: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(x)) return this.ref.avgPool2d(x, g);
    return pool.avgPool2d(this.ctx, x, g);
  }
  avgPool2dBackward(dy: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(dy)) return this.ref.avgPool2dBackward(dy, g);
    return pool.avgPool2dBackward(this.ctx, dy, g);
  }

  // ---- batch norm
  batchNormStats(x: Storage, g: ChannelGeometry): { mean: Storage; variance: Storage } {
    if (!isF32(x) || x.size === 0) return this.ref.batchNormStats(x, g);
    return norm.stats(this.ctx, x, g);
  }
  batchNormTrainStats(x: Storage, g: ChannelGeometry, eps: number, running: RunningUpdate): TrainStats | null {
    return isF32(x) && x.size > 0 ? norm.trainStats(this.ctx, x, g, eps, running) : null;
  }
  batchNormForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
    if (!allF32(x, mean, invstd, weight, bias) || x.size === 0) return this.ref.batchNormForward(x, mean, invstd, weight, bias, g);
    return norm.forward(this.ctx, x, mean, invstd, weight, bias, g, false);
  }
  /** wantDxSum: dx's channel sums from the dx pass, in the reduce's order (drivers/norm.ts). */
  batchNormBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, g: ChannelGeometry, batchStats: boolean, wantDxSum = false): BatchNormGrads {
    if (!allF32(dy, x, mean, invstd, weight) || x.size === 0) return this.ref.batchNormBackward(dy, x, mean, invstd, weight, g, batchStats);
    return norm.backward(this.ctx, norm.dyFrom(this.ctx, dy), x, mean, invstd, weight, null, g, batchStats, wantDxSum);
  }
  /** BatchNorm + ReLU in one pass: saves the relu kernel's copy in, pass and copy out. */
  batchNormReluForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
    if (!allF32(x, mean, invstd, weight, bias) || x.size === 0) return composite.batchNormRelu(this, x, mean, invstd, weight, bias, g);
    return norm.forward(this.ctx, x, mean, invstd, weight, bias, g, true);
  }
  /**
   * The ReLU gradient (dy * step(y)) is applied in the kernel's first pass, y recomputed from x
   * (no mask to copy in or read): saves the mulStep kernel, its copies, and the forward's output.
   */
  batchNormReluBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, batchStats: boolean, wantDxSum = false): BatchNormGrads {
    if (!allF32(dy, x, mean, invstd, weight, bias) || x.size === 0) return composite.batchNormReluBackward(this, dy, x, mean, invstd, weight, bias, g, batchStats);
    return norm.backward(this.ctx, norm.dyFrom(this.ctx, dy), x, mean, invstd, weight, bias, g, batchStats, wantDxSum);
  }
  /** BatchNorm -> ReLU -> MaxPool2d for training, the full-size activation staying in the arena (fused.ts). */
  batchNormReluMaxPool(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, p: Pool2dGeometry): { out: Storage; indices: Storage } {
    if (!allF32(x, mean, invstd, weight, bias) || x.size === 0) return composite.batchNormReluMaxPool(this, x, mean, invstd, weight, bias, g, p);
    return fused.batchNormReluMaxPool(this.ctx, x, mean, invstd, weight, bias, g, p);
  }
  batchNormReluMaxPoolBackward(dy: Storage, indices: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry, p: Pool2dGeometry, batchStats: boolean, wantDxSum = false): BatchNormGrads {
    if (!allF32(dy, x, mean, invstd, weight, bias) || indices.dtype !== 'int32' || x.size === 0) {
      return composite.batchNormReluMaxPoolBackward(this, dy, indices, x, mean, invstd, weight, bias, g, p, batchStats);
    }
    return fused.batchNormReluMaxPoolBackward(this.ctx, dy, indices, x, mean, invstd, weight, bias, g, p, batchStats, wantDxSum);
  }

  // ---- optimiser
  /** float32: also whether every value written is finite (checked in registers). */
  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): boolean | void {
    return this.adamUpdateMany([[param, grad, m, v]], h)[0];
  }
  /** The float32 parameters as one job; others one by one on the reference. */
  adamUpdateMany(items: readonly AdamStorages[], h: AdamHyper): (boolean | void)[] {
    if (items.every((it) => allF32(...it))) return optim.adamUpdate(this.ctx, items, h);
    return items.map(([p, g, m, v]) => (allF32(p, g, m, v) ? optim.adamUpdate(this.ctx, [[p, g, m, v]], h)[0] : this.ref.adamUpdate(p, g, m, v, h)));
  }
}
