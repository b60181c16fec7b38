// The one place that knows which backends exist and which one runs. Everything above reaches a
// backend only through currentBackend(); setBackend/getBackend are the public switch.

import type { Backend, MemoryStats, Storage } from './backend.js';
import { JsBackend } from './js/index.js';

type Factory = () => Backend | Promise<Backend>;

const factories = new Map<string, Factory>();
const loaded = new Map<string, Backend>();
let current: Backend | null = null;
/** Backends tried, in order, when none was chosen: the first that loads synchronously wins. */
const defaultOrder: string[] = [];

/** Makes a backend available to setBackend under `name` (preferDefault: try it first when none was chosen). */
export function registerBackend(name: string, factory: Factory, opts: { preferDefault?: boolean } = {}): void {
  factories.set(name, factory);
  if (opts.preferDefault) defaultOrder.unshift(name);
  else defaultOrder.push(name);
}

registerBackend('js', () => new JsBackend());

function onLoad(name: string, b: Backend): void {
  loaded.set(name, b);
  if (budget !== null) b.setMemoryBudget?.(budget);
}

/** Switch the global backend. Resolves once it has loaded (the GPU backend loads asynchronously). */
export async function setBackend(name: string): Promise<void> {
  const existing = loaded.get(name);
  if (existing) {
    current = existing;
    return;
  }
  const factory = factories.get(name);
  if (!factory) throw new Error(`setBackend: unknown backend '${name}' (available: ${[...factories.keys()].join(', ')})`);
  const made = factory();
  const b = made instanceof Promise ? await made : made;
  onLoad(name, b);
  current = b;
}

/** Use a backend that has already loaded, synchronously (for tests and scoped work). */
export function useLoadedBackend(name: string): void {
  const b = loaded.get(name);
  if (!b) throw new Error(`backend '${name}' has not been loaded: await setBackend('${name}') first`);
  current = b;
}

function pickDefault(): Backend {
  for (const name of defaultOrder) {
    try {
      const made = factories.get(name)!();
      if (made instanceof Promise) {
        made.catch(() => undefined);
        continue;
      }
      onLoad(name, made);
      return made;
    } catch {
      // fall through to the next backend; getBackend() reports which one runs
    }
  }
  throw new Error('no backend could be loaded');
}

export function currentBackend(): Backend {
  return (current ??= pickDefault());
}

/** The name of the backend that runs. */
export function getBackend(): string {
  return currentBackend().name;
}

/** What getBackendInfo() reports. */
export interface BackendInfo {
  /** The backend's name ('js', 'wasm', 'gpu'). */
  name: string;
  /** The GPU.js mode (gpu backend only): 'headlessgl', 'webgl2', 'webgl', 'webasm' or 'cpu'. */
  mode?: string;
  /** What renders (gpu backend only): the GL renderer string, e.g. 'ANGLE (NVIDIA, Vulkan ...)'. */
  renderer?: string;
  /** The GL vendor string (gpu backend only). */
  vendor?: string;
  /** gpu backend only: true when the renderer is not a GPU (llvmpipe, lavapipe, SwiftShader, GPU.js cpu/webasm). */
  software?: boolean;
  /** wasm backend only: the kernel build this engine runs, 'simd' or 'relaxed-simd'. */
  kernels?: string;
  /** wasm backend only: the threads its kernels run on now (1 without shared memory; see setNumThreads). */
  threads?: number;
  /** wasm backend only: whether the threads build over a shared WebAssembly.Memory is in use. */
  sharedMemory?: boolean;
  /** wasm backend only, without shared memory: why kernels run on one thread. */
  threadsNote?: string;
}

/** The backend that runs: for the wasm backend its kernel build and threads, for the GPU backend its GPU.js mode and what renders. */
export function getBackendInfo(): BackendInfo {
  const b = currentBackend() as Backend & { mode?: string; flavor?: string; renderer?: { renderer: string; vendor: string; software: boolean }; threadInfo?: () => Pick<BackendInfo, 'threads' | 'sharedMemory' | 'threadsNote'> };
  if (b.flavor !== undefined) return { name: b.name, kernels: b.flavor, ...b.threadInfo?.() };
  if (b.mode === undefined) return { name: b.name };
  return b.renderer ? { name: b.name, mode: b.mode, renderer: b.renderer.renderer, vendor: b.renderer.vendor, software: b.renderer.software } : { name: b.name, mode: b.mode };
}

/**
 * What the running backend holds in memory it manages itself: the wasm backend's linear memory
 * and its allocator. Backends that keep tensors on the JavaScript heap (js) report zeros.
 */
export function memoryStats(): MemoryStats {
  const b = currentBackend();
  return b.memoryStats?.() ?? { backend: b.name, wasmBytes: 0, liveBytes: 0, liveBlocks: 0, cachedBytes: 0, spilledBytes: 0, scratchBytes: 0 };
}

let budget: number | null = null;

/**
 * Bytes of tensor data a backend may keep in its own memory (the wasm backend's linear memory;
 * default half its 2 GiB maximum, or the environment variable VAEGRAD_WASM_BUDGET) before it
 * moves the least recently used tensors to the JavaScript heap; they move back on next use.
 */
export function setMemoryBudget(bytes: number): void {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) throw new Error(`setMemoryBudget: expected a number of bytes >= 0, got ${String(bytes)}`);
  budget = Math.floor(bytes);
  for (const b of loaded.values()) b.setMemoryBudget?.(budget);
}

/** Free a storage now, wherever it lives: the caller proves nothing reads it again (backends without their own memory ignore it). */
export function releaseStorage(s: Storage): void {
  for (const b of loaded.values()) if (b.release && b.owns(s)) b.release(s);
}

/** The names setBackend accepts. */
export function listBackends(): string[] {
  return [...factories.keys()];
}

/** Copy storage made by another loaded backend into `to` (tensors follow setBackend lazily). */
export function moveStorage(s: Storage, to: Backend): Storage {
  for (const b of loaded.values()) {
    if (b === to || !b.owns(s)) continue;
    const host = b.readSync(s, true);
    if (!host) throw new Error(`cannot move a tensor from backend '${b.name}' to '${to.name}' synchronously: await tensor.data() first`);
    return to.fromArray(host);
  }
  throw new Error(`internal: no loaded backend owns this storage (moving to '${to.name}')`);
}
