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
// With threads, a call may return while its job still runs on the workers (WasmContext.launch),
// reading the scratch and the job's words in the arena. So the arena has two sides: the call
// after a launch reserves on the other one, and a side is reset only once no launched job reads
// it. The views of memory (f32, i32) wait for a launched job first: what this thread reads or
// writes through them may be what the job reads or writes.

import { MemoryLimitError } from '../../backend.js';
import type { Allocator, Block } from './allocator.js';

const ALIGN = 64; // cache line; also satisfies v128 alignment
/** A scratch block above this size is kept only while calls keep using at least half of it. */
export const ARENA_RETAIN_BYTES = 64 << 20;

/** One half of the arena: its blocks and the current (or last) call's reservations in them. */
class Side {
  blocks: Block[] = [];
  /** Bump position in the last block, and bytes reserved in this call over all blocks. */
  off = 0;
  used = 0;
  /** Bytes the last complete call reserved: the size of the next call's first block. */
  want = 0;
  failed = false;
  /** A job that reads this side's scratch may still be running (see markBusy). */
  busy = false;
}

export class Arena {
  /**
   * Two sides: a call after one that launched a job (WasmContext.launch) takes the other side,
   * so that it can reserve and fill its scratch while that job still runs on the workers.
   */
  private readonly sides = [new Side(), new Side()];
  private side: Side = this.sides[0]!;
  private f32View: Float32Array;
  private i32View: Int32Array;

  /**
   * onReset runs after every reset with the bytes the previous call reserved (0 when it failed
   * for lack of memory); WasmContext uses it to replace an oversized, idle memory. sync waits for
   * a launched job: before a side it may use is reset, and before any view of memory is handed out.
   */
  constructor(
    private readonly allocator: Allocator,
    private readonly onReset: (need: number) => void = () => undefined,
    /** Called when memory cannot hold a scratch block: frees what it can (tensor blocks moved out), returns the bytes. */
    private readonly reclaim: () => number = () => 0,
    private readonly sync: () => void = () => undefined,
  ) {
    this.f32View = new Float32Array(allocator.memory.buffer);
    this.i32View = new Int32Array(allocator.memory.buffer);
  }

  get memory(): WebAssembly.Memory {
    return this.allocator.memory;
  }

  /**
   * Start a kernel call: every earlier reservation is released. While a launched job may still
   * read the current side, the call takes the other one.
   */
  reset(): void {
    const prev = this.side;
    const need = prev.failed ? 0 : prev.used;
    let side = prev;
    if (prev.busy) {
      side = this.side = this.sides[prev === this.sides[0] ? 1 : 0]!;
      if (side.busy) this.sync();
    }
    const first = side.blocks[0];
    const oversized = first !== undefined && first.size > ARENA_RETAIN_BYTES && 2 * side.used < first.size;
    if (side.blocks.length > 1 || oversized || side.failed) {
      side.want = side.failed ? 0 : side.used;
      this.releaseSide(side);
    }
    side.failed = false;
    side.off = 0;
    side.used = 0;
    this.onReset(need);
  }

  /** A job launched now reads this call's scratch: the side is not reset before sync() (WasmContext.sync calls idle). */
  markBusy(): void {
    this.side.busy = true;
  }

  /** No launched job is running: every side may be reset. */
  idle(): void {
    this.sides[0]!.busy = this.sides[1]!.busy = false;
  }

  /** Give every scratch block back to the allocator (between calls). */
  releaseBlocks(): void {
    for (const side of this.sides) this.releaseSide(side);
  }

  private releaseSide(side: Side): void {
    for (const b of side.blocks) this.allocator.release(b);
    side.blocks = [];
    side.off = 0;
  }

  /**
   * Reserve `bytes` (64-byte aligned); returns the byte offset. Takes another block when needed;
   * where memory cannot hold it, throws a MemoryLimitError with the bytes the call needs (the
   * memory is left as it was, and everything this call took is given back at the next reset).
   */
  alloc(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 0) / ALIGN) * ALIGN;
    const side = this.side;
    let last = side.blocks[side.blocks.length - 1];
    if (!last || side.off + size > last.size) {
      const want = Math.max(size, side.blocks.length === 0 ? side.want : last!.size);
      // where memory cannot hold it: wait for a launched job (blocks given back meanwhile become
      // reusable), then move tensors out
      const block = this.tryAlloc(want) ?? (this.sync(), this.tryAlloc(want)) ?? (this.reclaim() > 0 ? this.tryAlloc(want) : null);
      if (!block) {
        side.failed = true; // give everything back at the next reset
        throw new MemoryLimitError(side.used + size, this.memory.buffer.byteLength);
      }
      last = block;
      side.blocks.push(last);
      side.off = 0;
    }
    const p = last.ptr + side.off;
    side.off += size;
    side.used += size;
    return p;
  }

  private tryAlloc(bytes: number): Block | null {
    try {
      return this.allocator.alloc(bytes);
    } catch {
      return null;
    }
  }

  allocF32(count: number): number {
    return this.alloc(count * 4);
  }

  /** Float32 view of the whole memory (fresh after growth), once no launched job runs. */
  get f32(): Float32Array {
    this.sync();
    if (this.f32View.buffer !== this.memory.buffer) this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }

  /** Int32 view for writing this call's own reservations (no launched job reads them: no wait). */
  get own32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer);
    return this.i32View;
  }

  /** Int32 view of the whole memory, once no launched job runs. */
  get i32(): Int32Array {
    this.sync();
    return this.own32;
  }

  /** Bytes of linear memory (grows only; a renewed memory starts small again). */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  get heldBlocks(): number {
    return this.sides[0]!.blocks.length + this.sides[1]!.blocks.length;
  }

  /** Bytes of scratch blocks held between calls. */
  get heldBytes(): number {
    let bytes = 0;
    for (const side of this.sides) for (const b of side.blocks) bytes += b.size;
    return bytes;
  }
}
