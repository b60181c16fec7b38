// The seed project's models: ConvVAE (the reference model that the benchmarks and the PyTorch
// round trip use, with PyTorch's state_dict names; the README describes it) and the MLP VAE of
// PyTorch's examples (784-400-latent).

import { randn } from '../creation.js';
import type { Generator } from '../random.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn/index.js';
import { libraryLayersOnly } from '../nn/sequential.js';
import { releaseInternal } from '../autograd/saved-frees.js';

/** What a VAE's forward returns: decoder logits, the posterior's mean and log-variance, and the sampled z. */
export interface VaeOutput {
  /** Logits of the reconstructed pixels, [N, 1, 28, 28] (sigmoid gives the images). */
  logits: Tensor;
  /** Posterior means, [N, latent]. */
  mu: Tensor;
  /** Posterior log-variances, [N, latent]. */
  logvar: Tensor;
  /** The latent codes decoded, [N, latent]. */
  z: Tensor;
}

/** Options of a VAE's forward: fixed noise, the mean instead of a sample, or a generator. */
export interface ForwardOptions {
  /** Noise [N, latent] for z = mu + exp(logvar / 2) * eps; drawn from the generator when omitted. */
  eps?: Tensor;
  /** Use z = mu (no sampling), e.g. for reconstructions in eval mode. */
  useMean?: boolean;
  /** The generator the noise is drawn from (default: the global one). */
  generator?: Generator;
}

/** The posterior q(z|x) = N(mu, exp(logvar)) an encoder gives, [N, latent] each. */
export interface Posterior {
  /** The means. */
  mu: Tensor;
  /** The log-variances. */
  logvar: Tensor;
}

/**
 * Features between the halves of a ConvVAE (the encoder's 256 a sample, decoder_input's 3,136)
 * are handed to no one: freed once the backward that reads them has run, not at the next major
 * collection (1.7 MB a training step would otherwise leave fresh wasm pages to fault in). Only
 * when `seq` (which made h from input) holds the library's own layers, none of which keeps h.
 */
function releaseMadeHere(seq: Sequential, h: Tensor, input: Tensor): void {
  if (libraryLayersOnly(seq) && h.storage !== input.storage) releaseInternal(h);
}

/** Base of the VAEs: encode, reparameterize, decode, and forward through all three. */
export abstract class VAE extends Module {
  /** Latent dims. */
  abstract readonly latent: number;
  /** The architecture. */
  abstract readonly kind: 'conv' | 'mlp';
  /** The posterior's mean and log-variance for images [N, 1, 28, 28]. */
  abstract encode(x: Tensor): Posterior;
  /** Logits of the Bernoulli means, [N, 1, 28, 28]; sigmoid gives the images. */
  abstract decode(z: Tensor): Tensor;

  /** z = mu + exp(logvar / 2) * eps: a differentiable sample of the posterior (or mu with useMean). */
  reparameterize(mu: Tensor, logvar: Tensor, opts: ForwardOptions = {}): Tensor {
    if (opts.useMean) return mu;
    const eps = opts.eps ?? randn(mu.shape, { dtype: mu.dtype, generator: opts.generator });
    if (eps.shape.length !== 2 || eps.shape[0] !== mu.shape[0] || eps.shape[1] !== this.latent) {
      throw new Error(`${this.constructor.name}.forward: eps must have shape [${mu.shape[0]}, ${this.latent}], got ${fmtShape(eps.shape)}`);
    }
    return mu.add(logvar.mul(0.5).exp().mul(eps));
  }

  forward(x: Tensor, opts: ForwardOptions = {}): VaeOutput {
    if (x.ndim !== 4 || x.shape[1] !== 1 || x.shape[2] !== 28 || x.shape[3] !== 28) {
      throw new Error(`${this.constructor.name}.forward: expected images [N, 1, 28, 28], got ${fmtShape(x.shape)}`);
    }
    const { mu, logvar } = this.encode(x);
    const z = this.reparameterize(mu, logvar, opts);
    return { logits: this.decode(z), mu, logvar, z };
  }

  protected checkLatent(z: Tensor): void {
    if (z.ndim !== 2 || z.shape[1] !== this.latent) throw new Error(`${this.constructor.name}.decode: expected z [N, ${this.latent}], got ${fmtShape(z.shape)}`);
  }
}

/**
 * The widths of a VAE other than its latent size, for smaller models than the defaults (tests
 * that train thousands of steps). Omitted fields keep the defaults of the model kind.
 */
export interface ModelSize {
  /** Features of the hidden layers between the image features and z (conv: 256, mlp: 400). */
  hidden?: number;
  /** Channels of the conv model's two conv layers, mirrored in its decoder (default [32, 64]); not for mlp. */
  channels?: [number, number];
}

/** Options of ConvVAE: its latent size and, for smaller models, its widths. */
export interface ConvVaeOptions extends ModelSize {
  /** Latent dims (default 20). */
  latent?: number;
}

/**
 * The reference conv VAE (conv 32, conv 64, linear 256 with batch norm; a mirrored transposed-conv
 * decoder), state_dict keys as the PyTorch module's. `channels` and `hidden` make the same
 * architecture narrower (the defaults are the reference model).
 */
export class ConvVAE extends VAE {
  /** 'conv'. */
  readonly kind = 'conv' as const;
  /** Latent dims. */
  readonly latent: number;
  /** Images to 256 (hidden) features: two conv-BN-ReLU-pool blocks, then linear-BN-ReLU (PyTorch: encoder). */
  readonly encoder: Sequential;
  /** 256 features to the posterior means (fc_mu). */
  readonly fcMu: Linear;
  /** 256 features to the posterior log-variances (fc_logvar). */
  readonly fcLogvar: Linear;
  /** z to 64 x 7 x 7 features: two linear-BN-ReLU layers (decoder_input). */
  readonly decoderInput: Sequential;
  /** 64 x 7 x 7 features to pixel logits: two transposed convs (decoder). */
  readonly decoder: Sequential;
  private readonly c2: number;

  /** A new conv VAE (the reference model: latent 20, channels [32, 64], hidden 256 by default), initialised as PyTorch would. */
  constructor(opts: ConvVaeOptions = {}) {
    super();
    this.latent = opts.latent ?? 20;
    const [c1, c2] = opts.channels ?? [32, 64];
    const h = opts.hidden ?? 256;
    for (const [what, v] of [['channels[0]', c1], ['channels[1]', c2], ['hidden', h]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`ConvVAE: ${what} must be a positive integer, got ${v}`);
    }
    this.c2 = c2;
    const flat = c2 * 7 * 7;
    this.encoder = new Sequential(
      new Conv2d(1, c1, 3, { padding: 1 }), new BatchNorm2d(c1), new ReLU(), new MaxPool2d(2),
      new Conv2d(c1, c2, 3, { padding: 1 }), new BatchNorm2d(c2), new ReLU(), new MaxPool2d(2),
      new Flatten(), new Linear(flat, h), new BatchNorm1d(h), new ReLU(),
    );
    this.fcMu = new Linear(h, this.latent);
    this.fcLogvar = new Linear(h, this.latent);
    this.decoderInput = new Sequential(new Linear(this.latent, h), new BatchNorm1d(h), new ReLU(), new Linear(h, flat), new BatchNorm1d(flat), new ReLU());
    this.decoder = new Sequential(
      new ConvTranspose2d(c2, c1, 4, { stride: 2, padding: 1 }), new BatchNorm2d(c1), new ReLU(),
      new ConvTranspose2d(c1, 1, 4, { stride: 2, padding: 1 }),
    );
  }

  /** PyTorch's attribute names, so state_dict keys match the reference module. */
  override namedChildren(): [string, Module][] {
    return [['encoder', this.encoder], ['fc_mu', this.fcMu], ['fc_logvar', this.fcLogvar], ['decoder_input', this.decoderInput], ['decoder', this.decoder]];
  }

  /** The posterior's mean and log-variance: the conv encoder, then fc_mu and fc_logvar. */
  encode(x: Tensor): Posterior {
    const h = this.encoder.forward(x);
    const posterior = { mu: this.fcMu.forward(h), logvar: this.fcLogvar.forward(h) };
    releaseMadeHere(this.encoder, h, x);
    return posterior;
  }

  decode(z: Tensor): Tensor {
    this.checkLatent(z);
    const h = this.decoderInput.forward(z);
    const logits = this.decoder.forward(h.reshape([-1, this.c2, 7, 7]));
    releaseMadeHere(this.decoderInput, h, z);
    return logits;
  }
}

/** The VAE of PyTorch's examples/vae: fc1 784-400, fc21/fc22 400-latent, fc3 latent-400, fc4 400-784. */
export class MlpVAE extends VAE {
  /** 'mlp'. */
  readonly kind = 'mlp' as const;
  /** Latent dims. */
  readonly latent: number;
  /** Pixels to the hidden layer. */
  readonly fc1: Linear;
  /** Hidden layer to the posterior means. */
  readonly fc21: Linear;
  /** Hidden layer to the posterior log-variances. */
  readonly fc22: Linear;
  /** z to the decoder's hidden layer. */
  readonly fc3: Linear;
  /** Hidden layer to pixel logits. */
  readonly fc4: Linear;

  /** A new MLP VAE (latent 20, hidden 400 by default). */
  constructor(opts: { latent?: number; hidden?: number } = {}) {
    super();
    this.latent = opts.latent ?? 20;
    const h = opts.hidden ?? 400;
    this.fc1 = new Linear(784, h);
    this.fc21 = new Linear(h, this.latent);
    this.fc22 = new Linear(h, this.latent);
    this.fc3 = new Linear(this.latent, h);
    this.fc4 = new Linear(h, 784);
  }

  /** The posterior's mean and log-variance: the MLP encoder, then its two heads. */
  encode(x: Tensor): Posterior {
    const h = this.fc1.forward(x.reshape([-1, 784])).relu();
    return { mu: this.fc21.forward(h), logvar: this.fc22.forward(h) };
  }

  decode(z: Tensor): Tensor {
    this.checkLatent(z);
    return this.fc4.forward(this.fc3.forward(z).relu()).reshape([-1, 1, 28, 28]);
  }
}

/** The two VAE architectures: the reference conv model and a small MLP. */
export type ModelKind = 'conv' | 'mlp';

/** A new VAE of the given kind and latent size (and widths, by default the kind's), initialised as PyTorch would. */
export function createModel(kind: ModelKind, latent: number, size: ModelSize = {}): VAE {
  if (!Number.isInteger(latent) || latent < 1) throw new Error(`latent size must be a positive integer, got ${latent}`);
  if (kind === 'conv') return new ConvVAE({ latent, ...size });
  if (kind === 'mlp') {
    if (size.channels) throw new Error("the mlp VAE has no conv channels (size.channels is for the 'conv' model)");
    return new MlpVAE({ latent, hidden: size.hidden });
  }
  throw new Error(`unknown model '${String(kind)}' (expected 'conv' or 'mlp')`);
}

/**
 * Parameters of a model of this kind and latent size, without building it at that size: the count
 * is linear in the latent size, so two tiny models give it (they draw from the global generator).
 */
export function parameterCount(kind: ModelKind, latent: number): number {
  const count = (l: number): number => createModel(kind, l).parameters().reduce((a, p) => a + p.numel, 0);
  const one = count(1);
  return one + (count(2) - one) * (latent - 1);
}
