// Registers the WASM SIMD backend as the preferred default. Importing this module (src/index.ts
// does, for its side effect) is all it takes. The factory compiles synchronously where the
// engine allows it (Node, workers), so the first op picks 'wasm' with no await; where it does
// not (a browser's main thread refuses large synchronous compiles) it returns a promise: the
// default then falls back to 'js', and `await setBackend('wasm')` completes the async load.
// Engines without WebAssembly SIMD throw here, and the registry falls back to 'js'.

import { registerBackend } from '../registry.js';
import { WasmBackend } from './backend.js';
import { loadKernelsAsync, loadKernelsSync, wasmSupported } from './loader.js';

export { WasmBackend } from './backend.js';

let instance: WasmBackend | null = null;
/** The async load in flight: the default pick and a later setBackend('wasm') share one compile. */
let pending: Promise<WasmBackend> | null = null;

/** Create (once) the wasm backend synchronously; throws where that is impossible. */
export function createWasmBackendSync(): WasmBackend {
  return (instance ??= new WasmBackend(loadKernelsSync()));
}

export function createWasmBackend(): Promise<WasmBackend> {
  if (instance) return Promise.resolve(instance);
  return (pending ??= loadKernelsAsync().then(
    (k) => (instance ??= new WasmBackend(k)),
    (e: unknown) => { pending = null; throw e; },
  ));
}

registerBackend(
  'wasm',
  () => {
    if (!wasmSupported()) throw new Error('wasm backend: this engine has no WebAssembly SIMD');
    try {
      return createWasmBackendSync();
    } catch {
      return createWasmBackend(); // e.g. a browser main thread: compile asynchronously
    }
  },
  { preferDefault: true },
);
