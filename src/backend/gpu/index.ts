// Registers the GPU.js backend as 'gpu' (never a default: `await setBackend('gpu')` selects it).
// gpu.js is an optional peer dependency, loaded here by dynamic import only, so the core stays
// dependency-free and browser-safe and nothing loads it unless asked.
//
// Mode: GPU.js picks one (headlessgl in Node when the `gl` module works and a display exists,
// webgl2/webgl in browsers, else webasm, else cpu). Force one with the VAEGRAD_GPU_MODE
// environment variable (cpu | webasm | headlessgl | webgl2 | webgl) or configureGpuBackend({ mode }).
// getBackendInfo() / backend.mode report the mode that runs. GPU.js's webgpu mode is not
// supported: its kernels return promises, and this backend's kernel contract is synchronous.

import { registerBackend } from '../registry.js';
import type { GpuBackendOptions, GpuJsModule } from './backend.js';
import { GpuBackend } from './backend.js';

export { GpuBackend } from './backend.js';
export type { GpuBackendOptions } from './backend.js';

const MISSING = [
  "setBackend('gpu'): the gpu.js package is not installed. Run `npm install gpu.js` (an optional peer dependency of vaegrad).",
  'In Node, GPU.js runs real shaders through the `gl` module (headless WebGL): it builds from source and needs',
  'a C++ toolchain, python3 and, on Debian/Ubuntu, `apt-get install libxi-dev libglu1-mesa-dev libglew-dev pkg-config`;',
  'then run under a display, e.g. `xvfb-run -a node ...` (apt-get install xvfb). Without `gl`, GPU.js falls back to its webasm or cpu mode.',
].join('\n');

let options: GpuBackendOptions = {};
let instance: Promise<GpuBackend> | null = null;

/** Options for the next load of the 'gpu' backend (call before setBackend('gpu')). */
export function configureGpuBackend(opts: GpuBackendOptions): void {
  options = { ...opts };
  instance = null;
}

function envMode(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.VAEGRAD_GPU_MODE || undefined;
}

/** Load gpu.js and create the backend (once). */
export function createGpuBackend(opts: GpuBackendOptions = options): Promise<GpuBackend> {
  const make = async (): Promise<GpuBackend> => {
    let mod: GpuJsModule;
    const spec = 'gpu.js'; // a variable: bundlers must not pull gpu.js into the core
    try {
      const m = (await import(/* @vite-ignore */ spec)) as GpuJsModule & { default?: GpuJsModule };
      mod = m.GPU ? m : m.default!;
    } catch (e) {
      // In a page the module must be resolvable by the browser: an import map or a bundler.
      const inBrowser = typeof (globalThis as { document?: unknown }).document !== 'undefined';
      const help = inBrowser
        ? "setBackend('gpu'): could not import gpu.js in this page: map the bare specifier 'gpu.js' to its browser build with an import map, or bundle the page"
        : MISSING;
      throw new Error(`${help}\n(cause: ${(e as Error).message})`);
    }
    const mode = opts.mode ?? envMode();
    try {
      return new GpuBackend(mod, { ...opts, mode });
    } catch (e) {
      throw new Error(`setBackend('gpu'): GPU.js could not start${mode ? ` in mode '${mode}'` : ''}: ${(e as Error).message}` +
        (mode === 'headlessgl' ? `\n${MISSING.split('\n').slice(1).join('\n')}` : ''));
    }
  };
  if (opts !== options) return make();
  return (instance ??= make().catch((e: unknown) => { instance = null; throw e; }));
}

registerBackend('gpu', () => createGpuBackend());
