// Float32 tensor storage in the kernel module's linear memory, and its lifetime; also the int32
// results of kernels (max pooling's argmax indices), which their backward reads in place. (float64
// and bool storage, and int32 made from host data, stay on the JavaScript heap as the js
// backend's HostStorage.)
//
// A WasmStorage's values are in one of two places: an allocator block (resident: kernels read
// and write it by pointer, no copy) or a typed array on the JavaScript heap (made from host data,
// or moved out under memory pressure; the next kernel that reads it moves it back in). Users
// never free anything; blocks are given back
//   1. eagerly, where the library proves nothing else can reach the storage (Backend.release:
//      gradients consumed by the autograd engine);
//   2. by a FinalizationRegistry on the storage's Slot (views share their storage, so they share
//      it too), when the garbage collector finds the storage unreachable;
//   3. under memory pressure: when resident bytes pass the budget (or memory cannot grow), the
//      least recently used blocks not in use by the current kernel call move to the JS heap.
//
// Finalizers never run inside synchronous code (a training loop with no await), so the store
// also holds every storage touched since the current job began strongly (Slot.storage), and
// lets go at the first microtask checkpoint. A block moved out while its storage is at hand
// puts its values on the storage itself, where the garbage collector reclaims them with it;
// without the storage at hand (after the job ended) they go on the Slot, reclaimed by the
// finalizer. So a synchronous loop stays within the budget in WebAssembly memory, and its
// dropped tensors are ordinary garbage on the JS heap.
//
// No JS view of linear memory outlives a call: memory.grow detaches them, so every copy makes
// its view on the spot. Debug mode (the allocator's) checks each block's generation at kernel entry.

import type { Storage } from '../../backend.js';
import type { HostLending } from '../../js/storage.js';
import { MemoryLimitError } from '../../backend.js';
import type { Allocator, Block } from './allocator.js';

/** Bytes per element (float32 or int32). */
const F32 = 4;

/** The dtypes a WasmStorage holds: 4-byte elements. */
export type WasmDType = 'float32' | 'int32';
/** A WasmStorage's values on the JavaScript heap. */
export type WasmValues = Float32Array | Int32Array;
const ARRAY = { float32: Float32Array, int32: Int32Array } as const;

/** A view of `size` elements of this dtype at p (made on the spot: memory.grow detaches views). */
const valuesAt = (dtype: WasmDType, buffer: ArrayBuffer, p: number, size: number): WasmValues => new ARRAY[dtype](buffer, p, size);
/**
 * Readable bytes after every block's values: kernels load whole vectors past a row's end (the
 * 2x2 max pool reads up to 8 floats past its input, storing only the valid lanes).
 */
const TAIL = 32;

/** What the finalizer of a storage holds: its block, and its values when moved out without the storage at hand. */
export class Slot {
  block: Block | null = null;
  host: WasmValues | null = null;
  /** The storage, held strongly while it was touched in the current synchronous job. */
  storage: WasmStorage | null = null;
  /** Kernel call that last used it: blocks of the current call are never moved out. */
  call = 0;
  /** Neighbours in the store's list of resident slots (least recently used first). */
  prev: Slot | null = null;
  next: Slot | null = null;
  registered = false;
  freed = false;
  constructor(
    readonly store: TensorStore,
    readonly size: number,
    readonly dtype: WasmDType,
  ) {}
}

/** A float32 (or int32) storage of the wasm backend (see the module comment for where its values are). */
export class WasmStorage implements HostLending {
  constructor(
    readonly slot: Slot,
    /** The values while they are on the JavaScript heap (null while resident). */
    public host: WasmValues | null,
  ) {}
  get dtype(): WasmDType {
    return this.slot.dtype;
  }
  get size(): number {
    return this.slot.size;
  }
  /** For the reference kernels: the host array when on the JS heap, else a copy (TensorStore.hostForWrite first, to write). */
  hostValues(): WasmValues {
    return this.host ?? this.slot.host ?? this.slot.store.read(this);
  }
}

export const isWasmStorage = (s: Storage): s is WasmStorage => s instanceof WasmStorage;

/** Statistics of tensor data (the allocator counts scratch blocks too). */
export interface StoreStats {
  residentBytes: number;
  residentBlocks: number;
  /** Bytes moved to the JS heap under memory pressure that the store itself holds (until their storage is collected or used). */
  spilledBytes: number;
  /** Blocks moved out under memory pressure since the start (cumulative). */
  spills: number;
  /** Bytes copied between the JS heap and linear memory (moved in, moved out, read), and the milliseconds it took, since the start. */
  copiedBytes: number;
  copyMs: number;
}

export class TensorStore {
  /**
   * Resident slots, least recently used first: a list through Slot.prev / Slot.next (a touch
   * moves its slot to the end in a few writes, where a Map's delete and re-insert cost ~10x).
   */
  private lru: Slot | null = null;
  private mru: Slot | null = null;
  private residentCount = 0;
  /** Slots whose storage was taken in hand (Slot.storage) in the current synchronous job (and some since freed: see touch). */
  private held: Slot[] = [];
  private residentBytes = 0;
  private spilledBytes = 0;
  private spills = 0;
  private copiedBytes = 0;
  private copyMs = 0;
  private call = 1;
  private releaseScheduled = false;
  private readonly registry = new FinalizationRegistry<Slot>((slot) => this.finalize(slot));

  constructor(
    private readonly allocator: Allocator,
    /** Resident tensor bytes above which least recently used blocks move to the JS heap. */
    public budget: number,
    /** Waits for a launched job (WasmContext.sync): before values are read out of linear memory. */
    private readonly sync: () => void = () => undefined,
  ) {}

  /** A kernel call begins: blocks touched from now on belong to it. */
  beginCall(): void {
    this.call++;
  }

  /** A storage of host float32 values (taken over, not copied); moved in when a kernel first reads it. */
  fromHost(data: Float32Array): WasmStorage {
    return new WasmStorage(new Slot(this, data.length, 'float32'), data);
  }

  /** A new resident storage of `size` elements (contents undefined) and its pointer. */
  create(size: number, dtype: WasmDType = 'float32'): { storage: WasmStorage; ptr: number } {
    const slot = new Slot(this, size, dtype);
    const storage = new WasmStorage(slot, null);
    return { storage, ptr: this.place(storage) };
  }

  /** The pointer to a storage's values, moving them in first where they are on the JS heap. */
  ptr(s: WasmStorage): number {
    const slot = s.slot;
    if (slot.freed) throw new Error(`wasm backend: use after free: a tensor of ${slot.size} ${slot.dtype} reads storage that was freed`);
    if (slot.block) {
      if (this.allocator.debug) this.allocator.check(slot.block, `a tensor of ${slot.size} ${slot.dtype}`);
      this.touch(slot, s);
      return slot.block.ptr;
    }
    const data = s.host ?? slot.host!;
    const p = this.place(s);
    const t = performance.now();
    valuesAt(slot.dtype, this.allocator.memory.buffer, p, data.length).set(data);
    this.copied(data.length, t);
    if (slot.host) this.spilledBytes -= slot.size * F32;
    s.host = null;
    slot.host = null;
    return p;
  }

  /** A copy of the values (they stay where they are). */
  read(s: WasmStorage): WasmValues {
    const slot = s.slot;
    if (slot.freed) throw new Error(`wasm backend: use after free: reading a tensor of ${slot.size} ${slot.dtype} whose storage was freed`);
    if (!slot.block) return (s.host ?? slot.host!).slice();
    this.sync();
    const t = performance.now();
    const out = valuesAt(slot.dtype, this.allocator.memory.buffer, slot.block.ptr, slot.size).slice();
    this.copied(slot.size, t);
    return out;
  }

  /** The values as a host array that may be written (moved out of linear memory, to move in again on next use). */
  hostForWrite(s: WasmStorage): WasmValues {
    if (s.slot.freed) throw new Error(`wasm backend: use after free: writing a tensor of ${s.slot.size} ${s.dtype} whose storage was freed`);
    if (s.slot.block) this.moveOut(s.slot, s);
    if (s.slot.host) {
      s.host = s.slot.host;
      s.slot.host = null;
      this.spilledBytes -= s.size * F32;
    }
    return s.host!;
  }

  /** Free a storage now: the caller proves nothing reads it again. A second release throws. */
  release(s: WasmStorage): void {
    const slot = s.slot;
    if (slot.freed) throw new Error(`wasm backend: double free of a tensor storage of ${slot.size} ${slot.dtype}`);
    this.drop(slot);
    s.host = null;
  }

  /** Move every resident block not used by the current call to the JS heap; the bytes moved. */
  spillAll(): number {
    let moved = 0;
    for (let slot = this.lru; slot; ) {
      const next = slot.next;
      if (slot.call !== this.call) {
        moved += slot.block!.size;
        this.moveOut(slot, slot.storage);
      }
      slot = next;
    }
    return moved;
  }

  /** Bytes of the blocks the resident tensors hold (stats().residentBytes, without making the record). */
  get bytesResident(): number {
    return this.residentBytes;
  }

  stats(): StoreStats {
    return { residentBytes: this.residentBytes, residentBlocks: this.residentCount, spilledBytes: this.spilledBytes, spills: this.spills, copiedBytes: this.copiedBytes, copyMs: this.copyMs };
  }

  private copied(floats: number, since: number): void {
    this.copiedBytes += floats * F32;
    this.copyMs += performance.now() - since;
  }

  /** Give a storage a block (within the budget where it can) and copy nothing; its pointer. */
  private place(s: WasmStorage): number {
    const slot = s.slot;
    const bytes = slot.size * F32 + TAIL;
    this.makeRoom(bytes);
    let block: Block;
    try {
      block = this.allocator.alloc(bytes);
    } catch {
      this.sync(); // blocks given back while a launched job runs become reusable
      this.spillAll();
      try {
        block = this.allocator.alloc(bytes);
      } catch {
        throw new MemoryLimitError(bytes + this.residentBytes, this.allocator.memory.buffer.byteLength);
      }
    }
    slot.block = block;
    this.residentBytes += block.size;
    this.touch(slot, s);
    return block.ptr;
  }

  private touch(slot: Slot, s: WasmStorage): void {
    slot.call = this.call;
    if (slot !== this.mru) {
      this.unlink(slot);
      this.link(slot);
    }
    if (slot.storage) return;
    slot.storage = s;
    this.held.push(slot);
    // a synchronous loop never ends its job: drop the slots freed or moved out since (every slot
    // with its storage in hand is resident, so this runs once per ~residentCount touches)
    if (this.held.length > 2 * this.residentCount + 1024) this.held = this.held.filter((h) => h.storage !== null);
    if (!this.releaseScheduled) {
      this.releaseScheduled = true;
      queueMicrotask(() => this.endOfJob());
    }
  }

  /**
   * The synchronous job ended: let go of the storages, so the garbage collector can find the
   * unreachable ones, and register the resident ones with the finalizer. Registering here, once
   * per storage and never unregistering, keeps a synchronous loop from piling up registrations
   * (their cells are only cleaned up between jobs), and finalize() checks the slot's state. (With
   * unregister() calls, Node 20's V8 crashed now and then.)
   */
  private endOfJob(): void {
    this.releaseScheduled = false;
    const held = this.held;
    this.held = [];
    for (const slot of held) {
      const s = slot.storage; // null once moved out or freed (then it is no longer resident)
      if (!s) continue;
      if (!slot.registered) {
        slot.registered = true;
        this.registry.register(s, slot);
      }
      slot.storage = null;
    }
  }

  /** Move least recently used blocks out until `bytes` more fit in the budget. */
  private makeRoom(bytes: number): void {
    for (let slot = this.lru; slot && this.residentBytes + bytes > this.budget; ) {
      const next = slot.next;
      if (slot.call !== this.call) this.moveOut(slot, slot.storage);
      slot = next;
    }
  }

  /** Append a resident slot at the most recently used end. */
  private link(slot: Slot): void {
    slot.prev = this.mru;
    slot.next = null;
    if (this.mru) this.mru.next = slot;
    else this.lru = slot;
    this.mru = slot;
    this.residentCount++;
  }

  /** Take a slot out of the list (where it is in it). */
  private unlink(slot: Slot): void {
    if (!slot.prev && this.lru !== slot) return; // not in the list
    if (slot.prev) slot.prev.next = slot.next;
    else this.lru = slot.next;
    if (slot.next) slot.next.prev = slot.prev;
    else this.mru = slot.prev;
    slot.prev = slot.next = null;
    this.residentCount--;
  }

  /** A resident block's values to the JS heap (onto the storage when at hand), and the block freed. */
  private moveOut(slot: Slot, s: WasmStorage | null): void {
    this.sync();
    const block = slot.block!;
    const t = performance.now();
    const data = valuesAt(slot.dtype, this.allocator.memory.buffer, block.ptr, slot.size).slice();
    this.copied(slot.size, t);
    if (s) {
      s.host = data; // collected with the storage; nothing is left for the finalizer to do
    } else {
      slot.host = data;
      this.spilledBytes += slot.size * F32;
    }
    this.spills++;
    this.freeBlock(slot);
  }

  private freeBlock(slot: Slot): void {
    this.allocator.release(slot.block!);
    this.residentBytes -= slot.block!.size;
    this.unlink(slot);
    slot.block = null;
    slot.storage = null;
  }

  private drop(slot: Slot): void {
    slot.freed = true;
    if (slot.block) this.freeBlock(slot);
    if (slot.host) this.spilledBytes -= slot.size * F32;
    slot.host = null;
    slot.storage = null;
  }

  private finalize(slot: Slot): void {
    if (!slot.freed) this.drop(slot);
  }
}
