// The fuzz suite in `npm test`: a few thousand seeded cases across the formats (FUZZ_CASES=N
// sets the count per format; `npm run fuzz` runs 10,000 each through test/fuzz/run.ts).

import { beforeAll, describe, expect, it } from 'vitest';

import { setBackend } from '../../src/index.js';
import { formatReport, runFuzz } from './harness.js';
import { TARGETS } from './targets.js';

/** Per format in `npm test`: the checkpoint cases build a model each, so they get fewer. */
const DEFAULT_CASES: Record<string, number> = { safetensors: 1500, idx: 1500, 'idx-gzip': 600, 'checkpoint-metadata': 40 };

beforeAll(async () => {
  await setBackend('js');
});

describe('fuzz: mutated files give a parse or an Error naming the file, in bounded time and memory', () => {
  for (const target of TARGETS) {
    it(target.name, async () => {
      const cases = Number(process.env.FUZZ_CASES ?? DEFAULT_CASES[target.name]);
      const rep = await runFuzz(target, cases, Number(process.env.FUZZ_SEED ?? 15));
      console.log(formatReport(rep));
      expect(rep.failures).toEqual([]);
      expect(rep.parsed + rep.rejected).toBe(cases);
      // A mutator that only ever breaks the magic number would test nothing: both outcomes must occur.
      expect(rep.rejected).toBeGreaterThan(cases / 10);
      expect(rep.parsed).toBeGreaterThan(0);
    }, 600_000);
  }
});
