// Shared by the GPU backend tests: GPU.js backends created synchronously (the registry's
// 'gpu' factory is async), one per mode, and whether headlessgl can run in this process.
import { createRequire } from 'node:module';
import * as gpujs from 'gpu.js';
import { GpuBackend, type GpuJsModule } from '../../src/backend/gpu/backend.js';

const made = new Map<string, GpuBackend>();

/** The GPU.js backend in a given mode (cached: kernels compile once per process). */
export function gpuBackend(mode: string): GpuBackend {
  let b = made.get(mode);
  if (!b) made.set(mode, (b = new GpuBackend(gpujs as unknown as GpuJsModule, { mode })));
  return b;
}

/** The backend the conformance suite runs on every run: GPU.js cpu mode. */
export const gpuCpuBackend = (): GpuBackend => gpuBackend('cpu');

/** null when headlessgl runs here, else why not. */
export function headlessglUnavailable(): string | null {
  const G = (gpujs as unknown as { GPU: { isHeadlessGLSupported: boolean } }).GPU;
  if (G.isHeadlessGLSupported) return null;
  let gl = 'the `gl` module loads, so there is probably no display: run under `xvfb-run -a`';
  try {
    createRequire(import.meta.url)('gl');
  } catch (e) {
    gl = `the \`gl\` module does not load (${(e as Error).message.split('\n')[0]}): it builds from source with libxi-dev libglu1-mesa-dev libglew-dev pkg-config (npm rebuild gl)`;
  }
  return `GPU.js reports headlessgl unsupported: ${gl}`;
}
