// autograd (vg.autograd): functional gradients, as torch.autograd.

export { grad } from './engine.js';
export type { GradOptions, BackwardOptions } from './engine.js';
export { Function } from './function.js';
export { gradcheck } from './gradcheck.js';
