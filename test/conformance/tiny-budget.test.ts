// The whole conformance suite again with tensor storage under constant memory pressure: a 1 MiB
// budget (so nearly every kernel call moves least recently used tensors out to the JS heap and
// its inputs back in) in debug mode (freed blocks NaN-filled, generations checked at every kernel
// entry), from the memory's initial single page. A child vitest runs the other files of this
// folder with VAEGRAD_WASM_BUDGET=1M and VAEGRAD_WASM_DEBUG=1, which the wasm backend reads when
// it is created. The child runs asynchronously: a synchronous wait would block this test worker
// for over a minute, and vitest's worker RPC times out after 60 s.

import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { spawnNode } from '../spawn-node.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

it('the conformance suite passes with a 1 MiB budget in debug mode', async () => {
  const files = readdirSync(here).filter((f) => f.endsWith('.test.ts') && f !== 'tiny-budget.test.ts').map((f) => join('test', 'conformance', f));
  const r = await spawnNode([join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=dot', ...files], {
    cwd: root,
    env: { ...process.env, VAEGRAD_WASM_BUDGET: '1M', VAEGRAD_WASM_DEBUG: '1', NO_COLOR: '1', FORCE_COLOR: '0' },
    timeoutMs: 600_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  expect(r.code, out.slice(-4000)).toBe(0);
  const passed = /Test Files\s+(\d+) passed/.exec(out);
  expect(Number(passed?.[1]), out.slice(-2000)).toBe(files.length);
}, 600_000);
