// The functional API (vg.F), like torch.nn.functional: stateless ops on tensors.

export { relu, leakyRelu, sigmoid, tanh, softplus } from './ops/elementwise.js';
export { softmax, logSoftmax, logsumexp } from './ops/reduce.js';
export { conv2d, convTranspose2d } from './ops/conv.js';
export type { Conv2dOptions, ConvTranspose2dOptions } from './ops/conv.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d } from './ops/pool.js';
export type { Pool2dOptions, AvgPool2dOptions } from './ops/pool.js';
export { batchNorm } from './ops/norm.js';
export type { BatchNormOptions } from './ops/norm.js';
export { dropout, dropout2d } from './ops/dropout.js';
export { gelu, silu, elu } from './ops/activation.js';
export type { GeluOptions } from './ops/activation.js';
export { layerNorm } from './ops/layer-norm.js';
export { embedding } from './ops/embedding.js';
export { binaryCrossEntropyWithLogits, binaryCrossEntropy, mseLoss, l1Loss, gaussianKl } from './ops/loss.js';
export type { LossOptions, Reduction } from './ops/loss.js';
export { crossEntropy, nllLoss, oneHot } from './ops/classification.js';
export type { CrossEntropyOptions, NllLossOptions } from './ops/classification.js';
export { gather, indexSelect, scatterAdd } from './ops/indexing.js';
export { matmul } from './ops/matmul.js';
export { flatten, unflatten } from './ops/movement.js';
export { linear } from './ops/linear.js';

// Short names, as the issue tracker and most users spell them.
export {
  binaryCrossEntropyWithLogits as bceWithLogits, binaryCrossEntropy as bce, mseLoss as mse, l1Loss as l1,
} from './ops/loss.js';
