// Eager frees of storage that only the graph reaches: intermediates the library makes inside an
// op or a container and never hands to the user (batch norm's batch statistics, the activations
// between the layers of a Sequential, the product inside linear before its bias, dropout's
// mask). The code that makes such a tensor says so with releaseInternal() once it is done with
// it; the storage is then freed (Backend.release) as soon as no Function holds it as a saved
// tensor: at once when none saved it, else when the last Function that saved it is released,
// which the engine does after that Function's backward unless the graph is retained.
//
// Saved tensors are counted per storage (views share it) for every Function the graph records,
// including those a createGraph backward records, so a storage is never freed while any
// recorded backward may still read it. A Function that is never released (its graph retained,
// or dropped without backward) keeps its count: the storage is left to the garbage collector.

import type { Storage } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';
import { releaseStorageOf } from '../tensor.js';
import { releaseStorage } from '../backend/registry.js';

/** Recorded, unreleased Functions that saved a tensor of this storage (one per saved tensor). */
const savers = new WeakMap<Storage, number>();
/** Storage that releaseInternal() marked while Functions still held it. */
const internal = new WeakSet<Storage>();

/** A Function saved a tensor of this storage for its backward (the storage as it was then: a tensor's may be replaced). */
export function countSaved(s: Storage): void {
  savers.set(s, (savers.get(s) ?? 0) + 1);
}

/** A Function that saved a tensor of this storage was released: free the storage if it is internal and this was its last saver. */
export function uncountSaved(s: Storage): void {
  const n = savers.get(s)! - 1;
  if (n > 0) {
    savers.set(s, n);
    return;
  }
  savers.delete(s);
  if (internal.delete(s)) releaseStorage(s);
}

/**
 * The caller made t (inside the library) and proves that no tensor it hands out, and nothing it
 * keeps, shares t's storage: free it once no recorded Function still holds it for backward.
 */
export function releaseInternal(t: Tensor): void {
  if (internal.has(t.storage)) return;
  if (savers.has(t.storage)) internal.add(t.storage);
  else releaseStorageOf(t);
}

/** f(t), for a t the caller made and hands to no one else: t is then released as releaseInternal says. */
export function releasedAfter<T>(t: Tensor, f: (t: Tensor) => T): T {
  const y = f(t);
  releaseInternal(t);
  return y;
}
