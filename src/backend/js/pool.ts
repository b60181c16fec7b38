// Reference 2-D max and average pooling over NCHW, with their backward passes.

import type { TypedArray } from '../../dtype.js';
import { allocArray, dtypeOfArray } from '../../dtype.js';
import type { Pool2dGeometry } from '../backend.js';

/** Calls fn(planeOffset, outIndex, y0, y1, x0, x1) with each window clipped to the input. */
function forEachWindow(g: Pool2dGeometry, fn: (plane: number, oi: number, y0: number, y1: number, x0: number, x1: number) => void): void {
  for (let p = 0; p < g.n * g.c; p++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        const ys = oy * g.strideH - g.padH;
        const xs = ox * g.strideW - g.padW;
        fn(p * g.h * g.w, (p * g.oh + oy) * g.ow + ox, Math.max(ys, 0), Math.min(ys + g.kh, g.h), Math.max(xs, 0), Math.min(xs + g.kw, g.w));
      }
    }
  }
}

export function maxPool2d(x: TypedArray, g: Pool2dGeometry): { out: TypedArray; indices: Int32Array } {
  const size = g.n * g.c * g.oh * g.ow;
  const out = allocArray(dtypeOfArray(x), size);
  const indices = new Int32Array(size); // index within the input plane, as PyTorch returns it
  forEachWindow(g, (plane, oi, y0, y1, x0, x1) => {
    let best = -Infinity;
    let bi = y0 * g.w + x0;
    for (let y = y0; y < y1; y++) {
      for (let xx = x0; xx < x1; xx++) {
        const v = x[plane + y * g.w + xx]!;
        if (v > best || v !== v) {
          best = v;
          bi = y * g.w + xx;
          if (v !== v) y = y1;
          if (v !== v) break;
        }
      }
    }
    out[oi] = best;
    indices[oi] = bi;
  });
  return { out, indices };
}

export function maxPool2dBackward(dy: TypedArray, indices: TypedArray, g: Pool2dGeometry): TypedArray {
  const dx = allocArray(dtypeOfArray(dy), g.n * g.c * g.h * g.w);
  const planeOut = g.oh * g.ow;
  for (let i = 0; i < dy.length; i++) dx[Math.floor(i / planeOut) * g.h * g.w + indices[i]!]! += dy[i]!;
  return dx;
}

function divisor(g: Pool2dGeometry, y0: number, y1: number, x0: number, x1: number, oi: number): number {
  if (!g.countIncludePad) return (y1 - y0) * (x1 - x0);
  // PyTorch counts padding but not the part of the window past the padded border.
  const ox = oi % g.ow;
  const oy = Math.floor(oi / g.ow) % g.oh;
  const ys = oy * g.strideH - g.padH;
  const xs = ox * g.strideW - g.padW;
  return (Math.min(ys + g.kh, g.h + g.padH) - ys) * (Math.min(xs + g.kw, g.w + g.padW) - xs);
}

export function avgPool2d(x: TypedArray, g: Pool2dGeometry): TypedArray {
  const out = allocArray(dtypeOfArray(x), g.n * g.c * g.oh * g.ow);
  forEachWindow(g, (plane, oi, y0, y1, x0, x1) => {
    let s = 0;
    for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) s += x[plane + y * g.w + xx]!;
    out[oi] = s / divisor(g, y0, y1, x0, x1, oi);
  });
  return out;
}

export function avgPool2dBackward(dy: TypedArray, g: Pool2dGeometry): TypedArray {
  const dx = allocArray(dtypeOfArray(dy), g.n * g.c * g.h * g.w);
  forEachWindow(g, (plane, oi, y0, y1, x0, x1) => {
    const v = dy[oi]! / divisor(g, y0, y1, x0, x1, oi);
    for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) dx[plane + y * g.w + xx]! += v;
  });
  return dx;
}
