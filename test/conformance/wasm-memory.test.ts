// wasm-only: the arena in linear memory is reused call after call, so memory stays bounded by
// the largest single kernel's working set; and conv chunking (several chunks per call) is exact.
import { describe, expect, it } from 'vitest';
import type { Conv2dGeometry } from '../../src/backend/backend.js';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import { loadKernelsSync } from '../../src/backend/wasm/loader.js';
import { DEFAULT_BUDGET_BYTES } from '../../src/backend/wasm/context.js';
import { abs64, expectClose, oracle, randomF32, to64 } from './backends.js';
import { getBackend, setBackend } from '../../src/backend/registry.js';

describe('wasm backend memory and loading', () => {
  it('memory does not grow over many repeated calls of the same size (results released, or spilled past a budget)', () => {
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
    // two warm-up rounds: with threads, each call's per-thread scratch (a share of the arena
    // sized by the thread count) makes the arena's blocks settle one round later
    round(true);
    round(true);
    const after1 = b.arena.byteLength;
    for (let i = 0; i < 25; i++) round(true);
    expect(b.arena.byteLength).toBe(after1);
    // bounded by the working set: inputs + outputs + packing buffers, well under 16 MiB here
    expect(after1).toBeLessThan(16 << 20);
    // results dropped without a release (no finalizer runs in synchronous code): the budget bounds them
    b.setMemoryBudget(after1);
    for (let i = 0; i < 5; i++) round(false);
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

  it('registers as the preferred backend and reports its name', async () => {
    await setBackend('wasm');
    expect(getBackend()).toBe('wasm');
    await setBackend('js');
    expect(getBackend()).toBe('js');
    await setBackend('wasm');
  });
});
