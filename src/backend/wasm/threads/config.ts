// How many threads the wasm kernels use: the default (the machine's cores, or VAEGRAD_THREADS),
// vg.setNumThreads / vg.getNumThreads, and the chunk-order test hook. Nothing here depends on
// the pool existing: the count is read at each kernel call.

type Env = { process?: { env?: Record<string, string | undefined> }; navigator?: { hardwareConcurrency?: number } };

/** Most threads one pool runs (the caller and up to this many - 1 workers). */
export const MAX_THREADS = 256;

let requested: number | null = null;

function parseThreads(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) {
    throw new Error(`${what} must be an integer from 1 to ${MAX_THREADS}, got ${typeof value === 'string' ? `'${value}'` : String(value)}`);
  }
  return n;
}

/** The cores this process may use: os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers. */
export function availableCores(): number {
  const g = globalThis as Env & { process?: { getBuiltinModule?: (id: string) => unknown } };
  const os = g.process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus: () => unknown[] } | undefined;
  const n = os ? (os.availableParallelism?.() ?? os.cpus().length) : (g.navigator?.hardwareConcurrency ?? 1);
  return Math.max(1, Math.min(MAX_THREADS, Math.floor(n) || 1));
}

/** The default: VAEGRAD_THREADS when set, else every available core. */
function defaultThreads(): number {
  const env = (globalThis as Env).process?.env?.VAEGRAD_THREADS;
  if (env !== undefined && env !== '') return parseThreads(env, 'VAEGRAD_THREADS');
  return availableCores();
}

/**
 * Use n threads (the calling thread and n - 1 workers) for the wasm kernels from the next call
 * on. Results do not depend on n: every kernel splits its work the same way at any count.
 */
export function setNumThreads(n: number): void {
  requested = parseThreads(n, 'setNumThreads(n): n');
}

/** The thread count the wasm kernels are asked to use (setNumThreads, else VAEGRAD_THREADS, else the cores). getBackendInfo().threads says how many actually run. */
export function getNumThreads(): number {
  return (requested ??= defaultThreads());
}

/**
 * Test hook: 'reverse' or 'shuffle' runs the chunks of every job in another order (on one
 * thread as on many) to show that results do not depend on it; 'natural' is the default.
 */
export let chunkOrder: { kind: 'natural' | 'reverse' | 'shuffle'; seed: number } = { kind: 'natural', seed: 0 };

/** See chunkOrder. Internal (tests). */
export function setChunkOrderForTesting(kind: 'natural' | 'reverse' | 'shuffle', seed = 1): void {
  chunkOrder = { kind, seed };
}

/** The order in which a job's n chunks are claimed (a permutation of 0..n-1); null for the natural order (0, 1, ...: no array to make per job). */
export function chunkPermutation(n: number): number[] | null {
  if (chunkOrder.kind === 'natural') return null;
  const p = Array.from({ length: n }, (_, i) => i);
  if (chunkOrder.kind === 'reverse') return p.reverse();
  if (chunkOrder.kind === 'shuffle') {
    let s = (chunkOrder.seed * 2654435761 + n) >>> 0 || 1;
    for (let i = n - 1; i > 0; i--) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      const j = s % (i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
  }
  return p;
}
