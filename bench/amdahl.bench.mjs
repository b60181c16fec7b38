// The most a training step can gain from threads, predicted from a one-thread step: its serial
// share (outside the pool's jobs) and Amdahl's law with each job's chunks in rounds of N
// (bench/amdahl.mjs --json in a child process, one thread).

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export async function run() {
  const r = spawnSync(process.execPath, [join(here, 'amdahl.mjs'), process.env.AMDAHL_STEPS ?? '16', '--json'], { encoding: 'utf8', env: { ...process.env, VAEGRAD_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`amdahl failed: ${r.stderr}`);
  const { stepMs, serialMs, rows } = JSON.parse(r.stdout.trim().split('\n').pop());
  return {
    title: `Amdahl ceiling: a one-thread training step of the reference ConvVAE (batch 128) takes ${stepMs.toFixed(1)} ms, ${((100 * serialMs) / stepMs).toFixed(1)}% of it serial`,
    columns: ['threads', 'jobs waited for: step (ms)', 'speedup', 'efficiency', 'efficiency with perfect chunking', 'jobs overlapped: step (ms)', 'efficiency'],
    rows: rows.map((x) => [String(x.threads), x.stepMs.toFixed(1), x.speedup.toFixed(2), x.efficiency.toFixed(2), x.perfectEfficiency.toFixed(2), x.overlapStepMs.toFixed(1), x.overlapEfficiency.toFixed(2)]),
    notes: [
      'Serial: small jobs and everything outside jobs (autograd bookkeeping, tensor and job creation) on the calling thread. Jobs waited for: each job ends before the calling thread goes on. Jobs overlapped: as the library runs them (launch), the calling thread\'s JavaScript runs while the workers compute the job before. Upper bounds: free hand-offs, N full cores.',
    ],
  };
}
