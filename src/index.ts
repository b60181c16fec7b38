// vaegrad: the browser-safe public barrel. No Node-only imports here (those live in vaegrad/node).

import './ops/methods.js';
import './backend/wasm/index.js'; // registers the WASM SIMD backend (the default where it loads)
import './backend/gpu/index.js'; // registers 'gpu' (GPU.js, loaded by dynamic import on setBackend('gpu'))

export { Tensor } from './tensor.js';
export type { NestedArray, GradFn } from './tensor.js';
export type { DType, TypedArray, PromotionOperand, PromotionTensor } from './dtype.js';
export { DTYPES, promoteTypes, resultType } from './dtype.js';
export type { Shape } from './shape.js';
export { tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, linspace, eye, rand, randn, randint, uniform } from './creation.js';
export type { TensorOptions, RandomOptions } from './creation.js';
export { Generator, manualSeed, defaultGenerator, permutation } from './random.js';
export { setBackend, getBackend, getBackendInfo, listBackends, registerBackend, memoryStats, setMemoryBudget } from './backend/registry.js';
export type { BackendInfo } from './backend/registry.js';
export { setNumThreads, getNumThreads } from './backend/wasm/threads/config.js';
export { configureGpuBackend } from './backend/gpu/index.js';
export type { Backend, MemoryStats } from './backend/backend.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd/grad-mode.js';
export { Function } from './autograd/function.js';
export { gradcheck } from './autograd/gradcheck.js';
export type { GradcheckOptions } from './autograd/gradcheck.js';
export type { BackwardOptions } from './autograd/engine.js';
export {
  neg, exp, log, log1p, sqrt, abs, sign, relu, leakyRelu, sigmoid, tanh, softplus, reciprocal, square, clamp, erf,
  add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, where, inRange,
  floorDivide, remainder, isnan, isfinite, isinf, logicalNot, logicalAnd, logicalOr, logicalXor, maskedFill,
} from './ops/elementwise.js';
export { gather, indexSelect, scatterAdd } from './ops/indexing.js';
export { sum, mean, max, min, argmax, argmin, variance, logsumexp, softmax, logSoftmax } from './ops/reduce.js';
export { allFinite } from './ops/finite.js';
export {
  reshape, view, permute, transpose, expand, broadcastTo, slice, narrow, select, squeeze, unsqueeze, flatten, unflatten,
  contiguous, clone, detach, to, cat, stack, split, chunk,
} from './ops/movement.js';
export { matmul } from './ops/matmul.js';
export * as F from './functional.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
/** Datasets and the DataLoader (torch.utils.data). */
export * as data from './data/index.js';
/** Functional gradients (torch.autograd.grad), Function and gradcheck. */
export * as autograd from './autograd/index.js';
export { stateDictToSafetensors, safetensorsToStateDict } from './io/state-dict.js';
export type { StateDictWithMetadata } from './io/state-dict.js';
export { parseSafetensors, serializeSafetensors } from './io/safetensors.js';
export { saveBytes, loadBytes } from './io/serialize.js';
export type { Saveable } from './io/serialize.js';
export type { SafeEntry, SafeDType, SafetensorsContents } from './io/safetensors.js';
export { parseIdx, serializeIdx } from './io/idx.js';
export type { IdxFile, IdxData } from './io/idx.js';
