// wasm-only: the arena in linear memory is reused call after call, so memory stays bounded by
// the largest single kernel's working set; and conv chunking (several chunks per call) is exact.
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Conv2dGeometry, Pool2dGeometry } from '../../src/backend/backend.js';
import { JsBackend } from '../../src/backend/js/index.js';
import { isWasmStorage, type WasmStorage } from '../../src/backend/wasm/memory/storage.js';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import { loadKernelsSync } from '../../src/backend/wasm/loader.js';
import { DEFAULT_BUDGET_BYTES } from '../../src/backend/wasm/context.js';
import { abs64, expectClose, oracle, randomF32, to64 } from './backends.js';
import { getBackend, setBackend } from '../../src/backend/registry.js';
import { getNumThreads, setNumThreads } from '../../src/backend/wasm/threads/config.js';

describe('wasm backend memory and loading', () => {
  it('memory does not grow over many repeated calls of the same size (results released, or spilled past a budget)', () => {
    // two threads, whatever the machine: each thread's scratch is part of the working set bounded below
    const threads = getNumThreads();
    setNumThreads(2);
    onTestFinished(() => setNumThreads(threads));
    const b = new WasmBackend(loadKernelsSync());
    b.setMemoryBudget(DEFAULT_BUDGET_BYTES); // whatever VAEGRAD_WASM_BUDGET says (tiny-budget.test.ts sets 1 MiB)
    const a = { storage: b.fromArray(randomF32(300 * 500, 1)), shape: [1, 300, 500], strides: [0, 500, 1], offset: 0 };
    const c = { storage: b.fromArray(randomF32(500 * 200, 2)), shape: [1, 500, 200], strides: [0, 200, 1], offset: 0 };
    const g: Conv2dGeometry = { n: 8, c: 32, h: 14, w: 14, o: 64, kh: 3, kw: 3, oh: 14, ow: 14, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1 };
    const x = b.fromArray(randomF32(8 * 32 * 14 * 14, 3));
    const w = b.fromArray(randomF32(64 * 32 * 9, 4));
    const dy = b.fromArray(randomF32(8 * 64 * 14 * 14, 5));
    const round = (release: boolean) => {
      const outs = [b.matmul(a, c), b.conv2d(x, w, g), b.conv2dBackwardData(dy, w, g), b.conv2dBackwardFilter(x, dy, g)];
      if (release) outs.forEach((o) => b.release(o));
    };
    // three warm-up rounds: with threads, each call's per-thread scratch (a share of the arena
    // sized by the thread count), the arena's second side (a call after a launched job reserves
    // its scratch there) and the blocks given back while a job runs (reused after it) make the
    // blocks settle two rounds later
    for (let i = 0; i < 3; i++) round(true);
    const after1 = b.arena.byteLength;
    for (let i = 0; i < 25; i++) round(true);
    expect(b.arena.byteLength).toBe(after1);
    // bounded by the working set: inputs + outputs + packing buffers, well under 16 MiB here
    expect(after1).toBeLessThan(16 << 20);
    // results dropped without a release (no finalizer runs in synchronous code): the budget bounds them
    b.setMemoryBudget(after1);
    // (the memory settles once the spills have begun: blocks of spilled tensors given back while
    // a launched job runs are reused after it; about 14 rounds here)
    for (let i = 0; i < 20; i++) round(false);
    const warm = b.arena.byteLength;
    for (let i = 0; i < 25; i++) round(false);
    expect(b.arena.byteLength).toBe(warm);
    // the budget yields only to the tensors of the call in progress (here at most ~0.7 MiB)
    expect(b.memoryStats().tensorBytes).toBeLessThanOrEqual(after1 + (1 << 20));
    expect(b.memoryStats().spills).toBeGreaterThan(0);
  });

  it('conv split into many chunks agrees with the oracle', () => {
    const b = new WasmBackend(loadKernelsSync());
    b.colTarget = 200; // forces a handful of images per chunk, and a last partial chunk
    const g: Conv2dGeometry = { n: 7, c: 4, h: 7, w: 6, o: 6, kh: 3, kw: 2, oh: 4, ow: 6, strideH: 2, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 2 };
    const x = randomF32(g.n * g.c * g.h * g.w, 1);
    const w = randomF32(g.o * 2 * 3 * 2, 2);
    const dy = randomF32(g.n * g.o * g.oh * g.ow, 3);
    const O = (a: Float64Array) => oracle.fromArray(a);
    expectClose(b.readSync(b.conv2d(b.fromArray(x), b.fromArray(w), g)), oracle.readSync(oracle.conv2d(O(to64(x)), O(to64(w)), g)), oracle.readSync(oracle.conv2d(O(abs64(x)), O(abs64(w)), g)), 12);
    expectClose(b.readSync(b.conv2dBackwardData(b.fromArray(dy), b.fromArray(w), g)), oracle.readSync(oracle.conv2dBackwardData(O(to64(dy)), O(to64(w)), g)), oracle.readSync(oracle.conv2dBackwardData(O(abs64(dy)), O(abs64(w)), g)), 18);
    expectClose(b.readSync(b.conv2dBackwardFilter(b.fromArray(x), b.fromArray(dy), g)), oracle.readSync(oracle.conv2dBackwardFilter(O(to64(x)), O(to64(dy)), g)), oracle.readSync(oracle.conv2dBackwardFilter(O(abs64(x)), O(abs64(dy)), g)), 7 * 24);
  });

  it("max pooling's int32 indices stay in linear memory: exact after a spill to the JS heap and a memory renewal, read in place by the backward, freed on release", () => {
    const b = new WasmBackend(loadKernelsSync());
    const js = new JsBackend();
    const g: Pool2dGeometry = { n: 3, c: 5, h: 8, w: 6, oh: 4, ow: 3, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, countIncludePad: true };
    const x = randomF32(g.n * g.c * g.h * g.w, 7);
    const dy = randomF32(g.n * g.c * g.oh * g.ow, 8);
    const want = js.maxPool2d(js.fromArray(x), g).indices;
    const wantDx = js.readSync(js.maxPool2dBackward(js.fromArray(dy), want, g));
    const { indices } = b.maxPool2d(b.fromArray(x), g);
    expect(isWasmStorage(indices) && indices.dtype).toBe('int32');
    const tensorBytes = b.memoryStats().tensorBytes;
    expect(b.readSync(indices)).toEqual(js.readSync(want));
    b.setMemoryBudget(0); // the next call spills every block it does not use: the indices move to the JS heap as int32
    b.unary('neg', { storage: b.fromArray(randomF32(4, 9)), shape: [4], strides: [1], offset: 0 });
    expect((indices as WasmStorage).slot.block).toBeNull();
    expect(b.readSync(indices)).toEqual(js.readSync(want));
    b.setMemoryBudget(DEFAULT_BUDGET_BYTES);
    expect(b.readSync(b.maxPool2dBackward(b.fromArray(dy), indices, g))).toEqual(wantDx); // moved back in
    expect((indices as WasmStorage).slot.block).not.toBeNull();
    b.ctx.renew(); // a fresh memory: resident tensors move out and back in on next use
    expect(b.readSync(b.maxPool2dBackward(b.fromArray(dy), indices, g))).toEqual(wantDx);
    const before = b.memoryStats().tensorBytes;
    b.release(indices);
    expect(b.memoryStats().tensorBytes).toBeLessThan(before);
    expect(tensorBytes).toBeGreaterThan(0);
    expect(() => b.maxPool2dBackward(b.fromArray(dy), indices, g)).toThrow(/use after free: a tensor of 180 int32/);
  });

  it('registers as the preferred backend and reports its name', async () => {
    await setBackend('wasm');
    expect(getBackend()).toBe('wasm');
    await setBackend('js');
    expect(getBackend()).toBe('js');
    await setBackend('wasm');
  });
});
