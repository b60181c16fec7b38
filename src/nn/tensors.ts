// Layer-construction helpers shared by nn layers.

import { zeros } from '../creation.js';
import type { Tensor } from '../tensor.js';

/** Storage for a parameter that resetParameters() fills right after. */
export const empty = (shape: number[]): Tensor => zeros(shape);

export function checkPositiveInt(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${layer}: ${name} must be a positive integer, got ${v}`);
}
