// Tensor: a strided view (shape, strides, offset) on backend storage, plus its place in the
// autograd graph. Ops and backward() are attached by the layers above (ops/methods.ts,
// autograd/engine.ts), so this file depends only on shapes, dtypes and the backend registry.

import type { Storage, View } from './backend/backend.js';
import { currentBackend, moveStorage, releaseStorage } from './backend/registry.js';
import type { DType, TypedArray } from './dtype.js';
import { isFloat } from './dtype.js';
import type { Shape } from './shape.js';
import { contiguousStrides, fmtShape, isContiguous, numel } from './shape.js';

/** A node of the backward graph: the op that made a tensor and how to push a gradient through it. */
export interface GradFn {
  /** The op's name in messages (ExpBackward, ...). */
  readonly name: string;
  /** The tensors the op took. */
  readonly inputs: readonly Tensor[];
  /** One gradient per input (null where the input needs none), written with public ops. */
  backward(grad: Tensor): (Tensor | null)[];
}

/** Node's util.inspect hook (console.log), by its registered symbol so the core needs no node: import. */
export const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Nested JS arrays of numbers, as tensor() takes and toArray() gives. */
export type NestedArray = number | NestedArray[];

/**
 * In-place writes per storage (PyTorch's version counter): every view of a storage shares it,
 * every in-place op bumps it, and backward compares it with the value each saved tensor had.
 */
const versions = new WeakMap<Storage, number>();

/** The library's access to a tensor's .grad that does not hand it out (Tensor's static block sets it). */
let gradSlot: { peek(t: Tensor): Tensor | null; unread(t: Tensor): boolean; set(t: Tensor, g: Tensor | null, unread: boolean): void };

/** An n-dimensional array of float32, float64, int32 or bool on a backend, with strides over shared storage and autograd (torch.Tensor). */
export class Tensor {
  private _grad: Tensor | null = null;
  /** _grad is a gradient backward made that nothing outside the library has read: zeroGrad may free it. */
  private gradUnread = false;
  /** The op that produced this tensor, when it is part of a graph. */
  gradFn: GradFn | null = null;

  /** Gradient accumulated by backward(), same shape as this tensor. */
  get grad(): Tensor | null {
    this.gradUnread = false; // the caller may keep it: only the garbage collector frees it now
    return this._grad;
  }
  /** Set or clear the gradient (the optimisers then use this one; the library never frees it). */
  set grad(g: Tensor | null) {
    this._grad = g;
    this.gradUnread = false;
  }

  static {
    gradSlot = {
      peek: (t) => t._grad,
      unread: (t) => t.gradUnread,
      set: (t, g, unread) => {
        t._grad = g;
        t.gradUnread = unread;
      },
    };
  }
  /** Keep .grad on a non-leaf tensor too (PyTorch's retain_grad). */
  retainsGrad = false;
  private _requiresGrad = false;
  private _storage: Storage;

  /** A tensor over existing storage (use vg.tensor, zeros, ... to make one from values). */
  constructor(
    storage: Storage,
    /** The dims, outermost first (torch.Tensor.shape). */
    readonly shape: readonly number[],
    /** Elements to step in the storage per step along each dim (torch.Tensor.stride()). */
    readonly strides: readonly number[] = contiguousStrides(shape),
    /** Where the first element is in the storage (torch.Tensor.storage_offset()). */
    readonly offset = 0,
  ) {
    this._storage = storage;
  }

  /** The element type. */
  get dtype(): DType {
    return this._storage.dtype;
  }
  /** The number of dims (torch.Tensor.ndim). */
  get ndim(): number {
    return this.shape.length;
  }
  /** The number of elements (torch.Tensor.numel()). */
  get numel(): number {
    return numel(this.shape);
  }
  /** The shape, or the size of one dim (negative counts from the end) (torch.Tensor.size). */
  size(dim?: number): number | readonly number[] {
    if (dim === undefined) return this.shape;
    const d = dim < 0 ? dim + this.ndim : dim;
    if (d < 0 || d >= this.ndim) throw new Error(`size: dim ${dim} out of range for shape ${fmtShape(this.shape)}`);
    return this.shape[d]!;
  }

  /** Whether ops on this tensor are recorded for autograd (torch.Tensor.requires_grad). */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }
  /** Sets requiresGrad (floating-point tensors only; a leaf). */
  set requiresGrad(v: boolean) {
    if (v && !isFloat(this.dtype)) throw new Error(`requiresGrad: only floating-point tensors can require gradients (got ${this.dtype})`);
    if (!v && this.gradFn) throw new Error('requiresGrad: cannot turn off gradients of a non-leaf tensor; use detach()');
    this._requiresGrad = v;
  }
  /** Mark a tensor as requiring gradients, in place; returns it (PyTorch's requires_grad_). */
  requiresGrad_(v = true): this {
    this.requiresGrad = v;
    return this;
  }
  /** Whether this tensor was made by the user rather than by an op that records a graph (torch.Tensor.is_leaf). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Backend storage, moved to the current backend if it lives on another one. */
  get storage(): Storage {
    const b = currentBackend();
    if (!b.owns(this._storage)) {
      const v = versions.get(this._storage);
      this._storage = moveStorage(this._storage, b);
      if (v !== undefined) versions.set(this._storage, v);
    }
    return this._storage;
  }

  /** How many in-place writes this tensor's storage has had (shared with its views; PyTorch's _version). */
  get version(): number {
    return versions.get(this._storage) ?? 0;
  }

  /** Records an in-place write to this tensor's storage; every op that mutates a storage calls it. */
  _bumpVersion(): void {
    versions.set(this._storage, this.version + 1);
  }

  /** The strided view kernels consume. */
  get stridedView(): View {
    return { storage: this.storage, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  /** Whether the elements are laid out dense and row-major (torch.Tensor.is_contiguous). */
  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** Replace this tensor's values in place with a same-shaped contiguous storage (optimisers, loadStateDict). */
  _setStorage(s: Storage): void {
    if (s.size !== this.numel || s.dtype !== this.dtype) {
      throw new Error(`internal: storage of ${s.size} x ${s.dtype} does not fit tensor ${fmtShape(this.shape)} ${this.dtype}`);
    }
    const v = this.version;
    this._storage = s;
    versions.set(s, v + 1); // new values under the same tensor: an in-place write for backward's check
    (this as { strides: readonly number[] }).strides = contiguousStrides(this.shape);
    (this as { offset: number }).offset = 0;
  }

  /** The values as a contiguous typed array, synchronously (throws where the backend reads only asynchronously). */
  dataSync(): TypedArray {
    const b = currentBackend();
    const s = this.storage;
    const whole = this.isContiguous() && this.offset === 0 && s.size === this.numel;
    // a strided view is gathered into a new storage that nothing else holds: its array may be handed out
    const arr = whole ? b.readSync(s, true) : b.readSync(b.copy(this.stridedView));
    if (!arr) throw new Error(`backend '${b.name}' reads only asynchronously: use await tensor.data()`);
    return arr;
  }

  /** The values as a contiguous typed array (works on every backend). */
  async data(): Promise<TypedArray> {
    const b = currentBackend();
    const s = this.storage;
    const whole = this.isContiguous() && this.offset === 0 && s.size === this.numel;
    return whole ? b.read(s, true) : b.read(b.copy(this.stridedView));
  }

  /** Nested JavaScript arrays (a number for a scalar). */
  toArray(): NestedArray {
    return nest(this.dataSync(), this.shape);
  }

  /** The value of a one-element tensor as a JS number (torch.Tensor.item). */
  item(): number {
    if (this.numel !== 1) throw new Error(`item: only one-element tensors can be converted to a number, got shape ${fmtShape(this.shape)}`);
    return this.dataSync()[0]!;
  }

  /** The values and dtype in PyTorch's printed form (what console.log shows). */
  toString(): string {
    const arr = this.dataSync();
    const fmt = (v: number): string =>
      this.dtype === 'bool' ? (v ? 'true' : 'false') : this.dtype === 'int32' ? String(v) : Number.isInteger(v) ? `${v}.` : v.toPrecision(4).replace(/\.?0+$/, '');
    const render = (dim: number, off: number, indent: string): string => {
      if (dim === this.ndim) return fmt(arr[off]!);
      const n = this.shape[dim]!;
      const step = numel(this.shape.slice(dim + 1));
      const parts: string[] = [];
      const show = n > 8 ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
      for (const i of show) parts.push(i < 0 ? '...' : render(dim + 1, off + i * step, indent + ' '));
      const sep = dim === this.ndim - 1 ? ', ' : `,\n${indent} `;
      return `[${parts.join(sep)}]`;
    };
    const grad = this.gradFn ? `, gradFn=${this.gradFn.name}` : this.requiresGrad ? ', requiresGrad=true' : '';
    return `tensor(${render(0, 0, '       ')}, shape=${fmtShape(this.shape)}, dtype=${this.dtype}${grad})`;
  }

  /** console.log(tensor) in Node prints toString(), not the private fields. */
  [INSPECT](): string {
    return this.toString();
  }
}

function nest(flat: TypedArray, shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0]!;
  const build = (dim: number, off: number): NestedArray[] => {
    const n = shape[dim]!;
    const step = numel(shape.slice(dim + 1));
    const out: NestedArray[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = dim === shape.length - 1 ? flat[off + i]! : build(dim + 1, off + i * step);
    return out;
  };
  return build(0, 0);
}

/**
 * When each storage made by an op got its first tensor (fromStorage): a serial number, for the
 * engine's eager frees. A symbol-keyed property of the storage rather than a WeakMap entry: a
 * WeakMap's first entry for each of a step's ~130 new storages cost ~1.5 us in a training step
 * (a tiny model's Trainer step ~7% faster without it).
 */
const BIRTH = Symbol('birth');
type Born = Storage & { [BIRTH]?: number };
let serial = 0;

/** A new tensor over a fresh contiguous storage. */
export function fromStorage(storage: Storage, shape: Shape): Tensor {
  if (storage.size !== numel(shape)) throw new Error(`internal: storage of ${storage.size} elements for shape ${fmtShape(shape)}`);
  (storage as Born)[BIRTH] ??= ++serial;
  return new Tensor(storage, [...shape]);
}

/** The serial number of the last storage made by an op (see bornAfter). */
export function lastStorageSerial(): number {
  return serial;
}

/** Whether the storage was made by an op after the storage numbered `mark` (false for storage from elsewhere). */
export function bornAfter(s: Storage, mark: number): boolean {
  return ((s as Born)[BIRTH] ?? 0) > mark;
}

/**
 * Free a tensor's storage now (the backend's memory; the garbage collector's where it has none).
 * Only for storage the caller proves no other tensor, view or user can reach: reading it again throws.
 */
export function releaseStorageOf(t: Tensor): void {
  releaseStorage(t.storage);
}

// Gradients nobody outside the library has read. backward() makes each leaf's .grad as a storage
// of its own; until the .grad getter hands it out, nothing but the tensor holds it, so replacing
// or clearing it (zeroGrad, an accumulating backward, clipping) frees it at once rather than
// leaving it in the backend's memory until a major collection (the wasm backend then writes into
// fresh pages every step). A gradient that was read, or set by the user, is left to the collector.

/** t's gradient, for library code that reads it and keeps nothing (not counted as handed out). */
export const peekGrad = (t: Tensor): Tensor | null => gradSlot.peek(t);

/**
 * Give t a gradient the library made that nothing else holds (a storage of its own); the one it
 * replaces is freed if nobody has read it. `shared`: g may be reached elsewhere (a createGraph
 * backward's graph), so it is left to the collector.
 */
export function replaceGrad(t: Tensor, g: Tensor, shared = false): void {
  const old = gradSlot.peek(t);
  if (old && old !== g && gradSlot.unread(t) && old.storage !== g.storage) releaseStorageOf(old);
  gradSlot.set(t, g, !shared);
}

/** Set t's .grad to null, freeing it if nobody has read it (or, with `force`, if the caller vouches nothing holds it). */
export function clearGrad(t: Tensor, force = false): void {
  const g = gradSlot.peek(t);
  if (g && (force || gradSlot.unread(t))) releaseStorageOf(g);
  gradSlot.set(t, null, false);
}
