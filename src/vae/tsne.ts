// Exact t-SNE (van der Maaten & Hinton 2008) on vaegrad tensors, for the latent-space plot; browser-safe.

import { noGrad } from '../autograd/grad-mode.js';
import { eye, full, ones, randn } from '../creation.js';
import { where } from '../ops/elementwise.js';
import { cat } from '../ops/movement.js';
import '../ops/methods.js';
import { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';

export interface TsneOptions {
  /** Output dimensions (default 2). */
  dims?: number;
  /** Effective number of neighbours each point's Gaussian is calibrated to (default 30; must be < N). */
  perplexity?: number;
  /** Gradient-descent iterations (default 1000). */
  iterations?: number;
  /** Seed of the generator that draws the initial embedding (default 0). */
  seed?: number;
  /** Step size; default max(200, N / 12), the size Belkina et al. (2019) recommend for large N. */
  learningRate?: number;
  /**
   * Factor on P during the first `exaggerationIterations` iterations (default 12). Halved (down to 1)
   * whenever the embedding has shrunk to a quarter of its starting size in that phase: whether a
   * factor contracts everything depends on the data (see the comment in tsne()).
   */
  earlyExaggeration?: number;
  /** Length of the early-exaggeration phase, also when momentum goes from 0.5 to 0.8 (default 250). */
  exaggerationIterations?: number;
  /** How often onIteration is called (default every 10 iterations, and after the last one). */
  reportEvery?: number;
  /** Progress: 1-based iteration and the KL divergence KL(P || Q) of the current embedding (with exaggeration removed). */
  onIteration?: (iteration: number, kl: number) => void;
}

// P and Q entries below this are clamped, as in the reference implementation, so that log(P/Q) stays finite.
const TINY = 1e-12;
// Distances placed on the diagonal so that exp(-beta * d) is exactly 0 there while d * exp(...) stays 0, not NaN.
const DIAG = 1e30;

function readScalar(t: Tensor): number {
  return t.dataSync()[0]!;
}

/**
 * Conditional probabilities p_{j|i} whose entropy matches log(perplexity), one Gaussian precision beta_i
 * per point. The bisection runs for all points at once (whole-tensor ops, so any backend can run it);
 * distances are shifted by each row's nearest-neighbour distance, which leaves p_{j|i} and the entropy
 * unchanged but keeps exp() from underflowing to an all-zero row for far-apart points.
 */
function conditionalP(d: Tensor, n: number, perplexity: number): Tensor {
  const diag = eye(n).mul(DIAG);
  const masked = d.add(diag);
  const shifted = masked.sub(masked.min(1, true)); // >= 0, nearest neighbour at 0
  const logU = Math.log(perplexity);
  // A starting precision of the right scale for each row saves most of the doubling/halving steps.
  const offDiag = ones([n, n]).sub(eye(n));
  const meanDist = shifted.mul(offDiag).sum(1, true).div(n - 1);
  let beta = meanDist.add(1e-12).reciprocal();
  let betaMin = full([n, 1], -Infinity);
  let betaMax = full([n, 1], Infinity);
  let p: Tensor = shifted;
  for (let iter = 0; iter < 100; iter++) {
    p = shifted.mul(beta.neg()).exp();
    const sumP = p.sum(1, true); // >= 1: the nearest neighbour contributes exp(0)
    const h = sumP.log().add(beta.mul(shifted.mul(p).sum(1, true)).div(sumP));
    const diff = h.sub(logU);
    if (readScalar(diff.abs().max()) < 1e-5) break;
    // Entropy too high means the Gaussian is too wide: raise beta.
    const tooWide = diff.gt(0);
    betaMin = where(tooWide, beta, betaMin);
    betaMax = where(tooWide, betaMax, beta);
    const up = where(betaMax.eq(Infinity), beta.mul(2), beta.add(betaMax).div(2));
    const down = where(betaMin.eq(-Infinity), beta.div(2), beta.add(betaMin).div(2));
    // Bounded so that rows whose entropy cannot reach the target (duplicate points) never make beta infinite (inf * 0 = NaN).
    beta = where(tooWide, up, down).clamp(1e-30, 1e30);
  }
  return p.div(p.sum(1, true));
}

/** Squared Euclidean distances between the rows of x, via one matmul: |a|^2 + |b|^2 - 2 a.b, clamped at 0. */
export function pairwiseSquaredDistances(x: Tensor): Tensor {
  return noGrad(() => {
    const sq = x.mul(x).sum(1, true);
    return sq.add(sq.transpose(0, 1)).sub(x.matmul(x.transpose(0, 1)).mul(2)).clamp(0);
  });
}

/**
 * Embeds the rows of x ([N, D]) in `dims` dimensions with exact t-SNE. Cost is O(N^2) memory and time
 * per iteration, fine up to a few thousand points. Deterministic for a given seed and backend.
 * Reads scalars back synchronously (convergence checks, onIteration), so it needs a backend with
 * synchronous reads (js, wasm).
 */
export function tsne(x: Tensor, opts: TsneOptions = {}): Tensor {
  if (x.ndim !== 2) throw new Error(`tsne: expected a 2-D tensor [N, D], got shape [${x.shape.join(', ')}]`);
  const [n, dIn] = x.shape as [number, number];
  if (n < 4) throw new Error(`tsne: need at least 4 points, got ${n}`);
  if (dIn < 1) throw new Error('tsne: points have 0 features');
  const dims = opts.dims ?? 2;
  const perplexity = opts.perplexity ?? 30;
  const iterations = opts.iterations ?? 1000;
  const seed = opts.seed ?? 0;
  const exaggeration = opts.earlyExaggeration ?? 12;
  const exIters = opts.exaggerationIterations ?? 250;
  const reportEvery = opts.reportEvery ?? 10;
  const eta = opts.learningRate ?? Math.max(200, n / 12);
  if (!Number.isInteger(dims) || dims < 1) throw new Error(`tsne: dims must be a positive integer, got ${dims}`);
  if (!(perplexity > 0) || !Number.isFinite(perplexity)) throw new Error(`tsne: perplexity must be a positive number, got ${perplexity}`);
  if (perplexity >= n) throw new Error(`tsne: perplexity (${perplexity}) must be less than the number of points (${n})`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`tsne: iterations must be a non-negative integer, got ${iterations}`);
  if (!(eta > 0)) throw new Error(`tsne: learningRate must be positive, got ${eta}`);
  if (!Number.isInteger(reportEvery) || reportEvery < 1) throw new Error(`tsne: reportEvery must be a positive integer, got ${reportEvery}`);

  return noGrad(() => {
    // Work in float32 whatever came in, detached from any graph.
    const xs = x.detach().to('float32');
    const finite = readScalar(xs.abs().max());
    if (!Number.isFinite(finite)) throw new Error('tsne: input contains NaN or infinite values');

    const cond = conditionalP(pairwiseSquaredDistances(xs), n, perplexity);
    let p = cond.add(cond.transpose(0, 1));
    p = p.div(p.sum()).clamp(TINY);
    const offDiag = ones([n, n]).sub(eye(n));

    const gen = new Generator(seed);
    let y = randn([n, dims], { generator: gen }).mul(1e-2); // N(0, 1e-4)
    const rms = (t: Tensor): number => Math.sqrt(readScalar(t.mul(t).mean()));
    const rms0 = rms(y);
    let update = full([n, dims], 0);
    let gains = full([n, dims], 1);
    let alpha = exaggeration;
    let exaggerated = p.mul(alpha);

    const kl = (num: Tensor, sumNum: Tensor): number => {
      const q = num.div(sumNum).clamp(TINY);
      return readScalar(p.mul(p.div(q).log()).sum());
    };

    const onesCol = ones([n, 1]);
    for (let it = 0; it < iterations; it++) {
      const early = it < exIters;
      const momentum = early ? 0.5 : 0.8;
      const pp = early ? exaggerated : p;
      // Student-t kernel num_ij = 1 / (1 + |y_i - y_j|^2). One matmul of augmented rows gives
      // 1 + |y_i|^2 + |y_j|^2 - 2 y_i.y_j directly, which halves the number of N x N passes (the
      // loop is bound by those). The diagonal is 1, not 0: it is taken out of the normaliser below,
      // and in the gradient its term w_ii (y_i - y_i) vanishes anyway.
      const sq = y.mul(y).sum(1, true);
      const left = cat([y.mul(-2), sq, onesCol], 1);
      const right = cat([y, onesCol, sq.add(1)], 1);
      const num = left.matmul(right.transpose(0, 1)).reciprocal();
      const sumNum = num.sum().sub(n);
      // dC/dy_i = 4 sum_j (p_ij - q_ij) num_ij (y_i - y_j); the 4 is folded into the step size,
      // as in the reference implementation and bhtsne, so learning rates match theirs.
      const w = pp.sub(num.div(sumNum)).mul(num);
      // w @ [y, 1] gives both sum_j w_ij y_j and the row sums sum_j w_ij in one pass.
      const wy = w.matmul(cat([y, onesCol], 1));
      const grad = wy.narrow(1, dims, 1).mul(y).sub(wy.narrow(1, 0, dims));
      // Gains (Jacobs 1988): grow where the gradient keeps pushing the same way the step already goes.
      const flipped = grad.gt(0).ne(update.gt(0));
      gains = where(flipped, gains.add(0.2), gains.mul(0.8)).clamp(0.01);
      update = update.mul(momentum).sub(gains.mul(grad).mul(eta));
      y = y.add(update);
      y = y.sub(y.mean(0, true));
      const done = it + 1;
      // While the embedding is small (num ~ 1), the step is linear in y: y <- y - eta (alpha L_P - L_Q) y,
      // with L the graph Laplacians of P and of the uniform Q. A direction grows only where its
      // Laplacian eigenvalue under alpha P is below Q's, 1 / (N - 1). Latent means with many active
      // dimensions give P a weak cluster structure (N lambda_2(L_P) ~ 0.14 for 1,000 means of a
      // trained 20-D ConvVAE): with alpha = 12 no direction grows, the gains amplify the contraction,
      // and the whole embedding shrinks to ~1e-29 by the end of the phase, with a uniform Q (KL stuck)
      // and hundreds of iterations needed to regrow. So: when the embedding has shrunk to a quarter
      // of its initial size, halve alpha and restart the phase's dynamics from the shrunk embedding,
      // rescaled (in the linear regime its shape is all that counts; contraction has left mostly the
      // slowest-shrinking directions, the ones a smaller alpha lets grow).
      if (early && alpha > 1 && done % 10 === 0) {
        const r = rms(y);
        if (r < rms0 / 4) {
          alpha = Math.max(1, alpha / 2);
          exaggerated = p.mul(alpha);
          y = y.mul(rms0 / Math.max(r, 1e-30));
          update = full([n, dims], 0);
          gains = full([n, dims], 1);
        }
      }
      if (opts.onIteration && (done % reportEvery === 0 || done === iterations)) {
        opts.onIteration(done, kl(num.mul(offDiag), sumNum));
      }
    }
    const out = y.contiguous();
    if (!Number.isFinite(readScalar(out.abs().max()))) throw new Error('tsne: the embedding diverged (NaN); try a smaller learningRate');
    return out;
  });
}

/** Nearest-neighbour label agreement: the fraction of points whose nearest other point (in `points`, [N, k]) has the same label. */
export function neighbourAgreement(points: Tensor, labels: ArrayLike<number>): number {
  if (points.ndim !== 2) throw new Error(`neighbourAgreement: expected [N, k] points, got shape [${points.shape.join(', ')}]`);
  const n = points.shape[0]!;
  if (labels.length !== n) throw new Error(`neighbourAgreement: ${labels.length} labels for ${n} points`);
  const d = noGrad(() => pairwiseSquaredDistances(points.detach().to('float32')).add(eye(n).mul(DIAG)).argmin(1)).dataSync();
  let same = 0;
  for (let i = 0; i < n; i++) if (labels[d[i]!] === labels[i]) same++;
  return same / n;
}
