#!/usr/bin/env node
// Where the calling thread's JavaScript goes in a training step of the reference ConvVAE (batch
// 128, wasm, one thread by default): per op (each Function's forward through apply, and its
// backward), and per phase of the step outside ops (the model's forward around its ops: module
// calls, each op's checks and set-up before apply; the loss; zeroGrad; the autograd engine;
// Adam; item), each exclusive of the kernel calls and of the ops nested in it. Kernel calls are
// WasmContext.launch / run: at one thread they run their chunks inline, so their time, job set-up
// included, is the kernels' row. With threads, that JavaScript is what the workers cannot share
// (bench/amdahl.mjs: the calling thread's part of a step).
//
//   npm run build && node bench/op-js.mjs [steps=20]

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

process.env.VAEGRAD_THREADS ??= '1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist/src', p)).href);
const vg = await dist('index.js');
const { Function: OpFunction } = await dist('autograd/function.js');
const { WasmContext } = await dist('backend/wasm/context.js');
const { ConvVAE, vaeLoss } = await dist('vae/index.js');
await vg.setBackend('wasm');

const steps = Number(process.argv[2] ?? 20);
const model = new ConvVAE({ latent: 20 });
const opt = new vg.optim.Adam(model.parameters(), { lr: 1e-3 });
const x = vg.tensor(Float32Array.from({ length: 128 * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898)), { shape: [128, 1, 28, 28] });

let on = false;
/** Open timings, innermost last: each collects the time of those nested in it, to leave out of its own. */
const stack = [];
const table = new Map(); // name -> [ms, calls]
function timed(name, f) {
  if (!on) return f();
  const frame = { start: performance.now(), nested: 0 };
  stack.push(frame);
  try {
    return f();
  } finally {
    stack.pop();
    const ms = performance.now() - frame.start;
    const e = table.get(name) ?? [0, 0];
    e[0] += ms - frame.nested;
    e[1]++;
    table.set(name, e);
    if (stack.length > 0) stack[stack.length - 1].nested += ms;
  }
}

const KERNELS = 'kernel calls (launch / run, job set-up included)';
for (const m of ['launch', 'run']) {
  const f = WasmContext.prototype[m];
  WasmContext.prototype[m] = function (job) { return timed(KERNELS, () => f.call(this, job)); };
}
// every op goes through the static apply; each op class's backward is wrapped when first seen
const apply = OpFunction.apply;
const seen = new Set();
OpFunction.apply = function (...args) {
  const cls = this;
  if (!seen.has(cls)) {
    seen.add(cls);
    const backward = cls.prototype.backward;
    cls.prototype.backward = function (g) { return timed(`backward ${cls.name}`, () => backward.call(this, g)); };
  }
  return timed(`forward ${cls.name}`, () => apply.apply(cls, args));
};

function step() {
  timed('(step: model.train())', () => model.train());
  const out = timed('(step: the model\'s forward around its ops)', () => model.forward(x));
  const { loss } = timed('(step: the loss around its ops)', () => vaeLoss(out.logits, x, out.mu, out.logvar, 1));
  timed('(step: zeroGrad)', () => opt.zeroGrad());
  timed('(step: the autograd engine)', () => loss.backward());
  timed('(step: Adam around its kernels)', () => opt.step());
  timed('(step: loss.item())', () => loss.item());
}

for (let i = 0; i < 4; i++) step();
on = true;
const t0 = performance.now();
for (let i = 0; i < steps; i++) timed('(step: the rest)', step);
const stepMs = (performance.now() - t0) / steps;
const rows = [...table].map(([name, [ms, calls]]) => [name, ms / steps, calls / steps]).sort((a, b) => b[1] - a[1]);
const js = rows.reduce((s, [name, ms]) => (name === KERNELS ? s : s + ms), 0);
console.log(`one step ${stepMs.toFixed(1)} ms at ${vg.getNumThreads()} thread(s); JavaScript outside kernel calls ${js.toFixed(1)} ms\n`);
console.log('| where | ms per step | calls per step |\n|---|---:|---:|');
for (const [name, ms, calls] of rows) console.log(`| ${name} | ${ms.toFixed(2)} | ${calls} |`);
process.exit(0);
