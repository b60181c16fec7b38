// Weight initialisers (torch.nn.init), in place, drawn from the seedable PRNG.

import { noGrad } from '../autograd/grad-mode.js';
import { full, randn, uniform } from '../creation.js';
import type { Generator } from '../random.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** The activations calculateGain knows (torch.nn.init.calculate_gain's names). */
export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu';

/** fan_in / fan_out as PyTorch computes them: dims 1 and 0 times the receptive field. */
export function calculateFanInAndFanOut(t: Tensor): {
  /** Inputs that feed one output (dim 1 times the receptive field). */
  fanIn: number;
  /** Outputs one input feeds (dim 0 times the receptive field). */
  fanOut: number;
} {
  if (t.ndim < 2) throw new Error(`init: fan in and fan out need a tensor of at least 2 dims, got ${fmtShape(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** The recommended gain for an activation (torch.nn.init.calculate_gain; param: leaky_relu's slope). */
export function calculateGain(nonlinearity: Nonlinearity, param = 0.01): number {
  switch (nonlinearity) {
    case 'linear': case 'conv2d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': return Math.sqrt(2 / (1 + param * param));
    default: throw new Error(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

function fill(t: Tensor, values: Tensor): Tensor {
  return noGrad(() => t.copy_(values));
}

/** The generator an init draws from (default: the global one). */
export interface InitOptions {
  /** The generator to draw from (default: the global one, seeded by manualSeed). */
  generator?: Generator;
}

/** Fills t in place with U(a, b) (torch.nn.init.uniform_). */
export const uniform_ = (t: Tensor, a = 0, b = 1, o: InitOptions = {}): Tensor => fill(t, uniform(t.shape, a, b, { dtype: t.dtype, generator: o.generator }));
/** Fills t in place with N(mean, std^2) (torch.nn.init.normal_). */
export const normal_ = (t: Tensor, mean = 0, std = 1, o: InitOptions = {}): Tensor =>
  fill(t, randn(t.shape, { dtype: t.dtype, generator: o.generator }).mul(std).add(mean));
/** Fills t in place with v (torch.nn.init.constant_). */
export const constant_ = (t: Tensor, v: number): Tensor => fill(t, full(t.shape, v, { dtype: t.dtype }));
/** Fills t in place with 0 (torch.nn.init.zeros_). */
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
/** Fills t in place with 1 (torch.nn.init.ones_). */
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** Options of the Kaiming inits (torch's a, mode, nonlinearity). */
export interface KaimingOptions extends InitOptions {
  /** The negative slope of the leaky ReLU that follows (default 0). */
  a?: number;
  /** Preserve the variance of the forward pass ('fanIn', default) or of the backward pass ('fanOut'). */
  mode?: 'fanIn' | 'fanOut';
  /** The activation that follows (default 'leaky_relu'). */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const fan = (o.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  return calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}

/** He initialisation, uniform, in place (torch.nn.init.kaiming_uniform_). */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return uniform_(t, -bound, bound, o);
}
/** He initialisation, normal, in place (torch.nn.init.kaiming_normal_). */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, o), o);
}
/** Glorot initialisation, uniform, in place (torch.nn.init.xavier_uniform_). */
export function xavierUniform_(t: Tensor, gain = 1, o: InitOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, o);
}
/** Glorot initialisation, normal, in place (torch.nn.init.xavier_normal_). */
export function xavierNormal_(t: Tensor, gain = 1, o: InitOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), o);
}

/** PyTorch's default for Linear/Conv layers: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultLayerInit(weight: Tensor, bias: Tensor | null, fanIn: number, o: InitOptions = {}): void {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  uniform_(weight, -bound, bound, o);
  if (bias) uniform_(bias, -bound, bound, o);
}
