// ModuleList and ModuleDict: children held in a list or by name, registered so that their
// parameters, train()/eval() and state_dict keys ('0.weight', 'head.bias') work as in PyTorch.

import { Module } from './module.js';

function checkModule(owner: string, m: unknown, where: string): Module {
  if (!(m instanceof Module)) throw new Error(`${owner}: ${where} is not a Module`);
  return m;
}

/** A list of modules, numbered like Sequential's, with no forward of its own. */
export class ModuleList extends Module implements Iterable<Module> {
  private readonly items: Module[] = [];
  /** A list holding these modules. */
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  override namedChildren(): [string, Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }
  /** The number of modules. */
  get length(): number {
    return this.items.length;
  }
  /** Module i (negative counts from the end). */
  at(i: number): Module {
    const m = this.items.at(i);
    if (!m) throw new Error(`ModuleList: index ${i} out of range for ${this.items.length} modules`);
    return m;
  }
  /** Adds a module at the end (torch.nn.ModuleList.append). */
  append(m: Module): this {
    this.items.push(checkModule('ModuleList', m, `item ${this.items.length}`));
    return this;
  }
  /** Adds modules at the end, in order (torch.nn.ModuleList.extend). */
  extend(ms: Iterable<Module>): this {
    for (const m of ms) this.append(m);
    return this;
  }
  /** The modules in order. */
  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }
  forward(): never {
    throw new Error('ModuleList has no forward(): iterate over it in your own module\'s forward');
  }
}

/** Modules by name, in insertion order, with no forward of its own. */
export class ModuleDict extends Module implements Iterable<[string, Module]> {
  private readonly items = new Map<string, Module>();
  /** A dict holding these modules (an object or [name, module] pairs). */
  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? modules : Object.entries(modules);
    for (const [k, m] of entries as Iterable<[string, Module]>) this.set(k, m);
  }
  override namedChildren(): [string, Module][] {
    return [...this.items];
  }
  /** The number of modules. */
  get size(): number {
    return this.items.size;
  }
  /** Whether a module is registered under `key`. */
  has(key: string): boolean {
    return this.items.has(key);
  }
  /** The module under `key` (an error listing the names when there is none). */
  get(key: string): Module {
    const m = this.items.get(key);
    if (!m) throw new Error(`ModuleDict: no module named '${key}' (have: ${[...this.items.keys()].join(', ') || 'none'})`);
    return m;
  }
  /** Registers (or replaces) the module under `key` (no '.' in it). */
  set(key: string, m: Module): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) throw new Error(`ModuleDict: key must be a non-empty string without '.', got ${JSON.stringify(key)}`);
    this.items.set(key, checkModule('ModuleDict', m, `'${key}'`));
    return this;
  }
  /** The names, in insertion order. */
  keys(): string[] {
    return [...this.items.keys()];
  }
  /** The modules, in insertion order. */
  values(): Module[] {
    return [...this.items.values()];
  }
  /** The [name, module] pairs, in insertion order. */
  entries(): [string, Module][] {
    return [...this.items];
  }
  /** The [name, module] pairs in insertion order. */
  [Symbol.iterator](): Iterator<[string, Module]> {
    return this.items[Symbol.iterator]();
  }
  forward(): never {
    throw new Error('ModuleDict has no forward(): pick modules by name in your own module\'s forward');
  }
}
