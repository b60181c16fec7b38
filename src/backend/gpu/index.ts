// Registers the GPU.js backend as 'gpu' (never a default: `await setBackend('gpu')` selects it).
// gpu.js is an optional peer dependency, loaded here by dynamic import only, so the core stays
// dependency-free and browser-safe and nothing loads it unless asked.
//
// Mode: GPU.js picks one (headlessgl in Node through the `gl` package, webgl2/webgl in browsers,
// else its webasm or cpu fallback). In Node, ./headless.ts first prepares the display-less path
// (ANGLE on Vulkan, the Vulkan loader linked into gl's folder). When GPU.js finds no GL context,
// setBackend('gpu') fails with what is missing instead of running the CPU fallback (about 100x
// slower than the wasm backend), unless a mode is asked for explicitly: the VAEGRAD_GPU_MODE
// environment variable (cpu | webasm | headlessgl | webgl2 | webgl) or configureGpuBackend({ mode }).
// getBackendInfo() reports the mode and the renderer (software: true for CPU renderers).
// GPU.js's webgpu mode is not supported: its kernels return promises, and this backend's kernel
// contract is synchronous.

import { registerBackend } from '../registry.js';
import type { GpuBackendOptions, GpuJsModule } from './backend.js';
import { GpuBackend } from './backend.js';

export { GpuBackend } from './backend.js';
export type { GpuBackendOptions } from './backend.js';

const MISSING = [
  "setBackend('gpu'): the gpu.js package is not installed. Run `npm install gpu.js gl@9.0.0-rc.10` (optional peer dependencies of vaegrad).",
  'In Node, GPU.js runs real shaders through the `gl` package (headless WebGL, prebuilt ANGLE); with no display it reaches the GPU',
  'through Vulkan: Debian/Ubuntu `apt-get install libvulkan1` plus the GPU vendor\'s driver. Without `gl`, GPU.js falls back to its webasm or cpu mode.',
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

const inNode = (): boolean => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string' &&
  typeof (globalThis as { document?: unknown }).document === 'undefined';

type Headless = typeof import('./headless.js');

/** Load gpu.js and create the backend (once). */
export function createGpuBackend(opts: GpuBackendOptions = options): Promise<GpuBackend> {
  const make = async (): Promise<GpuBackend> => {
    // Node: prepare the display-less GL path before gpu.js creates a context (a variable
    // specifier, so that bundlers for the browser do not follow it into node:fs)
    const headlessSpec = './headless.js';
    const headless = inNode() ? (await import(/* @vite-ignore */ headlessSpec)) as Headless : null;
    const setup = headless?.prepareHeadlessGl() ?? null;
    let mod: GpuJsModule;
    const spec = 'gpu.js'; // a variable: bundlers must not pull gpu.js into the core
    try {
      const m = (await import(/* @vite-ignore */ spec)) as GpuJsModule & { default?: GpuJsModule };
      mod = m.GPU ? m : m.default!;
    } catch (e) {
      // In a page the module must be resolvable by the browser: an import map or a bundler.
      const help = !inNode()
        ? "setBackend('gpu'): could not import gpu.js in this page: map the bare specifier 'gpu.js' to its browser build with an import map, or bundle the page"
        : MISSING;
      throw new Error(`${help}\n(cause: ${(e as Error).message})`);
    }
    const mode = opts.mode ?? envMode();
    let backend: GpuBackend;
    try {
      backend = new GpuBackend(mod, { ...opts, mode });
    } catch (e) {
      throw new Error(`setBackend('gpu'): GPU.js could not start${mode ? ` in mode '${mode}'` : ''}: ${(e as Error).message}` +
        (mode === 'headlessgl' && headless && setup ? `\n${headless.diagnoseNoGl(setup)}` : ''));
    }
    if (!backend.textures && (!mode || mode === 'gpu')) {
      backend.destroy();
      const why = headless && setup ? headless.diagnoseNoGl(setup) : 'this page offers no WebGL context';
      throw new Error(`setBackend('gpu'): no GL context, so GPU.js would fall back to its ${backend.mode} mode ` +
        `(the CPU, far slower than the wasm backend):\n${why}\n` +
        `To run GPU.js's CPU fallback anyway, set VAEGRAD_GPU_MODE=${backend.mode} (or configureGpuBackend({ mode: '${backend.mode}' })).`);
    }
    return backend;
  };
  if (opts !== options) return make();
  return (instance ??= make().catch((e: unknown) => { instance = null; throw e; }));
}

registerBackend('gpu', () => createGpuBackend());
