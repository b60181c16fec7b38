// The per-call scratch arena: a bump allocator inside one allocator block. A kernel call resets
// the arena, reserves every buffer it needs (staged inputs, packing buffers, outputs), runs, and
// takes its results out; the next call starts over. The block is sized to the last call's need,
// so in a steady loop every call bumps inside the same block and nothing is searched or grown.
//
// A call that needs more than the block gets further blocks; at the next reset they are all
// given back and one block of the call's total is taken instead. A block much larger than the
// calls now need (after one oversize call, or after a call that failed for lack of memory) is
// given back at the next reset, so those bytes become reusable for anything else.
//
// Shared-memory note: the module is built with --importMemory, and the memory is created in
// loader.ts (non-shared today: a shared memory needs SharedArrayBuffer, i.e. cross-origin
// isolation in browsers, and the single-thread path has no use for it). A multi-core version
// builds with `--enable simd,threads --sharedMemory` (AssemblyScript 0.28 with --importMemory), creates
// `new WebAssembly.Memory({ initial, maximum, shared: true })`, posts the compiled Module and
// the memory to worker_threads, and gives each worker its own packing buffers carved from this
// same arena (inputs and outputs stay shared): kernels never allocate, so nothing else changes.

import { MemoryLimitError } from '../../backend.js';
import type { Allocator, Block } from './allocator.js';

const ALIGN = 64; // cache line; also satisfies v128 alignment
/** A scratch block above this size is kept only while calls keep using at least half of it. */
export const ARENA_RETAIN_BYTES = 64 << 20;

export class Arena {
  private blocks: Block[] = [];
  /** Bump position in the last block, and bytes reserved in this call over all blocks. */
  private off = 0;
  private used = 0;
  /** Bytes the last complete call reserved: the size of the next call's first block. */
  private want = 0;
  private failed = false;
  private f32View: Float32Array;
  private i32View: Int32Array;

  /**
   * onReset runs after every reset with the bytes the previous call reserved (0 when it failed
   * for lack of memory); WasmContext uses it to replace an oversized, idle memory.
   */
  constructor(
    private readonly allocator: Allocator,
    private readonly onReset: (need: number) => void = () => undefined,
    /** Called when memory cannot hold a scratch block: frees what it can (tensor blocks moved out), returns the bytes. */
    private readonly reclaim: () => number = () => 0,
  ) {
    this.f32View = new Float32Array(allocator.memory.buffer);
    this.i32View = new Int32Array(allocator.memory.buffer);
  }

  get memory(): WebAssembly.Memory {
    return this.allocator.memory;
  }

  /** Start a kernel call: every earlier reservation is released. */
  reset(): void {
    const first = this.blocks[0];
    const oversized = first !== undefined && first.size > ARENA_RETAIN_BYTES && 2 * this.used < first.size;
    const need = this.failed ? 0 : this.used;
    if (this.blocks.length > 1 || oversized || this.failed) {
      this.want = need;
      this.releaseBlocks();
    }
    this.failed = false;
    this.off = 0;
    this.used = 0;
    this.onReset(need);
  }

  /** Give every scratch block back to the allocator (between calls). */
  releaseBlocks(): void {
    for (const b of this.blocks) this.allocator.release(b);
    this.blocks = [];
    this.off = 0;
  }

  /**
   * Reserve `bytes` (64-byte aligned); returns the byte offset. Takes another block when needed;
   * where memory cannot hold it, throws a MemoryLimitError with the bytes the call needs (the
   * memory is left as it was, and everything this call took is given back at the next reset).
   */
  alloc(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 0) / ALIGN) * ALIGN;
    let last = this.blocks[this.blocks.length - 1];
    if (!last || this.off + size > last.size) {
      const want = Math.max(size, this.blocks.length === 0 ? this.want : last!.size);
      try {
        last = this.allocator.alloc(want);
      } catch {
        try {
          if (this.reclaim() === 0) throw new Error('nothing to reclaim');
          last = this.allocator.alloc(want);
        } catch {
          this.failed = true; // give everything back at the next reset
          throw new MemoryLimitError(this.used + size, this.memory.buffer.byteLength);
        }
      }
      this.blocks.push(last);
      this.off = 0;
    }
    const p = last.ptr + this.off;
    this.off += size;
    this.used += size;
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

  /** Bytes of linear memory (grows only; a renewed memory starts small again). */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  get heldBlocks(): number {
    return this.blocks.length;
  }

  /** Bytes of scratch blocks held between calls. */
  get heldBytes(): number {
    return this.blocks.reduce((s, b) => s + b.size, 0);
  }
}
