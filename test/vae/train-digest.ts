// A few Adam steps of the reference ConvVAE hashed bit for bit (training-digest.test.ts, and
// test/threads/ at every thread count).

import * as vg from '../../src/index.js';
import { ConvVAE, vaeLoss } from '../../src/vae/index.js';

/** FNV-1a (32-bit) over the float32 bits of every tensor, in order. */
function digest(ts: readonly vg.Tensor[]): string {
  let h = 0x811c9dc5;
  for (const t of ts) {
    const bytes = new Uint8Array(Float32Array.from(t.contiguous().dataSync() as Float32Array).buffer);
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Three training steps at batch 16, then an eval forward; the digest of weights, buffers and outputs. */
export function trainDigest(): string {
  vg.manualSeed(7);
  const model = new ConvVAE({ latent: 20 });
  const opt = new vg.optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = vg.rand([16, 1, 28, 28]);
  for (let step = 0; step < 3; step++) {
    const out = model.forward(x, { eps: vg.randn([16, 20]) });
    const { loss } = vaeLoss(out.logits, x, out.mu, out.logvar);
    opt.zeroGrad();
    loss.backward();
    opt.step();
  }
  model.eval();
  const ev = vg.noGrad(() => model.forward(x, { useMean: true }));
  return digest([...model.parameters(), ...model.buffers(), ev.logits, ev.mu, ev.logvar]);
}
