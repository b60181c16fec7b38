// What a training step makes and hands to no one is freed by the step, not left to the garbage
// collector, on the wasm backend (tensor data in linear memory). Left to the collector, a step's
// dead tensors (the reference model's 6.4 MB of Linear gradients, 1.7 MB of features between its
// halves, 1.6 MB of batch, logits and per-pixel loss) stayed in wasm memory until a major
// collection and each step wrote into fresh pages (page faults inside the kernels). Each case
// holds a tensor the step made and reads it afterwards: it throws use-after-free (never a silent
// reuse), or the resident tensor bytes show it gone.

import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { ConvVAE, ImageDataset, Trainer } from '../../src/vae/index.js';
import type { Tensor } from '../../src/tensor.js';
import type { VaeOutput } from '../../src/vae/models.js';

beforeAll(async () => {
  await vg.setBackend('wasm');
});

describe('a training step frees what it made', () => {
  const n = 16;
  const pixels = new Float32Array(n * 784).map((_, i) => 0.5 + 0.5 * Math.sin(i * 12.9898));
  const train = new ImageDataset(pixels, new Int32Array(n), 'random');
  const config = { model: 'conv' as const, latent: 2, batchSize: 4, lr: 1e-3, beta: 1, seed: 3, size: { channels: [2, 4] as [number, number], hidden: 8 } };

  it('a gradient held from one step throws when read after the next', async () => {
    const tr = new Trainer(config);
    const held: Tensor[] = [];
    await tr.trainEpoch(train, {
      readEvery: 1,
      onStep: (step) => {
        if (step === 1) for (const p of tr.model.parameters()) held.push(p.grad!);
      },
    });
    expect(held.length).toBeGreaterThan(0);
    for (const g of held) expect(() => g.dataSync()).toThrow(/use after free/);
    // The last step's gradients are still there to inspect.
    for (const p of tr.model.parameters()) expect(p.grad!.dataSync().length).toBe(p.numel);
  });

  it('the batch, the outputs, the losses and the features between encoder, decoder_input and decoder', async () => {
    const tr = new Trainer(config);
    const m = tr.model as ConvVAE;
    const held: [string, Tensor][] = [];
    const hold = <T extends (...a: never[]) => unknown>(o: { forward: T }, name: string, pick: (r: ReturnType<T>, args: Parameters<T>) => [string, Tensor][]): void => {
      const f = o.forward.bind(o);
      o.forward = ((...a: Parameters<T>) => {
        const r = f(...a) as ReturnType<T>;
        held.push(...pick(r, a).map(([k, t]) => [`${name}.${k}`, t] as [string, Tensor]));
        return r;
      }) as T;
    };
    hold(m, 'model', (r: VaeOutput, [x]) => [['x', x as Tensor], ['logits', r.logits], ['mu', r.mu], ['logvar', r.logvar], ['z', r.z]]);
    hold(m.encoder, 'encoder', (h: Tensor) => [['out', h]]);
    hold(m.decoderInput, 'decoder_input', (h: Tensor) => [['out', h]]);
    await tr.trainEpoch(train, { readEvery: 1 });
    expect(held.length).toBe(7 * tr.stepsPerEpoch(train));
    for (const [name, t] of held) expect(() => t.dataSync(), name).toThrow(/use after free/);
  });

  it("a batch from a dataset whose getBatch is not ImageDataset's is left alone", async () => {
    const shared = vg.tensor(pixels.slice(0, 4 * 784), { shape: [4, 1, 28, 28] });
    class Fixed extends ImageDataset {
      override getBatch(): [Tensor, Tensor] {
        return [shared, vg.zeros([4], { dtype: 'int32' })];
      }
    }
    const tr = new Trainer(config);
    await tr.trainEpoch(new Fixed(pixels, new Int32Array(n), 'fixed'), { readEvery: 1 });
    expect(Array.from(shared.dataSync())).toEqual(Array.from(pixels.slice(0, 4 * 784)));
  });
});

describe('library ops free their internal tensors at once', () => {
  const tensorBytes = (): number => vg.memoryStats().tensorBytes!;
  const g = new vg.Generator(5);
  const logits = vg.randn([64, 784], { generator: g });
  const target = vg.rand([64, 784], { generator: g });

  it('a reduced loss keeps only its result (no [N, 784] per-element loss until a collection)', () => {
    for (const loss of [vg.F.binaryCrossEntropyWithLogits, vg.F.mseLoss, vg.F.l1Loss]) {
      for (const reduction of ['sum', 'mean'] as const) {
        vg.noGrad(() => loss(logits, target, { reduction })); // warm: the kernels' first use
        const before = tensorBytes();
        const out = vg.noGrad(() => loss(logits, target, { reduction }));
        expect(tensorBytes() - before, `${loss.name} ${reduction}`).toBeLessThan(1024);
        expect(out.numel).toBe(1);
      }
    }
  });

  it("binaryCrossEntropyWithLogits' backward keeps only the gradient (its dense copy of the broadcast gradient is freed)", () => {
    const l = logits.clone().requiresGrad_();
    const loss = vg.F.binaryCrossEntropyWithLogits(l, target, { reduction: 'sum' });
    const before = tensorBytes();
    loss.backward();
    const grown = tensorBytes() - before;
    expect(grown).toBeGreaterThanOrEqual(64 * 784 * 4);
    expect(grown).toBeLessThan(2 * 64 * 784 * 4);
    const want = vg.noGrad(() => l.sigmoid().sub(target));
    expect(Array.from(l.grad!.dataSync())).toEqual(Array.from(want.dataSync()));
  });

  it('ConvVAE.decode in inference keeps only the logits (not decoder_input\'s 3,136 features a sample)', () => {
    const m = new ConvVAE().eval();
    const z = vg.randn([16, 20], { generator: g });
    vg.noGrad(() => m.decode(z));
    const before = tensorBytes();
    const out = vg.noGrad(() => m.decode(z));
    const grown = tensorBytes() - before;
    expect(grown).toBeGreaterThanOrEqual(out.numel * 4);
    expect(grown).toBeLessThan(out.numel * 4 + 16 * 3136 * 4);
  });
});
