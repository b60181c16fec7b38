// Forced garbage collection for the memory tests: `gc` from V8 without a node flag, and settle(),
// which lets the current job end (WeakRef targets and the wasm store's per-job holds live until
// then), collects twice and gives FinalizationRegistry callbacks a moment to run.

import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose_gc');
export const gc = vm.runInNewContext('gc') as () => void;

export async function settle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  gc();
  gc();
  await new Promise((r) => setTimeout(r, 10));
}
