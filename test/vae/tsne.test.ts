// Tests of exact t-SNE: cluster structure survives (also on real latent means, where early
// exaggeration once collapsed the embedding), seeds reproduce, bad input is refused.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import * as vg from '../../src/index.js';
import { safetensorsToStateDict } from '../../src/io/state-dict.js';
import { neighbourAgreement, pairwiseSquaredDistances, tsne } from '../../src/vae/tsne.js';

function clusters(n: number, d: number, k: number, sep: number, seed: number): { x: vg.Tensor; labels: number[] } {
  const g = new vg.Generator(seed);
  const xs = new Float32Array(n * d);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k;
    labels.push(c);
    for (let j = 0; j < d; j++) xs[i * d + j] = g.normal() + (j === c ? sep : 0);
  }
  return { x: vg.tensor(xs, { shape: [n, d] }), labels };
}

describe('tsne', () => {
  it('keeps well-separated Gaussian clusters apart (3 clusters, 10-D, 150 points)', () => {
    const { x, labels } = clusters(150, 10, 3, 10, 1);
    const kls: [number, number][] = [];
    const y = tsne(x, { seed: 3, onIteration: (it, kl) => kls.push([it, kl]) });
    expect(y.shape).toEqual([150, 2]);
    expect(neighbourAgreement(y, labels)).toBeGreaterThan(0.95);
    // Called every 10 iterations, and KL falls once exaggeration is over.
    expect(kls).toHaveLength(100);
    expect(kls.at(-1)![0]).toBe(1000);
    const at = (it: number): number => kls.find(([i]) => i === it)![1];
    expect(at(1000)).toBeLessThan(at(300));
    expect(Number.isFinite(at(1000))).toBe(true);
    // Clusters are also far apart relative to their size: every between-centroid distance beats the mean within-cluster spread.
    const pts = y.dataSync();
    const cent = [0, 1, 2].map((c) => {
      let sx = 0, sy = 0, m = 0;
      labels.forEach((l, i) => { if (l === c) { sx += pts[2 * i]!; sy += pts[2 * i + 1]!; m++; } });
      return [sx / m, sy / m] as const;
    });
    let spread = 0;
    labels.forEach((l, i) => { spread += Math.hypot(pts[2 * i]! - cent[l]![0], pts[2 * i + 1]! - cent[l]![1]); });
    spread /= labels.length;
    for (let a = 0; a < 3; a++) for (let b = a + 1; b < 3; b++) {
      expect(Math.hypot(cent[a]![0] - cent[b]![0], cent[a]![1] - cent[b]![1])).toBeGreaterThan(2 * spread);
    }
  });

  it('embeds the latent means of a trained ConvVAE in 300 iterations: early exaggeration does not collapse them', () => {
    // 1,000 test means of the README's 10-epoch model (scripts/make-latent-means-fixture.mjs): the
    // explorer's default plot. With a fixed exaggeration of 12 no direction of their P grows, and
    // the embedding shrank to ~1e-29 by iteration 250 and was still ~1e-13 at 300 (KL stuck at 3.36,
    // nearest-neighbour agreement 0.43).
    const file = new URL('../fixtures/latent-means.safetensors', import.meta.url).pathname;
    const { tensors } = safetensorsToStateDict(new Uint8Array(readFileSync(file)), file);
    const mu = tensors.get('mu')!;
    const labels = tensors.get('labels')!.dataSync();
    expect(mu.shape).toEqual([1000, 20]);
    const kls: number[] = [];
    const y = tsne(mu, { iterations: 300, seed: 0, reportEvery: 50, onIteration: (_, kl) => kls.push(kl) });
    const rms = Math.sqrt(y.mul(y).mean().dataSync()[0]!);
    expect(rms, 'spread of the embedding').toBeGreaterThan(1);
    expect(kls.at(-1)!, 'final KL').toBeLessThan(2);
    // The digits stay apart: the 2-D points' nearest neighbours agree with labels about as often as the means' own do (0.92).
    expect(neighbourAgreement(mu, labels)).toBeGreaterThan(0.9);
    expect(neighbourAgreement(y, labels)).toBeGreaterThan(0.88);
  });

  it('same seed, same output; another seed, another output', () => {
    const { x } = clusters(40, 5, 2, 6, 2);
    const a = tsne(x, { seed: 7, iterations: 120, perplexity: 10 }).dataSync();
    const b = tsne(x, { seed: 7, iterations: 120, perplexity: 10 }).dataSync();
    const c = tsne(x, { seed: 8, iterations: 120, perplexity: 10 }).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('is centred, does not track gradients, and accepts other output dims', () => {
    const { x } = clusters(30, 4, 2, 5, 3);
    x.requiresGrad = true;
    const y = tsne(x, { dims: 3, iterations: 50, perplexity: 5 });
    expect(y.shape).toEqual([30, 3]);
    expect(y.requiresGrad).toBe(false);
    const m = y.mean(0).dataSync();
    for (const v of m) expect(Math.abs(v)).toBeLessThan(1e-3);
  });

  it('handles duplicate points and constant input without NaN', () => {
    const x = vg.zeros([20, 3]);
    const y = tsne(x, { iterations: 30, perplexity: 5 });
    for (const v of y.dataSync()) expect(Number.isFinite(v)).toBe(true);
  });

  it('rejects bad input', () => {
    expect(() => tsne(vg.zeros([10]))).toThrow(/2-D tensor/);
    expect(() => tsne(vg.zeros([2, 3, 4]))).toThrow(/2-D tensor/);
    expect(() => tsne(vg.zeros([3, 5]))).toThrow(/at least 4 points/);
    expect(() => tsne(vg.randn([20, 3]))).toThrow(/perplexity \(30\) must be less than the number of points \(20\)/);
    expect(() => tsne(vg.randn([20, 3]), { perplexity: 20 })).toThrow(/perplexity/);
    expect(() => tsne(vg.randn([20, 3]), { perplexity: -1 })).toThrow(/perplexity must be a positive number/);
    expect(() => tsne(vg.randn([20, 3]), { perplexity: 5, dims: 0 })).toThrow(/dims/);
    expect(() => tsne(vg.randn([20, 3]), { perplexity: 5, iterations: 1.5 })).toThrow(/iterations/);
    expect(() => tsne(vg.tensor([[NaN, 0], [1, 1], [2, 2], [3, 3], [4, 4]]), { perplexity: 2 })).toThrow(/NaN/);
  });

  it('pairwise distances match the direct formula', () => {
    const x = vg.randn([6, 3], { generator: new vg.Generator(5) });
    const d = pairwiseSquaredDistances(x).dataSync();
    const xs = x.dataSync();
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += (xs[i * 3 + k]! - xs[j * 3 + k]!) ** 2;
      expect(d[i * 6 + j]).toBeCloseTo(s, 4);
    }
  });
});
