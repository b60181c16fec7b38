// Runs in headless Chromium (see browser.test.ts): imports the built library by URL, exactly as
// a page with no bundler would, and leaves its findings in window.__vaegrad (a promise).
import * as vg from '/dist/src/index.js';
import { ConvVAE, vaeLoss } from '/dist/src/vae/index.js';
// Not exported from a browser-safe entry point (yet): imported by file.
import { safetensorsToStateDict, stateDictToSafetensors } from '/dist/src/io/state-dict.js';

const arr = (t) => Array.from(t.dataSync());
const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Gradients of a small matmul and conv2d on the backend that runs, from seeded inputs. */
function grads() {
  const g = new vg.Generator(7);
  const a = vg.randn([5, 7], { generator: g, requiresGrad: true });
  const b = vg.randn([7, 3], { generator: g, requiresGrad: true });
  vg.matmul(a, b).tanh().sum().backward();
  const x = vg.randn([2, 3, 6, 6], { generator: g, requiresGrad: true });
  const w = vg.randn([4, 3, 3, 3], { generator: g, requiresGrad: true });
  const bias = vg.randn([4], { generator: g, requiresGrad: true });
  vg.F.conv2d(x, w, bias, { padding: 1, stride: 1 }).square().sum().backward();
  return { matmulA: arr(a.grad), matmulB: arr(b.grad), convX: arr(x.grad), convW: arr(w.grad), convB: arr(bias.grad) };
}

async function run() {
  const r = {};
  r.defaultBackend = vg.getBackend(); // before any await: 'js' where the main thread refuses sync compiles
  r.backends = vg.listBackends();

  await vg.setBackend('wasm');
  r.backendAfterSet = vg.getBackend();
  r.backendInfo = vg.getBackendInfo();
  r.asyncCompiles = globalThis.__asyncCompiles; // counted where the test refuses sync compiles
  const wasm = grads();
  await vg.setBackend('js');
  const js = grads();
  await vg.setBackend('wasm');
  r.grads = { wasm, js, maxDiff: Object.fromEntries(Object.keys(js).map((k) => [k, maxDiff(wasm[k], js[k])])) };

  vg.manualSeed(1);
  r.randn = arr(vg.randn([5]));

  // One training step of the conv VAE on a random batch of 4 (wasm backend).
  vg.manualSeed(0);
  const model = new ConvVAE();
  model.train();
  const opt = new vg.optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = vg.rand([4, 1, 28, 28]);
  const before = arr(model.parameters()[0]);
  const t0 = performance.now();
  const out = model.forward(x);
  const { loss } = vaeLoss(out.logits, x, out.mu, out.logvar);
  opt.zeroGrad();
  loss.backward();
  opt.step();
  r.train = { backend: vg.getBackend(), loss: loss.item(), ms: performance.now() - t0, paramMoved: maxDiff(before, arr(model.parameters()[0])) };

  // safetensors bytes round-trip in the page.
  const sd = model.stateDict();
  const bytes = stateDictToSafetensors(sd, { where: 'browser' });
  const back = safetensorsToStateDict(bytes);
  const mismatched = [...sd].filter(([k, t]) => !back.tensors.has(k) || maxDiff(arr(t), arr(back.tensors.get(k))) !== 0 || t.dtype !== back.tensors.get(k).dtype);
  r.safetensors = {
    bytes: bytes.length, isUint8Array: bytes instanceof Uint8Array, tensors: sd.size, back: back.tensors.size,
    mismatched: mismatched.map(([k]) => k), metadata: back.metadata,
    again: maxDiff(Array.from(bytes), Array.from(stateDictToSafetensors(back.tensors, back.metadata))),
  };
  // The model loads its own state dict back.
  model.loadStateDict(back.tensors);
  return r;
}

window.__vaegrad = run().then(
  (r) => ({ ok: true, ...r }),
  (e) => ({ ok: false, error: String(e && e.stack ? e.stack : e) }),
);
