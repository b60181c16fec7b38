// Shared by the GPU backend tests: GPU.js backends created synchronously (the registry's
// 'gpu' factory is async), one per mode, and whether headlessgl can run in this process.
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
  let gl: string;
  try {
    const require = (globalThis as { process?: unknown }).process ? (0, eval)('require') as NodeRequire | undefined : undefined;
    gl = require ? 'installed' : 'unknown';
  } catch { gl = 'unknown'; }
  return `GPU.js reports headlessgl unsupported (the \`gl\` module must be built and a display available: run under \`xvfb-run -a\`; gl module: ${gl})`;
}
