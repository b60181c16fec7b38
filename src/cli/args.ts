// The CLI's argument parser: subcommands, typed --flags from a spec, generated --help, and errors that say what was expected.

interface FlagCommon {
  /** One line for --help. */
  description: string;
  /** Must be given (a default makes this moot). */
  required?: boolean;
  /** A one-letter short form: 'o' accepts -o VALUE. */
  short?: string;
  /** Placeholder in --help (default from the type: <int>, <path>, ...). */
  metavar?: string;
  /** Left out of --help. */
  hidden?: boolean;
}

export interface BooleanFlag extends FlagCommon {
  type: 'boolean';
  default?: boolean;
}
export interface IntFlag extends FlagCommon {
  type: 'int';
  default?: number;
  min?: number;
  max?: number;
}
export interface FloatFlag extends FlagCommon {
  type: 'float';
  default?: number;
  min?: number;
  max?: number;
  /** min itself is excluded: { min: 0, exclusiveMin: true } means a positive number. */
  exclusiveMin?: boolean;
}
export interface StringFlag extends FlagCommon {
  type: 'string' | 'path';
  default?: string;
}
export interface EnumFlag<V extends string = string> extends FlagCommon {
  type: 'enum';
  values: readonly V[];
  default?: V;
}

export type FlagSpec = BooleanFlag | IntFlag | FloatFlag | StringFlag | EnumFlag;
export type FlagSpecs = Record<string, FlagSpec>;

export interface CommandSpec<F extends FlagSpecs = FlagSpecs> {
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** Paragraph(s) for the command's --help (default: the summary). */
  description?: string;
  flags: F;
  /** Positional arguments, for the usage line and their count: e.g. ['FILE']. None are accepted unless named (or variadic). */
  positionals?: readonly string[];
  /** Accept any number of positionals (after those named). */
  variadic?: boolean;
  /** Example invocations shown in --help. */
  examples?: readonly string[];
}

export interface CliSpec {
  program: string;
  summary: string;
  commands: readonly CommandSpec<FlagSpecs>[];
  /** Printed after the command list in the top-level help. */
  footer?: string;
}

type FlagValue<S extends FlagSpec> = S extends BooleanFlag
  ? boolean
  : S extends IntFlag | FloatFlag
    ? number
    : S extends EnumFlag<infer V>
      ? V
      : string;

type IsSet<S extends FlagSpec> = S extends BooleanFlag ? true : S extends { default: unknown } ? true : S extends { required: true } ? true : false;

/** The parsed flags of a command: booleans and flags with a default or `required: true` are always set. */
export type ParsedFlags<F extends FlagSpecs> = {
  -readonly [K in keyof F]: IsSet<F[K]> extends true ? FlagValue<F[K]> : FlagValue<F[K]> | undefined;
};

export interface ParsedCommand<F extends FlagSpecs = FlagSpecs> {
  kind: 'command';
  command: string;
  flags: ParsedFlags<F>;
  positionals: string[];
  /** Flags that came from the command line (as opposed to defaults), by their spec name. */
  given: Set<string>;
}

export interface HelpRequest {
  kind: 'help';
  /** The help text to print (ends with a newline). */
  text: string;
  command?: string;
}

/** A usage error: the CLI prints the message (and the hint) and exits with status 2. */
export class ArgError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'ArgError';
  }
}

/** Keeps the literal types of a command spec (enum values, required) so that parseCommand's result is typed. */
export function defineCommand<const F extends FlagSpecs>(spec: CommandSpec<F>): CommandSpec<F> {
  validateSpec(spec);
  return spec;
}

const NAME_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function validateSpec(spec: CommandSpec<FlagSpecs>): void {
  const shorts = new Set<string>(['h']);
  for (const [name, f] of Object.entries(spec.flags)) {
    if (!NAME_RE.test(name)) throw new Error(`command ${spec.name}: flag name '${name}' must be kebab-case`);
    if (name === 'help') throw new Error(`command ${spec.name}: --help is built in`);
    if (f.short !== undefined) {
      if (!/^[a-zA-Z]$/.test(f.short) || shorts.has(f.short)) throw new Error(`command ${spec.name}: short flag -${f.short} is not a single free letter`);
      shorts.add(f.short);
    }
    if (f.type === 'enum' && f.values.length === 0) throw new Error(`command ${spec.name}: --${name} has no allowed values`);
    if (f.default !== undefined) {
      const err = checkDefault(name, f);
      if (err) throw new Error(`command ${spec.name}: default of ${err}`);
    }
  }
}

function checkDefault(name: string, f: FlagSpec): string | null {
  try {
    if (f.type === 'boolean') return null;
    convert(name, f, String(f.default));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Edit distance counting a swap of neighbours as one edit (typos like 'trian'); names are short, so the table costs nothing. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i]!;
    const up = rows[i - 1]!;
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row[j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The closest candidate, if close enough to be a plausible typo (or a unique prefix). */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (best !== undefined && bestD <= Math.max(1, Math.min(2, Math.floor(word.length / 3)))) return best;
  const prefixed = candidates.filter((c) => c.startsWith(word) || word.startsWith(c));
  return word.length >= 2 && prefixed.length === 1 ? prefixed[0] : undefined;
}

function describeExpected(f: IntFlag | FloatFlag): string {
  const kind = f.type === 'int' ? 'integer' : 'number';
  const lo = f.min;
  const hi = f.max;
  const exclusive = f.type === 'float' && f.exclusiveMin === true;
  if (hi === undefined) {
    if (lo === undefined) return `${f.type === 'int' ? 'an' : 'a'} ${kind}`;
    if ((lo === 1 && f.type === 'int') || (lo === 0 && exclusive)) return `a positive ${kind}`;
    if (lo === 0 && !exclusive) return `a non-negative ${kind}`;
    return `${f.type === 'int' ? 'an' : 'a'} ${kind} ${exclusive ? 'greater than' : 'at least'} ${lo}`;
  }
  if (lo === undefined) return `${f.type === 'int' ? 'an' : 'a'} ${kind} at most ${hi}`;
  return `${f.type === 'int' ? 'an' : 'a'} ${kind} ${exclusive ? `greater than ${lo} and at most` : `between ${lo} and`} ${hi}`;
}

function convert(name: string, f: FlagSpec, raw: string): boolean | number | string {
  switch (f.type) {
    case 'boolean': {
      const v = raw.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      throw new ArgError(`--${name}: expected true or false, got '${raw}'`);
    }
    case 'int':
    case 'float': {
      const s = raw.trim();
      // Number('') is 0 and Number('0x10') is 16: accept only plain decimal spellings.
      const ok = f.type === 'int' ? /^[+-]?\d+$/.test(s) : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s);
      const v = ok ? Number(s) : NaN;
      const inRange =
        Number.isFinite(v) &&
        (f.type !== 'int' || Number.isSafeInteger(v)) &&
        (f.min === undefined || (f.type === 'float' && f.exclusiveMin ? v > f.min : v >= f.min)) &&
        (f.max === undefined || v <= f.max);
      if (!inRange) throw new ArgError(`--${name}: expected ${describeExpected(f)}, got '${raw}'`);
      return v;
    }
    case 'enum': {
      if (f.values.includes(raw)) return raw;
      const hint = suggest(raw, f.values);
      throw new ArgError(`--${name}: expected one of ${f.values.join(', ')}, got '${raw}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
    case 'string':
    case 'path':
      if (raw === '') throw new ArgError(`--${name}: expected a ${f.type === 'path' ? 'path' : 'value'}, got an empty string`);
      return raw;
  }
}

/**
 * Parses one command's arguments (everything after the subcommand): `--flag value`, `--flag=value`,
 * `-f value`, boolean `--flag` / `--no-flag` / `--flag=false`, `--` to end the flags. A repeated flag
 * keeps its last value. Returns a help request for -h/--help anywhere before `--`.
 */
export function parseCommand<F extends FlagSpecs>(spec: CommandSpec<F>, argv: readonly string[], program = 'vaegrad'): ParsedCommand<F> | HelpRequest {
  const flags = spec.flags as FlagSpecs;
  const names = Object.keys(flags);
  const byShort = new Map<string, string>();
  for (const [n, f] of Object.entries(flags)) if (f.short) byShort.set(f.short, n);
  const values: Record<string, boolean | number | string | undefined> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  const where = `${program} ${spec.name}`;
  const fail = (msg: string): ArgError => new ArgError(msg, spec.name);
  const unknown = (flag: string): ArgError => {
    const hint = suggest(flag, names);
    return fail(`unknown option --${flag} for '${where}'${hint ? ` (did you mean --${hint}?)` : ''}`);
  };

  // Help wins over everything else on the line, so `train --epochs abc --help` still shows the help.
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
    return { kind: 'help', text: commandHelp(spec, program), command: spec.name };
  }

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      if (name === '') throw fail(`malformed option '${arg}'`);
    } else if (/^-[a-zA-Z]/.test(arg)) {
      const full = byShort.get(arg[1]!);
      if (full === undefined) throw fail(`unknown option ${arg.slice(0, 2)} for '${where}'`);
      name = full;
      inline = arg.length > 2 ? arg.slice(arg[2] === '=' ? 3 : 2) : undefined;
    } else {
      positionals.push(arg);
      continue;
    }
    const f = flags[name];
    if (f === undefined && name.startsWith('no-')) {
      const base = name.slice(3);
      const bf = flags[base];
      if (bf?.type === 'boolean') {
        if (inline !== undefined) throw fail(`--${name} takes no value, got '${inline}'`);
        values[base] = false;
        given.add(base);
        continue;
      }
    }
    if (f === undefined) throw unknown(name);
    if (f.type === 'boolean') {
      values[name] = inline === undefined ? true : convert(name, f, inline);
      given.add(name);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      // A following option is a forgotten value, not the value; negative numbers ('-1') still count as values.
      if (next === undefined || (next.startsWith('-') && !/^-\d|^-\.\d/.test(next))) {
        throw fail(`--${name}: missing value (expected ${valueWords(f)})`);
      }
      raw = next;
      i++;
    }
    try {
      values[name] = convert(name, f, raw!);
    } catch (e) {
      if (e instanceof ArgError) throw new ArgError(e.message, spec.name);
      throw e;
    }
    given.add(name);
  }

  for (const [n, f] of Object.entries(flags)) {
    if (values[n] !== undefined) continue;
    if (f.default !== undefined) values[n] = f.default;
    else if (f.type === 'boolean') values[n] = false;
    else if (f.required) throw fail(`missing required option --${n} (${valueWords(f)}) for '${where}'`);
  }

  const named = spec.positionals ?? [];
  if (!spec.variadic && positionals.length > named.length) {
    const extra = positionals[named.length]!;
    throw fail(named.length === 0 ? `'${where}' takes no arguments, got '${extra}'` : `too many arguments for '${where}': '${extra}'`);
  }
  if (positionals.length < named.length) throw fail(`missing argument ${named[positionals.length]} for '${where}'`);
  return { kind: 'command', command: spec.name, flags: values as ParsedFlags<F>, positionals, given };
}

function valueWords(f: FlagSpec): string {
  switch (f.type) {
    case 'int':
    case 'float':
      return describeExpected(f);
    case 'enum':
      return `one of ${f.values.join(', ')}`;
    case 'path':
      return 'a path';
    case 'string':
      return 'a value';
    case 'boolean':
      return 'true or false';
  }
}

/**
 * Parses a whole command line (without node and the script): the subcommand, then its flags.
 * `PROGRAM`, `PROGRAM --help`, `PROGRAM help` and `PROGRAM help CMD` give help requests.
 */
export function parseCli(spec: CliSpec, argv: readonly string[]): ParsedCommand | HelpRequest {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h') return { kind: 'help', text: cliHelp(spec) };
  if (first === 'help') {
    const target = argv[1];
    if (target === undefined) return { kind: 'help', text: cliHelp(spec) };
    return { kind: 'help', text: commandHelp(findCommand(spec, target), spec.program), command: target };
  }
  if (first.startsWith('-')) throw new ArgError(`expected a command before ${first} (${spec.commands.map((c) => c.name).join(', ')}); see '${spec.program} --help'`);
  return parseCommand(findCommand(spec, first), argv.slice(1), spec.program);
}

function findCommand(spec: CliSpec, name: string): CommandSpec<FlagSpecs> {
  const cmd = spec.commands.find((c) => c.name === name);
  if (cmd) return cmd;
  const names = spec.commands.map((c) => c.name);
  const hint = suggest(name, names);
  throw new ArgError(`unknown command '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}; commands: ${names.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Help text

const WIDTH = 80;

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter((w) => w !== '')) {
      if (line !== '' && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line === '' ? word : `${line} ${word}`;
      }
    }
    lines.push(line);
  }
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}

function metavar(f: FlagSpec): string {
  if (f.metavar) return f.metavar;
  switch (f.type) {
    case 'boolean':
      return '';
    case 'enum':
      return f.values.join('|');
    case 'int':
      return 'N';
    case 'float':
      return 'X';
    case 'path':
      return 'PATH';
    case 'string':
      return 'VALUE';
  }
}

function fmtDefault(f: FlagSpec): string {
  if (f.type === 'boolean') return f.default === true ? ' (default: on; --no-... turns it off)' : '';
  if (f.default !== undefined) return ` (default: ${f.default})`;
  return f.required ? ' (required)' : '';
}

/** The --help text of one command, generated from its spec. */
export function commandHelp(spec: CommandSpec<FlagSpecs>, program = 'vaegrad'): string {
  const pos = (spec.positionals ?? []).join(' ') + (spec.variadic ? ' ...' : '');
  const out: string[] = [`Usage: ${program} ${spec.name} [options]${pos ? ` ${pos}` : ''}`, ''];
  out.push(...wrap(spec.description ?? spec.summary, WIDTH, ''), '');
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries(spec.flags)) {
    if (f.hidden) continue;
    const mv = metavar(f);
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${mv ? ` ${f.type === 'enum' && !f.metavar ? `<${mv}>` : mv}` : ''}`;
    rows.push([left, `${f.description}${fmtDefault(f)}`]);
  }
  rows.push(['-h, --help', 'show this help']);
  const col = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  out.push('Options:');
  for (const [left, right] of rows) {
    const pad = ' '.repeat(col + 2);
    const text = wrap(right, WIDTH - col - 2, pad);
    if (left.length + 2 > col) out.push(`  ${left}`, pad + text.join('\n'));
    else out.push(`  ${left.padEnd(col)}${text.join('\n')}`);
  }
  if (spec.examples && spec.examples.length > 0) {
    out.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  }
  return `${out.join('\n')}\n`;
}

/** The top-level help: what the program is and its commands. */
export function cliHelp(spec: CliSpec): string {
  const out: string[] = [`Usage: ${spec.program} <command> [options]`, '', ...wrap(spec.summary, WIDTH, ''), '', 'Commands:'];
  const col = Math.max(...spec.commands.map((c) => c.name.length)) + 2;
  for (const c of spec.commands) out.push(`  ${c.name.padEnd(col)}${wrap(c.summary, WIDTH - col - 2, ' '.repeat(col + 2)).join('\n')}`);
  out.push('', `Run '${spec.program} <command> --help' for the options of a command, '${spec.program} --version' for the version.`);
  if (spec.footer) out.push('', ...wrap(spec.footer, WIDTH, ''));
  return `${out.join('\n')}\n`;
}
