// launch(): a job handed to the workers while the calling thread goes on. What the calling thread
// does next must never see the job half done: reads and direct kernel calls wait for it, blocks
// given back meanwhile are not reused until then, the next call's scratch lies elsewhere, and a
// worker's error is thrown by whatever waits. (The bits at 1 to 4 threads, with launches, are
// checked in determinism.test.ts.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { currentBackend } from '../../src/backend/registry.js';
import type { WasmBackend } from '../../src/backend/wasm/index.js';
import type { WasmContext } from '../../src/backend/wasm/context.js';
import { Allocator } from '../../src/backend/wasm/memory/allocator.js';
import { Arena } from '../../src/backend/wasm/memory/arena.js';
import { TensorStore } from '../../src/backend/wasm/memory/storage.js';
import { FN, Job } from '../../src/backend/wasm/threads/job.js';

const F32 = 4;
let ctx: WasmContext;
let threadsBefore = 1;

beforeAll(async () => {
  await vg.setBackend('wasm');
  ctx = (currentBackend() as WasmBackend).ctx;
  threadsBefore = vg.getNumThreads();
  vg.setNumThreads(2);
});
afterAll(() => {
  ctx.overlap = true;
  vg.setNumThreads(threadsBefore);
});

/** A job of `chunks` chunks, each copying its slice of `floats` floats from src to dst (work: `work`). */
function copyJob(dst: number, src: number, floats: number, chunks: number, work = 1 << 30): Job {
  const job = new Job(work);
  const per = floats / chunks;
  for (let c = 0; c < chunks; c++) job.chunk().call(FN.copy, [dst + c * per * F32, src + c * per * F32, per * F32]);
  return job;
}

/** A fresh call with src (filled with 0, 1, 2, ...) and dst of `floats` floats in its scratch. */
function buffers(floats: number): { src: number; dst: number; want: Float32Array } {
  ctx.arena.reset();
  const src = ctx.arena.allocF32(floats), dst = ctx.arena.allocF32(floats);
  const want = Float32Array.from({ length: floats }, (_, i) => i);
  ctx.arena.f32.set(want, src / F32);
  ctx.arena.f32.fill(-1, dst / F32, dst / F32 + floats);
  return { src, dst, want };
}

describe('launch', () => {
  it('returns with the job still handed out; a read of memory waits for it and sees all of it', () => {
    expect(ctx.shared).toBe(true);
    const n = 1 << 16;
    const { src, dst, want } = buffers(n);
    ctx.launch(copyJob(dst, src, n, 32));
    expect(ctx.inFlight).toBe(true);
    const got = ctx.arena.f32.slice(dst / F32, dst / F32 + n);
    expect(ctx.inFlight).toBe(false);
    expect(got).toEqual(want);
  });

  it('with overlap off (or run()), returns once the job is done', () => {
    const n = 1 << 12;
    let { src, dst } = buffers(n);
    ctx.overlap = false;
    try {
      ctx.launch(copyJob(dst, src, n, 8));
      expect(ctx.inFlight).toBe(false);
    } finally {
      ctx.overlap = true;
    }
    ({ src, dst } = buffers(n));
    ctx.run(copyJob(dst, src, n, 8));
    expect(ctx.inFlight).toBe(false);
  });

  it('hands a job too small for the pool to one worker, and runs it here when waited for', () => {
    const n = 256;
    let { src, dst, want } = buffers(n);
    ctx.launch(copyJob(dst, src, n, 1, 1));
    expect(ctx.inFlight).toBe(true);
    expect(ctx.arena.f32.slice(dst / F32, dst / F32 + n)).toEqual(want);
    ({ src, dst, want } = buffers(n));
    ctx.overlap = false;
    try {
      ctx.launch(copyJob(dst, src, n, 1, 1));
      expect(ctx.inFlight).toBe(false);
    } finally {
      ctx.overlap = true;
    }
    expect(ctx.arena.f32.slice(dst / F32, dst / F32 + n)).toEqual(want);
  });

  it('a direct kernel call, a value read from the store and the next job wait for it', () => {
    const n = 1 << 14;
    let { src, dst } = buffers(n);
    ctx.launch(copyJob(dst, src, n, 16));
    ctx.k.gemmBlocking(0);
    expect(ctx.inFlight).toBe(false);

    const dest = ctx.store.create(n);
    ({ src } = buffers(n));
    ctx.launch(copyJob(dest.ptr, src, n, 16));
    expect(ctx.inFlight).toBe(true);
    expect(ctx.store.read(dest.storage)).toEqual(Float32Array.from({ length: n }, (_, i) => i));
    expect(ctx.inFlight).toBe(false);

    ({ src, dst } = buffers(n));
    ctx.launch(copyJob(dst, src, n, 16));
    ctx.launch(copyJob(src, dst, n, 16)); // reads what the first one wrote
    expect(ctx.arena.f32.slice(src / F32, src / F32 + 3)).toEqual(Float32Array.of(0, 1, 2));
    ctx.store.release(dest.storage);
  });

  it('keeps the blocks given back while it runs out of reuse until it is waited for', () => {
    const n = 1 << 12;
    const { src } = buffers(n);
    const a = ctx.store.create(n);
    const live = ctx.stats().liveBlocks;
    ctx.launch(copyJob(a.ptr, src, n, 8));
    ctx.store.release(a.storage);
    expect(ctx.stats().liveBlocks).toBe(live); // held for the job
    const b = ctx.store.create(n);
    expect(b.ptr).not.toBe(a.ptr);
    ctx.sync();
    expect(ctx.stats().liveBlocks).toBe(live); // a's block freed, b's taken
    ctx.store.release(b.storage);
  });

  it('the next call reserves its scratch apart from the launched job\'s', () => {
    const n = 1 << 16;
    const { src, dst } = buffers(n);
    ctx.launch(copyJob(dst, src, n, 32));
    ctx.arena.reset();
    const p = ctx.arena.allocF32(2 * n);
    expect(ctx.inFlight).toBe(true);
    const apart = p + 2 * n * F32 <= src || p >= dst + n * F32;
    expect(apart).toBe(true);
    ctx.sync();
  });

  it('a chunk that throws in a worker is thrown by the next wait, not by launch', () => {
    let thrown: unknown = null;
    for (let attempt = 0; attempt < 20 && !thrown; attempt++) {
      ctx.arena.reset();
      const buf = ctx.arena.allocF32(1 << 18);
      const job = new Job(1 << 30);
      for (let i = 0; i < 400; i++) job.chunk().call(FN.zero, [buf, 1 << 18]).call(FN.throwInWorker, []);
      ctx.launch(job);
      try {
        ctx.sync();
      } catch (e) {
        thrown = e;
      }
    }
    expect(String(thrown)).toMatch(/wasm thread pool: a chunk failed in worker 0: a chunk that throws in a worker \(test hook\) \(in a job of 400 chunks calling zero, throwInWorker\)/);
    expect(ctx.inFlight).toBe(false);
    vg.manualSeed(1);
    const x = vg.randn([200, 200]);
    expect(Array.from(vg.matmul(x, vg.eye(200)).dataSync())).toEqual(Array.from(x.dataSync()));
  });
});

describe('allocator hold', () => {
  it('a scratch reservation or a tensor that does not fit while blocks are held waits for the job and takes them', () => {
    const al = new Allocator(new WebAssembly.Memory({ initial: 1, maximum: 4 }), 0); // 256 KiB at most
    const arena = new Arena(al, undefined, () => 0, () => al.unhold());
    const store = new TensorStore(al, 1 << 30, () => al.unhold());
    for (const take of [() => { arena.reset(); arena.alloc(150 << 10); }, () => store.create((150 << 10) / 4)]) {
      const held = al.alloc(150 << 10);
      al.hold();
      al.release(held);
      expect(al.stats().liveBytes).toBeGreaterThanOrEqual(150 << 10); // held for the job
      take();
      arena.releaseBlocks();
    }
    expect(() => { arena.reset(); arena.alloc(300 << 10); }).toThrow(/one kernel call needs/);
  });

  it('a block given back during a hold is reused only after it; a second give-back is still a double free', () => {
    const al = new Allocator(new WebAssembly.Memory({ initial: 1, maximum: 16 }), 0);
    const a = al.alloc(256);
    al.hold();
    al.release(a);
    expect(() => al.release(a)).toThrow(/double free/);
    expect(al.alloc(256).ptr).not.toBe(a.ptr);
    al.unhold();
    expect(al.alloc(256).ptr).toBe(a.ptr);
    expect(() => al.release(a)).toThrow(/double free/);
  });
});
