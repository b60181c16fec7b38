// The latent-space explorer page: loads a VAE (the served checkpoint, or a file dropped or
// chosen), decodes samples from N(0, I), plots the test images' latent means (two latent
// dimensions, or a t-SNE computed in a worker) and decodes the point under the pointer,
// interpolates between two test images, and trains in a module worker (worker.js). All on
// vaegrad's own WebAssembly kernels, imported by URL from the served package (no bundler).
//
// URL parameters (for quick looks and the tests): points=N test images in the plot (default
// 1000), iterations=N t-SNE iterations (default 500).
//
// window.explorer is a small console API (the tests use it too): decode(z), plotPoints(), ...
import * as vg from '../dist/src/index.js';
import { drawImageGrid, drawLossCurve, drawScatter, vaeFromSafetensors } from '../dist/src/vae/index.js';
import { fetchBytes, fetchConfig, fetchImages } from './data.js';

// The page's own kernels (decoding under the pointer) run on this thread alone: a page's main
// thread may not Atomics.wait, so a pool would spin here; the training worker uses every core.
if (typeof vg.setNumThreads === 'function') vg.setNumThreads(1);

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const PLOT_POINTS = Math.max(10, Number(params.get('points')) || 1000);
const TSNE_ITERATIONS = Math.max(10, Number(params.get('iterations')) || 500);
const PIXELS = 28 * 28;

const state = {
  test: null, // { pixels, labels, n }: the served test subset
  model: null, // the VAE shown (eval mode)
  modelName: '',
  modelBytes: null, // the file the model came from (a checkpoint resumes exactly when training continues)
  plotIdx: null, // test images in the plot
  mu: null, // their latent means, plotIdx.length x latent
  zMean: null, // the average of mu: the other coordinates in the two-dimension view
  dims: [0, 1],
  view: 'dims',
  tsne: null, // the t-SNE embedding of mu (for the current model), when computed
  tsneWorker: null,
  layout: null, // drawScatter's layout of the current plot
  plotImage: null, // the plot's pixels without the pointer marker
  cursor: null, // [cx, cy] in canvas pixels
  decodeMs: [],
  interp: null, // { a, b, muA, muB }
  sampleSeed: 0,
  trainWorker: null,
  workerEngine: null, // { info: getBackendInfo(), threads } as the training worker reported them
  training: false,
  losses: [], // per step: { x: epoch + fraction, loss }
  epochs: [], // per epoch of the current run: { epoch, loss, bce, kl, seconds, imagesPerSecond }
};

// ---------------------------------------------------------------------------------------------
// Messages

function setStatus(text) {
  $('status').textContent = text;
}

function showError(text) {
  const el = $('error');
  el.textContent = text;
  el.hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

const message = (e) => (e instanceof Error ? e.message : String(e));
window.addEventListener('error', (e) => showError(`Unexpected error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showError(`Unexpected error: ${message(e.reason)}`));

// ---------------------------------------------------------------------------------------------
// Decoding

/** Decode n latent vectors (n * latent values) into n images (n * 784 values in [0, 1]) with the current model. */
function decode(z, n) {
  const latent = state.model.latent;
  return vg.noGrad(() => state.model.decode(vg.tensor(Float32Array.from(z), { shape: [n, latent] })).sigmoid().dataSync());
}

/** The latent means of test images `indices`, in batches. */
function encodeMeans(indices) {
  const latent = state.model.latent;
  const out = new Float32Array(indices.length * latent);
  for (let s = 0; s < indices.length; s += 250) {
    const idx = indices.slice(s, s + 250);
    const x = new Float32Array(idx.length * PIXELS);
    idx.forEach((src, i) => x.set(state.test.pixels.subarray(src * PIXELS, (src + 1) * PIXELS), i * PIXELS));
    const mu = vg.noGrad(() => state.model.encode(vg.tensor(x, { shape: [idx.length, 1, 28, 28] })).mu.dataSync());
    out.set(mu, s * latent);
  }
  return out;
}

function drawImages(canvasId, images, n, opts) {
  const canvas = $(canvasId);
  drawImageGrid(canvas.getContext('2d'), images, n, 28, 28, opts);
}

// ---------------------------------------------------------------------------------------------
// Samples

function drawSamples() {
  const z = vg.randn([64, state.model.latent], { generator: new vg.Generator(state.sampleSeed++) }).dataSync();
  drawImages('samples', decode(z, 64), 64, { cols: 8, scale: 2, pad: 2 });
}

// ---------------------------------------------------------------------------------------------
// The latent plot

/** Test images spread over the served subset (which is stratified by label). */
function plotIndices(n, k) {
  const m = Math.min(n, k);
  return Int32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}

/** The two dimensions whose means vary most over the test images: the most informative pair. */
function widestDims(mu, n, latent) {
  const v = Array.from({ length: latent }, (_, d) => {
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      s += mu[i * latent + d];
      s2 += mu[i * latent + d] ** 2;
    }
    return { d, v: s2 / n - (s / n) ** 2 };
  });
  v.sort((a, b) => b.v - a.v);
  return latent === 1 ? [0, 0] : [v[0].d, v[1].d];
}

function prepareLatent() {
  const latent = state.model.latent;
  state.plotIdx = plotIndices(state.test.n, PLOT_POINTS);
  const n = state.plotIdx.length;
  state.mu = encodeMeans(state.plotIdx);
  state.zMean = new Float32Array(latent);
  for (let i = 0; i < n; i++) for (let d = 0; d < latent; d++) state.zMean[d] += state.mu[i * latent + d] / n;
  state.dims = widestDims(state.mu, n, latent);
  for (const [axis, id] of [[0, 'dim-x'], [1, 'dim-y']]) {
    const sel = $(id);
    sel.replaceChildren(...Array.from({ length: latent }, (_, d) => new Option(`z${d}`, String(d))));
    sel.value = String(state.dims[axis]);
  }
  state.tsne = null;
  state.tsneWorker?.terminate();
  state.tsneWorker = null;
  if (state.view === 'tsne') startTsne();
}

/** The x, y of every plotted point in the current view. */
function viewPoints() {
  const n = state.plotIdx.length;
  if (state.view === 'tsne' && state.tsne) return state.tsne;
  const latent = state.model.latent;
  const [dx, dy] = state.dims;
  const p = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    p[2 * i] = state.mu[i * latent + dx];
    p[2 * i + 1] = state.mu[i * latent + dy];
  }
  return p;
}

function drawLatent() {
  const canvas = $('latent');
  const ctx = canvas.getContext('2d');
  const labels = state.plotIdx.map((i) => state.test.labels[i]);
  const n = state.plotIdx.length;
  const tsneView = state.view === 'tsne' && state.tsne;
  const title = tsneView ? `t-SNE of the latent means of ${n} test images` : `Latent means of ${n} test images: z${state.dims[0]} and z${state.dims[1]}`;
  state.layout = drawScatter(ctx, viewPoints(), labels, { width: canvas.width, height: canvas.height, title });
  state.plotImage = ctx.getImageData(0, 0, canvas.width, canvas.height);
  $('latent-info').textContent = tsneView
    ? 'The point under the pointer decodes a blend of the latent means of its nearest plotted neighbours (t-SNE has no inverse).'
    : `The point under the pointer sets z${state.dims[0]} and z${state.dims[1]}; the other ${state.model.latent - 2 > 0 ? state.model.latent - 2 : 0} dimensions stay at the test images' average.`;
  if (state.cursor) drawCursor();
}

function drawCursor() {
  const ctx = $('latent').getContext('2d');
  ctx.putImageData(state.plotImage, 0, 0);
  const [cx, cy] = state.cursor;
  ctx.save();
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(cx, cy, 6, 0, 2 * Math.PI);
  ctx.moveTo(cx - 10, cy);
  ctx.lineTo(cx + 10, cy);
  ctx.moveTo(cx, cy - 10);
  ctx.lineTo(cx, cy + 10);
  ctx.stroke();
  ctx.restore();
}

/** The latent vector for a point of the plot (canvas pixels). */
function zAt(cx, cy) {
  const latent = state.model.latent;
  const [x, y] = state.layout.toData(cx, cy);
  if (!(state.view === 'tsne' && state.tsne)) {
    const z = Float32Array.from(state.zMean);
    z[state.dims[0]] = x;
    z[state.dims[1]] = y;
    return z;
  }
  // Inverse-square-distance blend of the 8 nearest points' means: a plotted point itself decodes its own mean.
  const p = state.tsne;
  const n = p.length / 2;
  const near = [];
  for (let i = 0; i < n; i++) {
    const d2 = (p[2 * i] - x) ** 2 + (p[2 * i + 1] - y) ** 2;
    if (near.length < 8 || d2 < near[near.length - 1].d2) {
      near.push({ i, d2 });
      near.sort((a, b) => a.d2 - b.d2);
      if (near.length > 8) near.pop();
    }
  }
  const z = new Float32Array(latent);
  let total = 0;
  for (const { i, d2 } of near) {
    const w = 1 / (d2 + 1e-12);
    total += w;
    for (let d = 0; d < latent; d++) z[d] += w * state.mu[i * latent + d];
  }
  for (let d = 0; d < latent; d++) z[d] /= total;
  return z;
}

let pendingPoint = null;
/** Decode the point at canvas pixels (cx, cy), once per animation frame at most. */
function pointAt(cx, cy) {
  const plot = state.layout?.plot;
  if (!state.model || !plot) return;
  const x = Math.min(Math.max(cx, plot.x), plot.x + plot.width);
  const y = Math.min(Math.max(cy, plot.y), plot.y + plot.height);
  if (pendingPoint === null) requestAnimationFrame(() => decodePoint(...pendingPoint));
  pendingPoint = [x, y];
}

function decodePoint(cx, cy) {
  pendingPoint = null;
  state.cursor = [cx, cy];
  drawCursor();
  const z = zAt(cx, cy);
  const t0 = performance.now();
  const image = decode(z, 1);
  const ms = performance.now() - t0;
  state.decodeMs.push(ms);
  if (state.decodeMs.length > 200) state.decodeMs.shift();
  drawImages('decoded', image, 1, { scale: 5, pad: 0 });
  const sorted = [...state.decodeMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  $('decode-info').textContent = `decoded in ${ms.toFixed(1)} ms (median ${median.toFixed(1)} ms over the last ${sorted.length})`;
}

function canvasPoint(canvas, e) {
  const r = canvas.getBoundingClientRect();
  return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
}

function startTsne() {
  if (state.tsne || state.tsneWorker || !state.model) return;
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.tsneWorker = w;
  const n = state.plotIdx.length;
  const name = state.modelName;
  setStatus(`${name}: t-SNE of ${n} points: starting…`);
  let kl = NaN; // the last KL(P || Q) reported; the worker reports the last iteration's too
  w.onmessage = (e) => {
    if (state.tsneWorker !== w) return; // a model change made this one stale
    const m = e.data;
    if (m.type === 'tsne-progress') {
      kl = m.kl;
      setStatus(`${name}: t-SNE of ${n} points: iteration ${m.iteration} of ${TSNE_ITERATIONS} (KL ${kl.toFixed(3)})`);
    } else if (m.type === 'tsne') {
      state.tsne = m.points;
      state.tsneWorker = null;
      w.terminate();
      setStatus(`${name}: t-SNE of ${n} points done (KL ${kl.toFixed(3)}).`);
      drawLatent();
    } else if (m.type === 'error') showError(`t-SNE failed: ${m.message}`);
  };
  w.onerror = (e) => showError(`t-SNE worker: ${e.message}`);
  w.postMessage({ type: 'tsne', mu: state.mu, n, latent: state.model.latent, iterations: TSNE_ITERATIONS, perplexity: 30 });
}

// ---------------------------------------------------------------------------------------------
// Interpolation

function clampIndex(input) {
  const v = Math.min(Math.max(Math.round(Number(input.value) || 0), 0), state.test.n - 1);
  input.value = String(v);
  return v;
}

function prepareInterp() {
  const a = clampIndex($('from'));
  const b = clampIndex($('to'));
  const mu = encodeMeans([a, b]);
  const latent = state.model.latent;
  state.interp = { a, b, muA: mu.subarray(0, latent), muB: mu.subarray(latent) };
  drawInterp();
}

/** Test image A, the decoded point at t, test image B; below them the line from A to B in 9 steps. */
function drawInterp() {
  const { a, b, muA, muB } = state.interp;
  const t = Number($('t').value) / 100;
  $('t-value').value = t.toFixed(2);
  const line = (s) => muA.map((v, d) => (1 - s) * v + s * muB[d]);
  const px = state.test.pixels;
  const ctx = $('interp').getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, $('interp').width, $('interp').height);
  drawImageGrid(ctx, px.subarray(a * PIXELS, (a + 1) * PIXELS), 1, 28, 28, { scale: 4, pad: 0, x: 8, y: 8 });
  drawImageGrid(ctx, decode(line(t), 1), 1, 28, 28, { scale: 4, pad: 0, x: 136, y: 8 });
  drawImageGrid(ctx, px.subarray(b * PIXELS, (b + 1) * PIXELS), 1, 28, 28, { scale: 4, pad: 0, x: 264, y: 8 });
  const steps = 9;
  const z = new Float32Array(steps * state.model.latent);
  for (let k = 0; k < steps; k++) z.set(line(k / (steps - 1)), k * state.model.latent);
  drawImageGrid(ctx, decode(z, steps), steps, 28, 28, { cols: steps, scale: 2, pad: 4, x: 4, y: 128 });
}

// ---------------------------------------------------------------------------------------------
// Models

/**
 * Show a model from safetensors bytes, with `status` on the status line (a t-SNE for the new
 * model reports there after it); a file that does not load leaves the page as it was and says why.
 */
function useModel(bytes, name, status) {
  let model;
  try {
    model = vaeFromSafetensors(bytes, name);
  } catch (e) {
    showError(`Could not load ${name}: ${message(e)}`);
    return false;
  }
  clearError();
  setStatus(status);
  state.model = model;
  state.modelName = name;
  state.modelBytes = bytes;
  const params = model.parameters().reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  $('model-info').textContent = `${name}: ${model.kind === 'conv' ? 'convolutional' : 'MLP'} VAE, latent ${model.latent}, ${params.toLocaleString('en')} parameters.`;
  for (const id of ['sample', 'download', 't', 'train']) $(id).disabled = state.training && id === 'train';
  drawSamples();
  prepareLatent();
  drawLatent();
  prepareInterp();
  return true;
}

async function loadFile(file) {
  if (state.training) {
    showError('Stop the training run before loading another model.');
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  useModel(bytes, file.name, `Loaded ${file.name}.`);
}

function download() {
  const m = state.model;
  // Only the state_dict, with the metadata the CLI reads: what PyTorch's load_state_dict takes.
  const bytes = vg.stateDictToSafetensors(m.stateDict(), { format: 'pt', model: m.kind, latent: String(m.latent) });
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'model.safetensors';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------------------------------------
// Training (in worker.js)

function drawLoss() {
  const canvas = $('loss');
  const series = [{ name: 'loss per step (BCE + KL per image)', values: state.losses.map((p) => p.loss), x: state.losses.map((p) => p.x) }];
  drawLossCurve(canvas.getContext('2d'), series, { width: canvas.width, height: canvas.height, xLabel: 'epoch', yLabel: 'loss' });
}

/** 'wasm backend (simd kernels), 1 thread' from what getBackendInfo() reported. */
function describeEngine(info, threads) {
  threads = info.threads ?? threads;
  return `${info.name} backend${info.kernels ? ` (${info.kernels} kernels)` : ''}, ${threads} thread${threads === 1 ? '' : 's'}`;
}

function showEngine() {
  const page = describeEngine(vg.getBackendInfo(), typeof vg.getNumThreads === 'function' ? vg.getNumThreads() : 1);
  const worker = state.workerEngine ? describeEngine(state.workerEngine.info, state.workerEngine.threads) : 'loading…';
  $('engine').textContent = `vaegrad on this page: ${page}; in the training worker: ${worker}. `
    + `The page is ${self.crossOriginIsolated ? '' : 'not '}cross-origin isolated.`;
}

let lossFrame = false;
function onTrainMessage(e) {
  const m = e.data;
  if (m.type === 'engine') {
    state.workerEngine = { info: m.info, threads: m.threads };
    showEngine();
  } else if (m.type === 'status') $('train-status').textContent = m.text;
  else if (m.type === 'step') {
    state.losses.push({ x: m.epoch + m.step / m.total, loss: m.loss });
    if (!lossFrame) {
      lossFrame = true;
      requestAnimationFrame(() => {
        lossFrame = false;
        drawLoss();
      });
    }
  } else if (m.type === 'epoch') {
    state.epochs.push({ epoch: m.epoch, loss: m.loss, bce: m.bce, kl: m.kl, seconds: m.seconds, imagesPerSecond: m.images / m.seconds });
    drawImages('train-samples', m.samples, 16, { cols: 4, scale: 2, pad: 2 });
    $('train-status').textContent = epochText(state.epochs.at(-1));
  } else if (m.type === 'done') {
    finishTraining();
    const name = `trained in this tab (epoch ${m.epoch})`;
    useModel(m.checkpoint, name, m.stopped ? `Training stopped: showing the model ${name}.` : `Training done: showing the model ${name}.`);
    // The last finished epoch of this run (if any), then how it ended: never an in-progress line.
    const last = state.epochs.at(-1);
    $('train-status').textContent = `${last ? `${epochText(last)} ` : ''}${m.stopped ? 'Stopped; the model shown is where training stopped.' : 'Done; the model shown is the trained one.'}`;
  } else if (m.type === 'error') {
    finishTraining();
    setStatus('Training failed (see the error above); the model shown is the one from before.');
    $('train-status').textContent = 'Training failed.';
    showError(`Training failed: ${m.message}`);
  }
}

function epochText(e) {
  return `epoch ${e.epoch}: loss ${e.loss.toFixed(2)} (BCE ${e.bce.toFixed(2)} + KL ${e.kl.toFixed(2)}), ${e.seconds.toFixed(1)} s, ${Math.round(e.imagesPerSecond)} images/s.`;
}

function finishTraining() {
  state.training = false;
  $('train').disabled = false;
  $('stop').disabled = true;
  $('file').disabled = false;
}

/** The training worker, started with the page (it loads the package and compiles the kernels before the first run, and reports its engine). */
function startTrainWorker() {
  if (state.trainWorker) return;
  state.trainWorker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.trainWorker.onmessage = onTrainMessage;
  state.trainWorker.onerror = (e) => {
    finishTraining();
    showError(`Training worker: ${e.message}`);
  };
}

function startTraining() {
  const from = $('train-from').value;
  if (from === 'continue' && !state.model) {
    showError('No model to continue from: load one, or choose "from scratch".');
    return;
  }
  clearError();
  startTrainWorker();
  setStatus(`Training in this tab (${from === 'scratch' ? 'from scratch' : `from ${state.modelName}`}): progress below.`);
  state.training = true;
  state.losses = [];
  state.epochs = [];
  $('train').disabled = true;
  $('stop').disabled = false;
  $('file').disabled = true;
  const num = (id, lo) => Math.max(lo, Math.round(Number($(id).value) || lo));
  state.trainWorker.postMessage({
    type: 'train', from, bytes: state.modelBytes?.slice(), name: state.modelName,
    kind: state.model?.kind ?? 'conv', latent: state.model?.latent ?? 20,
    epochs: num('epochs', 1), images: num('train-images', 16), batchSize: num('batch-size', 1),
  });
}

// ---------------------------------------------------------------------------------------------
// Wiring

function wire() {
  $('sample').addEventListener('click', drawSamples);
  $('download').addEventListener('click', download);
  $('file').addEventListener('change', (e) => {
    const file = e.target.files[0];
    e.target.value = '';
    if (file) loadFile(file);
  });
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const file = e.dataTransfer?.files[0];
    if (file) loadFile(file);
  });

  const latent = $('latent');
  latent.addEventListener('pointermove', (e) => pointAt(...canvasPoint(latent, e)));
  latent.addEventListener('focus', () => {
    if (!state.cursor && state.layout) pointAt(state.layout.plot.x + state.layout.plot.width / 2, state.layout.plot.y + state.layout.plot.height / 2);
  });
  latent.addEventListener('keydown', (e) => {
    const step = e.shiftKey ? 20 : 4;
    const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
    if (!d || !state.cursor) return;
    e.preventDefault();
    pointAt(state.cursor[0] + d[0], state.cursor[1] + d[1]);
  });
  $('view').addEventListener('change', (e) => {
    state.view = e.target.value;
    if (state.view === 'tsne') startTsne();
    drawLatent();
  });
  for (const [axis, id] of [[0, 'dim-x'], [1, 'dim-y']]) {
    $(id).addEventListener('change', (e) => {
      state.dims[axis] = Number(e.target.value);
      drawLatent();
    });
  }
  $('t').addEventListener('input', drawInterp);
  for (const id of ['from', 'to']) $(id).addEventListener('change', prepareInterp);
  $('train').addEventListener('click', startTraining);
  $('stop').addEventListener('click', () => state.trainWorker?.postMessage({ type: 'stop' }));
}

/** Register sw.js, which saves the page, the package and the data, and say how that went. */
async function saveForOffline() {
  const say = (text) => { $('offline').textContent = text; };
  if (!('serviceWorker' in navigator)) return say('This browser cannot save the page for offline use (no service workers here).');
  try {
    const reg = await navigator.serviceWorker.register('sw.js');
    const installing = reg.installing ?? reg.waiting;
    if (installing) {
      say('Saving the page, the package and the data for offline use…');
      installing.addEventListener('statechange', () => {
        if (installing.state === 'redundant') say('Could not save the page for offline use (the service worker did not install).');
      });
    }
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((ok) => navigator.serviceWorker.addEventListener('controllerchange', ok, { once: true }));
    }
    say('Saved for offline use: with the server stopped, reloading this page still works.');
  } catch (e) {
    say(`Could not save the page for offline use: ${message(e)}`);
  }
}

async function start() {
  wire();
  await vg.setBackend('wasm');
  showEngine();
  startTrainWorker();
  saveForOffline(); // in the background: the page works without it
  const [config, test] = await Promise.all([fetchConfig(), fetchImages('test')]);
  state.test = test;
  for (const id of ['from', 'to']) $(id).max = String(test.n - 1);
  $('to').value = String(Math.min(test.n - 1, Math.floor(test.n / 2) + 1)); // another digit than image 0
  $('train').disabled = false;
  // Served from the copy saved for offline use: say so, so that nobody wonders why a retrained checkpoint does not show.
  const offline = config.offline ? ' The server is not reachable: this is the copy saved for offline use.' : '';
  if (config.model) {
    setStatus(`Loading ${config.model.file}…`);
    useModel(await fetchBytes('../checkpoint.safetensors'), config.model.file, `Loaded ${config.model.file} (${test.n} ${config.data} test images).${offline}`);
  } else {
    setStatus(`No checkpoint was served: drop a model.safetensors on the page, or train one below (${test.n} ${config.data} test images).${offline}`);
  }
}

/** The console and test API. */
window.explorer = {
  ready: start().then(() => true, (e) => {
    showError(`The explorer could not start: ${message(e)}`);
    return false;
  }),
  get model() { return state.model; },
  get modelName() { return state.modelName; },
  get decodeMs() { return [...state.decodeMs]; },
  get losses() { return state.losses.map((p) => p.loss); },
  /** Per epoch of the last training run: { epoch, loss, bce, kl, seconds, imagesPerSecond } (seconds of training, samples excluded). */
  get epochs() { return state.epochs.map((e) => ({ ...e })); },
  get training() { return state.training; },
  get view() { return state.view; },
  get hasTsne() { return state.tsne !== null; },
  /** The t-SNE embedding (x, y per plotted point, in plot order), or null before it is computed. */
  get tsnePoints() { return state.tsne && Array.from(state.tsne); },
  /** Decode latent vectors (an array of n * latent numbers) with the current model. */
  decode: (z) => Array.from(decode(z, z.length / state.model.latent)),
  /** Every plotted point: its test image index, label, and where it is drawn on the latent canvas (canvas pixels). */
  plotPoints() {
    const p = viewPoints();
    return Array.from(state.plotIdx, (index, i) => {
      const [cx, cy] = state.layout.toCanvas(p[2 * i], p[2 * i + 1]);
      return { index, label: state.test.labels[index], cx, cy };
    });
  },
  /** Test image i of the served subset (784 values in [0, 1]). */
  testImage: (i) => Array.from(state.test.pixels.subarray(i * PIXELS, (i + 1) * PIXELS)),
  get plotSize() { return state.plotIdx?.length ?? 0; },
};
