// Training checkpoints as one safetensors file: the model's state_dict under PyTorch's names,
// the Adam moments under 'optimizer.<i>.*', and everything else (config, epoch, step, RNG
// state, per-parameter step counts, metrics) as JSON in __metadata__; and a model from any of
// the files vaegrad reads (checkpoint, model.safetensors, PyTorch state_dict).

import { safetensorsToStateDict, stateDictToSafetensors } from '../io/state-dict.js';
import type { Tensor } from '../tensor.js';
import type { ModelKind, VAE } from './models.js';
import { createModel } from './models.js';
import type { Averages, Progress, TrainConfig } from './train.js';
import { Trainer } from './train.js';

export const CHECKPOINT_FORMAT = 'vaegrad-checkpoint/1';
const OPT_PREFIX = 'optimizer.';

export interface CheckpointMeta {
  format: string;
  config: TrainConfig;
  progress: Progress;
  /** Running averages of an interrupted epoch. */
  running?: Averages;
  optimizer: { lr: number; steps: Record<number, number> };
}

export function checkpointBytes(t: Trainer, running?: Averages): Uint8Array {
  const sd = t.model.stateDict();
  const opt = t.optimizer.stateDict();
  const steps: Record<number, number> = {};
  for (const [i, s] of opt.state) {
    sd.set(`${OPT_PREFIX}${i}.exp_avg`, s.exp_avg as Tensor);
    sd.set(`${OPT_PREFIX}${i}.exp_avg_sq`, s.exp_avg_sq as Tensor);
    steps[i] = s.step as number;
  }
  const meta: CheckpointMeta = { format: CHECKPOINT_FORMAT, config: t.config, progress: t.progress(), running, optimizer: { lr: opt.paramGroups[0]!.options.lr, steps } };
  return stateDictToSafetensors(sd, { vaegrad: JSON.stringify(meta) });
}

/** Only the model's state_dict (what PyTorch's load_state_dict takes). */
export function modelBytes(t: Trainer): Uint8Array {
  return stateDictToSafetensors(t.model.stateDict(), { format: 'pt', model: t.config.model, latent: String(t.config.latent) });
}

function parseMeta(metadata: Record<string, string>, source: string): CheckpointMeta {
  const raw = metadata.vaegrad;
  if (!raw) throw new Error(`${source}: not a vaegrad training checkpoint (no 'vaegrad' entry in __metadata__); a bare state_dict can be loaded with --weights-only commands such as sample`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw) as CheckpointMeta;
  } catch {
    throw new Error(`${source}: corrupt checkpoint metadata (not JSON)`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${source}: checkpoint format '${meta.format}', expected '${CHECKPOINT_FORMAT}'`);
  if (!meta.config || !meta.progress || !meta.optimizer) throw new Error(`${source}: checkpoint metadata lacks config, progress or optimizer`);
  return meta;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  model: Map<string, Tensor>;
  moments: Map<number, { exp_avg?: Tensor; exp_avg_sq?: Tensor }>;
}

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
    const m = /^optimizer\.(\d+)\.(exp_avg|exp_avg_sq)$/.exec(k);
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

/** A Trainer in exactly the state the checkpoint recorded. */
export function trainerFromCheckpoint(bytes: Uint8Array, source: string, expect?: Partial<TrainConfig>): { trainer: Trainer; meta: CheckpointMeta } {
  const { meta, model, moments } = readCheckpoint(bytes, source);
  for (const [k, v] of Object.entries(expect ?? {})) {
    const have = (meta.config as unknown as Record<string, unknown>)[k];
    if (v !== undefined && have !== v) throw new Error(`${source}: checkpoint was trained with ${k}=${String(have)}, but ${k}=${String(v)} was asked for`);
  }
  const trainer = new Trainer(meta.config);
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
  let held = metadata.model && metadata.latent ? { model: metadata.model as ModelKind, latent: Number(metadata.latent) } : undefined;
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
    model = createModel(k, z);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  try {
    model.loadStateDict(sd);
  } catch (e) {
    throw new Error(`${source} does not hold a ${k} VAE with latent ${z}${hint ? ` (pass ${hint} if it is another)` : ''}: ${(e as Error).message}`);
  }
  return model.eval();
}

/** vaeFromStateDict on the bytes of a safetensors file (validated before anything is allocated). */
export function vaeFromSafetensors(bytes: Uint8Array, source: string, opts: VaeFromStateDictOptions = {}): VAE {
  const { tensors, metadata } = safetensorsToStateDict(bytes, source);
  return vaeFromStateDict(tensors, metadata, source, opts);
}
