// A caching allocator over the kernel module's linear memory, its bookkeeping all in TypeScript
// (the kernels never allocate). Blocks are 64-byte aligned (a cache line; v128 alignment too).
//
// - Small blocks (up to SMALL_MAX) are rounded to a size class (64-byte steps up to 1 KiB, then
//   8 classes per doubling: at most 12.5% waste) and, once freed, cached in a bin per class:
//   tensor shapes repeat from one training step to the next, so the second step reuses the
//   first step's blocks exactly, with no search.
// - Large blocks are rounded to 64 bytes and carved best-fit from an address-ordered free list,
//   split when the fit leaves a remainder and merged with free neighbours when freed; a free
//   block that ends at the top of the heap gives its bytes back to the untouched region above.
// - trim() moves the cached small blocks into the free list (merging them), so bytes cached for
//   one size become usable for any other; an allocation that would grow memory past its maximum
//   trims and retries before it fails, with an error that says what was asked and what is held.
//
// WebAssembly memory never shrinks: bytes given back here are reused by later blocks, not
// returned to the system. (WasmContext.renew replaces the whole memory when nothing is live.)
//
// Debug mode (VAEGRAD_WASM_DEBUG=1, or `debug: true`): freed blocks are filled with NaN, and
// every handle carries its block's generation, which check() compares at kernel entry, so a
// use after free fails loudly instead of reading reused memory. A double free always throws.

const ALIGN = 64;
const PAGE = 65536;
/** Largest block served from the size-class bins. */
export const SMALL_MAX = 256 * 1024;

/** A block of linear memory: its byte offset, its (rounded) size and its generation. */
export interface Block {
  readonly ptr: number;
  readonly size: number;
  readonly gen: number;
}

export interface AllocatorStats {
  /** Bytes of linear memory (the module's whole memory, static data and scratch included). */
  wasmBytes: number;
  /** Bytes in blocks handed out and not yet freed. */
  liveBytes: number;
  liveBlocks: number;
  /** Bytes in freed blocks kept for reuse (bins and free list; not the untouched region above the heap). */
  cachedBytes: number;
  cachedBlocks: number;
}

/** The size a request is rounded to: its size class when small, a multiple of 64 bytes when large. */
export function roundSize(bytes: number): number {
  const b = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  if (b <= 1024 || b > SMALL_MAX) return b;
  const step = 2 ** (Math.ceil(Math.log2(b)) - 4); // (2^(p-1), 2^p] in 8 steps of 2^(p-4)
  return Math.ceil(b / step) * step;
}

export class Allocator {
  /** Start of the heap (64-byte aligned); [base, top) holds every block, free or not. */
  readonly base: number;
  private top: number;
  private readonly bins = new Map<number, number[]>();
  /** Free large blocks (and trimmed small ones), sorted by address. */
  private free: { ptr: number; size: number }[] = [];
  /** Live blocks: ptr -> generation. */
  private readonly live = new Map<number, Block>();
  /** Sizes of cached small blocks (ptr -> size), for stats and trim. */
  private readonly cachedSmall = new Map<number, number>();
  private nextGen = 1;
  private liveBytes = 0;
  /** Blocks given back while held (see hold), reusable after unhold(); null when not held. */
  private deferred: Set<Block> | null = null;

  constructor(private mem: WebAssembly.Memory, base: number, readonly debug = false) {
    this.base = Math.ceil(Math.max(base, ALIGN) / ALIGN) * ALIGN;
    this.top = this.base;
  }

  /** A block of at least `bytes` bytes (contents undefined). Throws a clear Error when memory cannot hold it. */
  alloc(bytes: number): Block {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new Error(`wasm allocator: cannot allocate ${bytes} bytes`);
    const size = roundSize(bytes);
    const ptr = this.take(size) ?? this.takeAfterTrim(size, bytes);
    const block: Block = { ptr, size, gen: this.nextGen++ };
    this.live.set(ptr, block);
    this.liveBytes += size;
    return block;
  }

  /**
   * Keep every block given back from now on out of reuse until unhold() (a job still running on
   * the workers may read or write it: WasmContext.sync).
   */
  hold(): void {
    this.deferred ??= new Set();
  }

  /** End a hold: the blocks given back during it become reusable. */
  unhold(): void {
    const d = this.deferred;
    if (!d) return;
    this.deferred = null;
    for (const b of d) this.release(b);
  }

  /** Give a block back (during a hold: once it ends). Throws on a double free (or a handle from before its block was reused). */
  release(block: Block): void {
    if (this.deferred && this.live.get(block.ptr) === block) {
      if (this.deferred.has(block)) throw new Error(`wasm allocator: double free of the ${block.size}-byte block at ${block.ptr} (generation ${block.gen})`);
      this.deferred.add(block);
      return;
    }
    const cur = this.live.get(block.ptr);
    if (cur !== block) {
      throw new Error(`wasm allocator: double free of the ${block.size}-byte block at ${block.ptr} (generation ${block.gen}${cur ? `; the block now belongs to generation ${cur.gen}` : ''})`);
    }
    this.live.delete(block.ptr);
    this.liveBytes -= block.size;
    if (this.debug) new Float32Array(this.mem.buffer, block.ptr, block.size / 4).fill(NaN);
    if (block.size <= SMALL_MAX) {
      let bin = this.bins.get(block.size);
      if (!bin) this.bins.set(block.size, (bin = []));
      bin.push(block.ptr);
      this.cachedSmall.set(block.ptr, block.size);
    } else {
      this.insertFree(block.ptr, block.size);
    }
  }

  /** The linear memory the blocks live in. */
  get memory(): WebAssembly.Memory {
    return this.mem;
  }

  /** Start over in a fresh memory (WasmContext.renew); only when no block is live. */
  rebind(memory: WebAssembly.Memory): void {
    if (this.live.size > 0) throw new Error(`internal: wasm allocator rebound with ${this.live.size} live blocks`);
    this.mem = memory;
    this.top = this.base;
    this.free = [];
    this.bins.clear();
    this.cachedSmall.clear();
  }

  /** Whether this handle still owns its block (false after it was freed, even if the bytes were reused). */
  isLive(block: Block): boolean {
    return this.live.get(block.ptr) === block;
  }

  /** Throws unless the handle still owns its block: the kernel-entry check of debug mode. */
  check(block: Block, what = 'a tensor'): void {
    if (!this.isLive(block)) {
      throw new Error(`wasm allocator: use after free: ${what} reads the ${block.size}-byte block at ${block.ptr} (generation ${block.gen}), which was freed`);
    }
  }

  /** Move every cached small block into the free list, merging neighbours; returns the bytes moved. */
  trim(): number {
    let moved = 0;
    for (const [ptr, size] of this.cachedSmall) {
      this.insertFree(ptr, size);
      moved += size;
    }
    this.cachedSmall.clear();
    this.bins.clear();
    return moved;
  }

  stats(): AllocatorStats {
    let cachedBytes = 0;
    for (const s of this.cachedSmall.values()) cachedBytes += s;
    for (const f of this.free) cachedBytes += f.size;
    return {
      wasmBytes: this.mem.buffer.byteLength,
      liveBytes: this.liveBytes,
      liveBlocks: this.live.size,
      cachedBytes,
      cachedBlocks: this.cachedSmall.size + this.free.length,
    };
  }

  /** The end of the heap: nothing at or above it is in use or cached. */
  get heapTop(): number {
    return this.top;
  }

  private take(size: number): number | null {
    if (size <= SMALL_MAX) {
      const ptr = this.bins.get(size)?.pop();
      if (ptr !== undefined) {
        this.cachedSmall.delete(ptr);
        return ptr;
      }
    }
    // best fit in the free list (an exact fit, the common case once shapes repeat, wins at once)
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      if (f.size >= size && (best < 0 || f.size < this.free[best]!.size)) {
        best = i;
        if (f.size === size) break;
      }
    }
    if (best >= 0) {
      const f = this.free[best]!;
      const ptr = f.ptr;
      if (f.size === size) this.free.splice(best, 1);
      else this.free[best] = { ptr: ptr + size, size: f.size - size };
      return ptr;
    }
    return this.bump(size);
  }

  /** Carve from the untouched region at the top, growing memory; null when memory cannot grow that far. */
  private bump(size: number): number | null {
    const ptr = this.top;
    const end = ptr + size;
    const have = this.mem.buffer.byteLength;
    if (end > have) {
      try {
        this.mem.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return null;
      }
    }
    this.top = end;
    return ptr;
  }

  private takeAfterTrim(size: number, asked: number): number {
    if (this.trim() > 0) {
      const ptr = this.take(size);
      if (ptr !== null) return ptr;
    }
    const s = this.stats();
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
    throw new Error(`wasm allocator: cannot allocate ${asked} bytes (${mib(asked)}): WebAssembly memory is ${mib(s.wasmBytes)} and cannot grow enough (${mib(s.liveBytes)} live in ${s.liveBlocks} blocks, ${mib(s.cachedBytes)} cached)`);
  }

  private insertFree(ptr: number, size: number): void {
    // binary search for the insertion point
    let lo = 0, hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid]!.ptr < ptr) lo = mid + 1;
      else hi = mid;
    }
    let start = ptr, end = ptr + size, at = lo, remove = 0;
    const prev = this.free[lo - 1];
    if (prev && prev.ptr + prev.size === start) {
      start = prev.ptr;
      at = lo - 1;
      remove++;
    }
    const next = this.free[lo];
    if (next && next.ptr === end) {
      end = next.ptr + next.size;
      remove++;
    }
    if (end === this.top) {
      // the block borders the untouched region: give it back there
      this.free.splice(at, remove);
      this.top = start;
      return;
    }
    this.free.splice(at, remove, { ptr: start, size: end - start });
  }
}
