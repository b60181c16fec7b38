// `npm run fuzz`: every format for FUZZ_CASES cases (default 10,000 each), printing the counts;
// exits 1 on any failure, with the seed and case number that replay it (FUZZ_SEED, default 15).
// Run with tsx: `npx tsx test/fuzz/run.ts`.

import { setBackend } from '../../src/index.js';
import { formatReport, runFuzz } from './harness.js';
import { TARGETS } from './targets.js';

const cases = Number(process.env.FUZZ_CASES ?? 10_000);
const seed = Number(process.env.FUZZ_SEED ?? 15);
await setBackend('js');
let failed = 0;
for (const target of TARGETS) {
  const t0 = performance.now();
  const rep = await runFuzz(target, cases, seed);
  console.log(`${formatReport(rep)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const s of rep.samples) console.log(`    e.g. ${s}`);
  for (const f of rep.failures) console.log(`  FAIL ${f}`);
  if (rep.failures.length > 0 || rep.parsed + rep.rejected !== cases) failed++;
}
console.log(failed === 0 ? `fuzz: ${TARGETS.length} formats x ${cases} cases, no failures (seed ${seed})` : `fuzz: ${failed} format(s) failed`);
process.exit(failed === 0 ? 0 : 1);
