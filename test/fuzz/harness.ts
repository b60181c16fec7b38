// Runs a fuzz target for N seeded cases and checks each one: a successful parse or a plain Error
// with a message (never a TypeError/RangeError from the engine, never a non-Error throw), within a
// time bound and an allocation bound (array-buffer bytes still allocated when the case ends).

import { Generator } from '../../src/random.js';
import type { FuzzTarget } from './targets.js';
import { Mutator } from './mutate.js';

/**
 * Far above any honest parse of these small inputs, even on a loaded machine (building the
 * checkpoint's model takes ~100 ms alone, seconds under load); a hang or a blow-up crosses it.
 */
export const CASE_TIME_MS = 10_000;

/** What the JavaScript engine throws on its own: a message from one of these is a crash, not an answer. */
const ENGINE_ERRORS = [RangeError, TypeError, SyntaxError, ReferenceError, EvalError, URIError];

export interface FuzzReport {
  target: string;
  cases: number;
  parsed: number;
  rejected: number;
  slowestMs: number;
  mostBytes: number;
  /** Up to 5 distinct rejection messages (shapes of the errors seen), for the log. */
  samples: string[];
  failures: string[];
}

export async function runFuzz(target: FuzzTarget, cases: number, seed: number): Promise<FuzzReport> {
  const m = new Mutator(new Generator(seed));
  const rep: FuzzReport = { target: target.name, cases, parsed: 0, rejected: 0, slowestMs: 0, mostBytes: 0, samples: [], failures: [] };
  for (let c = 0; c < cases && rep.failures.length < 5; c++) {
    const { input, run } = target.make(m);
    const fail = (why: string): void => {
      rep.failures.push(`${target.name} seed ${seed} case ${c} (${input.length} input bytes): ${why}`);
    };
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    try {
      await run();
      rep.parsed++;
    } catch (e) {
      rep.rejected++;
      if (!(e instanceof Error)) fail(`threw a non-Error: ${String(e)}`);
      else if (ENGINE_ERRORS.some((E) => e instanceof E)) fail(`threw a ${e.constructor.name} (an engine error, not a message): ${e.message}`);
      else if (e.message.trim() === '') fail('threw an Error with an empty message');
      else if (target.namesSource !== false && !e.message.includes(target.source)) fail(`the message does not name the file: ${e.message}`);
      else if (rep.samples.length < 5) {
        const shape = e.message.replace(/\d+/g, 'N').slice(0, 160);
        if (!rep.samples.some((s) => s.replace(/\d+/g, 'N').slice(0, 160) === shape)) rep.samples.push(e.message.slice(0, 200));
      }
    }
    const ms = performance.now() - t0;
    const bytes = process.memoryUsage().arrayBuffers - before;
    rep.slowestMs = Math.max(rep.slowestMs, ms);
    rep.mostBytes = Math.max(rep.mostBytes, bytes);
    if (ms > CASE_TIME_MS) fail(`took ${ms.toFixed(0)} ms (bound ${CASE_TIME_MS} ms)`);
    if (bytes > target.maxBytes(input)) fail(`left ${bytes} bytes of array buffers allocated (bound ${target.maxBytes(input)})`);
  }
  return rep;
}

export function formatReport(r: FuzzReport): string {
  return `${r.target.padEnd(20)} ${String(r.cases).padStart(6)} cases: ${String(r.parsed).padStart(6)} parsed, ${String(r.rejected).padStart(6)} rejected with a message; slowest ${r.slowestMs.toFixed(1)} ms, most ${(r.mostBytes / 2 ** 20).toFixed(1)} MiB; ${r.failures.length} failures`;
}
