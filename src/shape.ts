// Shape arithmetic: strides, broadcasting, dim normalisation. Pure functions, imports nothing.

/** A tensor's dims, outermost first. */
export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** True when the view walks its storage in row-major order with no gaps (size-1 dims may have any stride). */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else throw new Error(`${op}: shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together (dim ${j}: ${out[j]} vs ${d})`);
    }
  }
  return out;
}

/** Strides that read a tensor of `shape` as if it had `target` shape (stride 0 on broadcast dims). */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const j = target.length - shape.length + i;
    out[j] = shape[i] === 1 && target[j] !== 1 ? 0 : strides[i]!;
  }
  return out;
}

/**
 * Could two different indices of this view address the same element? True for a stride 0 on a
 * dim of size > 1 (expand) and for strides too small for the dims inside them; false for every
 * view that permute/slice/narrow/reshape make of a dense tensor (a sufficient test, as PyTorch's).
 */
export function mayOverlap(shape: Shape, strides: readonly number[]): boolean {
  const dims = shape.map((n, i) => [n, Math.abs(strides[i]!)] as const).filter(([n]) => n > 1);
  if (dims.some(([, st]) => st === 0)) return true;
  dims.sort((a, b) => a[1] - b[1]);
  let span = 0; // the furthest element the inner dims reach
  for (const [n, st] of dims) {
    if (st <= span) return true;
    span += (n - 1) * st;
  }
  return false;
}

/** Can `from` be broadcast to exactly `to` (the rule of copy_ and expand)? */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  return from.every((d, i) => d === 1 || d === to[to.length - from.length + i]);
}

export function normDim(op: string, dim: number, rank: number): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) {
    throw new Error(`${op}: dim ${dim} is out of range for a tensor of rank ${rank} (expected ${-r}..${r - 1})`);
  }
  return dim < 0 ? dim + r : dim;
}

/** Normalised, sorted, de-duplicated dims; undefined means all dims. */
export function normDims(op: string, dims: number | readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : dims;
  const out = [...new Set(list.map((d) => normDim(op, d, rank)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new Error(`${op}: repeated dim in [${list.join(', ')}]`);
  return out;
}

/** Resolve a single -1 in a requested shape against a known element count. */
export function inferShape(op: string, requested: readonly number[], size: number, from: Shape): number[] {
  const shape = [...requested];
  const neg = shape.indexOf(-1);
  if (neg !== shape.lastIndexOf(-1)) throw new Error(`${op}: only one dimension can be -1, got ${fmtShape(requested)}`);
  for (const d of shape) {
    if (d !== -1 && (!Number.isInteger(d) || d < 0)) throw new Error(`${op}: invalid size ${d} in ${fmtShape(requested)}`);
  }
  if (neg >= 0) {
    const rest = shape.reduce((p, d, i) => (i === neg ? p : p * d), 1);
    if (rest === 0 || size % rest !== 0) throw new Error(`${op}: shape ${fmtShape(requested)} is invalid for input of shape ${fmtShape(from)} (${size} elements)`);
    shape[neg] = size / rest;
  }
  if (numel(shape) !== size) throw new Error(`${op}: shape ${fmtShape(requested)} is invalid for input of shape ${fmtShape(from)} (${size} elements)`);
  return shape;
}

/**
 * Strides for viewing (shape, strides) as newShape without copying, or null when a copy is needed.
 * Merges runs of dims that are contiguous with each other, like PyTorch's computeStride.
 */
export function viewStrides(shape: Shape, strides: readonly number[], newShape: Shape): number[] | null {
  if (numel(shape) === 0 || numel(newShape) === 0) return contiguousStrides(newShape);
  const out = new Array<number>(newShape.length);
  let viewD = newShape.length - 1;
  let chunkBase = strides[strides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d]!;
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = strides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) {
    while (viewD >= 0) out[viewD--] = 1;
  }
  return out;
}
