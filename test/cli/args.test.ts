// Tests of the CLI argument parser: typed flags, defaults, help text and the wording of usage errors.
import { describe, expect, it } from 'vitest';

import { ArgError, cliHelp, commandHelp, defineCommand, editDistance, parseCli, parseCommand, suggest, type CliSpec } from '../../src/cli/args.js';

const train = defineCommand({
  name: 'train',
  summary: 'Train the convolutional VAE on MNIST.',
  flags: {
    epochs: { type: 'int', min: 1, default: 10, description: 'passes over the training set' },
    lr: { type: 'float', min: 0, exclusiveMin: true, default: 1e-3, description: 'Adam learning rate' },
    'batch-size': { type: 'int', min: 1, default: 128, description: 'images per step' },
    backend: { type: 'enum', values: ['js', 'wasm', 'gpu'], default: 'wasm', description: 'compute backend' },
    out: { type: 'path', short: 'o', required: true, description: 'checkpoint file to write' },
    data: { type: 'path', description: 'directory of IDX files' },
    json: { type: 'boolean', description: 'JSON lines on stdout' },
    seed: { type: 'int', description: 'random seed' },
    beta: { type: 'float', min: 0, default: 1, description: 'KL weight' },
  },
  examples: ['vaegrad train --epochs 5 --out model.safetensors'],
});

const sample = defineCommand({
  name: 'sample',
  summary: 'Decode random latent vectors into a PNG grid.',
  flags: { n: { type: 'int', min: 1, default: 64, description: 'number of images' } },
  positionals: ['MODEL'],
});

const cli: CliSpec = { program: 'vaegrad', summary: 'A VAE on MNIST in TypeScript.', commands: [train, sample] };

function ok<T>(r: T | { kind: 'help' }): T {
  if ((r as { kind: string }).kind === 'help') throw new Error('unexpected help');
  return r as T;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ArgError);
    return (e as Error).message;
  }
  throw new Error('expected an ArgError');
}

describe('parseCommand', () => {
  it('applies defaults and types values', () => {
    const r = ok(parseCommand(train, ['--out', 'm.st']));
    expect(r.flags).toEqual({ epochs: 10, lr: 1e-3, 'batch-size': 128, backend: 'wasm', out: 'm.st', data: undefined, json: false, seed: undefined, beta: 1 });
    // Static types: defaults make a flag always set, no default makes it optional.
    const epochs: number = r.flags.epochs;
    const backend: 'js' | 'wasm' | 'gpu' = r.flags.backend;
    const seed: number | undefined = r.flags.seed;
    expect([epochs, backend, seed]).toEqual([10, 'wasm', undefined]);
    expect(r.given).toEqual(new Set(['out']));
  });

  it('accepts --flag value, --flag=value, -o value, -ovalue, booleans and --no-', () => {
    const r = ok(parseCommand(train, ['--epochs', '3', '--lr=0.01', '-o', 'a', '--json', '--backend=js', '--seed', '-5']));
    expect(r.flags).toMatchObject({ epochs: 3, lr: 0.01, out: 'a', json: true, backend: 'js', seed: -5 });
    expect(ok(parseCommand(train, ['-ob', '--json=false'])).flags).toMatchObject({ out: 'b', json: false });
    expect(ok(parseCommand(train, ['-o=c', '--json', '--no-json'])).flags).toMatchObject({ out: 'c', json: false });
    expect(ok(parseCommand(train, ['-o', 'x', '--epochs', '2', '--epochs', '7'])).flags.epochs).toBe(7);
  });

  it('gives clear errors', () => {
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--epochs', 'abc']))).toBe("--epochs: expected a positive integer, got 'abc'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--epochs', '0']))).toBe("--epochs: expected a positive integer, got '0'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--epochs', '2.5']))).toBe("--epochs: expected a positive integer, got '2.5'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--lr', '0']))).toBe("--lr: expected a positive number, got '0'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--lr', '']))).toBe("--lr: expected a positive number, got ''");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--beta', '-1']))).toBe("--beta: expected a non-negative number, got '-1'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--epochs']))).toBe('--epochs: missing value (expected a positive integer)');
    expect(errorOf(() => parseCommand(train, ['--epochs', '--out', 'x']))).toBe('--epochs: missing value (expected a positive integer)');
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--epoch', '3']))).toBe("unknown option --epoch for 'vaegrad train' (did you mean --epochs?)");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--bacend', 'js']))).toContain('did you mean --backend?');
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--frobnicate']))).toBe("unknown option --frobnicate for 'vaegrad train'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--backend', 'wsam']))).toBe("--backend: expected one of js, wasm, gpu, got 'wsam' (did you mean 'wasm'?)");
    expect(errorOf(() => parseCommand(train, []))).toBe("missing required option --out (a path) for 'vaegrad train'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', 'extra']))).toBe("'vaegrad train' takes no arguments, got 'extra'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--json=maybe']))).toBe("--json: expected true or false, got 'maybe'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '-z']))).toBe("unknown option -z for 'vaegrad train'");
    expect(errorOf(() => parseCommand(train, ['--out', 'x', '--epochs', '0x10']))).toContain('expected a positive integer');
  });

  it('handles positionals and --', () => {
    expect(ok(parseCommand(sample, ['model.st', '--n', '16']))).toMatchObject({ positionals: ['model.st'], flags: { n: 16 } });
    expect(ok(parseCommand(sample, ['--', '--weird-name']))).toMatchObject({ positionals: ['--weird-name'] });
    expect(errorOf(() => parseCommand(sample, []))).toBe("missing argument MODEL for 'vaegrad sample'");
  });

  it('returns help for -h/--help even when other flags are wrong or missing', () => {
    const r = parseCommand(train, ['--epochs', 'abc', '--help']);
    expect(r.kind).toBe('help');
  });
});

describe('help text', () => {
  it('documents every flag with its type, default and requiredness', () => {
    const text = commandHelp(train);
    expect(text).toMatch(/^Usage: vaegrad train \[options\]\n/);
    expect(text).toContain('--epochs N');
    expect(text).toContain('(default: 10)');
    expect(text).toContain('--backend <js|wasm|gpu>');
    expect(text).toContain('-o, --out PATH');
    expect(text).toContain('(required)');
    expect(text).toContain('-h, --help');
    expect(text).toContain('Examples:');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(commandHelp(sample)).toContain('Usage: vaegrad sample [options] MODEL');
  });

  it('top-level help lists the commands', () => {
    const text = cliHelp(cli);
    expect(text).toContain('  train ');
    expect(text).toContain('Decode random latent vectors');
  });
});

describe('parseCli', () => {
  it('dispatches to the subcommand', () => {
    const r = ok(parseCli(cli, ['train', '--out', 'm', '--epochs=2']));
    expect(r.command).toBe('train');
    expect(r.flags.epochs).toBe(2);
  });
  it('gives help for no arguments, --help, help and help CMD', () => {
    expect(parseCli(cli, [])).toMatchObject({ kind: 'help' });
    expect(parseCli(cli, ['--help'])).toMatchObject({ kind: 'help' });
    expect(parseCli(cli, ['help', 'sample'])).toMatchObject({ kind: 'help', command: 'sample' });
    expect(parseCli(cli, ['train', '-h'])).toMatchObject({ kind: 'help', command: 'train' });
  });
  it('suggests the closest command', () => {
    expect(errorOf(() => parseCli(cli, ['trian']))).toBe("unknown command 'trian' (did you mean 'train'?); commands: train, sample");
    expect(errorOf(() => parseCli(cli, ['--epochs', '3']))).toContain('expected a command before --epochs');
  });
});

describe('spec checks and helpers', () => {
  it('rejects a default that breaks its own constraints', () => {
    expect(() => defineCommand({ name: 'x', summary: '', flags: { k: { type: 'int', min: 1, default: 0, description: '' } } })).toThrow(/default of --k/);
    expect(() => defineCommand({ name: 'x', summary: '', flags: { Bad_Name: { type: 'boolean', description: '' } } })).toThrow(/kebab-case/);
  });
  it('edit distance and suggestions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(suggest('epoch', ['epochs', 'lr'])).toBe('epochs');
    expect(suggest('zzz', ['epochs', 'lr'])).toBeUndefined();
    expect(suggest('batch', ['batch-size', 'beta'])).toBe('batch-size');
  });
});
