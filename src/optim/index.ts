// optim: optimisers, gradient clipping and learning-rate schedulers (vg.optim).

export { Optimizer } from './optimizer.js';
export type { OptimizerState, ParamGroup, ParamsArg, ParamGroupArg, SavedParamGroup, HasLr } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { clipGradNorm } from './clip.js';
export { LRScheduler, StepLR, ExponentialLR, CosineAnnealingLR, LinearWarmup } from './schedulers.js';
