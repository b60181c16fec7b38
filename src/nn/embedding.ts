// Embedding: a lookup table of learned vectors indexed by integers (PyTorch's nn.Embedding).

import { randn, zeros } from '../creation.js';
import { embedding } from '../ops/embedding.js';
import { noGrad } from '../autograd/grad-mode.js';
import type { Tensor } from '../tensor.js';
import { Module, Parameter } from './module.js';
import { checkPositiveInt } from './tensors.js';

export class Embedding extends Module {
  /** The embeddings, [numEmbeddings, embeddingDim]. */
  weight: Parameter;
  /** The index whose row stays zero and gets no gradient, or null. */
  readonly paddingIdx: number | null;
  /** weight [numEmbeddings, embeddingDim] ~ N(0, 1); the paddingIdx row starts at zero and is never trained. */
  constructor(
    /** The number of rows (the vocabulary size). */
    readonly numEmbeddings: number,
    /** The size of each row. */
    readonly embeddingDim: number,
    opts: { paddingIdx?: number | null } = {},
  ) {
    super();
    checkPositiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    checkPositiveInt('Embedding', 'embeddingDim', embeddingDim);
    const pad = opts.paddingIdx ?? null;
    if (pad !== null && (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings)) {
      throw new Error(`Embedding: paddingIdx ${pad} out of range for ${numEmbeddings} embeddings`);
    }
    this.paddingIdx = pad !== null && pad < 0 ? pad + numEmbeddings : pad;
    this.weight = new Parameter(randn([numEmbeddings, embeddingDim]));
    if (this.paddingIdx !== null) noGrad(() => this.weight.select(0, this.paddingIdx!).copy_(zeros([embeddingDim])));
  }
  /** indices: int32 of any shape -> [...indices.shape, embeddingDim]. */
  forward(indices: Tensor): Tensor {
    return embedding(indices, this.weight, { paddingIdx: this.paddingIdx });
  }
  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}
