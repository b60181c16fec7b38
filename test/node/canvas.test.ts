// Tests of PNG output: the optional canvas package loads, a figure lands atomically, and a missing package says what to install.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadCanvas, renderPng, savePng } from '../../src/node/canvas.js';
import { drawImageGrid } from '../../src/vae/draw.js';

const dir = mkdtempSync(join(tmpdir(), 'vaegrad-canvas-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('canvas', () => {
  it('loads @napi-rs/canvas once', async () => {
    const a = await loadCanvas();
    expect(typeof a.createCanvas).toBe('function');
    expect(await loadCanvas()).toBe(a);
  });

  it('says exactly what to install when the package is missing', async () => {
    const missing = async (): Promise<never> => {
      throw Object.assign(new Error("Cannot find package '@napi-rs/canvas' imported from x"), { code: 'ERR_MODULE_NOT_FOUND' });
    };
    await expect(loadCanvas(missing)).rejects.toThrow(/npm install @napi-rs\/canvas/);
    await expect(loadCanvas(async () => ({ nothing: true }))).rejects.toThrow(/no createCanvas/);
    // CommonJS interop: exports under `default` are found.
    const real = await loadCanvas();
    expect(await loadCanvas(async () => ({ default: real }))).toBe(real);
  });

  it('writes a PNG atomically and leaves no temp file behind', async () => {
    const file = join(dir, 'grid.png');
    await savePng(file, 10, 6, (ctx) => {
      drawImageGrid(ctx, new Float32Array(4).fill(0.5), 1, 2, 2, { pad: 1 });
    });
    const bytes = readFileSync(file);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.readUInt32BE(16)).toBe(10); // IHDR width
    expect(bytes.readUInt32BE(20)).toBe(6); // IHDR height
    expect(readdirSync(dir)).toEqual(['grid.png']);
  });

  it('leaves neither file nor temp file when drawing fails or the directory is missing', async () => {
    await expect(savePng(join(dir, 'bad.png'), 10, 10, () => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    await expect(savePng(join(dir, 'no-such-dir', 'x.png'), 10, 10, () => undefined)).rejects.toThrow(/does not exist/);
    expect(readdirSync(dir).filter((f) => f !== 'grid.png')).toEqual([]);
    await expect(renderPng(0, 10, () => undefined)).rejects.toThrow(/positive whole pixels/);
  });
});
