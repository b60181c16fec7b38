// nn: modules, layers and initialisers (vg.nn).

export { Module, Parameter } from './module.js';
export type { StateDict, LoadResult } from './module.js';
export { Linear } from './linear.js';
export { Conv2d, ConvTranspose2d } from './conv.js';
export type { Conv2dLayerOptions } from './conv.js';
export { BatchNorm1d, BatchNorm2d } from './batchnorm.js';
export type { BatchNormLayerOptions } from './batchnorm.js';
export {
  ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, ELU, Softmax, LogSoftmax, Identity, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
  Dropout, Dropout2d, Flatten, Unflatten,
} from './layers.js';
export { LayerNorm } from './layer-norm.js';
export type { LayerNormOptions } from './layer-norm.js';
export { ModuleList, ModuleDict } from './containers.js';
export { Embedding } from './embedding.js';
export { Sequential } from './sequential.js';
export * as init from './init.js';
export { BCEWithLogitsLoss, BCELoss, MSELoss, L1Loss, GaussianKLLoss, NLLLoss, CrossEntropyLoss } from './loss.js';
