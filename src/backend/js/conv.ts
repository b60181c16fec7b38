// Reference 2-D convolution: direct loops, float64 accumulation. Backward-data scatters each
// output gradient back through the window it came from, so it is also conv-transpose forward.

import type { TypedArray } from '../../dtype.js';
import { allocArray } from '../../dtype.js';
import type { Conv2dGeometry } from '../backend.js';

/** Calls fn(inputIndex, weightIndex, outputIndex) for every multiply of the convolution. */
function forEachTap(g: Conv2dGeometry, fn: (xi: number, wi: number, yi: number) => void): void {
  const cg = g.c / g.groups;
  const og = g.o / g.groups;
  for (let n = 0; n < g.n; n++) {
    for (let o = 0; o < g.o; o++) {
      const grp = Math.floor(o / og);
      for (let oy = 0; oy < g.oh; oy++) {
        for (let ox = 0; ox < g.ow; ox++) {
          const yi = ((n * g.o + o) * g.oh + oy) * g.ow + ox;
          for (let ci = 0; ci < cg; ci++) {
            const c = grp * cg + ci;
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.strideH - g.padH + ky * g.dilH;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.strideW - g.padW + kx * g.dilW;
                if (ix < 0 || ix >= g.w) continue;
                fn(((n * g.c + c) * g.h + iy) * g.w + ix, ((o * cg + ci) * g.kh + ky) * g.kw + kx, yi);
              }
            }
          }
        }
      }
    }
  }
}

function accumulate(size: number, like: TypedArray, g: Conv2dGeometry, tap: (acc: Float64Array) => (xi: number, wi: number, yi: number) => void): TypedArray {
  const acc = new Float64Array(size);
  forEachTap(g, tap(acc));
  const out = allocArray(like instanceof Float64Array ? 'float64' : 'float32', size);
  out.set(acc);
  return out;
}

export function conv2d(x: TypedArray, w: TypedArray, g: Conv2dGeometry): TypedArray {
  return accumulate(g.n * g.o * g.oh * g.ow, x, g, (acc) => (xi, wi, yi) => { acc[yi]! += x[xi]! * w[wi]!; });
}

export function conv2dBackwardData(dy: TypedArray, w: TypedArray, g: Conv2dGeometry): TypedArray {
  return accumulate(g.n * g.c * g.h * g.w, dy, g, (acc) => (xi, wi, yi) => { acc[xi]! += dy[yi]! * w[wi]!; });
}

export function conv2dBackwardFilter(x: TypedArray, dy: TypedArray, g: Conv2dGeometry): TypedArray {
  return accumulate(g.o * (g.c / g.groups) * g.kh * g.kw, x, g, (acc) => (xi, wi, yi) => { acc[wi]! += x[xi]! * dy[yi]!; });
}

/** out[i, ch, :] += bias[ch] in place, rounded to out's dtype (the reference's broadcast add). */
export function addChannelBias(out: TypedArray, bias: TypedArray, n: number, c: number, s: number): TypedArray {
  for (let i = 0, p = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const b = bias[ch]!;
      for (let j = 0; j < s; j++, p++) out[p] = out[p]! + b;
    }
  }
  return out;
}
