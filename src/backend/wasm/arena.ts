// A bump allocator over the kernel module's linear memory, owned by TypeScript.
//
// Layout: [0, base) holds the module's static data (none today; base = heapBase() rounded up);
// [base, top) is the per-call scratch region. A kernel call resets the arena, reserves every
// buffer it needs (inputs copied in, packing buffers, outputs), runs, copies its result out into
// a JS-heap HostStorage, and the next call starts over at base. Memory grows only when one call
// needs more than any call before it, so it stays bounded by the largest single working set.
//
// Shared-memory note: the module is built with --importMemory, and the memory is created here
// (non-shared today: a shared memory needs SharedArrayBuffer, i.e. cross-origin isolation in
// browsers, and the single-thread path has no use for it). A multi-core version builds with
// `--enable simd,threads --sharedMemory` (see shared/platform-facts.md), creates
// `new WebAssembly.Memory({ initial, maximum, shared: true })`, posts the compiled Module and
// the memory to worker_threads, and gives each worker its own packing buffers carved from this
// same arena (inputs and outputs stay shared): kernels never allocate, so nothing else changes.

import { MemoryLimitError } from '../backend.js';

const PAGE = 65536;
const ALIGN = 64; // cache line; also satisfies v128 alignment

export class Arena {
  private top: number;
  private readonly base: number;
  private f32View: Float32Array;
  private i32View: Int32Array;

  constructor(readonly memory: WebAssembly.Memory, heapBase: number) {
    this.base = Math.ceil(Math.max(heapBase, 1024) / ALIGN) * ALIGN;
    this.top = this.base;
    this.f32View = new Float32Array(memory.buffer);
    this.i32View = new Int32Array(memory.buffer);
  }

  /** Start a kernel call: every earlier allocation is released. */
  reset(): void {
    this.top = this.base;
  }

  /**
   * Reserve `bytes` (64-byte aligned); returns the byte offset. Grows memory when needed; where
   * the module's maximum forbids it, throws a MemoryLimitError that says how much the call needed
   * (instead of the engine's "Memory.grow(): Maximum memory size exceeded").
   */
  alloc(bytes: number): number {
    const p = this.top;
    const top = p + Math.ceil(Math.max(bytes, 0) / ALIGN) * ALIGN;
    const have = this.memory.buffer.byteLength;
    if (top > have) {
      try {
        this.memory.grow(Math.ceil((top - have) / PAGE));
      } catch {
        throw new MemoryLimitError(top - this.base, have);
      }
    }
    this.top = top;
    return p;
  }

  allocF32(count: number): number {
    return this.alloc(count * 4);
  }

  /** Float32 view of the whole memory (fresh after growth). */
  get f32(): Float32Array {
    if (this.f32View.buffer !== this.memory.buffer) this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }

  get i32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer);
    return this.i32View;
  }

  /** Bytes of linear memory in use by the module (grows only). */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }
}
