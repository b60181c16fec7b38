// What the build-against-build kernel benches share (bench/bn-relu-pool.mjs, bench/conv-bn-pool.mjs):
// a wasm backend loaded from one build's dist/, and seeded inputs, so two builds see the same data.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The wasm backend of the build in `dist` (its index loaded first, as a user's import would). */
export async function loadWasmBackend(dist) {
  await import(pathToFileURL(join(dist, 'src/index.js')).href);
  const { createWasmBackendSync } = await import(pathToFileURL(join(dist, 'src/backend/wasm/index.js')).href);
  return createWasmBackendSync();
}

/** n floats in [-1, 1) from a linear congruential generator seeded with `seed`, each passed through f. */
export function seededFloats(n, seed, f = (v) => v) {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = f((s / 2 ** 32) * 2 - 1);
  }
  return a;
}
