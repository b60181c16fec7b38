// wasm-only: col2im (assembly/conv.ts), the adjoint of im2col that ends conv backward-data (the
// input gradient and the conv-transpose forward). It gathers: each dx element is +0 plus its
// contributions in im2col's row order, stored once. It claims the bits of the scatter it
// replaced (dx zero-filled, then each col row (ci, ky, kx) added into it in turn), so this runs
// the kernel directly on random geometries (odd sizes, padding 0..k-1, stride 1 to 3, dilation,
// groups, rows narrower than a vector step) with -0 and +0 in col, over a dx full of NaN (every
// element must be written), against that scatter written out here.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadSingleThreadKernelsSync } from '../../src/backend/wasm/loader.js';
import { rng } from './backends.js';

interface Geo { nb: number; c: number; h: number; w: number; kh: number; kw: number; oh: number; ow: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; groups: number }

/** The scatter: dx = 0, then for each group, col row (ci, ky, kx), image and output pixel, dx[...] += col[...] in float32. */
function scatter(g: Geo, col: Float32Array[]): Float32Array {
  const cg = g.c / g.groups, S = g.oh * g.ow, ncol = g.nb * S;
  const dx = new Float32Array(g.nb * g.c * g.h * g.w);
  for (let grp = 0; grp < g.groups; grp++) {
    let row = 0;
    for (let ci = 0; ci < cg; ci++) {
      for (let ky = 0; ky < g.kh; ky++) {
        for (let kx = 0; kx < g.kw; kx++, row++) {
          for (let i = 0; i < g.nb; i++) {
            for (let oy = 0; oy < g.oh; oy++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              for (let ox = 0; ox < g.ow; ox++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                const at = ((i * g.c + grp * cg + ci) * g.h + iy) * g.w + ix;
                dx[at] = Math.fround(dx[at]! + col[grp]![row * ncol + i * S + oy * g.ow + ox]!);
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

/** col2im through the wasm kernel, one call per group, into a dx that starts as NaN. */
function gather(g: Geo, col: Float32Array[]): Float32Array {
  const { exports: k, memory } = loadSingleThreadKernelsSync();
  const K = (g.c / g.groups) * g.kh * g.kw, ncol = g.nb * g.oh * g.ow, dxLen = g.nb * g.c * g.h * g.w;
  const base = Math.ceil(k.heapBase() / 16) * 16;
  const geoP = base, colP = geoP + 64, dxP = colP + K * ncol * 4, tmpP = dxP + dxLen * 4 + 16;
  const end = tmpP + g.h * (2 + g.sw * (1 + 2 * g.kh * g.kw)) * 4;
  if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
  new Int32Array(memory.buffer, geoP, 16).set([g.nb, g.c, g.h, g.w, 1, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups]);
  new Float32Array(memory.buffer, dxP, dxLen).fill(NaN);
  for (let grp = 0; grp < g.groups; grp++) {
    new Float32Array(memory.buffer, colP, K * ncol).set(col[grp]!);
    k.col2im(geoP, colP, dxP, grp, tmpP);
  }
  return new Float32Array(memory.buffer, dxP, dxLen).slice();
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

function check(g: Geo, seed: number): void {
  const r = rng(seed);
  const K = (g.c / g.groups) * g.kh * g.kw, ncol = g.nb * g.oh * g.ow;
  // a third of col is -0 or +0: a sum of only -0 must come out +0, as 0 + -0 does
  const col = Array.from({ length: g.groups }, () => Float32Array.from({ length: K * ncol }, () => {
    const u = r();
    return u < 0.2 ? -0 : u < 0.33 ? 0 : (r() * 2 - 1) * 4;
  }));
  const want = bits(scatter(g, col)), got = bits(gather(g, col));
  for (let j = 0; j < want.length; j++) {
    if (got[j] !== want[j]) throw new Error(`${JSON.stringify(g)}: dx[${j}]: got 0x${got[j]!.toString(16)}, want 0x${want[j]!.toString(16)}`);
  }
}

function geometry(nb: number, cg: number, groups: number, h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number): Geo | null {
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  return oh >= 1 && ow >= 1 ? { nb, c: cg * groups, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups } : null;
}

describe('col2im (wasm): the gather gives the bits of the scatter', () => {
  it('the reference model decoder\'s transposed convolutions (k4 s2 p1: 7 -> 14 and 14 -> 28)', () => {
    check(geometry(3, 5, 1, 14, 14, 4, 4, 2, 2, 1, 1, 1, 1)!, 1);
    check(geometry(2, 1, 1, 28, 28, 4, 4, 2, 2, 1, 1, 1, 1)!, 2);
  });

  it('random geometries: odd sizes, padding 0..k-1, stride 1 to 3, dilation, groups, narrow rows', () => {
    const arb = fc.record({
      nb: fc.integer({ min: 1, max: 3 }), cg: fc.integer({ min: 1, max: 3 }), groups: fc.integer({ min: 1, max: 2 }),
      h: fc.integer({ min: 1, max: 13 }), w: fc.integer({ min: 1, max: 19 }),
      kh: fc.integer({ min: 1, max: 5 }), kw: fc.integer({ min: 1, max: 5 }),
      sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
      pRaw: fc.tuple(fc.nat(4), fc.nat(4)), dil: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    });
    let ran = 0;
    fc.assert(fc.property(arb, fc.integer({ min: 1, max: 1e9 }), (a, seed) => {
      const g = geometry(a.nb, a.cg, a.groups, a.h, a.w, a.kh, a.kw, a.sh, a.sw, a.pRaw[0] % a.kh, a.pRaw[1] % a.kw, a.dil[0], a.dil[1]);
      if (g === null) return;
      check(g, seed);
      ran++;
    }), { numRuns: 300 });
    expect(ran).toBeGreaterThan(150);
  });
});
