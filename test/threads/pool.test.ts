// The worker pool's life: the thread count's controls (setNumThreads, VAEGRAD_THREADS, the
// default), changing the count between calls, a chunk that throws in a worker, a memory renewal
// (the pool follows the new memory), and a process that ends without waiting for its workers.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { currentBackend } from '../../src/backend/registry.js';
import type { WasmBackend } from '../../src/backend/wasm/index.js';
import { availableCores } from '../../src/backend/wasm/threads/config.js';
import { FN, Job } from '../../src/backend/wasm/threads/job.js';
import { Pool } from '../../src/backend/wasm/threads/pool.js';
import { ROOT } from '../cli/helpers.js';

const bits = (t: vg.Tensor): Uint32Array => new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer);

/** Run `code` (an ES module importing vaegrad's sources as `vg`) in a fresh Node process. */
function child(code: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import * as vg from './src/index.ts';\n${code}`], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, VAEGRAD_THREADS: '', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

describe('thread count controls', () => {
  it('setNumThreads takes integers from 1 to 256 and names the bad value', () => {
    for (const bad of [0, -1, 1.5, NaN, 257]) expect(() => vg.setNumThreads(bad)).toThrow(/setNumThreads\(n\): n must be an integer from 1 to 256/);
    vg.setNumThreads(3);
    expect(vg.getNumThreads()).toBe(3);
  });

  it('defaults to every available core; VAEGRAD_THREADS overrides it, and a bad value is an Error naming it', () => {
    const info = 'console.log(JSON.stringify([vg.getNumThreads(), vg.getBackendInfo()]))';
    const dflt = child(info);
    expect(dflt.status, dflt.stderr).toBe(0);
    expect(JSON.parse(dflt.stdout)).toEqual([availableCores(), { name: 'wasm', kernels: 'simd', threads: availableCores(), sharedMemory: true }]);
    const three = child(info, { VAEGRAD_THREADS: '3' });
    expect(JSON.parse(three.stdout)).toEqual([3, { name: 'wasm', kernels: 'simd', threads: 3, sharedMemory: true }]);
    const bad = child(info, { VAEGRAD_THREADS: 'many' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/VAEGRAD_THREADS must be an integer from 1 to 256, got 'many'/);
  });
});

describe('the pool', () => {
  let b: WasmBackend;
  beforeAll(async () => {
    await vg.setBackend('wasm');
    b = currentBackend() as WasmBackend;
  });
  afterAll(() => vg.setNumThreads(2));

  it('follows setNumThreads up and down between calls, with the same bits', () => {
    vg.manualSeed(1);
    const a = vg.randn([260, 300]), c = vg.randn([300, 520]);
    vg.setNumThreads(1);
    const want = bits(vg.matmul(a, c));
    for (const n of [4, 1, 3, 2, 4]) {
      vg.setNumThreads(n);
      expect(vg.getBackendInfo().threads).toBe(n);
      expect(bits(vg.matmul(a, c))).toEqual(want);
    }
    expect(b.ctx.workers).toBe(3); // never more workers than the largest count asked for, minus the caller
  });

  it('the memory-bound jobs of a training step are weighed as such: a GEMM\'s pack job or sums of k blocks run on the pool', () => {
    vg.setNumThreads(2);
    const jobs: number[] = []; // chunks of each job that reached the pool
    const publish = Pool.prototype.publish;
    Pool.prototype.publish = function (this: Pool, ...a: Parameters<Pool['publish']>) {
      jobs.push(a[1]);
      return publish.apply(this, a);
    };
    try {
      // A and B packed once (8 chunks), then 16 tiles
      vg.matmul(vg.randn([130, 300]), vg.randn([300, 250])).dataSync();
      expect(jobs).toEqual([8, 16]);
      // the decoder Linear's input gradient (128 x 3136 x 256 there): 12 k blocks by 2 tiles of C, then their
      // partial sums added in block order by 15 chunks of rows
      jobs.length = 0;
      vg.matmul(vg.randn([130, 3001]), vg.randn([3001, 250])).dataSync();
      expect(jobs).toEqual([24, 15]);
    } finally {
      Pool.prototype.publish = publish;
    }
  });

  /**
   * Run jobs of 400 chunks (real work, then the test hook `hook`, which acts only where a worker
   * runs it) on 2 threads until one throws; return what it threw.
   */
  const failWith = (hook: number): unknown => {
    vg.setNumThreads(2);
    const ctx = b.ctx;
    for (let attempt = 0; attempt < 20; attempt++) {
      ctx.arena.reset();
      const buf = ctx.arena.allocF32(1 << 18);
      const job = new Job(1 << 30);
      for (let i = 0; i < 400; i++) job.chunk().call(FN.zero, [buf, 1 << 18]).call(hook, []);
      try {
        ctx.run(job);
      } catch (e) {
        return e;
      }
    }
    return null;
  };
  /** The pool works on afterwards: 2 threads give 1 thread's bits. */
  const expectPoolWorks = (seed: number): void => {
    vg.manualSeed(seed);
    const a = vg.randn([300, 300]);
    vg.setNumThreads(1);
    const want = bits(vg.matmul(a, a));
    vg.setNumThreads(2);
    expect(bits(vg.matmul(a, a))).toEqual(want);
  };

  it('a chunk that throws in a worker is an Error in the caller (not a hang), and the pool works on', () => {
    expect(String(failWith(FN.throwInWorker))).toMatch(/wasm thread pool: a chunk failed in worker 0: a chunk that throws in a worker \(test hook\)/);
    expectPoolWorks(2);
  });

  it('a worker that exits mid-job is an Error in the caller (not a hang), and a new pool takes over', () => {
    const t0 = Date.now();
    expect(String(failWith(FN.exitInWorker))).toMatch(/wasm thread pool: worker 0 exited during a job \(\d+ of 400 chunks unfinished\);.*; its chunks call zero, exitInWorker$/);
    expect(Date.now() - t0).toBeLessThan(Pool.stallMs); // the exit notice, not the stall timeout
    expectPoolWorks(4);
    expect(b.ctx.workers).toBe(1);
  });

  it('a worker that stops taking part (no exit notice, as a killed one) fails the job after Pool.stallMs', () => {
    const saved = Pool.stallMs;
    Pool.stallMs = 300;
    try {
      expect(String(failWith(FN.hangInWorker))).toMatch(/wasm thread pool: no chunk finished for 300 ms/);
    } finally {
      Pool.stallMs = saved;
    }
    expectPoolWorks(5);
  });

  it('a renewed memory gets a new pool: same bits after the renewal', () => {
    vg.setNumThreads(3);
    vg.manualSeed(3);
    const x = vg.randn([40, 8, 14, 14]), w = vg.randn([16, 8, 3, 3]);
    const want = bits(vg.F.conv2d(x, w, null, { padding: 1 }));
    const renewals = b.ctx.renewals;
    b.ctx.renew();
    expect(b.ctx.renewals).toBe(renewals + 1);
    expect(b.ctx.workers).toBe(0);
    expect(bits(vg.F.conv2d(x, w, null, { padding: 1 }))).toEqual(want);
    expect(b.ctx.workers).toBe(2);
  });
});

describe('process exit', () => {
  it('a process that used the pool ends when its work is done, without waiting for the workers', () => {
    const r = child("vg.setNumThreads(4); const a = vg.randn([512, 512]); vg.matmul(a, a).dataSync(); console.log('done', vg.getBackendInfo().threads);");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('done 4');
    expect(r.ms).toBeLessThan(30_000);
  });
});
