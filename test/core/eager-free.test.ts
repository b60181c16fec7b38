// Freeing without the user, on the wasm backend in debug mode (freed blocks NaN-filled, every
// kernel input checked): the autograd engine frees the gradients it consumed, never a tensor the
// user can reach; intermediates only the graph reaches (Sequential's, those inside library ops)
// are freed when no Function saved them, else once backward has run with the graph released;
// the FinalizationRegistry frees what the user dropped; and a use after free or
// a double free throws. The use-after-free property test runs random graphs with kept
// intermediates and views, user gradients and a user Function that keeps its gradient, then
// backward, forced GC and allocation churn, and compares every kept value byte for byte.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

process.env.VAEGRAD_WASM_DEBUG = '1'; // read when the wasm backend is created, at its first use below
import * as vg from '../../src/index.js';
import { settle } from './gc.js';
import { WasmBackend } from '../../src/backend/wasm/backend.js';
import { bornAfter, fromStorage, lastStorageSerial, releaseStorageOf } from '../../src/tensor.js';
import { currentBackend } from '../../src/backend/registry.js';
import type { WasmStorage } from '../../src/backend/wasm/memory/storage.js';
import * as composite from '../../src/backend/composite.js';


beforeAll(async () => {
  await vg.setBackend('wasm');
  expect((vg.memoryStats().backend)).toBe('wasm');
});
afterAll(() => vi.restoreAllMocks());

/** A user's Function that keeps every gradient it is given and every gradient it returns. */
const stash: vg.Tensor[] = [];
class KeepingDouble extends vg.Function {
  forward(x: vg.Tensor): vg.Tensor {
    return x.mul(2);
  }
  backward(g: vg.Tensor): vg.Tensor[] {
    const out = g.mul(2);
    stash.push(g, out);
    return [out];
  }
}

type Step = { kind: 'unary' | 'scale' | 'add' | 'mul' | 'self' | 'view' | 'transpose' | 'narrow' | 'user' | 'matmul'; a: number; b: number; keep: boolean };

const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom('unary', 'scale', 'add', 'mul', 'self', 'view', 'transpose', 'narrow', 'user', 'matmul'),
  a: fc.nat(50),
  b: fc.nat(50),
  keep: fc.boolean(),
});

/** Runs a random program of [4, 4] tensors; returns the root and what the user kept (with snapshots). */
function program(steps: Step[], seed: number, leaves: vg.Tensor[]): { root: vg.Tensor; kept: { t: vg.Tensor; bytes: Float32Array }[] } {
  const pool: vg.Tensor[] = [...leaves];
  const kept: { t: vg.Tensor; bytes: Float32Array }[] = [];
  const unaries = [(x: vg.Tensor) => x.tanh(), (x: vg.Tensor) => x.sigmoid(), (x: vg.Tensor) => x.relu(), (x: vg.Tensor) => x.exp().mul(0.1)];
  for (const s of steps) {
    const x = pool[s.a % pool.length]!;
    const y = pool[s.b % pool.length]!;
    let r: vg.Tensor;
    switch (s.kind) {
      case 'unary': r = unaries[(s.a + seed) % unaries.length]!(x); break;
      case 'scale': r = x.mul(0.5 + (s.b % 3)); break;
      case 'add': r = x.add(y); break;
      case 'mul': r = x.mul(y); break;
      case 'self': r = x.add(x); break; // one gradient handed to both inputs
      case 'view': r = x.reshape([2, 8]).reshape([4, 4]); break;
      case 'transpose': r = x.transpose(0, 1); break;
      case 'narrow': r = x.narrow(0, 1, 2).reshape([8]).reshape([2, 4]).unsqueeze(0).expand([2, 2, 4]).reshape([4, 4]); break;
      case 'user': r = KeepingDouble.apply(x); break;
      default: r = x.matmul(y).mul(0.25);
    }
    pool.push(r);
    if (s.keep) kept.push({ t: r, bytes: r.dataSync() as Float32Array });
  }
  return { root: pool[pool.length - 1]!, kept };
}

const bytesOf = (t: vg.Tensor): Uint8Array => new Uint8Array((t.dataSync() as Float32Array).buffer);

describe('eager frees and the finalizer backstop (wasm, debug mode)', () => {
  it('the engine frees consumed gradients', () => {
    const spy = vi.spyOn(WasmBackend.prototype, 'release');
    const x = vg.randn([1000], { generator: new vg.Generator(1) }).requiresGrad_();
    x.mul(2).exp().mul(3).tanh().sum().backward();
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(4);
    expect(x.grad!.dataSync().every((v) => Number.isFinite(v))).toBe(true);
    spy.mockRestore();
  });

  it('the composite (unfused) kernels release their intermediates, and give the fused kernel\'s bits', () => {
    const b = vg.getBackend() === 'wasm' ? (currentBackend() as WasmBackend) : null;
    expect(b).not.toBeNull();
    const gen = new vg.Generator(5);
    const st = (shape: number[]) => b!.fromArray(vg.randn(shape, { generator: gen }).dataSync() as Float32Array);
    const g = { n: 3, c: 4, s: 25 };
    const [x, mean, weight, bias] = [st([300]), st([4]), st([4]), st([4])];
    const invstd = b!.fromArray(new Float32Array([1, 2, 0.5, 1.5]));
    const spy = vi.spyOn(WasmBackend.prototype, 'release');
    const viaComposite = b!.readSync(composite.batchNormRelu(b!, x, mean, invstd, weight, bias, g));
    expect(spy.mock.calls.length).toBe(1);
    expect(viaComposite).toEqual(b!.readSync(b!.batchNormReluForward(x, mean, invstd, weight, bias, g)));
    spy.mockRestore();
  });

  it("a storage's birth is its first tensor from an op: a later tensor over it does not make it newer than a mark", () => {
    const old = vg.ones([3]).mul(2);
    const mark = lastStorageSerial();
    expect(bornAfter(old.storage, mark)).toBe(false);
    fromStorage(old.storage, [3]); // a second tensor over the same storage, after the mark
    expect(bornAfter(old.storage, mark)).toBe(false);
    const fresh = old.add(1);
    expect(bornAfter(fresh.storage, mark)).toBe(true);
    expect(bornAfter(currentBackend().fromArray(new Float32Array(3)), 0)).toBe(false); // never given to fromStorage
  });

  it('use after free and double free throw', () => {
    const t = vg.ones([16]).mul(3);
    const v = t.reshape([4, 4]);
    releaseStorageOf(t);
    expect(() => v.add(1)).toThrow(/use after free/);
    expect(() => t.dataSync()).toThrow(/use after free/);
    expect(() => releaseStorageOf(v)).toThrow(/double free/);
  });

  it('random graphs: every tensor the user kept (intermediates, views, gradients given, a user Function\'s gradients, .grad) survives backward, GC and churn byte for byte', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 1000 }), fc.boolean(), async (steps, seed, givenGrad) => {
        stash.length = 0;
        const gen = new vg.Generator(seed);
        const leaves = [vg.randn([4, 4], { generator: gen }).requiresGrad_(), vg.randn([4, 4], { generator: gen }).requiresGrad_(), vg.randn([4, 4], { generator: gen })];
        const { root, kept } = program(steps, seed, leaves);
        if (!root.requiresGrad) return;
        const grad = givenGrad ? vg.randn(root.shape as number[], { generator: gen }) : undefined;
        const gradBytes = grad ? bytesOf(grad) : null;
        if (grad) root.backward(grad);
        else root.sum().backward();
        const stashed = stash.map((t) => ({ t, bytes: bytesOf(t) }));
        const grads = leaves.map((l) => (l.grad ? bytesOf(l.grad) : null));
        // the same program on the js backend gives the reference gradients
        await settle();
        for (let i = 0; i < 20; i++) vg.randn([64, 64], { generator: gen }).matmul(vg.randn([64, 64], { generator: gen })).relu(); // churn: reuse freed blocks
        await settle();
        kept.forEach(({ t, bytes }) => expect(new Uint8Array((t.dataSync() as Float32Array).buffer)).toEqual(new Uint8Array(bytes.buffer)));
        stashed.forEach(({ t, bytes }) => expect(bytesOf(t)).toEqual(bytes));
        if (grad) expect(bytesOf(grad)).toEqual(gradBytes);
        leaves.forEach((l, i) => {
          if (grads[i]) expect(bytesOf(l.grad!)).toEqual(grads[i]);
          expect(bytesOf(l).length).toBe(64);
        });
        runs++;
      }),
      { numRuns: 40, seed: 10 },
    );
    expect(runs).toBeGreaterThan(10);
  });

  it('grad() results and retained gradients are never freed', () => {
    const x = vg.randn([8], { generator: new vg.Generator(3) }).requiresGrad_();
    const h = x.mul(3);
    h.retainsGrad = true;
    const y = h.tanh();
    const [gx] = vg.autograd.grad(y.sum(), x, { retainGraph: true });
    y.sum().backward();
    const snapshot = [bytesOf(gx!), bytesOf(h.grad!), bytesOf(x.grad!)];
    for (let i = 0; i < 20; i++) vg.randn([32, 32]).exp();
    expect([bytesOf(gx!), bytesOf(h.grad!), bytesOf(x.grad!)]).toEqual(snapshot);
  });

  it('Sequential frees its intermediates in inference, never its input, its output or a view of its input; in a graph, those no Function saved', () => {
    const gen = new vg.Generator(4);
    const net = new vg.nn.Sequential(new vg.nn.Flatten(), new vg.nn.Identity(), new vg.nn.Linear(12, 16), new vg.nn.ReLU(), new vg.nn.Dropout(0.5),
      new vg.nn.Linear(16, 6), new vg.nn.Tanh(), new vg.nn.Unflatten(1, [2, 3]));
    net.eval();
    const x = vg.randn([5, 3, 4], { generator: gen });
    const xBytes = bytesOf(x);
    const byLayers = vg.noGrad(() => {
      let h = x;
      for (let i = 0; i < net.length; i++) h = net.at(i).forward(h);
      return bytesOf(h);
    });
    const spy = vi.spyOn(WasmBackend.prototype, 'release');
    const y = vg.noGrad(() => net.forward(x));
    // the first Linear's output, the ReLU's (passed on by Dropout), the second Linear's; the Tanh's
    // is the output's storage (Unflatten views it). (A Linear adds its bias to the product's tiles
    // in the kernel, ops/linear.ts: no product before its bias to free.)
    expect(spy.mock.calls.length).toBe(3);
    expect(bytesOf(y)).toEqual(byLayers);
    expect(bytesOf(x)).toEqual(xBytes);
    spy.mockClear();
    // Parameters need gradients: what a Function saved waits for backward (the first Linear's output
    // for the ReLU, the ReLU's for the second Linear); the second Linear's output (the Tanh saves
    // its own output) is freed at once.
    const yg = net.forward(x);
    expect(spy.mock.calls.length).toBe(1);
    yg.sum().backward();
    expect(bytesOf(yg)).toEqual(byLayers);
    expect(bytesOf(x)).toEqual(xBytes);
    spy.mockRestore();
  });

  /** A small conv net in training mode (batch norm with batch statistics, a fused BN-ReLU-pool, dropout). */
  function convNet(): vg.nn.Sequential {
    vg.manualSeed(11);
    const { nn } = vg;
    return new nn.Sequential(
      new nn.Conv2d(2, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.Linear(4 * 3 * 3, 10), new nn.BatchNorm1d(10), new nn.ReLU(), new nn.Dropout(0.3),
      new nn.Linear(10, 8), new nn.Tanh(), new nn.Linear(8, 3),
    ).train();
  }

  /** The tensors a graph reaches from t (through gradFn.inputs), t excluded: inside a Sequential, none the user was handed. */
  function reached(t: vg.Tensor): vg.Tensor[] {
    const out = new Set<vg.Tensor>();
    const stack = [t];
    while (stack.length) {
      for (const p of (stack.pop()!.gradFn as vg.Function | null)?.inputs ?? []) {
        if (!out.has(p)) {
          out.add(p);
          stack.push(p);
        }
      }
    }
    return [...out];
  }
  const freed = (t: vg.Tensor): boolean => (t.storage as WasmStorage).slot.freed;
  const float32 = (ts: vg.Tensor[]): vg.Tensor[] => ts.filter((t) => t.dtype === 'float32');

  it('saved intermediates of library ops and Sequential are freed once backward has run with the graph released, not with retainGraph', () => {
    const net = convNet();
    const params = net.parameters();
    const x = vg.randn([6, 2, 6, 6], { generator: new vg.Generator(2) });
    const userStorage = new Set([x, ...params, ...net.buffers()].map((t) => t.storage));
    // Reference gradients with every intermediate held by the user (so nothing of them is internal).
    const ref = (() => {
      vg.manualSeed(5);
      let h = x;
      const held: vg.Tensor[] = [];
      for (let i = 0; i < net.length; i++) held.push((h = net.at(i).forward(h)));
      net.zeroGrad();
      h.square().sum().backward();
      return { out: bytesOf(h), grads: params.map((p) => bytesOf(p.grad!)), held: held.map((t) => [t, bytesOf(t)] as const) };
    })();
    expect(ref.held.every(([t, b]) => expect(bytesOf(t)).toEqual(b) && true)).toBe(true);

    net.zeroGrad();
    vg.manualSeed(5); // the same dropout mask
    const out = net.forward(x);
    const loss = out.square().sum();
    const internal = float32(reached(out)).filter((t) => !userStorage.has(t.storage));
    // the layers' outputs and the products inside the Linears, batch norm's statistics, dropout's mask...
    expect(internal.length).toBeGreaterThanOrEqual(12);
    const waiting = internal.filter((t) => !freed(t)); // those a Function saved (the rest were freed in forward)
    expect(waiting.length).toBeGreaterThanOrEqual(8);

    loss.backward(undefined, { retainGraph: true });
    expect(waiting.filter(freed)).toEqual([]);
    loss.backward(); // through the retained graph again, releasing it: the gradients sum
    expect(waiting.filter((t) => !freed(t))).toEqual([]);

    expect(bytesOf(out)).toEqual(ref.out);
    params.forEach((p, i) => {
      const once = new Float32Array(ref.grads[i]!.buffer);
      expect(bytesOf(p.grad!), `parameter ${i}`).toEqual(new Uint8Array(once.map((v) => v + v).buffer));
    });
    expect([x, loss, out, ...params, ...params.map((p) => p.grad!), ...net.buffers()].some((t) => t.dtype === 'float32' && freed(t))).toBe(false);

    // In a synchronous loop (no finalizer runs), a step's resident tensor data right after backward:
    // the same steps with retainGraph hold the saved intermediates on top.
    const grown = (retainGraph: boolean): { bytes: number; blocks: number } => {
      const s0 = vg.memoryStats();
      for (let i = 0; i < 3; i++) {
        net.zeroGrad();
        net.forward(x).square().sum().backward(undefined, { retainGraph });
      }
      const s1 = vg.memoryStats();
      return { bytes: s1.tensorBytes! - s0.tensorBytes!, blocks: s1.tensorBlocks! - s0.tensorBlocks! };
    };
    const [kept, released] = [grown(true), grown(false)];
    const storages = new Map(waiting.map((t) => [t.storage, t.storage.size * 4])); // a view and its base count once
    expect(kept.bytes - released.bytes).toBeGreaterThanOrEqual(3 * [...storages.values()].reduce((a, b) => a + b, 0));
    expect(kept.blocks - released.blocks).toBeGreaterThanOrEqual(3 * storages.size);
  });

  it('gradients of gradients through a Sequential (createGraph): the saved intermediates outlive every backward that reads them', () => {
    const gen = new vg.Generator(8);
    const net = new vg.nn.Sequential(new vg.nn.Linear(5, 7), new vg.nn.Tanh(), new vg.nn.Linear(7, 7), new vg.nn.Sigmoid(), new vg.nn.Linear(7, 1));
    const x = vg.randn([4, 5], { generator: gen }).requiresGrad_();
    const byLayers = (seq: boolean): Uint8Array[] => {
      let h: vg.Tensor = x;
      if (seq) h = net.forward(x);
      else for (let i = 0; i < net.length; i++) h = net.at(i).forward(h);
      const [gx] = vg.autograd.grad(h.sum(), x, { createGraph: true });
      net.zeroGrad();
      x.grad = null;
      gx!.square().sum().backward();
      return [bytesOf(gx!), ...net.parameters().map((p) => (p.grad ? bytesOf(p.grad) : null)), bytesOf(x.grad!)];
    };
    const spy = vi.spyOn(WasmBackend.prototype, 'release');
    expect(byLayers(true)).toEqual(byLayers(false));
    expect(spy.mock.calls.length).toBeGreaterThan(0);
    spy.mockRestore();
  });

  it('the finalizer frees the blocks of tensors the user dropped', async () => {
    await settle();
    const before = vg.memoryStats().tensorBlocks!;
    (() => {
      for (let i = 0; i < 50; i++) vg.ones([256]).mul(i);
    })();
    expect(vg.memoryStats().tensorBlocks!).toBeGreaterThanOrEqual(before + 50);
    await settle();
    await settle();
    expect(vg.memoryStats().tensorBlocks!).toBeLessThan(before + 10);
  });
});
