// Training checkpoints as one safetensors file: the model's state_dict under PyTorch's names,
// the Adam moments under 'optimizer.<i>.*', and everything else (config, epoch, step, RNG
// state, per-parameter step counts, the trainer program's own record) as JSON in __metadata__,
// validated field by field when read; and a model from any of the files vaegrad reads
// (checkpoint, model.safetensors, PyTorch state_dict), refused when its weights are not finite.

import { safetensorsToStateDict, stateDictToSafetensors } from '../io/state-dict.js';
import type { Tensor } from '../tensor.js';
import { Generator } from '../random.js';
import type { ModelKind, ModelSize, VAE } from './models.js';
import { createModel } from './models.js';
import type { Averages, GeneratorState, Progress, TrainConfig } from './train.js';
import { OPTIMIZER_PREFIX, Trainer, firstNonFinite } from './train.js';

/** The format tag in a training checkpoint's metadata (a different tag is refused). */
export const CHECKPOINT_FORMAT = 'vaegrad-checkpoint/1';

/** The metadata of a training checkpoint: format, config, progress, optimiser settings and the caller's record. */
export interface CheckpointMeta {
  /** CHECKPOINT_FORMAT. */
  format: string;
  /** The training configuration (model, latent size, lr, beta, batch size, seed). */
  config: TrainConfig;
  /** Where training stands: epoch, step and the generator's state. */
  progress: Progress;
  /** Running averages of an interrupted epoch. */
  running?: Averages;
  /** Adam's lr and each parameter's step count. */
  optimizer: {
    /** Adam's learning rate. */
    lr: number;
    /** Adam's step count of each parameter, by index. */
    steps: Record<number, number>;
  };
  /** What the program that trains keeps with the run (the CLI: its data flags and the metrics history); it validates it. */
  run?: unknown;
}

/** The trainer's state as checkpoint bytes; `running`: an interrupted epoch's averages; `run`: the caller's own record (CheckpointMeta.run). */
export function checkpointBytes(t: Trainer, running?: Averages, run?: unknown): Uint8Array {
  const opt = t.optimizer.stateDict();
  const steps: Record<number, number> = {};
  for (const [i, s] of opt.state) steps[i] = s.step as number;
  const meta: CheckpointMeta = { format: CHECKPOINT_FORMAT, config: t.config, progress: t.progress(), running, optimizer: { lr: opt.paramGroups[0]!.options.lr, steps }, run };
  return stateDictToSafetensors(t.namedState(), { vaegrad: JSON.stringify(meta) });
}

/** Only the model's state_dict (what PyTorch's load_state_dict takes). */
export function modelBytes(t: Trainer): Uint8Array {
  const meta: Record<string, string> = { format: 'pt', model: t.config.model, latent: String(t.config.latent) };
  if (t.config.size) meta.size = JSON.stringify(t.config.size);
  return stateDictToSafetensors(t.model.stateDict(), meta);
}

/**
 * Checks a field of untrusted metadata: `ok` says whether the value is acceptable, `want` says
 * what was expected; the error names the file and the field's dotted path.
 */
function field<T>(source: string, obj: unknown, path: string, want: string, ok: (v: unknown) => boolean): T {
  const v = path.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), obj);
  if (!ok(v)) throw new Error(`${source}: checkpoint field ${path} must be ${want}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  return v as T;
}

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (lo: number) => (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= lo;
const isFinite = (lo: number, exclusive = false) => (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && (exclusive ? v > lo : v >= lo);
const isRngState = (v: unknown): boolean =>
  isObject(v) && Array.isArray((v as GeneratorState).s) && (v as GeneratorState).s.length === 4 &&
  (v as GeneratorState).s.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32) &&
  ((v as GeneratorState).spare === null || (v as GeneratorState).spare === undefined || isFinite(-Infinity)((v as GeneratorState).spare));

/** The metadata's types and ranges, each failure naming its field (a crafted or damaged file must not train). */
function validateMeta(m: unknown, source: string): CheckpointMeta {
  const f = <T>(path: string, want: string, ok: (v: unknown) => boolean): T => field<T>(source, m, path, want, ok);
  for (const p of ['config', 'progress', 'optimizer', 'optimizer.steps']) f(p, 'an object', isObject);
  f('config.model', "'conv' or 'mlp'", (v) => v === 'conv' || v === 'mlp');
  f('config.latent', 'a positive integer', isInt(1));
  f('config.batchSize', 'an integer of at least 2', isInt(2));
  f('config.lr', 'a positive number', isFinite(0, true));
  f('config.beta', 'a non-negative number', isFinite(0));
  f('config.seed', 'an integer', isInt(Number.MIN_SAFE_INTEGER));
  validateSize(m, 'config.size', source);
  f('progress.epoch', 'a non-negative integer', isInt(0));
  f('progress.step', 'a non-negative integer', isInt(0));
  f('progress.rngEpochStart', 'a generator state { s: [4 x uint32], spare }', isRngState);
  f('progress.rng', 'a generator state { s: [4 x uint32], spare }', isRngState);
  f('optimizer.lr', 'a positive number', isFinite(0, true));
  const meta = m as CheckpointMeta;
  for (const k of Object.keys(meta.optimizer.steps)) {
    f(`optimizer.steps`, 'an object from parameter indices to step counts', () => /^\d+$/.test(k));
    f(`optimizer.steps.${k}`, 'a non-negative integer', isInt(0));
  }
  if (meta.running !== undefined) {
    f('running', 'an object', isObject);
    for (const k of ['loss', 'bce', 'kl']) f(`running.${k}`, 'a finite number', isFinite(-Infinity));
    f('running.images', 'a non-negative integer', isInt(0));
  }
  for (const k of ['rngEpochStart', 'rng'] as const) {
    try {
      Generator.fromState(meta.progress[k]);
    } catch (e) {
      throw new Error(`${source}: checkpoint field progress.${k}: ${(e as Error).message}`);
    }
  }
  return meta;
}

/** The optional ModelSize at `path` of obj: absent, or an object of a positive hidden and two positive channels, each optional. */
function validateSize(obj: unknown, path: string, source: string): ModelSize | undefined {
  const f = <T>(p: string, want: string, ok: (v: unknown) => boolean): T => field<T>(source, obj, p, want, (v) => v === undefined || ok(v));
  const size = f<ModelSize | undefined>(path, 'an object', isObject);
  f(`${path}.hidden`, 'a positive integer', isInt(1));
  f(`${path}.channels`, 'two positive integers', (v) => Array.isArray(v) && v.length === 2 && v.every(isInt(1)));
  return size;
}

function parseMeta(metadata: Record<string, string>, source: string): CheckpointMeta {
  const raw = metadata.vaegrad;
  if (!raw) throw new Error(`${source}: not a vaegrad training checkpoint (no 'vaegrad' entry in __metadata__); a bare state_dict can be loaded with --weights-only commands such as sample`);
  let meta: unknown;
  try {
    meta = JSON.parse(raw);
  } catch {
    throw new Error(`${source}: corrupt checkpoint metadata (not JSON)`);
  }
  const format = isObject(meta) ? (meta as { format?: unknown }).format : undefined;
  if (format !== CHECKPOINT_FORMAT) throw new Error(`${source}: checkpoint format ${JSON.stringify(format)}, expected '${CHECKPOINT_FORMAT}'`);
  return validateMeta(meta, source);
}

export interface Checkpoint {
  meta: CheckpointMeta;
  model: Map<string, Tensor>;
  moments: Map<number, { exp_avg?: Tensor; exp_avg_sq?: Tensor }>;
}

/** A training checkpoint's tensors and validated metadata from its bytes; `source` names them in errors. */
export function readCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const { tensors, metadata } = safetensorsToStateDict(bytes, source);
  return splitCheckpoint(tensors, metadata, source);
}

export const isCheckpoint = (metadata: Record<string, string>): boolean => 'vaegrad' in metadata;

/** Split a checkpoint's tensors into the model state dict and the optimiser moments. */
export function splitCheckpoint(tensors: Map<string, Tensor>, metadata: Record<string, string>, source: string): Checkpoint {
  const meta = parseMeta(metadata, source);
  const model = new Map<string, Tensor>();
  const moments = new Map<number, { exp_avg?: Tensor; exp_avg_sq?: Tensor }>();
  for (const [k, t] of tensors) {
    const m = k.startsWith(OPTIMIZER_PREFIX) ? /^(\d+)\.(exp_avg|exp_avg_sq)$/.exec(k.slice(OPTIMIZER_PREFIX.length)) : null;
    if (!m) {
      model.set(k, t);
      continue;
    }
    const i = Number(m[1]);
    const entry = moments.get(i) ?? {};
    entry[m[2] as 'exp_avg' | 'exp_avg_sq'] = t;
    moments.set(i, entry);
  }
  return { meta, model, moments };
}

/** A Trainer in exactly the state the checkpoint (its bytes, or as readCheckpoint parsed them) recorded. */
export function trainerFromCheckpoint(bytes: Uint8Array | Checkpoint, source: string, expect?: Partial<TrainConfig>): {
  /** A trainer in the checkpoint's state. */
  trainer: Trainer;
  /** The checkpoint's validated metadata. */
  meta: CheckpointMeta;
} {
  const { meta, model, moments } = bytes instanceof Uint8Array ? readCheckpoint(bytes, source) : bytes;
  for (const [k, v] of Object.entries(expect ?? {})) {
    const have = (meta.config as unknown as Record<string, unknown>)[k];
    if (v !== undefined && have !== v) throw new Error(`${source}: checkpoint was trained with ${k}=${String(have)}, but ${k}=${String(v)} was asked for`);
  }
  let trainer: Trainer;
  try {
    // A crafted config (latent 1e12, say) fails in the model build: the message must name the file.
    trainer = new Trainer(meta.config);
  } catch (e) {
    throw new Error(`${source}: cannot build the ${meta.config.model} VAE with latent ${meta.config.latent} that the checkpoint describes: ${(e as Error).message}`);
  }
  try {
    trainer.model.loadStateDict(model);
  } catch (e) {
    throw new Error(`${source}: checkpoint does not fit a ${meta.config.model} VAE with latent ${meta.config.latent}: ${(e as Error).message}`);
  }
  const state = new Map<number, Record<string, Tensor | number>>();
  for (const [i, m] of moments) {
    const step = meta.optimizer.steps[i];
    if (!m.exp_avg || !m.exp_avg_sq || step === undefined) throw new Error(`${source}: incomplete optimizer state for parameter ${i}`);
    state.set(i, { step, exp_avg: m.exp_avg, exp_avg_sq: m.exp_avg_sq });
  }
  const groups = trainer.optimizer.stateDict().paramGroups;
  groups[0]!.options.lr = meta.optimizer.lr;
  trainer.optimizer.loadStateDict({ state, paramGroups: groups });
  trainer.restore(meta.progress, meta.running);
  const bad = firstNonFinite(trainer.namedState());
  if (bad) throw new Error(`${source}: ${bad.name} holds ${bad.value} (element ${bad.index}): the checkpoint is not finite and cannot be trained from`);
  return { trainer, meta };
}

/** Options of vaeFromStateDict: the model asked for, and how to tell the user to ask for another. */
export interface VaeFromStateDictOptions {
  /** The model kind asked for (default: the file's, else 'conv'). */
  model?: ModelKind;
  /** The latent size asked for (default: the file's, else 20). */
  latent?: number;
  /** How a caller asks for another model, for messages (the CLI: '--model/--latent'). */
  overrideHint?: string;
}

/**
 * A VAE in eval mode from a safetensors file's tensors and metadata: a training checkpoint, a
 * vaegrad model.safetensors (its metadata names the model and latent size) or a PyTorch
 * state_dict (the model asked for, by default the reference ConvVAE with latent 20). Errors name
 * `source`. Browser-safe: the CLI and the explorer page load models through it.
 */
export function vaeFromStateDict(tensors: Map<string, Tensor>, metadata: Record<string, string>, source: string, opts: VaeFromStateDictOptions = {}): VAE {
  let sd = tensors;
  // What the file says it holds (a checkpoint's config, or model.safetensors' metadata), if anything.
  let held: { model: ModelKind; latent: number; size?: ModelSize } | undefined;
  if (metadata.model && metadata.latent) held = { model: metadata.model as ModelKind, latent: Number(metadata.latent), size: modelSizeOf(metadata, source) };
  if (isCheckpoint(metadata)) {
    const ck = splitCheckpoint(tensors, metadata, source);
    sd = ck.model;
    held = ck.meta.config;
  }
  const k: ModelKind = opts.model ?? held?.model ?? 'conv';
  const z = opts.latent ?? held?.latent ?? 20;
  const hint = opts.overrideHint;
  if (held && (held.model !== k || held.latent !== z)) {
    throw new Error(`${source} holds a ${held.model} VAE with latent ${held.latent}, not the ${k} VAE with latent ${z} asked for${hint ? ` (drop ${hint} to use the file's)` : ''}`);
  }
  let model: VAE;
  try {
    model = createModel(k, z, held?.size);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  try {
    model.loadStateDict(sd);
  } catch (e) {
    throw new Error(`${source} does not hold a ${k} VAE with latent ${z}${hint ? ` (pass ${hint} if it is another)` : ''}: ${(e as Error).message}`);
  }
  const bad = firstNonFinite(model.stateDict());
  if (bad) throw new Error(`${source}: ${bad.name} holds ${bad.value} (element ${bad.index}): the model's weights are not finite (its training diverged), so it cannot be used`);
  return model.eval();
}

/** The widths in a model.safetensors' metadata ('size', JSON, written for a model narrower than the reference). */
function modelSizeOf(metadata: Record<string, string>, source: string): ModelSize | undefined {
  if (metadata.size === undefined) return undefined;
  let size: unknown;
  try {
    size = JSON.parse(metadata.size);
  } catch {
    throw new Error(`${source}: metadata field size must be JSON, got ${JSON.stringify(metadata.size)}`);
  }
  return validateSize({ size }, 'size', source);
}

/** vaeFromStateDict on the bytes of a safetensors file (validated before anything is allocated). */
export function vaeFromSafetensors(bytes: Uint8Array, source: string, opts: VaeFromStateDictOptions = {}): VAE {
  const { tensors, metadata } = safetensorsToStateDict(bytes, source);
  return vaeFromStateDict(tensors, metadata, source, opts);
}
