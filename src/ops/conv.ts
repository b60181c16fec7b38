// 2-D convolution and transposed convolution. Three kernels cover both layers and all their
// gradients: conv2d, its backward-data (= conv-transpose forward) and its backward-filter.
// Each is a Function whose gradient is written with the other two, so they nest to any order.

import type { Conv2dGeometry } from '../backend/backend.js';
import { OpFunction } from '../autograd/function.js';
import { fmtShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { backend, checkFloat, checkTensor, fromStorage } from './kernel.js';
import { wantGradChannelSum } from './channel-sum.js';

export type Pair = number | readonly [number, number];

/** Options of F.conv2d (torch.nn.functional.conv2d's stride, padding, dilation, groups). */
export interface Conv2dOptions {
  /** Step of the kernel, one number or [h, w] (default 1). */
  stride?: Pair;
  /** Zeros added on each side, one number or [h, w] (default 0). */
  padding?: Pair;
  /** Spacing between kernel taps, one number or [h, w] (default 1). */
  dilation?: Pair;
  /** Channels split into this many independent groups (default 1). */
  groups?: number;
}
/** Options of F.convTranspose2d: conv2d's, plus outputPadding. */
export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows and columns on one side of the output, to pick among the sizes a stride allows (default 0). */
  outputPadding?: Pair;
}

export function pair(op: string, name: string, v: Pair | undefined, dflt: number, min = 0): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.some((x) => !Number.isInteger(x) || x < min)) throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

const xShape = (g: Conv2dGeometry): number[] => [g.n, g.c, g.h, g.w];
const yShape = (g: Conv2dGeometry): number[] => [g.n, g.o, g.oh, g.ow];
const wShape = (g: Conv2dGeometry): number[] => [g.o, g.c / g.groups, g.kh, g.kw];

/** A fused bias's gradient: the sum over every dim but the channels. */
const biasGrad = (fn: OpFunction, g: Tensor): (Tensor | null)[] => (fn.inputs.length > 2 && fn.needsGrad[2] ? [g.sum([0, 2, 3])] : []);

/** conv2d(x, w) [+ bias, fused in the kernel when the backend offers conv2dBias]. */
class Conv2dFn extends OpFunction {
  x!: Tensor;
  w!: Tensor;
  g!: Conv2dGeometry;
  forward(x: Tensor, w: Tensor, g: Conv2dGeometry, bias?: Tensor): Tensor {
    Object.assign(this, { x, w, g });
    const b = backend();
    const xs = x.contiguous().storage;
    const ws = w.contiguous().storage;
    return fromStorage(bias ? b.conv2dBias!(xs, ws, bias.contiguous().storage, g) : b.conv2d(xs, ws, g), yShape(g));
  }
  protected override savedTensors(): Record<string, Tensor | null> {
    return { x: this.needsGrad[1] ? this.x : null, w: this.needsGrad[0] ? this.w : null };
  }
  backward(dy: Tensor): (Tensor | null)[] {
    return [
      this.needsGrad[0] ? ConvBackwardData.apply(dy, this.w, this.g) : null,
      this.needsGrad[1] ? ConvBackwardFilter.apply(this.x, dy, this.g) : null,
      ...biasGrad(this, dy),
    ];
  }
}

/** conv2d's backward-data, which is conv-transpose's forward [+ bias, fused when the backend offers it]. */
class ConvBackwardData extends OpFunction {
  dy!: Tensor;
  w!: Tensor;
  g!: Conv2dGeometry;
  forward(dy: Tensor, w: Tensor, g: Conv2dGeometry, bias?: Tensor): Tensor {
    Object.assign(this, { dy, w, g });
    const b = backend();
    const ds = dy.contiguous().storage;
    const ws = w.contiguous().storage;
    return fromStorage(bias ? b.conv2dBackwardDataBias!(ds, ws, bias.contiguous().storage, g) : b.conv2dBackwardData(ds, ws, g), xShape(g));
  }
  backward(gx: Tensor): (Tensor | null)[] {
    return [
      this.needsGrad[0] ? Conv2dFn.apply(gx, this.w, this.g) : null,
      this.needsGrad[1] ? ConvBackwardFilter.apply(gx, this.dy, this.g) : null,
      ...biasGrad(this, gx),
    ];
  }
}

class ConvBackwardFilter extends OpFunction {
  x!: Tensor;
  dy!: Tensor;
  g!: Conv2dGeometry;
  forward(x: Tensor, dy: Tensor, g: Conv2dGeometry): Tensor {
    Object.assign(this, { x, dy, g });
    return fromStorage(backend().conv2dBackwardFilter(x.contiguous().storage, dy.contiguous().storage, g), wShape(g));
  }
  backward(gw: Tensor): (Tensor | null)[] {
    return [
      this.needsGrad[0] ? ConvBackwardData.apply(this.dy, gw, this.g) : null,
      this.needsGrad[1] ? Conv2dFn.apply(this.x, gw, this.g) : null,
    ];
  }
}

export function checkBias(op: string, bias: Tensor, channels: number): void {
  checkTensor(op, bias, 'bias');
  if (bias.ndim !== 1 || bias.shape[0] !== channels) throw new Error(`${op}: bias must have shape [${channels}], got ${fmtShape(bias.shape)}`);
}

/** The tensor checks and the options both convolutions share. */
function convArgs(op: string, x: Tensor, w: Tensor, bias: Tensor | null | undefined, opts: Conv2dOptions) {
  checkTensor(op, x);
  checkTensor(op, w, 'weight');
  checkFloat(op, x);
  if (x.ndim !== 4) throw new Error(`${op}: expected 4-D input [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (w.ndim !== 4) throw new Error(`${op}: expected 4-D weight, got ${fmtShape(w.shape)}`);
  for (const t of [w, bias]) {
    if (t && t.dtype !== x.dtype) throw new Error(`${op}: dtype mismatch: input ${x.dtype}, parameter ${t.dtype}`);
  }
  const [strideH, strideW] = pair(op, 'stride', opts.stride, 1, 1);
  const [padH, padW] = pair(op, 'padding', opts.padding, 0);
  const [dilH, dilW] = pair(op, 'dilation', opts.dilation, 1, 1);
  return { strideH, strideW, padH, padW, dilH, dilW, groups: opts.groups ?? 1 };
}

function addBias(op: string, y: Tensor, bias: Tensor | null | undefined, channels: number): Tensor {
  if (!bias) return y;
  checkBias(op, bias, channels);
  return y.add(bias.reshape([1, channels, 1, 1]));
}

function outSize(op: string, size: number, k: number, s: number, p: number, d: number): number {
  const o = Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
  if (o < 1) throw new Error(`${op}: input size ${size} is too small for kernel ${k} (dilation ${d}, padding ${p}): output would be ${o}`);
  return o;
}

/** PyTorch's F.conv2d: x [N, C, H, W], weight [O, C / groups, kH, kW], bias [O]. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const g = conv2dGeometry(op, x, weight, bias, opts);
  if (bias && backend().conv2dBias) {
    checkBias(op, bias, g.o);
    return biasSummed(Conv2dFn.apply(x, weight, g, bias), bias);
  }
  return biasSummed(addBias(op, Conv2dFn.apply(x, weight, g), bias, g.o), bias);
}

/** y, marked so that a batch norm reading it adds up its gradient's channel sums (the bias gradient) on the way (ops/channel-sum.ts). */
function biasSummed(y: Tensor, bias: Tensor | null | undefined): Tensor {
  if (bias?.requiresGrad && y.requiresGrad) wantGradChannelSum(y);
  return y;
}

/** conv2d's checks and geometry (bias is only type-checked here). */
export function conv2dGeometry(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: Conv2dOptions): Conv2dGeometry {
  const { strideH, strideW, padH, padW, dilH, dilW, groups } = convArgs(op, x, weight, bias, opts);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  if (!Number.isInteger(groups) || groups < 1 || c % groups || o % groups) {
    throw new Error(`${op}: groups=${groups} must divide both input channels (${c}) and output channels (${o})`);
  }
  if (cg * groups !== c) throw new Error(`${op}: weight ${fmtShape(weight.shape)} expects ${cg * groups} input channels (groups=${groups}), input ${fmtShape(x.shape)} has ${c}`);
  return {
    n, c, h, w, o, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups,
    oh: outSize(op, h, kh, strideH, padH, dilH),
    ow: outSize(op, w, kw, strideW, padW, dilW),
  };
}

/** PyTorch's F.conv_transpose2d: x [N, Cin, H, W], weight [Cin, Cout / groups, kH, kW], bias [Cout]. */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  const g = convTranspose2dGeometry(op, x, weight, bias, opts);
  if (bias && backend().conv2dBackwardDataBias) {
    checkBias(op, bias, g.c);
    return biasSummed(ConvBackwardData.apply(x, weight, g, bias), bias);
  }
  return biasSummed(addBias(op, ConvBackwardData.apply(x, weight, g), bias, g.c), bias);
}

/** convTranspose2d's checks and geometry: that of the conv whose backward-data it is (result [n, c, h, w]). */
export function convTranspose2dGeometry(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: ConvTranspose2dOptions): Conv2dGeometry {
  const { strideH, strideW, padH, padW, dilH, dilW, groups } = convArgs(op, x, weight, bias, opts);
  const [opH, opW] = pair(op, 'outputPadding', opts.outputPadding, 0);
  const [n, cin, h, w] = x.shape as [number, number, number, number];
  const [wi, coutg, kh, kw] = weight.shape as [number, number, number, number];
  if (wi !== cin) throw new Error(`${op}: weight ${fmtShape(weight.shape)} expects ${wi} input channels, input ${fmtShape(x.shape)} has ${cin}`);
  if (!Number.isInteger(groups) || groups < 1 || cin % groups) throw new Error(`${op}: groups=${groups} must divide input channels (${cin})`);
  if (opH >= strideH || opW >= strideW) throw new Error(`${op}: outputPadding (${opH}, ${opW}) must be smaller than stride (${strideH}, ${strideW})`);
  const oh = (h - 1) * strideH - 2 * padH + dilH * (kh - 1) + opH + 1;
  const ow = (w - 1) * strideW - 2 * padW + dilW * (kw - 1) + opW + 1;
  if (oh < 1 || ow < 1) throw new Error(`${op}: output size ${oh}x${ow} is not positive for input ${fmtShape(x.shape)}`);
  // The transposed conv is the backward-data of a conv from the (larger) output to the input.
  return { n, c: coutg * groups, h: oh, w: ow, o: cin, kh, kw, oh: h, ow: w, strideH, strideW, padH, padW, dilH, dilW, groups };
}
