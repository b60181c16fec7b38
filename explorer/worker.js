// The explorer's module worker: the long jobs (training, t-SNE), off the page's thread so that
// the page stays responsive. One job per worker; the page starts one worker per kind of job.
//
// Messages in:  { type: 'train', from: 'scratch' | 'continue', bytes?, name?, kind, latent,
//                 epochs, images, batchSize, lr, seed }, { type: 'stop' },
//               { type: 'tsne', mu: Float32Array, n, latent, iterations, perplexity }
// Messages out: { type: 'engine', info: getBackendInfo(), threads } once loaded, { type: 'status', text }, { type: 'step', epoch, step, total, loss },
//               { type: 'epoch', epoch, loss, bce, kl, seconds, images, samples }, { type: 'done', model, checkpoint, stopped },
//               { type: 'tsne-progress', iteration, kl }, { type: 'tsne', points }, { type: 'error', message }
//
// Threads: every core while the server answers. The page is cross-origin isolated, so vaegrad's
// worker pool runs here (nested workers over one shared memory; they start once this worker's
// event loop turns, which the Trainer's per-step yield gives them); offline it cannot (see below).
import * as vg from '../dist/src/index.js';
import { DEFAULT_CONFIG, ImageDataset, Trainer, checkpointBytes, modelBytes, stratifiedSubset, trainerFromCheckpoint, tsne, vaeFromSafetensors } from '../dist/src/vae/index.js';
import { fetchImages } from './data.js';

const ready = (async () => {
  await vg.setBackend('wasm');
  // The pool's nested workers load their script outside the service worker (Chromium), so the
  // offline copy cannot start them: use them only when the server serves that script itself
  // (the service worker marks a saved copy with x-vaegrad-offline).
  if (typeof vg.setNumThreads === 'function') vg.setNumThreads(await poolReachable() ? navigator.hardwareConcurrency || 1 : 1);
  // What runs here, for the page to show: the backend and its kernel build (SIMD, or a fallback).
  postMessage({ type: 'engine', info: vg.getBackendInfo(), threads: typeof vg.getNumThreads === 'function' ? vg.getNumThreads() : 1 });
})();
/** Whether the server itself (not the offline copy) serves the pool's worker script. */
async function poolReachable() {
  try {
    const r = await fetch(new URL('../dist/src/backend/wasm/threads/browser-worker.js', import.meta.url), { cache: 'no-store' });
    return r.ok && !r.headers.get('x-vaegrad-offline');
  } catch {
    return false;
  }
}
let stopRequested = false;
let trainData; // the served training subset, fetched once

self.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'stop') {
    stopRequested = true;
    return;
  }
  const job = m.type === 'train' ? train(m) : m.type === 'tsne' ? embed(m) : Promise.reject(new Error(`unknown job '${m.type}'`));
  job.catch((err) => postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
};

/** A Trainer from the page's choice: a fresh model, an exact resume of a checkpoint, or a bare state_dict with a new optimizer. */
function makeTrainer(m) {
  const config = { ...DEFAULT_CONFIG, batchSize: m.batchSize, lr: m.lr ?? DEFAULT_CONFIG.lr, seed: m.seed ?? DEFAULT_CONFIG.seed };
  if (m.from === 'scratch') return new Trainer({ ...config, model: m.kind, latent: m.latent });
  if (!m.bytes) throw new Error('no model to continue from: load one, or train from scratch');
  const { metadata } = vg.parseSafetensors(m.bytes, m.name);
  if ('vaegrad' in metadata) {
    const { trainer } = trainerFromCheckpoint(m.bytes, m.name);
    trainer.step = 0; // another data set than the checkpoint's: start a fresh epoch
    return trainer;
  }
  const vae = vaeFromSafetensors(m.bytes, m.name);
  const trainer = new Trainer({ ...config, model: vae.kind, latent: vae.latent });
  trainer.model.loadStateDict(vae.stateDict());
  return trainer;
}

async function train(m) {
  stopRequested = false;
  await ready;
  postMessage({ type: 'status', text: 'loading the training images…' });
  trainData ??= await fetchImages('train');
  const all = new ImageDataset(trainData.pixels, trainData.labels, 'the served training images');
  const data = stratifiedSubset(all, Math.min(m.images, all.n), m.seed ?? 1);
  const trainer = makeTrainer(m);
  const z = vg.randn([16, trainer.model.latent], { generator: new vg.Generator(0) }); // the same z every epoch
  const first = trainer.epoch;
  let stopped = false;
  postMessage({ type: 'status', text: `training on ${data.n} images, batch ${trainer.config.batchSize}, ${vg.getBackend()} backend, ${vg.getBackendInfo().threads ?? 1} thread${(vg.getBackendInfo().threads ?? 1) === 1 ? '' : 's'}` });
  while (trainer.epoch < first + m.epochs) {
    const t0 = performance.now();
    const epoch = trainer.epoch;
    const { averages, completed } = await trainer.trainEpoch(data, {
      shouldStop: () => stopRequested,
      onStep: (step, total, s) => postMessage({ type: 'step', epoch, step, total, loss: s.loss }),
    });
    if (!completed) {
      stopped = true;
      break;
    }
    const seconds = (performance.now() - t0) / 1000;
    const samples = Float32Array.from(vg.noGrad(() => trainer.model.eval().decode(z).sigmoid().dataSync()));
    postMessage({ type: 'epoch', epoch: trainer.epoch, loss: averages.loss, bce: averages.bce, kl: averages.kl, seconds, images: averages.images, samples }, [samples.buffer]);
  }
  trainer.model.eval();
  const model = modelBytes(trainer);
  const checkpoint = checkpointBytes(trainer);
  postMessage({ type: 'done', model, checkpoint, stopped, epoch: trainer.epoch }, [model.buffer, checkpoint.buffer]);
}

async function embed(m) {
  await ready;
  const x = vg.tensor(m.mu, { shape: [m.n, m.latent] });
  const embedding = tsne(x, {
    iterations: m.iterations, perplexity: Math.min(m.perplexity, m.n - 1), seed: 0, reportEvery: 25,
    onIteration: (iteration, kl) => postMessage({ type: 'tsne-progress', iteration, kl }),
  });
  const points = Float32Array.from(embedding.dataSync());
  postMessage({ type: 'tsne', points }, [points.buffer]);
}
