// execChunk, the interpreter of a job's words that runs on the calling thread and in every
// worker: each call reaches its kernel with exactly its arguments (scratch offsets placed), at
// every argument count a call may have, from an array or a Float64Array (shared memory).

import { describe, expect, it } from 'vitest';
import { END, FN, FN_NAMES, Job, MAX_ARGS, execChunk } from '../../src/backend/wasm/threads/job.js';

describe('execChunk', () => {
  it('passes each call its arguments, no more, with scratch offsets added, at every count up to MAX_ARGS', () => {
    const job = new Job(0).chunk();
    const want: number[][] = [];
    for (let n = 0; n <= MAX_ARGS; n++) {
      const args = Array.from({ length: n }, (_, i) => 1000 * n + i + 0.5 * (i % 3 === 0 ? 0 : 1));
      const scratch = Array.from({ length: n }, (_, i) => i).filter((i) => i % 4 === 1);
      job.call(FN.sgemm, args, scratch);
      want.push(args.map((v, i) => (scratch.includes(i) ? v + 4096 : v)));
    }
    job.seal();
    for (const words of [job.words, Float64Array.from(job.words)]) {
      const got: number[][] = [];
      const k = { [FN_NAMES[FN.sgemm]]: (...a: number[]) => void got.push(a) };
      execChunk(k, FN_NAMES, new WebAssembly.Memory({ initial: 1 }), words, job.starts[0]!, 4096, false);
      expect(got).toEqual(want);
    }
    expect(job.words[job.words.length - 1]).toBe(END);
  });

  it('a call with more than MAX_ARGS arguments is refused when the job is built', () => {
    expect(() => new Job(0).chunk().call(FN.sgemm, new Array(MAX_ARGS + 1).fill(0))).toThrow(/a kernel call with 21 arguments/);
  });
});
