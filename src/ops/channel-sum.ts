// Channel sums that a kernel made on the way. A conv's (or linear layer's) bias gradient is its
// output's gradient summed over every dim but the channels (dim 1); where that gradient comes
// out of a batch norm's backward, the backend can add it up in the pass that writes it
// (BatchNormGrads.dxSum, bit-identical to its reduce) instead of reading the whole gradient once
// more. Three steps, all in the ops layer: the op whose output's gradient will be so summed marks
// the output (wantGradChannelSum); the batch norm's backward asks for dx's sums when its input is
// marked and records them with dx (recordChannelSum); sum() over those dims of that very tensor,
// unwritten since, takes them instead of reducing (takeChannelSum). Keyed by tensor identity, so
// a gradient summed with another one (a tensor with two consumers) is simply reduced.

import type { Storage } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';

const wanted = new WeakSet<Tensor>();
const recorded = new WeakMap<Tensor, { sum: Storage; version: number }>();

/** t's gradient will be summed over every dim but 1 (a bias gradient): a producer of it may add the sums up on the way. */
export function wantGradChannelSum(t: Tensor): void {
  wanted.add(t);
}

/** Whether wantGradChannelSum(t) was called. */
export function gradChannelSumWanted(t: Tensor): boolean {
  return wanted.has(t);
}

/** sum ([t.shape[1]]) is t summed over every dim but 1, bit for bit as the backend's reduce would give it. */
export function recordChannelSum(t: Tensor, sum: Storage): void {
  recorded.set(t, { sum, version: t.version });
}

/** The recorded channel sums of t when `dims` are every dim but 1 and t was not written since (each is taken once); else undefined. */
export function takeChannelSum(t: Tensor, dims: readonly number[]): Storage | undefined {
  const r = recorded.get(t);
  if (!r || t.ndim < 2 || dims.length !== t.ndim - 1 || dims.includes(1) || r.version !== t.version) return undefined;
  recorded.delete(t);
  return r.sum;
}
