// Crash safety: `vaegrad train` killed with SIGKILL at 20 seeded moments (inside every file write
// of the run, at a random phase of the write, and at random times), then run again (--resume when
// a checkpoint exists), ends with exactly the outputs of an uninterrupted run: the same files, no
// temp files or lock left over, model, checkpoint and pictures byte for byte, and the same losses
// in metrics.jsonl (whose wall-clock times no two runs share).
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BUILT, ls, scratch, spawnCli, writeIdxDir } from './helpers.js';

const tmp = scratch('kill');
afterAll(() => tmp.cleanup());

const idx = tmp.path('idx');
// The MLP VAE on 32 images in batches of 16, 2 epochs: 2 steps and 6 atomic writes per epoch.
const FLAGS = ['train', '--model', 'mlp', '--data', idx, '--batch-size', '16', '--test-limit', '10', '--epochs', '2'];
const WRITES = 12;
const PHASES = ['open', 'half', 'synced', 'renamed'];

/** mulberry32: the kill moments are the same on every run of the test. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kill = { write: number; phase: string } | { afterMs: number };

/** Every file that should be compared, with metrics.jsonl reduced to its losses. */
function outputs(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of ls(dir)) {
    const bytes = readFileSync(`${dir}/${name}`);
    if (name === 'metrics.jsonl') {
      const lines = bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      out.set(name, JSON.stringify(lines.map(({ seconds: _s, images_per_s: _i, ...losses }) => losses)));
    } else {
      out.set(name, bytes.toString('base64'));
    }
  }
  return out;
}

describe.runIf(BUILT)('SIGKILL at 20 moments of a training run, then a rerun', () => {
  let reference: Map<string, string>;
  let referenceMs = 0;

  beforeAll(async () => {
    writeIdxDir(idx, { train: 32, test: 10 });
    const t0 = performance.now();
    const r = await spawnCli([...FLAGS, '--out', tmp.path('reference')]);
    referenceMs = performance.now() - t0;
    if (r.code !== 0) throw new Error(`the uninterrupted run failed: ${r.stderr}`);
    reference = outputs(tmp.path('reference'));
  }, 60_000);

  it('every output is identical to an uninterrupted run', async () => {
    const random = rng(15);
    // Inside each of the run's 12 file writes (at a random phase of it), and at 8 random times.
    const kills: Kill[] = [
      ...Array.from({ length: WRITES }, (_, i) => ({ write: i + 1, phase: PHASES[Math.floor(random() * PHASES.length)]! })),
      ...Array.from({ length: 8 }, () => ({ afterMs: Math.round((0.15 + 0.8 * random()) * referenceMs) })),
    ];
    expect(reference.get('checkpoint.safetensors')).toBeDefined();

    const scenario = async (kill: Kill, i: number): Promise<string> => {
      const dir = tmp.path(`killed-${i}`);
      const env = 'write' in kill ? { ...process.env, VAEGRAD_TEST_KILL_IN_WRITE: `${kill.write}:${kill.phase}` } : process.env;
      let timer: NodeJS.Timeout | undefined;
      const killed = await spawnCli([...FLAGS, '--out', dir], {
        env,
        onSpawn: (child) => {
          if ('afterMs' in kill) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterMs);
        },
      });
      clearTimeout(timer);
      const what = 'write' in kill ? `write ${kill.write} (${kill.phase})` : `${kill.afterMs} ms`;
      // A write kill always lands; a timed one may come after a fast run has ended.
      if ('write' in kill) expect(killed.signal, `${what}: ${killed.stderr}`).toBe('SIGKILL');
      const resume = existsSync(`${dir}/checkpoint.safetensors`);
      if (killed.signal === null) {
        expect(killed.code, killed.stderr).toBe(0);
      } else {
        const again = await spawnCli([...FLAGS, ...(resume ? ['--resume'] : []), '--out', dir]);
        // Killed after the last commit, the rerun only tidies up and says there is nothing left to train.
        expect(again.code, `${what}: ${again.stderr}`).toBe(/already done 2 epochs/.test(again.stderr) ? 1 : 0);
      }
      expect(outputs(dir), `killed at ${what}`).toEqual(reference);
      return `${what}: ${killed.signal ?? 'finished'}${resume ? ', resumed' : ', rerun'}`;
    };

    // Two at a time (the machine has 2 cores).
    const log: string[] = [];
    for (let i = 0; i < kills.length; i += 2) log.push(...(await Promise.all(kills.slice(i, i + 2).map((k, j) => scenario(k, i + j)))));
    expect(log.filter((l) => l.includes('SIGKILL')).length).toBeGreaterThanOrEqual(WRITES);
  }, 300_000);
});
