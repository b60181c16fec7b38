// wasm-only: the caching allocator over linear memory (memory/allocator.ts), the scratch arena
// carved from it (memory/arena.ts), and the context that replaces an oversized idle memory
// (context.ts): alignment, no overlap and intact contents under random alloc/free sequences,
// exact-size reuse, split and merge, double free, debug mode's NaN fill and generation check,
// clear errors when memory cannot grow, and memory given back after an oversize or failed call.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Allocator, SMALL_MAX, roundSize, type Block } from '../../src/backend/wasm/memory/allocator.js';
import { DEFAULT_BUDGET_BYTES, RENEW_MIN_BYTES, WasmContext, parseBudget } from '../../src/backend/wasm/context.js';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import { loadKernelsSync } from '../../src/backend/wasm/loader.js';
import * as vg from '../../src/index.js';
import { oracle, randomF32 } from './backends.js';

const PAGE = 65536;
/** The budget the wasm backend starts with here (tiny-budget.test.ts runs this file with VAEGRAD_WASM_BUDGET=1M). */
const envBudget = process.env.VAEGRAD_WASM_BUDGET ? parseBudget(process.env.VAEGRAD_WASM_BUDGET, 'VAEGRAD_WASM_BUDGET') : DEFAULT_BUDGET_BYTES;
const memory = (initial = 1, maximum = 1024): WebAssembly.Memory => new WebAssembly.Memory({ initial, maximum });

describe('wasm allocator', () => {
  it('random alloc/free sequences: 64-byte aligned, never overlapping, contents intact, stats consistent', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: SMALL_MAX - 4096, max: 3 * SMALL_MAX })), fc.nat()), { minLength: 1, maxLength: 120 }),
      (ops) => {
        const mem = memory(1, 4096);
        const a = new Allocator(mem, 1000);
        const live: { b: Block; tag: number }[] = [];
        const bytes = () => new Uint8Array(mem.buffer);
        for (const [doAlloc, size, pick] of ops) {
          if (doAlloc || live.length === 0) {
            const b = a.alloc(size);
            expect(b.ptr % 64).toBe(0);
            expect(b.size).toBeGreaterThanOrEqual(size);
            expect(b.ptr).toBeGreaterThanOrEqual(a.base);
            const tag = (live.length * 37 + 11) & 255;
            bytes().fill(tag, b.ptr, b.ptr + b.size);
            live.push({ b, tag });
          } else {
            const [{ b }] = live.splice(pick % live.length, 1);
            a.release(b!);
          }
          const sorted = [...live].sort((x, y) => x.b.ptr - y.b.ptr);
          for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.b.ptr).toBeGreaterThanOrEqual(sorted[i - 1]!.b.ptr + sorted[i - 1]!.b.size);
          const st = a.stats();
          expect(st.liveBlocks).toBe(live.length);
          expect(st.liveBytes).toBe(live.reduce((s, l) => s + l.b.size, 0));
          expect(st.liveBytes + st.cachedBytes).toBeLessThanOrEqual(a.heapTop - a.base);
        }
        const view = bytes();
        for (const { b, tag } of live) {
          for (let i = b.ptr; i < b.ptr + b.size; i += 61) expect(view[i]).toBe(tag);
        }
      },
    ), { numRuns: 60 });
  });

  it('size classes: 64-byte steps to 1 KiB, then 8 per doubling (at most 12.5% waste)', () => {
    expect(roundSize(0)).toBe(64);
    expect(roundSize(1)).toBe(64);
    expect(roundSize(1000)).toBe(1024);
    for (let b = 1025; b <= SMALL_MAX; b += 977) {
      const r = roundSize(b);
      expect(r).toBeGreaterThanOrEqual(b);
      expect(r % 64).toBe(0);
      expect((r - b) / b).toBeLessThanOrEqual(0.125);
    }
    expect(roundSize(SMALL_MAX + 1)).toBe(SMALL_MAX + 64);
  });

  it('reuses a freed block of the same size exactly, small and large, without growing', () => {
    const a = new Allocator(memory(), 0);
    for (const size of [100, 5000, 3 * SMALL_MAX + 10]) {
      const b = a.alloc(size);
      const top = a.heapTop;
      a.alloc(64); // something after it, so the block is not at the top
      a.release(b);
      const again = a.alloc(size);
      expect(again.ptr).toBe(b.ptr);
      expect(a.heapTop).toBe(top + 64);
    }
  });

  it('splits large blocks and merges freed neighbours; a free block at the top goes back to the untouched region', () => {
    const a = new Allocator(memory(1, 4096), 0);
    const L = 2 * SMALL_MAX;
    const [x, y, z, guard] = [a.alloc(L), a.alloc(L), a.alloc(L), a.alloc(64)];
    a.release(x);
    a.release(z);
    a.release(y); // x, y, z merge into one free block of 3L
    expect(a.stats().cachedBlocks).toBe(1);
    const top = a.heapTop;
    const big = a.alloc(3 * L - 64 * 10); // fits the merged block: no growth
    expect(big.ptr).toBe(x.ptr);
    expect(a.heapTop).toBe(top);
    const rest = a.alloc(64 * 10 - 64 * 2 + 1 + SMALL_MAX); // larger than the split remainder: carved at the top
    expect(rest.ptr).toBeGreaterThanOrEqual(guard.ptr + guard.size);
    a.release(rest);
    expect(a.heapTop).toBe(top); // the top block went back to the untouched region
    a.release(big);
    a.release(guard); // small: cached in its bin until trimmed
    a.trim();
    expect(a.heapTop).toBe(a.base);
    expect(a.stats()).toMatchObject({ liveBlocks: 0, liveBytes: 0, cachedBytes: 0 });
  });

  it('trim makes cached small blocks usable for any size', () => {
    const a = new Allocator(memory(1, 4096), 0);
    const smalls = Array.from({ length: 64 }, () => a.alloc(SMALL_MAX / 2));
    const guard = a.alloc(64);
    for (const b of smalls) a.release(b);
    expect(a.stats().cachedBytes).toBe(64 * (SMALL_MAX / 2));
    const top = a.heapTop;
    const wasm = a.stats().wasmBytes;
    expect(a.trim()).toBe(64 * (SMALL_MAX / 2));
    const big = a.alloc(16 * SMALL_MAX);
    expect(big.ptr).toBe(smalls[0]!.ptr);
    expect(a.heapTop).toBe(top);
    expect(a.stats().wasmBytes).toBe(wasm);
    a.release(guard);
  });

  it('a double free throws, naming the block; so does freeing a handle whose block was reused', () => {
    const a = new Allocator(memory(), 0);
    const b = a.alloc(256);
    a.release(b);
    expect(() => a.release(b)).toThrow(/double free of the 256-byte block/);
    const c = a.alloc(256);
    expect(c.ptr).toBe(b.ptr);
    expect(() => a.release(b)).toThrow(/now belongs to generation/);
    a.release(c);
  });

  it('debug mode fills freed blocks with NaN and check() catches a use after free', () => {
    const mem = memory();
    const a = new Allocator(mem, 0, true);
    const b = a.alloc(1024);
    new Float32Array(mem.buffer, b.ptr, 256).fill(1.5);
    a.check(b);
    a.release(b);
    expect(new Float32Array(mem.buffer, b.ptr, 256).every(Number.isNaN)).toBe(true);
    expect(() => a.check(b, 'tensor x')).toThrow(/use after free: tensor x reads the 1024-byte block/);
    const c = a.alloc(1024); // the same bytes, a new generation: the old handle stays dead
    expect(c.ptr).toBe(b.ptr);
    expect(() => a.check(b)).toThrow(/use after free/);
    a.check(c);
  });

  it('an allocation memory cannot hold throws a clear Error (bytes asked, memory, live and cached) and leaves the allocator usable', () => {
    const a = new Allocator(memory(1, 16), 0); // at most 1 MiB
    const b = a.alloc(512 * 1024);
    expect(() => a.alloc(800 * 1024)).toThrow(/cannot allocate 819200 bytes \(0\.8 MiB\).*cannot grow enough \(0\.5 MiB live in 1 blocks/);
    a.release(b);
    expect(a.alloc(800 * 1024).ptr).toBe(b.ptr); // the freed bytes serve the retry
    expect(() => a.alloc(NaN)).toThrow(/cannot allocate NaN bytes/);
  });
});

describe('wasm scratch arena and memory renewal', () => {
  it('a steady loop reuses one scratch block: no growth, one live block', () => {
    const ctx = new WasmContext(loadKernelsSync());
    const call = (sizes: number[]) => { ctx.arena.reset(); for (const s of sizes) ctx.arena.alloc(s); };
    call([1 << 20, 3 << 20, 5000]);
    call([1 << 20, 3 << 20, 5000]); // the first call took two blocks; from here on one of its total
    const wasm = ctx.stats().wasmBytes;
    for (let i = 0; i < 50; i++) call([1 << 20, 3 << 20, 5000]);
    ctx.arena.reset();
    expect(ctx.stats().wasmBytes).toBe(wasm);
    expect(ctx.arena.heldBlocks).toBe(1);
    expect(ctx.stats().liveBlocks).toBe(1);
  });

  it('after a call that fails for lack of memory, the next call starts in a fresh small memory, and the kernels work there', () => {
    const loaded = loadKernelsSync();
    const b = new WasmBackend(loaded);
    const ctx = b.ctx;
    ctx.arena.reset();
    ctx.arena.alloc(RENEW_MIN_BYTES + (64 << 20)); // grows the memory past the renewal floor (virtual: nothing is written)
    expect(() => ctx.arena.alloc(1.9 * 2 ** 30)).toThrow(/^one kernel call needs \d+ bytes .* of WebAssembly memory/);
    expect(ctx.stats().wasmBytes).toBeGreaterThan(RENEW_MIN_BYTES);
    // the next kernel call gives the scratch back and replaces the memory
    const x = randomF32(6 * 7, 1), w = randomF32(7 * 5, 2);
    const got = b.readSync(b.matmul({ storage: b.fromArray(x), shape: [1, 6, 7], strides: [0, 7, 1], offset: 0 }, { storage: b.fromArray(w), shape: [1, 7, 5], strides: [0, 5, 1], offset: 0 }));
    const want = oracle.readSync(oracle.matmul({ storage: oracle.fromArray(x), shape: [1, 6, 7], strides: [0, 7, 1], offset: 0 }, { storage: oracle.fromArray(w), shape: [1, 7, 5], strides: [0, 5, 1], offset: 0 }));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    expect(ctx.renewals).toBe(1);
    expect(ctx.stats().wasmBytes).toBeLessThan(1 << 20);
  });

  it('a failed oversize call with tensors resident: the memory is still replaced, the tensors move out and keep their values (issue 15)', () => {
    const b = new WasmBackend(loadKernelsSync());
    const ctx = b.ctx;
    const mm = (x: Float32Array, w: Float32Array) => b.matmul({ storage: b.fromArray(x), shape: [1, 6, 7], strides: [0, 7, 1], offset: 0 }, { storage: b.fromArray(w), shape: [1, 7, 5], strides: [0, 5, 1], offset: 0 });
    const kept = [mm(randomF32(42, 1), randomF32(35, 2)), mm(randomF32(42, 3), randomF32(35, 4))];
    const snapshots = kept.map((s) => b.readSync(s).slice());
    expect(ctx.store.stats().residentBlocks).toBeGreaterThanOrEqual(2);
    ctx.arena.reset();
    ctx.arena.alloc(RENEW_MIN_BYTES + (64 << 20));
    expect(() => ctx.arena.alloc(1.9 * 2 ** 30)).toThrow(/^one kernel call needs \d+ bytes .* of WebAssembly memory/);
    expect(ctx.stats().wasmBytes).toBeGreaterThan(RENEW_MIN_BYTES);
    // the next kernel call (using a kept tensor) renews the memory; the kept tensors moved out and back in
    const sum = b.binary('add', { storage: kept[0]!, shape: [30], strides: [1], offset: 0 }, { storage: kept[1]!, shape: [30], strides: [1], offset: 0 });
    expect(ctx.renewals).toBe(1);
    expect(ctx.stats().wasmBytes).toBeLessThan(1 << 20);
    kept.forEach((s, i) => expect(b.readSync(s)).toEqual(snapshots[i]));
    expect(b.readSync(sum)).toEqual(snapshots[0]!.map((v, i) => Math.fround(v + snapshots[1]![i]!)));
  });

  it('one oversize temporary: the scratch is given back at once, the memory replaced within two windows of calls', () => {
    const ctx = new WasmContext(loadKernelsSync());
    ctx.arena.reset();
    ctx.arena.alloc(RENEW_MIN_BYTES + (64 << 20));
    const before = ctx.stats().wasmBytes;
    let calls = 0;
    while (ctx.renewals === 0 && calls < 5000) {
      ctx.arena.reset();
      ctx.arena.alloc(4096);
      calls++;
    }
    expect(before).toBeGreaterThan(RENEW_MIN_BYTES);
    expect(ctx.renewals).toBe(1);
    expect(calls).toBeGreaterThan(2048); // not while the window still holds the temporary
    expect(calls).toBeLessThanOrEqual(2 * 2048 + 2);
    expect(ctx.stats().wasmBytes).toBeLessThan(1 << 20);
  });

  it('resident tensors that filled the memory and were freed at once (a garbage collection in a training loop): the memory is kept while the window holds their peak, replaced after', () => {
    const ctx = new WasmContext(loadKernelsSync());
    const blocks = Array.from({ length: 5 }, () => ctx.store.create(16 << 20)); // 320 MiB of tensors (virtual: nothing is written)
    const call = () => { ctx.arena.reset(); ctx.arena.alloc(4096); };
    call();
    expect(ctx.stats().wasmBytes).toBeGreaterThan(RENEW_MIN_BYTES);
    blocks.forEach((b) => ctx.store.release(b.storage));
    let calls = 0;
    while (ctx.renewals === 0 && calls < 5000) {
      call();
      calls++;
    }
    expect(ctx.renewals).toBe(1);
    expect(calls).toBeGreaterThan(2048);
    expect(ctx.stats().wasmBytes).toBeLessThan(1 << 20);
  });

  it('the budget: VAEGRAD_WASM_BUDGET in bytes or K/M/G, vg.setMemoryBudget checked and applied to the wasm backend', async () => {
    expect([parseBudget('1048576', 'x'), parseBudget('1M', 'x'), parseBudget('512k', 'x'), parseBudget('2GiB', 'x'), parseBudget(' 1.5 m ', 'x')]).toEqual([1 << 20, 1 << 20, 512 << 10, 2 ** 31, 1.5 * 2 ** 20]);
    for (const bad of ['', 'lots', '-1', '1T', 'NaN']) expect(() => parseBudget(bad, 'VAEGRAD_WASM_BUDGET')).toThrow(/^VAEGRAD_WASM_BUDGET: expected a number of bytes/);
    expect(DEFAULT_BUDGET_BYTES).toBe(2 ** 30);
    for (const bad of [-1, NaN, Infinity, '1M' as unknown as number]) expect(() => vg.setMemoryBudget(bad)).toThrow(/^setMemoryBudget: expected a number of bytes >= 0/);
    await vg.setBackend('wasm');
    vg.setMemoryBudget(3 << 20);
    expect(vg.memoryStats().budgetBytes).toBe(3 << 20);
    vg.setMemoryBudget(envBudget);
  });

  it('vg.memoryStats() reports the wasm backend\'s memory', async () => {
    await vg.setBackend('wasm');
    const before = vg.memoryStats();
    const kept = vg.ones([64, 64]).matmul(vg.ones([64, 64]));
    const s = vg.memoryStats();
    expect(Object.keys(s).sort()).toEqual(['backend', 'budgetBytes', 'cachedBytes', 'liveBlocks', 'liveBytes', 'scratchBytes', 'spilledBytes', 'spills', 'tensorBlocks', 'tensorBytes', 'wasmBytes']);
    expect(s.backend).toBe('wasm');
    expect(s.wasmBytes).toBeGreaterThanOrEqual(PAGE);
    // the product and its two inputs (moved in by the kernel) are resident tensor blocks, beside the scratch
    expect(s.tensorBytes! - before.tensorBytes!).toBeGreaterThanOrEqual(3 * 64 * 64 * 4);
    expect(s.liveBytes).toBe(s.scratchBytes + s.tensorBytes!);
    expect(s.budgetBytes).toBe(envBudget);
    expect(kept.shape).toEqual([64, 64]);
    await vg.setBackend('js');
    expect(vg.memoryStats()).toEqual({ backend: 'js', wasmBytes: 0, liveBytes: 0, liveBlocks: 0, cachedBytes: 0, spilledBytes: 0, scratchBytes: 0 });
    await vg.setBackend('wasm');
  });
});
