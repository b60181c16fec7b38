// Module: PyTorch's nn.Module in TypeScript. Parameters and child modules are found among a
// module's own properties in declaration order; buffers are registered by their state_dict
// name. Dotted names, recursive train()/eval(), stateDict()/loadStateDict(), summary().

import { noGrad } from '../autograd/grad-mode.js';
import { fmtShape, shapeEq } from '../shape.js';
import { INSPECT, Tensor, clearGrad } from '../tensor.js';

/** A tensor that a module trains: a leaf that requires grad. */
export class Parameter extends Tensor {
  /** A parameter holding the values of `data` (a leaf that requires grad unless told otherwise) (torch.nn.Parameter). */
  constructor(data: Tensor, requiresGrad = true) {
    const t = data.detach().contiguous();
    super(t.storage, t.shape, t.strides, t.offset);
    if (t.offset !== 0 || t.storage.size !== t.numel) this._setStorage(t.clone().storage);
    this.requiresGrad = requiresGrad;
  }
}

/** Tensors by dotted PyTorch name (a module's parameters and persistent buffers). */
export type StateDict = Map<string, Tensor>;

/** What loadStateDict found missing or unexpected (non-strict loads). */
export interface LoadResult {
  /** Keys the module has that the state dict lacked. */
  missingKeys: string[];
  /** Keys of the state dict the module does not have. */
  unexpectedKeys: string[];
}

/** Base class of layers and models (PyTorch's nn.Module): subclass it and write forward(). */
export abstract class Module {
  /** Training mode (dropout active, batch norm on batch statistics) or eval mode; set with train() / eval(). */
  training = true;
  private readonly _buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();

  // Layers take and return tensors; composite models (the VAEs) may return records of them.
  /** The computation: layers take and return tensors. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract forward(...inputs: any[]): unknown;

  /** Register a buffer (state that is not trained, e.g. running statistics) under its state_dict name. */
  protected registerBuffer(name: string, tensor: Tensor, persistent = true): Tensor {
    this._buffers.set(name, { tensor, persistent });
    return tensor;
  }
  protected buffer(name: string): Tensor {
    const b = this._buffers.get(name);
    if (!b) throw new Error(`${this.constructor.name}: no buffer named '${name}'`);
    return b.tensor;
  }

  /** Direct children in declaration order (Sequential overrides this with its numbered list). */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }
  /** Direct children, in declaration order. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and all below it, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.namedChildren()) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }
  /** This module and every module below it. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Own parameters (not recursive), in declaration order. */
  protected ownParameters(): [string, Parameter][] {
    return Object.entries(this).filter((e): e is [string, Parameter] => e[1] instanceof Parameter);
  }

  /** Every parameter below this module with its dotted PyTorch name, shared ones once. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, p] of m.ownParameters()) {
        if (seen.has(p)) continue; // shared parameters are listed once, as PyTorch does
        seen.add(p);
        out.push([prefix ? `${prefix}.${name}` : name, p]);
      }
    }
    return out;
  }
  /** Every parameter below this module (what an optimiser takes). */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Every buffer below this module with its dotted name. */
  namedBuffers(opts: { persistentOnly?: boolean } = {}): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const [name, b] of m._buffers) {
        if (opts.persistentOnly && !b.persistent) continue;
        out.push([prefix ? `${prefix}.${name}` : name, b.tensor]);
      }
    }
    return out;
  }
  /** Every buffer below this module. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  /** Training mode (true) or eval mode (false), for this module and all below it. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Eval mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Clear the gradients of every parameter (those nobody has read are freed now, as Optimizer.zeroGrad). */
  zeroGrad(): void {
    for (const p of this.parameters()) clearGrad(p);
  }

  /** Call fn on every module, children first (PyTorch's apply). */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /** Parameters and persistent buffers by dotted PyTorch name. The tensors share storage with the module. */
  stateDict(): StateDict {
    const sd: StateDict = new Map();
    for (const [prefix, m] of this.namedModules()) {
      const key = (n: string): string => (prefix ? `${prefix}.${n}` : n);
      for (const [n, p] of m.ownParameters()) sd.set(key(n), p.detach());
      for (const [n, b] of m._buffers) if (b.persistent) sd.set(key(n), b.tensor.detach());
    }
    return sd;
  }

  /**
   * Copy values into this module's parameters and buffers in place (so optimisers keep working).
   * Every problem is reported before anything is modified: a failed load changes nothing.
   */
  loadStateDict(dict: StateDict | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const src = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !src.has(k));
    const unexpectedKeys = [...src.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    if (strict && missingKeys.length) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    for (const [k, mine] of own) {
      const v = src.get(k);
      if (!v) continue;
      if (!(v instanceof Tensor)) problems.push(`${k}: expected a Tensor, got ${typeof v}`);
      else if (!shapeEq(v.shape, mine.shape)) problems.push(`${k}: shape ${fmtShape(v.shape)} in the state dict, ${fmtShape(mine.shape)} in the model`);
      else if ((v.dtype === 'int32') !== (mine.dtype === 'int32')) problems.push(`${k}: dtype ${v.dtype} in the state dict, ${mine.dtype} in the model`);
    }
    if (problems.length) throw new Error(`loadStateDict (${this.constructor.name}):\n  ${problems.join('\n  ')}`);
    noGrad(() => {
      for (const [k, mine] of own) {
        const v = src.get(k);
        if (v) mine.copy_(v);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Extra text for the summary line, e.g. 'in=784, out=400'. */
  extraRepr(): string {
    return '';
  }

  /** PyTorch-style layout: the module, its extraRepr() and its children, indented. */
  toString(): string {
    const children = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!children.length) return `${head})`;
    const body = children.map(([n, c]) => `  (${n}): ${c.toString().replace(/\n/g, '\n  ')}`).join('\n');
    return `${head}\n${body}\n)`;
  }

  /** console.log(module) in Node prints toString(). */
  [INSPECT](): string {
    return this.toString();
  }

  /**
   * A torchinfo-like table: every module's output shape and parameter count for one forward
   * pass on `input` (run without recording a graph).
   */
  summary(input: Tensor): string {
    const rows: { name: string; type: string; shape: string; params: number; depth: number }[] = [];
    const restore: (() => void)[] = [];
    for (const [name, m] of this.namedModules()) {
      const own = m.ownParameters().reduce((s, [, p]) => s + p.numel, 0);
      const row = { name: name || '(root)', type: m.constructor.name, shape: '-', params: own, depth: name ? name.split('.').length : 0 };
      rows.push(row);
      const original = m.forward;
      const hadOwn = Object.hasOwn(m, 'forward');
      m.forward = (...xs: Tensor[]) => {
        const y = original.apply(m, xs);
        row.shape = y instanceof Tensor ? fmtShape(y.shape) : Object.entries(y as object).filter(([, v]) => v instanceof Tensor).map(([k, v]) => `${k}: ${fmtShape((v as Tensor).shape)}`).join(', ');
        return y;
      };
      restore.push(() => (hadOwn ? (m.forward = original) : delete (m as Partial<Module>).forward));
    }
    try {
      noGrad(() => this.forward(input));
    } finally {
      restore.forEach((r) => r());
    }
    const total = rows.reduce((s, r) => s + r.params, 0);
    const trainable = this.parameters().filter((p) => p.requiresGrad).reduce((s, p) => s + p.numel, 0);
    const lines = rows.map((r) => [`${'  '.repeat(r.depth)}${r.type}${r.name !== '(root)' ? ` (${r.name})` : ''}`, r.shape, r.params ? r.params.toLocaleString('en-US') : '-']);
    const widths = [0, 1, 2].map((i) => Math.max(...lines.map((l) => l[i]!.length), ['Layer', 'Output shape', 'Params'][i]!.length));
    const fmt = (l: string[]): string => `${l[0]!.padEnd(widths[0]!)}  ${l[1]!.padEnd(widths[1]!)}  ${l[2]!.padStart(widths[2]!)}`;
    const rule = '-'.repeat(widths[0]! + widths[1]! + widths[2]! + 4);
    return [fmt(['Layer', 'Output shape', 'Params']), rule, ...lines.map(fmt), rule, `Total params: ${total.toLocaleString('en-US')}`, `Trainable params: ${trainable.toLocaleString('en-US')}`, `Input: ${fmtShape(input.shape)}`].join('\n');
  }
}
