// save/load of a whole training state: a run interrupted mid-epoch and resumed from the file
// ends with the uninterrupted run's bits (model, optimiser, scheduler, data order, dropout noise).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { load, save } from '../../src/node/index.js';

const { nn, optim, F, data } = vg;
const dir = mkdtempSync(join(tmpdir(), 'vaegrad-save-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EPOCHS = 3;

/** Everything a run owns; `initSeed` only changes the initial weights (a resumed run's are overwritten). */
function setup(initSeed: number) {
  vg.manualSeed(123);
  const x = vg.randn([37, 6]);
  const y = vg.randn([37, 3]);
  vg.manualSeed(initSeed);
  const noise = new vg.Generator(5);
  const model = new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Dropout(0.25, { generator: noise }), new nn.Linear(16, 3));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  const sched = new optim.StepLR(opt, 1, 0.5);
  const loader = new data.DataLoader(new data.TensorDataset(x, y), { batchSize: 8, shuffle: true, generator: new vg.Generator(9) });
  return { model, opt, sched, loader, noise };
}

type Run = ReturnType<typeof setup>;

/** Train from `epoch` to the end, or until `stopAt` (epoch, batch) where it saves and returns false. */
async function train(r: Run, epoch: number, stopAt?: [number, number]): Promise<boolean> {
  for (let e = epoch; e < EPOCHS; e++) {
    let b = 0;
    for (const [xb, yb] of r.loader) {
      const loss = F.mseLoss(r.model.forward(xb!), yb!);
      r.opt.zeroGrad();
      loss.backward();
      r.opt.step();
      b++;
      if (stopAt && e === stopAt[0] && b === stopAt[1]) {
        await save(join(dir, 'ckpt.safetensors'), {
          model: r.model.stateDict(), optim: r.opt.stateDict(), sched: r.sched.stateDict(), loader: r.loader.stateDict(), noise: r.noise.getState(), epoch: e,
        });
        return false;
      }
    }
    r.sched.step();
  }
  return true;
}

const bits = (r: Run): number[][] => r.model.parameters().map((p) => Array.from(new Uint32Array(p.dataSync().buffer)));

describe('save/load of a training state', () => {
  it('a run interrupted mid-epoch and resumed from the file gives the uninterrupted bits', async () => {
    const whole = setup(1);
    expect(await train(whole, 0)).toBe(true);

    const first = setup(1);
    expect(await train(first, 0, [1, 2])).toBe(false);

    const second = setup(2); // another process: different initial weights, fresh generators
    const ck = await load(join(dir, 'ckpt.safetensors'));
    second.model.loadStateDict(ck.model);
    second.opt.loadStateDict(ck.optim);
    second.sched.loadStateDict(ck.sched);
    second.loader.loadStateDict(ck.loader);
    second.noise.setState(ck.noise);
    expect(ck.epoch).toBe(1);
    expect(second.opt.paramGroups[0]!.options.lr).toBe(first.opt.paramGroups[0]!.options.lr);
    expect(await train(second, ck.epoch)).toBe(true);

    expect(bits(second)).toEqual(bits(whole));
    const [a, b] = [whole.opt.stateDict(), second.opt.stateDict()];
    expect([...b.state.keys()]).toEqual([...a.state.keys()]);
    for (const [i, s] of a.state) {
      expect(b.state.get(i)!.step).toBe(s.step);
      expect(Array.from((b.state.get(i)!.exp_avg_sq as vg.Tensor).dataSync())).toEqual(Array.from((s.exp_avg_sq as vg.Tensor).dataSync()));
    }
    expect(second.sched.getLastLr()).toEqual(whole.sched.getLastLr());
    expect(second.noise.getState()).toEqual(whole.noise.getState());
  });

  it('load() of a missing file names it', async () => {
    await expect(load(join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors/);
  });
});
