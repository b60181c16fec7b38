// The GPU.js backend: every float32 kernel of a training step is a GPU.js kernel in pipeline mode,
// so tensors stay on the device between kernels (textures in GL modes; the typed arrays GPU.js's
// cpu and webasm modes pass from kernel to kernel) and the host reads back only what it asks for
// (readSync / read: the loss, checkpoints, pictures).
//
// - Kernels are generated source (codegen.ts) with the geometry baked in, compiled once per
//   source + output size + argument sizes and cached in a Map; per-call scalars are arguments.
// - Outputs are always 1-D ([n]); GPU.js lays a 1-D output of any size out as a near-square 2-D
//   texture and indexes its inputs flat, so strided views index one flat texture.
// - Kernels are `immutable`: each call returns a new texture, freed when its storage is collected
//   (storage.ts). In-place ops (assign, adamUpdate) compute a new texture and swap it in.
// - float64 and int32 tensors are host-side: those calls go to a JsBackend (the reference) on
//   host copies, like the wasm backend does. bool tensors (comparisons, masks) stay on the
//   device as 0.0 / 1.0 where float32 kernels make or read them (compare, where, casts to and
//   from float32); other bool work runs on the host. argReduce (int32 output, not in a training step)
//   also runs there, after a readback.
// - In cpu mode GPU.js runs the kernel source as JavaScript in doubles and stores float32
//   results, so results equal the js reference's bit for bit where it does the same arithmetic;
//   in GL modes arithmetic is IEEE single precision on the device (within float32 tolerances).

import type { DType, TypedArray } from '../../dtype.js';
import { allocArray } from '../../dtype.js';
import { COMPARISONS } from '../backend.js';
import type { AdamHyper, Backend, BinaryOp, ChannelGeometry, Conv2dGeometry, Pool2dGeometry, ReduceOp, Storage, UnaryOp, View } from '../backend.js';
import { JsBackend } from '../js/index.js';
import { adamScalars } from '../js/optim.js';
import { HostStorage } from '../js/storage.js';
import { numel } from '../../shape.js';
import { assertIndexable, binaryExpr, coalesceViews, decompose, floorDiv, index, lit, loopIterations, unaryExpr } from './codegen.js';
import { GpuStorage, type GpuTexture } from './storage.js';

/** The slice of the GPU.js module the backend uses (so the core never imports gpu.js types). */
export interface GpuJsModule {
  GPU: new (settings?: { mode?: string }) => GpuInstance;
}
export interface GpuInstance {
  mode: string;
  Kernel: unknown;
  createKernel(source: string, settings: Record<string, unknown>): GpuKernel;
  createKernelMap(subKernels: Record<string, string>, source: string, settings: Record<string, unknown>): GpuKernel;
  destroy(): void;
}
type GpuKernel = ((...args: unknown[]) => unknown) & { destroy?: () => void };

/** One kernel launch, as the launch profile records it. */
export interface KernelLaunch {
  /** Output values (threads; a kernel map counts each output). */
  outputs: number;
  /** The longest per-thread loop, in iterations. */
  loop: number;
}

/**
 * The longest loop a thread runs before a sum is split into a tree (two or more launches): a
 * GPU wants many short threads, not a few that walk 100K elements.
 */
export const CHUNK = 512;

/** The longest loop a kernel runs per thread before a dot product becomes a tree (matmul's k). */
export const MAX_LOOP = 4096;

type KArg = Storage | number;

/** The float32 twin of host int32 index arrays (cpu-mode max-pool indices), to skip reconversion. */
const indexF32 = new WeakMap<object, Float32Array>();

const isF32 = (s: Storage): boolean => s.dtype === 'float32';
/** Storages kernels read directly: float32, and bool (0.0 / 1.0 in a float texture or array). */
const onDevice = (s: Storage): boolean => s.dtype === 'float32' || s.dtype === 'bool';

export interface GpuBackendOptions {
  /** GPU.js mode ('gpu' | 'cpu' | 'headlessgl' | 'webgl2' | 'webgl' | 'webasm'); default: GPU.js's choice. */
  mode?: string;
}

/** What renders the kernels: the GL renderer string, or GPU.js's CPU mode. */
export interface GpuRenderer {
  /** The unmasked renderer (e.g. 'ANGLE (NVIDIA, Vulkan 1.3.277 (NVIDIA H100 ...), ...)'), or 'GPU.js cpu mode (...)'. */
  renderer: string;
  vendor: string;
  /** True when it is not a GPU: a software rasteriser (llvmpipe, lavapipe, SwiftShader) or GPU.js's cpu/webasm modes. */
  software: boolean;
}

/** Renderer names of the CPU implementations of GL and Vulkan. */
const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|swrast|software|microsoft basic render/i;

export class GpuBackend implements Backend {
  readonly name: string = 'gpu';
  /** The GPU.js mode that runs (gpu.mode): 'headlessgl', 'webgl2', 'webgl', 'webasm' or 'cpu'. */
  readonly mode: string;
  /** True where kernel outputs are device textures (GL modes). */
  readonly textures: boolean;
  readonly gpu: GpuInstance;
  /** What renders: read from the GL context once, at creation. */
  readonly renderer: GpuRenderer;
  private readonly kernels = new Map<string, GpuKernel>();
  private readonly ref = new JsBackend();
  /** Kernel calls and readbacks, for tests and benchmarks. */
  readonly stats = {
    kernelCalls: 0, compiles: 0, readbacks: 0,
    /** Calls computed on the host: float64/int32 work (by design), plus... */
    hostCalls: 0,
    /** ...float32 work that could not run as a kernel (argReduce, assign to an odd window). */
    hostFloat32Calls: 0,
  };
  /** Set to an array to record every kernel launch (the launch profile); null: off. */
  launches: KernelLaunch[] | null = null;
  /** Loop lengths of the compiled kernels, by cache key. */
  private readonly loops = new Map<string, number>();

  constructor(gpujs: GpuJsModule, opts: GpuBackendOptions = {}) {
    const mode = opts.mode && opts.mode !== 'auto' ? opts.mode : undefined;
    this.gpu = new gpujs.GPU(mode ? { mode } : {});
    this.mode = modeOf(gpujs, this.gpu);
    this.textures = !['cpu', 'webasm'].includes(this.mode);
    if (mode && mode !== 'gpu' && this.mode !== mode) throw new Error(`gpu backend: GPU.js mode '${mode}' was asked for but '${this.mode}' runs`);
    this.renderer = this.readRenderer();
  }

  /**
   * The renderer behind GPU.js's context. A probe kernel makes GPU.js create its context; the
   * WEBGL_debug_renderer_info extension names the device where offered (browsers); headless gl
   * masks RENDERER as 'ANGLE' in JavaScript, so the native getParameter under it is asked
   * (ANGLE's own string, which names the Vulkan or GL device it picked).
   */
  private readRenderer(): GpuRenderer {
    if (!this.textures) return { renderer: `GPU.js ${this.mode} mode (${this.mode === 'webasm' ? 'WebAssembly' : 'JavaScript'} on the CPU)`, vendor: 'GPU.js', software: true };
    const probe = this.call('function() { return 1; }', 1, []) as GpuTexture;
    probe.delete?.();
    const gl = (this.gpu as unknown as { context?: GlContext }).context;
    const found = gl ? rendererOf(gl) : { renderer: 'unknown (GPU.js exposes no GL context)', vendor: 'unknown' };
    return { ...found, software: SOFTWARE.test(`${found.renderer} ${found.vendor}`) };
  }

  /** Free the compiled kernels and the GPU.js instance. */
  destroy(): void {
    for (const k of this.kernels.values()) k.destroy?.();
    this.kernels.clear();
    this.gpu.destroy();
  }

  // ---------------------------------------------------------------- storage

  fromArray(data: TypedArray): Storage {
    return new GpuStorage(dtypeOf(data), data.length, data);
  }
  zeros(dtype: DType, size: number): Storage {
    return new GpuStorage(dtype, size, allocArray(dtype, size));
  }
  readSync(s: Storage, fresh = false): TypedArray {
    const g = gs(s);
    if (!g.host) this.stats.readbacks++;
    return fresh ? g.readHost().slice() : g.readHost();
  }
  read(s: Storage, fresh = false): Promise<TypedArray> {
    return Promise.resolve(this.readSync(s, fresh));
  }
  owns(s: Storage): boolean {
    return s instanceof GpuStorage;
  }

  // ---------------------------------------------------------------- kernel plumbing

  /** The kernel argument for a float32 storage: its texture, uploading host data once (GL modes). */
  private arg(s: Storage): unknown {
    const g = gs(s);
    assertIndexable(g.size, 'a kernel input');
    if (g.tex) return g.tex;
    if (!this.textures) return g.host;
    // upload once: an identity kernel turns the host array into a device texture
    const host = g.host!;
    const up = Float32Array.from(host as ArrayLike<number>);
    const tex = this.call(`function(a) { return a[this.thread.x]; }`, g.size, [up]) as GpuTexture;
    g.setTexture(tex, host);
    return tex;
  }

  /**
   * Run (compiling on first use) a kernel over [n] outputs; returns a texture or a Float32Array
   * (with `maps`, a kernel map: GPU.js's several outputs from one launch, { result, ...maps }).
   * Kernels are compiled with optimizeFloatMemory: in GL modes four outputs share an RGBA texel
   * and one fragment computes them.
   */
  private call(src: string, n: number, args: unknown[], maps?: Record<string, string>): unknown {
    assertIndexable(n, 'a kernel output');
    const sig = args.map((a) => (typeof a === 'number' ? 'n' : isTex(a) ? 't' : `a${(a as ArrayLike<number>).length}`)).join(',');
    const key = `${n}|${sig}|${maps ? JSON.stringify(maps) : ''}|${src}`;
    let k = this.kernels.get(key);
    if (!k) {
      const settings = {
        output: [n], pipeline: true, immutable: true, precision: 'single', tactic: 'precision', optimizeFloatMemory: true, loopMaxIterations: 1 << 30,
      };
      k = maps ? this.gpu.createKernelMap(maps, src, settings) : this.gpu.createKernel(src, settings);
      this.kernels.set(key, k);
      this.loops.set(key, loopIterations(src));
      this.stats.compiles++;
    }
    this.stats.kernelCalls++;
    this.launches?.push({ outputs: n * (1 + (maps ? Object.keys(maps).length : 0)), loop: this.loops.get(key)! });
    return k(...args);
  }

  /** Run a kernel over float32 inputs and wrap its output in a new storage. */
  private kernel(src: string, n: number, args: KArg[], dtype: DType = 'float32'): GpuStorage {
    if (n === 0) return new GpuStorage(dtype, 0, allocArray(dtype, 0));
    const out = this.call(src, n, args.map((a) => (typeof a === 'number' ? a : this.arg(a))));
    return wrap(out, n, dtype);
  }

  /** Run the js reference on host copies (float64 / int32 work, rare ops). */
  private onHost<T>(f: (h: (s: Storage) => Storage) => T, float32 = false): T {
    this.stats.hostCalls++;
    if (float32) this.stats.hostFloat32Calls++;
    return f((s) => new HostStorage(this.readSync(s)));
  }
  private fromHost(s: Storage): GpuStorage {
    const d = (s as HostStorage).data;
    return new GpuStorage(dtypeOf(d), d.length, d);
  }
  private hostView(v: View, h: (s: Storage) => Storage): View {
    return { ...v, storage: h(v.storage) };
  }

  // ---------------------------------------------------------------- elementwise

  /** A pointwise kernel: the views (same shape) read at one output position, combined by `expr`. */
  private pointwise(shape: readonly number[], views: readonly View[], expr: string, scalars: number[] = [], dtype: DType = 'float32'): GpuStorage {
    const n = numel(shape);
    const c = coalesceViews(shape, views);
    const names = views.map((_, k) => `v${k}`);
    const body = [
      decompose('this.thread.x', c.shape, 'i'),
      ...views.map((_, k) => `const ${'xyz'[k]} = ${names[k]}[${index('i', c.strides[k]!, c.offsets[k]!)}];`),
      `return ${expr};`,
    ].join('\n');
    const params = [...names, ...scalars.map((_, k) => `p${'ab'[k]}`)];
    return this.kernel(`function(${params.join(', ')}) {\n${body}\n}`, n, [...views.map((v) => this.asF32(v.storage)), ...scalars], dtype);
  }

  copy(x: View, dtype: DType = x.storage.dtype): Storage {
    if (!onDevice(x.storage) || (dtype !== 'float32' && dtype !== 'bool')) return this.onHost((h) => this.fromHost(this.ref.copy(this.hostView(x, h), dtype)));
    return this.pointwise(x.shape, [x], dtype === 'bool' && isF32(x.storage) ? '(x !== 0 ? 1.0 : 0.0)' : 'x', [], dtype);
  }
  unary(op: UnaryOp, x: View, a = 0, b = 0): Storage {
    if (!isF32(x.storage)) return this.onHost((h) => this.fromHost(this.ref.unary(op, this.hostView(x, h), a, b)));
    const expr = unaryExpr(op);
    const scalars = expr.includes('pb') ? [a, b] : expr.includes('pa') ? [a] : [];
    return this.pointwise(x.shape, [x], expr, scalars);
  }
  binary(op: BinaryOp, a: View, b: View): Storage {
    if (!isF32(a.storage) || !isF32(b.storage) || op === 'floorDiv' || op === 'remainder') {
      return this.onHost((h) => this.fromHost(this.ref.binary(op, this.hostView(a, h), this.hostView(b, h))));
    }
    return this.pointwise(a.shape, [a, b], binaryExpr(op), [], COMPARISONS.has(op) ? 'bool' : 'float32');
  }
  where(cond: View, a: View, b: View): Storage {
    if (!onDevice(cond.storage) || !isF32(a.storage) || !isF32(b.storage)) {
      return this.onHost((h) => this.fromHost(this.ref.where(this.hostView(cond, h), this.hostView(a, h), this.hostView(b, h))));
    }
    return this.pointwise(a.shape, [cond, a, b], '(x !== 0 ? y : z)');
  }

  /**
   * In place: a kernel over the whole destination storage that takes src where the position
   * falls in dst's window and the old value elsewhere, then swaps the new texture in. Needs a
   * window whose positions can be inverted greedily (positive strides, each larger than the span
   * of the smaller ones: slices, narrows, transposes); others go through the host.
   */
  assign(dst: View, src: View): void {
    const n = numel(dst.shape);
    if (n === 0) return;
    const order = dst.shape.map((_, d) => d).filter((d) => dst.shape[d] !== 1).sort((p, q) => dst.strides[q]! - dst.strides[p]!);
    let invertible = isF32(dst.storage) && isF32(src.storage);
    let span = 0;
    for (let k = order.length - 1; k >= 0 && invertible; k--) {
      const d = order[k]!;
      if (dst.strides[d]! <= span) invertible = false;
      span += (dst.shape[d]! - 1) * dst.strides[d]!;
    }
    const g = gs(dst.storage);
    if (!invertible || g.size === 0) {
      this.onHost((h) => {
        const hd = h(dst.storage);
        this.ref.assign({ ...dst, storage: hd }, this.hostView(src, h));
        g.setHost((hd as HostStorage).data);
      }, isF32(dst.storage));
      return;
    }
    const lines = [`let r = this.thread.x - ${lit(dst.offset)};`, 'let hit = r >= 0 ? 1.0 : 0.0;', 'let si = 0.0;'];
    for (const d of order) {
      const s = dst.strides[d]!;
      lines.push(floorDiv(`c${d}`, 'r', s));
      lines.push(`if (c${d} >= ${lit(dst.shape[d]!)}) { hit = 0.0; }`);
      lines.push(`r = r - c${d} * ${lit(s)};`);
      if (src.strides[d] !== 0) lines.push(`si = si + c${d} * ${lit(src.strides[d]!)};`);
    }
    lines.push('if (r !== 0) { hit = 0.0; }');
    lines.push(`if (hit > 0) { return s[si + ${lit(src.offset)}]; }`);
    lines.push('return d[this.thread.x];');
    const out = this.call(`function(d, s) {\n${lines.join('\n')}\n}`, g.size, [this.arg(dst.storage), this.arg(src.storage)]);
    replace(g, out);
  }

  // ---------------------------------------------------------------- reductions

  reduce(op: ReduceOp, x: View, axes: readonly number[]): Storage {
    if (!isF32(x.storage)) return this.onHost((h) => this.fromHost(this.ref.reduce(op, this.hostView(x, h), axes)));
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const keptShape = kept.map((d) => x.shape[d]!);
    const outSize = numel(keptShape);
    const inner = axes.reduce((p, a) => p * x.shape[a]!, 1);
    if (inner === 1) return this.copy(x);
    if (inner === 0) {
      if (op !== 'sum') throw new Error(`${op}: cannot reduce over an empty dimension`);
      return this.zeros('float32', outSize);
    }
    if (outSize === 0) return this.zeros('float32', 0);
    const ko = coalesceViews(keptShape, [{ ...x, shape: keptShape, strides: kept.map((d) => x.strides[d]!) }]);
    const ro = coalesceViews(axes.map((a) => x.shape[a]!), [{ ...x, offset: 0, shape: axes.map((a) => x.shape[a]!), strides: axes.map((a) => x.strides[a]!) }]);
    const r = this.treeReduce({
      op, outSize, inner, params: 'a', args: [x.storage], exact: true,
      prelude: `${decompose('o', ko.shape, 'i')}\nconst base = ${index('i', ko.strides[0]!, ko.offsets[0]!)};`,
      element: `${decompose('j', ro.shape, 'r')}\nconst v = a[base + ${index('r', ro.strides[0]!, 0)}];`,
    });
    return this.hi(r, outSize);
  }

  /**
   * A reduction over `inner` terms for each of `outSize` outputs, as a tree of launches: while
   * `inner` is above CHUNK, a stage of outSize * ceil(inner / CHUNK) threads each reduces one
   * chunk, and the next stage reduces the partials. `prelude` (statements on the output index
   * `o`) runs once per thread, `element` (statements on `o` and the term index `j`) defines `v`;
   * `finish` maps the full result `acc` to the output.
   *
   * exact (sums in GPU.js's cpu mode, which computes in doubles but stores float32): every stage
   * stores each value as a float32 pair hi, lo (lo = the rounding error of hi) in one output of
   * twice the size, [all hi | all lo], so the sum carries ~48 bits to the end, as the reference's
   * float64 accumulation does, and later kernels can use it unrounded (sumAt). On a device the
   * arithmetic is float32 throughout and there is no pair.
   */
  private treeReduce(r: { op: ReduceOp; outSize: number; inner: number; params: string; args: KArg[]; prelude?: string; element: string; finish?: string; exact?: boolean }): TreeSum {
    const pair = !!r.exact && r.op === 'sum' && !this.textures;
    const init = r.op === 'sum' ? '0.0' : r.op === 'max' ? '-1.0 / 0.0' : '1.0 / 0.0';
    const combine = r.op === 'sum' ? 'acc += v;' : `if (v !== v || v ${r.op === 'max' ? '>' : '<'} acc) { if (acc === acc) { acc = v; } }`;
    const chunks = Math.ceil(r.inner / CHUNK);
    const single = chunks <= 1;
    const threads = r.outSize * (single ? 1 : chunks);
    const head = pair
      ? `const h = this.thread.x >= ${lit(threads)} ? 1 : 0;\nconst u = this.thread.x - h * ${lit(threads)};`
      : 'const u = this.thread.x;';
    const ret = (e: string): string => (pair ? `const res = ${e};\nreturn h > 0 ? res - Math.fround(res) : res;` : `return ${e};`);
    const src = single
      ? `function(${r.params}) {
${head}
const o = u;
${r.prelude ?? ''}
let acc = ${init};
for (let j = 0; j < ${lit(r.inner)}; j++) {
${r.element}
${combine}
}
${ret(r.finish ?? 'acc')}
}`
      : `function(${r.params}) {
${head}
${floorDiv('o', 'u', chunks)}
const c = u - o * ${lit(chunks)};
${r.prelude ?? ''}
let acc = ${init};
for (let q = 0; q < ${lit(CHUNK)}; q++) {
const j = c * ${lit(CHUNK)} + q;
if (j < ${lit(r.inner)}) {
${r.element}
${combine}
}
}
${ret('acc')}
}`;
    const out = this.kernel(src, threads * (pair ? 2 : 1), r.args);
    if (single) return { out, pair };
    const part = pair ? `S[o * ${lit(chunks)} + j] + S[${lit(threads)} + o * ${lit(chunks)} + j]` : `S[o * ${lit(chunks)} + j]`;
    return this.treeReduce({ op: r.op, outSize: r.outSize, inner: chunks, params: 'S', args: [out], element: `const v = ${part};`, finish: r.finish, exact: r.exact });
  }

  /** A tree reduction's result as a storage of its n outputs (the hi halves of a pair). */
  private hi(r: TreeSum, n: number): GpuStorage {
    return r.pair ? new GpuStorage('float32', n, (r.out.host as Float32Array).subarray(0, n)) : r.out;
  }

  argReduce(op: 'max' | 'min', x: View, axis: number): Storage {
    return this.onHost((h) => this.fromHost(this.ref.argReduce(op, this.hostView(x, h), axis)), isF32(x.storage));
  }

  // Gather and scatter-add (labels, embeddings, the classification losses) run on the host.
  gather(x: View, axis: number, index: View): Storage {
    return this.onHost((h) => this.fromHost(this.ref.gather(this.hostView(x, h), axis, this.hostView(index, h))), isF32(x.storage));
  }
  scatterAdd(base: View, axis: number, index: View, src: View): Storage {
    return this.onHost((h) => this.fromHost(this.ref.scatterAdd(this.hostView(base, h), axis, this.hostView(index, h), this.hostView(src, h))), isF32(base.storage));
  }

  // ---------------------------------------------------------------- matmul

  matmul(a: View, b: View): Storage {
    if (!isF32(a.storage) || !isF32(b.storage)) return this.onHost((h) => this.fromHost(this.ref.matmul(this.hostView(a, h), this.hostView(b, h))));
    const [batch, m, k] = a.shape as [number, number, number];
    const n = b.shape[2]!;
    if (batch * m * n === 0) return this.zeros('float32', 0);
    if (k === 0) return this.zeros('float32', batch * m * n);
    const [sab, sam, sak] = a.strides as [number, number, number];
    const [sbb, sbk, sbn] = b.strides as [number, number, number];
    if (k > MAX_LOOP) {
      // a long inner dimension: partial dot products over chunks of k, then their sums
      const r = this.treeReduce({
        op: 'sum', outSize: batch * m * n, inner: k, params: 'A, B', args: [a.storage, b.storage],
        prelude: `${decompose('o', [batch, m, n], 'i')}\nconst ao = ${index('i', [sab, sam, 0], a.offset)};\nconst bo = ${index('i', [sbb, 0, sbn], b.offset)};`,
        element: `const v = A[ao + j * ${lit(sak)}] * B[bo + j * ${lit(sbk)}];`,
      });
      return r.out;
    }
    const src = `function(A, B) {
${decompose('this.thread.x', [batch, m, n], 'i')}
const ao = ${index('i', [sab, sam, 0], a.offset)};
const bo = ${index('i', [sbb, 0, sbn], b.offset)};
let acc = 0.0;
for (let p = 0; p < ${lit(k)}; p++) {
  acc += A[ao + p * ${lit(sak)}] * B[bo + p * ${lit(sbk)}];
}
return acc;
}`;
    return this.kernel(src, batch * m * n, [a.storage, b.storage]);
  }

  // ---------------------------------------------------------------- convolution

  conv2d(x: Storage, w: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(x) || !isF32(w)) return this.onHost((h) => this.fromHost(this.ref.conv2d(h(x), h(w), g)));
    const cg = g.c / g.groups, og = g.o / g.groups;
    const src = `function(X, W) {
${decompose('this.thread.x', [g.n, g.o, g.oh, g.ow], 'i')}
${floorDiv('grp', 'i1', og)}
let acc = 0.0;
for (let ci = 0; ci < ${lit(cg)}; ci++) {
  const xb = (i0 * ${lit(g.c)} + grp * ${lit(cg)} + ci) * ${lit(g.h * g.w)};
  const wb = (i1 * ${lit(cg)} + ci) * ${lit(g.kh * g.kw)};
  for (let ky = 0; ky < ${lit(g.kh)}; ky++) {
    const iy = i2 * ${lit(g.strideH)} - ${lit(g.padH)} + ky * ${lit(g.dilH)};
    if (iy >= 0 && iy < ${lit(g.h)}) {
      for (let kx = 0; kx < ${lit(g.kw)}; kx++) {
        const ix = i3 * ${lit(g.strideW)} - ${lit(g.padW)} + kx * ${lit(g.dilW)};
        if (ix >= 0 && ix < ${lit(g.w)}) {
          acc += X[xb + iy * ${lit(g.w)} + ix] * W[wb + ky * ${lit(g.kw)} + kx];
        }
      }
    }
  }
}
return acc;
}`;
    return this.kernel(src, g.n * g.o * g.oh * g.ow, [x, w]);
  }

  conv2dBackwardData(dy: Storage, w: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(dy) || !isF32(w)) return this.onHost((h) => this.fromHost(this.ref.conv2dBackwardData(h(dy), h(w), g)));
    const cg = g.c / g.groups, og = g.o / g.groups;
    const src = `function(DY, W) {
${decompose('this.thread.x', [g.n, g.c, g.h, g.w], 'i')}
${floorDiv('grp', 'i1', cg)}
const ci = i1 - grp * ${lit(cg)};
let acc = 0.0;
for (let oo = 0; oo < ${lit(og)}; oo++) {
  const o = grp * ${lit(og)} + oo;
  const db = (i0 * ${lit(g.o)} + o) * ${lit(g.oh * g.ow)};
  const wb = (o * ${lit(cg)} + ci) * ${lit(g.kh * g.kw)};
  for (let ky = 0; ky < ${lit(g.kh)}; ky++) {
    const ty = i2 + ${lit(g.padH)} - ky * ${lit(g.dilH)};
    ${floorDiv('oy', 'ty', g.strideH)}
    if (ty >= 0 && oy * ${lit(g.strideH)} === ty && oy < ${lit(g.oh)}) {
      for (let kx = 0; kx < ${lit(g.kw)}; kx++) {
        const tx = i3 + ${lit(g.padW)} - kx * ${lit(g.dilW)};
        ${floorDiv('ox', 'tx', g.strideW)}
        if (tx >= 0 && ox * ${lit(g.strideW)} === tx && ox < ${lit(g.ow)}) {
          acc += DY[db + oy * ${lit(g.ow)} + ox] * W[wb + ky * ${lit(g.kw)} + kx];
        }
      }
    }
  }
}
return acc;
}`;
    return this.kernel(src, g.n * g.c * g.h * g.w, [dy, w]);
  }

  /**
   * The weight gradient sums n * oh * ow products per weight (100K for the first conv layer at
   * batch 128): a tree over chunks of the (image, output row, output column) terms.
   */
  conv2dBackwardFilter(x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
    if (!isF32(x) || !isF32(dy)) return this.onHost((h) => this.fromHost(this.ref.conv2dBackwardFilter(h(x), h(dy), g)));
    const cg = g.c / g.groups, og = g.o / g.groups;
    return this.treeReduce({
      op: 'sum', outSize: g.o * cg * g.kh * g.kw, inner: g.n * g.oh * g.ow, params: 'X, DY', args: [x, dy],
      prelude: `${decompose('o', [g.o, cg, g.kh, g.kw], 'i')}
${floorDiv('grp', 'i0', og)}
const ch = grp * ${lit(cg)} + i1;`,
      element: `${decompose('j', [g.n, g.oh, g.ow], 'b')}
const iy = b1 * ${lit(g.strideH)} - ${lit(g.padH)} + i2 * ${lit(g.dilH)};
const ix = b2 * ${lit(g.strideW)} - ${lit(g.padW)} + i3 * ${lit(g.dilW)};
let v = 0.0;
if (iy >= 0 && iy < ${lit(g.h)} && ix >= 0 && ix < ${lit(g.w)}) {
  v = X[((b0 * ${lit(g.c)} + ch) * ${lit(g.h)} + iy) * ${lit(g.w)} + ix] * DY[((b0 * ${lit(g.o)} + i0) * ${lit(g.oh)} + b1) * ${lit(g.ow)} + b2];
}`,
    }).out;
  }

  // ---------------------------------------------------------------- pooling

  /** Statements giving the clipped window y0..y1, x0..x1 of output (i2, i3). */
  private windowOf(g: Pool2dGeometry): string {
    return `const ys = i2 * ${lit(g.strideH)} - ${lit(g.padH)};
const xs = i3 * ${lit(g.strideW)} - ${lit(g.padW)};
const y0 = Math.max(ys, 0); const y1 = Math.min(ys + ${lit(g.kh)}, ${lit(g.h)});
const x0 = Math.max(xs, 0); const x1 = Math.min(xs + ${lit(g.kw)}, ${lit(g.w)});
const plane = (i0 * ${lit(g.c)} + i1) * ${lit(g.h * g.w)};`;
  }

  private divisorOf(g: Pool2dGeometry): string {
    return g.countIncludePad
      ? `((Math.min(ys + ${lit(g.kh)}, ${lit(g.h + g.padH)}) - ys) * (Math.min(xs + ${lit(g.kw)}, ${lit(g.w + g.padW)}) - xs))`
      : '((y1 - y0) * (x1 - x0))';
  }

  maxPool2d(x: Storage, g: Pool2dGeometry): { out: Storage; indices: Storage } {
    if (!isF32(x)) {
      return this.onHost((h) => {
        const r = this.ref.maxPool2d(h(x), g);
        return { out: this.fromHost(r.out), indices: this.fromHost(r.indices) };
      });
    }
    const scan = (ret: string): string => `function(X) {
${decompose('this.thread.x', [g.n, g.c, g.oh, g.ow], 'i')}
${this.windowOf(g)}
let best = -1.0 / 0.0;
let bi = y0 * ${lit(g.w)} + x0;
let done = 0.0;
for (let ky = 0; ky < ${lit(g.kh)}; ky++) {
  const y = ys + ky;
  for (let kx = 0; kx < ${lit(g.kw)}; kx++) {
    const xx = xs + kx;
    if (done < 1 && y >= y0 && y < y1 && xx >= x0 && xx < x1) {
      const v = X[plane + y * ${lit(g.w)} + xx];
      if (v > best || v !== v) {
        best = v;
        bi = y * ${lit(g.w)} + xx;
        if (v !== v) { done = 1.0; }
      }
    }
  }
}
return ${ret};
}`;
    const n = g.n * g.c * g.oh * g.ow;
    return { out: this.kernel(scan('best'), n, [x]), indices: this.kernel(scan('bi'), n, [x], 'int32') };
  }

  /**
   * Gather form of the scatter-add backward passes: each input position visits the windows
   * that contain it in increasing output order and rounds to float32 after every add, the
   * order and rounding of the reference's `dx[k] += v`.
   */
  private poolBackward(g: Pool2dGeometry, term: string, args: KArg[], params: string): GpuStorage {
    const ka = Math.ceil(g.kh / g.strideH), kb = Math.ceil(g.kw / g.strideW);
    const src = `function(${params}) {
${decompose('this.thread.x', [g.n, g.c, g.h, g.w], 'i')}
const ty = i2 + ${lit(g.padH)};
const tx = i3 + ${lit(g.padW)};
${floorDiv('oyHi', 'ty', g.strideH)}
${floorDiv('oxHi', 'tx', g.strideW)}
let acc = 0.0;
for (let a = 0; a < ${lit(ka)}; a++) {
  const oy = oyHi - ${lit(ka - 1)} + a;
  const ys = oy * ${lit(g.strideH)} - ${lit(g.padH)};
  if (oy >= 0 && oy < ${lit(g.oh)} && ys + ${lit(g.kh)} > i2) {
    for (let b = 0; b < ${lit(kb)}; b++) {
      const ox = oxHi - ${lit(kb - 1)} + b;
      const xs = ox * ${lit(g.strideW)} - ${lit(g.padW)};
      if (ox >= 0 && ox < ${lit(g.ow)} && xs + ${lit(g.kw)} > i3) {
        const oi = ((i0 * ${lit(g.c)} + i1) * ${lit(g.oh)} + oy) * ${lit(g.ow)} + ox;
        const y0 = Math.max(ys, 0); const y1 = Math.min(ys + ${lit(g.kh)}, ${lit(g.h)});
        const x0 = Math.max(xs, 0); const x1 = Math.min(xs + ${lit(g.kw)}, ${lit(g.w)});
        ${term}
      }
    }
  }
}
return acc;
}`;
    return this.kernel(src, g.n * g.c * g.h * g.w, args);
  }

  maxPool2dBackward(dy: Storage, indices: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(dy)) return this.onHost((h) => this.fromHost(this.ref.maxPool2dBackward(h(dy), h(indices), g)));
    const term = `if (I[oi] === i2 * ${lit(g.w)} + i3) { acc = Math.fround(acc + DY[oi]); }`;
    return this.poolBackward(g, term, [dy, this.indexArg(indices)], 'DY, I');
  }

  /**
   * Max-pool indices as a float32 storage: device indices are float textures already (exact
   * small integers); host int32 indices are converted (and uploaded once in GL modes).
   */
  private indexArg(s: Storage): Storage {
    const g = gs(s);
    if (g.tex) return new GpuStorage('float32', g.size, null, null).borrow(g.tex);
    const f = indexF32.get(g.host!) ?? Float32Array.from(g.host as ArrayLike<number>);
    indexF32.set(g.host!, f);
    return new GpuStorage('float32', g.size, f);
  }

  /** A bool storage as kernels read it: the float32 0.0 / 1.0 it holds (device) or a float32 twin (host). */
  private asF32(s: Storage): Storage {
    return s.dtype === 'bool' ? this.indexArg(s) : s;
  }

  avgPool2d(x: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(x)) return this.onHost((h) => this.fromHost(this.ref.avgPool2d(h(x), g)));
    const src = `function(X) {
${decompose('this.thread.x', [g.n, g.c, g.oh, g.ow], 'i')}
${this.windowOf(g)}
let s = 0.0;
for (let ky = 0; ky < ${lit(g.kh)}; ky++) {
  const y = ys + ky;
  for (let kx = 0; kx < ${lit(g.kw)}; kx++) {
    const xx = xs + kx;
    if (y >= y0 && y < y1 && xx >= x0 && xx < x1) { s += X[plane + y * ${lit(g.w)} + xx]; }
  }
}
return s / ${this.divisorOf(g)};
}`;
    return this.kernel(src, g.n * g.c * g.oh * g.ow, [x]);
  }

  avgPool2dBackward(dy: Storage, g: Pool2dGeometry): Storage {
    if (!isF32(dy)) return this.onHost((h) => this.fromHost(this.ref.avgPool2dBackward(h(dy), g)));
    const term = `acc = Math.fround(acc + DY[oi] / ${this.divisorOf(g)});`;
    return this.poolBackward(g, term, [dy], 'DY');
  }

  // ---------------------------------------------------------------- batch norm

  /**
   * Per-channel sums over [n, c, s]: a tree reduction whose `element` (statements defining `v`)
   * sees the element's index `k` and its channel `o`.
   */
  private channelSum(g: ChannelGeometry, element: string, params: string, args: KArg[], finish?: string): TreeSum {
    return this.treeReduce({
      op: 'sum', outSize: g.c, inner: g.n * g.s, params, args, exact: true, finish,
      element: `${decompose('j', [g.n, g.s], 'b')}\nconst k = (b0 * ${lit(g.c)} + o) * ${lit(g.s)} + b1;\n${element}`,
    });
  }

  /** Mean, then the variance about it: each sum computed once, as a tree. */
  batchNormStats(x: Storage, g: ChannelGeometry): { mean: Storage; variance: Storage } {
    if (!isF32(x)) {
      return this.onHost((h) => {
        const r = this.ref.batchNormStats(h(x), g);
        return { mean: this.fromHost(r.mean), variance: this.fromHost(r.variance) };
      });
    }
    const count = lit(g.n * g.s);
    const mean = this.channelSum(g, 'const v = X[k];', 'X', [x], `acc / ${count}`);
    // the reference centres with the unrounded mean (a pair in cpu mode)
    const variance = this.channelSum(g, `const d = X[k] - ${sumAt(mean, 'M', 'o', g.c)};\nconst v = d * d;`, 'X, M', [x, mean.out], `acc / ${count}`);
    return { mean: this.hi(mean, g.c), variance: this.hi(variance, g.c) };
  }

  batchNormForward(x: Storage, mean: Storage, invstd: Storage, weight: Storage, bias: Storage, g: ChannelGeometry): Storage {
    if (![x, mean, invstd, weight, bias].every(isF32)) {
      return this.onHost((h) => this.fromHost(this.ref.batchNormForward(h(x), h(mean), h(invstd), h(weight), h(bias), g)));
    }
    // the reference's float32 steps (src/backend/js/norm.ts), each rounded as it rounds them
    const src = `function(X, M, Q, W, B) {
${this.channelOf(g)}
const scale = Math.fround(Q[ch] * W[ch]);
const shift = Math.fround(B[ch] - Math.fround(M[ch] * scale));
return Math.fround(Math.fround(X[this.thread.x] * scale) + shift);
}`;
    return this.kernel(src, g.n * g.c * g.s, [x, mean, invstd, weight, bias]);
  }

  private channelOf(g: ChannelGeometry): string {
    return `${decompose('this.thread.x', [g.n, g.c, g.s], 'e')}
const ch = e1;`;
  }

  batchNormBackward(dy: Storage, x: Storage, mean: Storage, invstd: Storage, weight: Storage, g: ChannelGeometry, batchStats: boolean): { dx: Storage; dweight: Storage; dbias: Storage } {
    if (![dy, x, mean, invstd, weight].every(isF32)) {
      return this.onHost((h) => {
        const r = this.ref.batchNormBackward(h(dy), h(x), h(mean), h(invstd), h(weight), g, batchStats);
        return { dx: this.fromHost(r.dx), dweight: this.fromHost(r.dweight), dbias: this.fromHost(r.dbias) };
      });
    }
    // the reference's formulas (src/backend/js/norm.ts): sums of dy and dy * (x - mean), invstd
    // applied once; dx from float32 coefficients, each step rounded as the reference rounds it
    const n = g.n * g.c * g.s;
    const dbias = this.channelSum(g, 'const v = DY[k];', 'DY', [dy]);
    const sxc = this.channelSum(g, 'const v = DY[k] * (X[k] - M[o]);', 'DY, X, M', [dy, x, mean]);
    const sxhat = (ch: string): string => `(${sumAt(sxc, 'SX', ch, g.c)} * Q[${ch}])`;
    const dweight = this.kernel(`function(SX, Q) {
return ${sxhat('this.thread.x')};
}`, g.c, [sxc.out, invstd]);
    const count = g.n * g.s;
    const dx = batchStats
      ? this.kernel(`function(DY, X, M, Q, W, SD, SX) {
${this.channelOf(g)}
const kk = Q[ch] * W[ch];
const t = this.thread.x;
const a = Math.fround(-kk * Q[ch] * (${sxhat('ch')} / ${lit(count)}));
const c = Math.fround(-kk * (${sumAt(dbias, 'SD', 'ch', g.c)} / ${lit(count)}));
return Math.fround(Math.fround(DY[t] * Math.fround(kk)) + Math.fround(Math.fround(Math.fround(X[t] - M[ch]) * a) + c));
}`, n, [dy, x, mean, invstd, weight, dbias.out, sxc.out])
      : this.kernel(`function(DY, Q, W) {
${this.channelOf(g)}
return Math.fround(DY[this.thread.x] * Math.fround(Q[ch] * W[ch]));
}`, n, [dy, invstd, weight]);
    return { dx, dweight, dbias: this.hi(dbias, g.c) };
  }

  // ---------------------------------------------------------------- optimiser

  /**
   * Adam in one launch: a kernel map (GPU.js's several outputs of one kernel) writes the new m
   * and v alongside the new parameter. Every operation is rounded to float32 as the reference
   * does it (the multiply-adds once, from the product and sum in the mode's arithmetic), with
   * the reference's float32 scalars, so cpu mode matches the reference bit for bit; GL modes
   * compute in float32 anyway (their GLSL may fuse a multiply-add, within a float32 rounding).
   */
  adamUpdate(param: Storage, grad: Storage, m: Storage, v: Storage, h: AdamHyper): void {
    if (![param, grad, m, v].every(isF32)) {
      this.onHost((hs) => {
        const [P, G, M, V] = [param, grad, m, v].map(hs) as [Storage, Storage, Storage, Storage];
        this.ref.adamUpdate(P, G, M, V, h);
        [param, m, v].forEach((s, i) => gs(s).setHost(([P, M, V][i] as HostStorage).data));
      });
      return;
    }
    const n = param.size;
    if (n === 0) return;
    const s = adamScalars(h);
    const src = `function(P, G, M, V, b1, c1, b2, c2, dc, ss, sb, eps) {
const t = this.thread.x;
const g = ${s.mode === 1 ? 'Math.fround(P[t] * dc + G[t])' : 'G[t]'};
const m = adamM(M[t], g, b1, c1);
const v = adamV(V[t], g, b2, c2);
const p = ${s.mode === 2 ? 'Math.fround(P[t] * dc)' : 'P[t]'};
const d = Math.fround(Math.fround(Math.fround(Math.sqrt(v)) / sb) + eps);
return Math.fround(p + Math.fround(Math.fround(ss * m) / d));
}`;
    const maps = {
      m: 'function adamM(mo, g, b1, c1) { return Math.fround(Math.fround(mo * b1) + g * c1); }',
      v: 'function adamV(vo, g, b2, c2) { return Math.fround(Math.fround(vo * b2) + Math.fround(c2 * g) * g); }',
    };
    // 1 - beta is computed on the host: in GL modes 1 - float32(0.999) would be 5e-5 off
    const args = [param, grad, m, v].map((st) => this.arg(st));
    const out = this.call(src, n, [...args, s.beta1, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.decay, s.negStepSize, s.sqrtBc2, s.eps], maps) as Record<'result' | 'm' | 'v', unknown>;
    take(gs(m), wrap(out.m, n, 'float32'));
    take(gs(v), wrap(out.v, n, 'float32'));
    take(gs(param), wrap(out.result, n, 'float32'));
  }
}

// ---------------------------------------------------------------- helpers

/** A tree reduction's output: n values, or n float32 pairs [hi... | lo...] (pair). */
interface TreeSum { out: GpuStorage; pair: boolean }

/** The expression of a tree sum's value at `i` (a name or literal) of n outputs named `name`: hi + lo for a pair. */
const sumAt = (r: TreeSum, name: string, i: string, n: number): string => (r.pair ? `(${name}[${i}] + ${name}[${lit(n)} + ${i}])` : `${name}[${i}]`);

/** The concrete mode GPU.js picked (its GL kernels all call themselves 'gpu'). */
function modeOf(gpujs: GpuJsModule, gpu: GpuInstance): string {
  const m = gpujs as unknown as Record<string, unknown>;
  const names: [string, string][] = [['HeadlessGLKernel', 'headlessgl'], ['WebGL2Kernel', 'webgl2'], ['WebGLKernel', 'webgl'], ['WebGPUKernel', 'webgpu'], ['WebAssemblyKernel', 'webasm'], ['CPUKernel', 'cpu']];
  for (const [k, mode] of names) if (m[k] && gpu.Kernel === m[k]) return mode;
  return gpu.mode;
}

interface GlContext {
  RENDERER: number; VENDOR: number;
  getParameter(p: number): unknown;
  getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number; UNMASKED_VENDOR_WEBGL: number } | null;
}

/** Renderer and vendor strings of a WebGL context, unmasked where the platform allows. */
function rendererOf(gl: GlContext): { renderer: string; vendor: string } {
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  try {
    const dbg = gl.getExtension('WEBGL_debug_renderer_info');
    if (dbg) {
      const renderer = str(gl.getParameter(dbg.UNMASKED_RENDERER_WEBGL));
      if (renderer) return { renderer, vendor: str(gl.getParameter(dbg.UNMASKED_VENDOR_WEBGL)) };
    }
  } catch { /* not offered */ }
  // headless gl: the JavaScript class answers 'ANGLE' / 'stack-gl'; the innermost (native) getParameter answers ANGLE's strings
  let native: GlContext['getParameter'] | null = null;
  for (let p = Object.getPrototypeOf(gl) as object | null; p; p = Object.getPrototypeOf(p) as object | null) {
    const own = Object.getOwnPropertyDescriptor(p, 'getParameter')?.value as GlContext['getParameter'] | undefined;
    if (typeof own === 'function') native = own; // the last one found is the innermost
  }
  const ask = (f: GlContext['getParameter'] | null, p: number): string => {
    try { return f ? str(f.call(gl, p)) : ''; } catch { return ''; }
  };
  const renderer = ask(native, gl.RENDERER) || str(gl.getParameter(gl.RENDERER)) || 'unknown';
  const vendor = ask(native, gl.VENDOR) || str(gl.getParameter(gl.VENDOR)) || 'unknown';
  return { renderer, vendor };
}

function gs(s: Storage): GpuStorage {
  if (!(s instanceof GpuStorage)) throw new Error('internal: storage does not belong to the gpu backend');
  return s;
}

function dtypeOf(d: TypedArray): DType {
  return d instanceof Float32Array ? 'float32' : d instanceof Float64Array ? 'float64' : d instanceof Uint8Array ? 'bool' : 'int32';
}

function isTex(a: unknown): boolean {
  return typeof a === 'object' && a !== null && typeof (a as { toArray?: unknown }).toArray === 'function' && !ArrayBuffer.isView(a);
}

/** A kernel result (texture or typed array) as a storage of n elements. */
function wrap(out: unknown, n: number, dtype: DType): GpuStorage {
  if (isTex(out)) return new GpuStorage(dtype, n, null, out as GpuTexture);
  const arr = out as Float32Array;
  if (dtype === 'int32' || dtype === 'bool') {
    // cpu/webasm modes hand back floats; indices and bools are exact small integers
    const ints = dtype === 'int32' ? Int32Array.from(arr.subarray(0, n)) : Uint8Array.from(arr.subarray(0, n));
    indexF32.set(ints, arr);
    return new GpuStorage(dtype, n, ints);
  }
  return new GpuStorage(dtype, n, arr.length === n ? arr : arr.slice(0, n));
}

/**
 * Make `dst` hold the contents of a kernel output storage (in-place kernels). In cpu/webasm
 * modes the result is copied into dst's own host array, so an array handed to fromArray sees
 * in-place updates as on the js backend; in GL modes the new texture is swapped in (and a host
 * array handed over earlier no longer follows the storage: read it with readSync).
 */
function take(dst: GpuStorage, src: GpuStorage): void {
  if (src.tex) {
    const t = src.tex;
    src.detach();
    dst.setTexture(t);
  } else replace(dst, src.host!);
}

function replace(dst: GpuStorage, out: unknown): void {
  if (isTex(out)) dst.setTexture(out as GpuTexture);
  else if (dst.host && !dst.tex && dst.host instanceof Float32Array && (out as Float32Array).length >= dst.size) dst.host.set((out as Float32Array).subarray(0, dst.size));
  else dst.setHost(out as Float32Array);
}
