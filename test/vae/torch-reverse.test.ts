// The reverse PyTorch round trip: vaegrad's ConvVAE state_dict, saved with saveSafetensors, loads
// strictly into PyTorch's module (scripts/torch_vae.py) and gives vaegrad's outputs in eval and
// train mode, and the same running statistics after a train-mode forward. Needs Debian's
// python3-torch (/usr/bin/python3); without it the test is skipped with a printed notice (CI
// does not install torch; the forward direction is covered by reference-step.test.ts).

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { saveSafetensors } from '../../src/node/index.js';
import { ConvVAE } from '../../src/vae/index.js';

const python = '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!hasTorch) console.log('notice: skipping the vaegrad -> PyTorch round trip: /usr/bin/python3 cannot import torch (apt-get install python3-torch)');

describe.skipIf(!hasTorch)('a vaegrad ConvVAE state_dict in PyTorch', () => {
  beforeAll(async () => {
    await vg.setBackend('wasm');
  });

  it('loads strictly and gives the same outputs and running statistics', async () => {
    vg.manualSeed(11);
    const model = new ConvVAE({ latent: 20 });
    // Train a few steps so that BatchNorm statistics and weights are not the defaults.
    const opt = new vg.optim.Adam(model.parameters());
    for (let i = 0; i < 3; i++) {
      const x = vg.rand([8, 1, 28, 28]);
      const out = model.forward(x);
      const loss = vg.F.binaryCrossEntropyWithLogits(out.logits, x, { reduction: 'sum' }).add(vg.F.gaussianKl(out.mu, out.logvar, { reduction: 'sum' }));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    }
    const dir = mkdtempSync(join(tmpdir(), 'vaegrad-reverse-'));
    await saveSafetensors(join(dir, 'model.safetensors'), model.stateDict());

    const x = vg.rand([6, 1, 28, 28]);
    const eps = vg.randn([6, 20]);
    const ev = vg.noGrad(() => model.eval().forward(x, { useMean: true }));
    const tr = vg.noGrad(() => model.train().forward(x, { eps }));
    const after = [...model.stateDict()].filter(([k]) => k.includes('running_'));
    await saveSafetensors(join(dir, 'case.safetensors'), new Map([
      ['x', x], ['eps', eps],
      ['eval.logits', ev.logits], ['eval.mu', ev.mu], ['eval.logvar', ev.logvar],
      ['train.logits', tr.logits], ['train.mu', tr.mu], ['train.logvar', tr.logvar],
      ...after.map(([k, v]) => [`after.${k}`, v] as [string, vg.Tensor]),
    ]));

    const r = spawnSync(python, ['scripts/check-vaegrad-in-torch.py', join(dir, 'model.safetensors'), join(dir, 'case.safetensors')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const diffs = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
    console.info(`vaegrad -> PyTorch, largest absolute differences: ${JSON.stringify(diffs)}`);
    expect(diffs.latent).toBe(20);
    for (const k of ['eval.logits', 'eval.mu', 'eval.logvar', 'train.logits', 'train.mu', 'train.logvar']) expect(diffs[k], k).toBeLessThan(1e-3);
    const afterKeys = Object.keys(diffs).filter((k) => k.startsWith('after.'));
    expect(afterKeys.length).toBe(after.length);
    for (const k of afterKeys) expect(diffs[k], k).toBeLessThan(1e-4);
  });
});
