// GPU backend storage. A float32 tensor lives on the device as a GPU.js texture (GL modes), or as
// the Float32Array a kernel returned (cpu and webasm modes, where GPU.js's pipeline hands typed
// arrays from kernel to kernel). A host copy is kept alongside a texture once it has been read or
// when the data came from the host, so reading twice costs one readback.
//
// float64 and int32 storages are host-side (bool ones too, unless a kernel made them) (the js reference backend computes with them), except
// max-pool indices, which stay on the device as exact small integers in a float texture.
//
// Textures are GL objects the JavaScript collector cannot see: a FinalizationRegistry deletes a
// storage's texture when the storage is collected, so users never dispose tensors.

import type { DType, TypedArray } from '../../dtype.js';
import type { Storage } from '../backend.js';

/** The part of a GPU.js Texture the backend uses. */
export interface GpuTexture {
  toArray(): Float32Array | number[];
  delete(): void;
}

const registry: FinalizationRegistry<GpuTexture> | null =
  typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<GpuTexture>((t) => { try { t.delete(); } catch { /* context gone */ } }) : null;

export class GpuStorage implements Storage {
  private _host: TypedArray | null;
  private _tex: GpuTexture | null = null;
  /**
   * An untouched ArrayBuffer as large as the texture's data: it costs no resident memory (the
   * pages are never written), but V8 counts it as external memory, so garbage collections, and
   * with them the finalizers that delete textures, keep pace with the device memory in use.
   * Without it the small JS wrappers never press the collector and textures pile up.
   */
  private _ballast: ArrayBuffer | null = null;

  constructor(readonly dtype: DType, readonly size: number, host: TypedArray | null, tex: GpuTexture | null = null) {
    this._host = host;
    if (tex) this.setTexture(tex, host);
  }

  get host(): TypedArray | null { return this._host; }
  get tex(): GpuTexture | null { return this._tex; }

  /** Replace the contents by a new device texture (in-place kernels); the old texture is freed. */
  setTexture(tex: GpuTexture, host: TypedArray | null = null): void {
    if (this._tex && this._tex !== tex) {
      registry?.unregister(this);
      try { this._tex.delete(); } catch { /* already gone */ }
    }
    this._tex = tex;
    this._host = host;
    // the backend's kernels pack four float32 values per RGBA texel (optimizeFloatMemory): 4 bytes a value
    this._ballast = this.size >= 4096 ? new ArrayBuffer(this.size * 4) : null;
    registry?.register(this, tex, this);
  }

  /** Replace the contents by host data (in-place kernels in cpu/webasm modes, host fallbacks). */
  setHost(data: TypedArray): void {
    if (this._tex) {
      registry?.unregister(this);
      try { this._tex.delete(); } catch { /* already gone */ }
      this._tex = null;
      this._ballast = null;
    }
    this._host = data;
  }

  /** A non-owning alias of another storage's texture (never deletes it). */
  borrow(tex: GpuTexture): this {
    this._tex = tex;
    return this;
  }

  /** Give up the texture without deleting it (its new owner took it over). */
  detach(): void {
    if (this._tex) registry?.unregister(this);
    this._tex = null;
    this._ballast = null;
  }

  /** Host copy of the contents (reads the texture back once, then caches). */
  readHost(): TypedArray {
    if (this._host) return this._host;
    const raw = this._tex!.toArray();
    let out: TypedArray;
    if (this.dtype === 'int32') out = Int32Array.from(raw as ArrayLike<number>).subarray(0, this.size);
    else if (this.dtype === 'bool') out = Uint8Array.from(raw as ArrayLike<number>).subarray(0, this.size);
    else if (this.dtype === 'float64') out = Float64Array.from(raw as ArrayLike<number>).subarray(0, this.size);
    else out = raw instanceof Float32Array ? (raw.length === this.size ? raw : raw.slice(0, this.size)) : Float32Array.from(raw).subarray(0, this.size);
    this._host = out;
    return out;
  }
}
