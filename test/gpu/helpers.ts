// Shared by the GPU backend tests: GPU.js backends created synchronously (the registry's
// 'gpu' factory is async), one per mode, and whether headlessgl can run in this process.
// The display-less path (ANGLE on Vulkan, the loader linked into gl's folder) is prepared here,
// before GPU.js creates its first GL context, as setBackend('gpu') does.
import * as gpujs from 'gpu.js';
import { GpuBackend, type GpuJsModule } from '../../src/backend/gpu/backend.js';
import { diagnoseNoGl, prepareHeadlessGl } from '../../src/backend/gpu/headless.js';

const setup = prepareHeadlessGl();
const made = new Map<string, GpuBackend>();

/** The GPU.js backend in a given mode (cached: kernels compile once per process). */
export function gpuBackend(mode: string): GpuBackend {
  let b = made.get(mode);
  if (!b) made.set(mode, (b = new GpuBackend(gpujs as unknown as GpuJsModule, { mode })));
  return b;
}

/** The backend the conformance suite runs on every run: GPU.js cpu mode. */
export const gpuCpuBackend = (): GpuBackend => gpuBackend('cpu');

/** null when headlessgl runs here, else why not (what to install). */
export function headlessglUnavailable(): string | null {
  const G = (gpujs as unknown as { GPU: { isHeadlessGLSupported: boolean } }).GPU;
  if (G.isHeadlessGLSupported) return null;
  return `GPU.js reports headlessgl unsupported: ${diagnoseNoGl(setup)}`;
}
