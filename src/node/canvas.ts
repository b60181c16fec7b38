// Node-only PNG output: loads the optional @napi-rs/canvas on first use and writes figures atomically.

import type { Canvas2D } from '../vae/draw.js';
import { writeFileAtomic } from './files.js';

/**
 * The slice of @napi-rs/canvas this project uses, spelt out here so that the declarations we ship
 * do not name a package the user may not have installed.
 */
export interface CanvasLike {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): Canvas2D;
  encode(format: 'png'): Promise<Uint8Array>;
}

export interface CanvasModule {
  createCanvas(width: number, height: number): CanvasLike;
}

export const CANVAS_PACKAGE = '@napi-rs/canvas';
export const CANVAS_INSTALL_HINT = `npm install ${CANVAS_PACKAGE}`;

let cached: Promise<CanvasModule> | null = null;

function isCanvasModule(m: unknown): m is CanvasModule {
  return typeof m === 'object' && m !== null && typeof (m as { createCanvas?: unknown }).createCanvas === 'function';
}

/**
 * Imports @napi-rs/canvas, once. It is an optional peer dependency (a native module the core does
 * not need), so a missing or broken install becomes an error that says what to run.
 * `importer` replaces the import, for tests.
 */
export async function loadCanvas(importer?: () => Promise<unknown>): Promise<CanvasModule> {
  if (importer === undefined && cached !== null) return cached;
  const attempt = (async (): Promise<CanvasModule> => {
    let mod: unknown;
    try {
      mod = await (importer ?? (() => import('@napi-rs/canvas')))();
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      const err = new Error(`writing PNG images needs the optional package ${CANVAS_PACKAGE}, which could not be loaded (${why}); install it with: ${CANVAS_INSTALL_HINT}`);
      (err as Error & { cause?: unknown }).cause = e;
      throw err;
    }
    // ESM namespaces of CommonJS packages may put the exports under `default`.
    const m = isCanvasModule(mod) ? mod : (mod as { default?: unknown } | null)?.default;
    if (!isCanvasModule(m)) throw new Error(`${CANVAS_PACKAGE} loaded but has no createCanvas(); reinstall it with: ${CANVAS_INSTALL_HINT}`);
    return m;
  })();
  if (importer === undefined) {
    cached = attempt;
    // A failed load is not cached, so installing the package and retrying in the same process works.
    attempt.catch(() => {
      if (cached === attempt) cached = null;
    });
  }
  return attempt;
}

/** Draws on a fresh width x height canvas and returns the PNG bytes. */
export async function renderPng(width: number, height: number, draw: (ctx: Canvas2D) => void | Promise<void>): Promise<Uint8Array> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`PNG size must be positive whole pixels, got ${width}x${height}`);
  }
  const { createCanvas } = await loadCanvas();
  const canvas = createCanvas(width, height);
  await draw(canvas.getContext('2d'));
  // Keep the canvas reachable until the encode (on libuv's thread pool) is done: @napi-rs/canvas
  // does not, and a canvas collected mid-encode crashed the process (SIGSEGV in skia).
  const png = await canvas.encode('png');
  void canvas.getContext;
  return png;
}

/** Draws on a fresh canvas and writes it as a PNG: temp file in the same directory, then rename, so a reader never sees half an image. */
export async function savePng(path: string, width: number, height: number, draw: (ctx: Canvas2D) => void | Promise<void>): Promise<void> {
  const png = await renderPng(width, height, draw);
  await writeFileAtomic(path, png);
}
