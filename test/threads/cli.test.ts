// `--threads N` on the command line: one short epoch at 1 and at 2 threads writes the same
// model.safetensors, byte for byte, and every command that runs kernels takes the flag.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import * as spec from '../../src/cli/spec.js';
import { run, scratch } from '../cli/helpers.js';

const tmp = scratch('threads');
afterAll(() => {
  tmp.cleanup();
  vg.setNumThreads(2);
});

describe('vaegrad --threads', () => {
  it('train --threads 1 and --threads 2 write byte-identical model.safetensors', async () => {
    const files: Buffer[] = [];
    for (const threads of ['1', '2']) {
      const out = tmp.path(`t${threads}`);
      const r = await run(['train', '--limit', '96', '--test-limit', '20', '--epochs', '1', '--batch-size', '32', '--no-images', '--threads', threads, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr + r.stdout).toMatch(new RegExp(`wasm backend, ${threads} threads?`));
      expect(vg.getNumThreads()).toBe(Number(threads));
      files.push(readFileSync(`${out}/model.safetensors`));
    }
    expect(files[0]!.length).toBeGreaterThan(1000);
    expect(files[0]!.equals(files[1]!)).toBe(true);
  });

  it('every command that runs kernels takes --threads N (an integer from 1 to 256)', async () => {
    for (const cmd of spec.cli.commands.filter((c) => c.name !== 'serve')) expect(Object.keys(cmd.flags), cmd.name).toContain('threads');
    const r = await run(['sample', '--threads', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--threads/);
  });
});
