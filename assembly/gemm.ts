// Packed, cache-blocked SGEMM: C[m, n] (+)= A[m, k] * B[k, n], float32.
//
// A and B are read through (row stride, column stride) pairs in elements, so any view whose
// rows or columns are evenly spaced (row-major, transposed, sliced) packs without a copy first.
// C is row-major with leading dimension ldc (elements). Loop order is the BLIS/GotoBLAS one:
//   jc (NC columns of B) -> pc (KC of k: pack B block) -> ic (MC rows: pack A block)
//     -> jr (NR-wide B micro-panel, stays in L1) -> ir (MR-tall A micro-panel) -> micro-kernel.
// The micro-kernel keeps a 4x8 tile of C in 8 f32x4 registers (+2 for B, +1 broadcast A: 11
// live v128, under the ~13 that V8 keeps in registers without spilling). sgemmPackA/B and
// sgemmPacked (at the end) split the same product into a packing pass and tiles that multiply
// from its panels, with the same sums.
//
// Speed: a step of the micro-kernel is 8 f32x4 multiplies and 8 adds; this host's cores (Sapphire
// Rapids, ~3.65 GHz) issue them on three ports, 5.33 cycles a step, ~43.8 GFLOP/s, and the kernel
// runs at ~42 (V8's code: one vbroadcastss per A value, two B loads, the loop's stack check). Tried
// and measured no faster (one thread, shared machine, 2026-12-01): two steps of k per trip (with a
// branch between them, else binaryen merges the steps and every load is live: spills), and
// packing inside the first tiles (the source loads of cold A or B then stall the multiply-adds:
// 2-6% slower than a packing pass). What is left is packing and memory: see packA/packB.
//
// Determinism: the default build multiplies and adds separately (f32x4.mul then f32x4.add), so
// results are the same on every engine. A build with the relaxed-simd feature enabled
// (asconfig target "relaxed") uses f32x4.relaxed_madd instead: faster where the engine fuses
// it, but the rounding may differ between engines/CPUs. It is opt-in only.
//
// No allocation: the caller (TypeScript) hands in the packing buffers (16-byte aligned):
//   packA: roundUp(min(MC, m), MR) * min(KC, k) floats, packB: roundUp(min(NC, n), NR) * min(KC, k)
//   floats, tmp: MR * NR floats.

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 128;
export const NC: i32 = 2048;

/** The blocking constants, so TypeScript can size sgemm's buffers: 0 MR, 1 NR, 2 KC, 3 MC, 4 NC. */
export function gemmBlocking(which: i32): i32 {
  return which == 0 ? MR : which == 1 ? NR : which == 2 ? KC : which == 3 ? MC : NC;
}

/** acc + a * b: the GEMM's multiply-add (the direct convolution uses it too, for the same bits). */
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, acc);
  } else {
    return f32x4.add(acc, f32x4.mul(a, b));
  }
}

/** Pack rows [0, mc) x cols [0, kc) of A (a points at the block's first element) into MR-row panels [kc][MR], zero-padded. */
function packA(dst: usize, a: usize, rs: i32, cs: i32, mc: i32, kc: i32): void {
  if (rs == 1) {
    // transposed A: eight panels at a time, column by column (128 bytes of each column: two whole
    // cache lines read in order, not 16 bytes of a line per panel; eight write streams)
    const oct = mc & ~(8 * MR - 1);
    const panel = <usize>kc << 4;
    for (let i = 0; i < oct; i += 8 * MR) {
      let src = a + (<usize>i << 2);
      let d = dst + ((<usize>i * kc) << 2);
      const step = <usize>(cs << 2);
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(src)); v128.store(d + panel, v128.load(src, 16));
        v128.store(d + 2 * panel, v128.load(src, 32)); v128.store(d + 3 * panel, v128.load(src, 48));
        v128.store(d + 4 * panel, v128.load(src, 64)); v128.store(d + 5 * panel, v128.load(src, 80));
        v128.store(d + 6 * panel, v128.load(src, 96)); v128.store(d + 7 * panel, v128.load(src, 112));
        d += 16;
        src += step;
      }
    }
    if (oct == mc) return;
    dst += (<usize>oct * kc) << 2;
    a += <usize>oct << 2;
    mc -= oct;
  }
  for (let i = 0; i < mc; i += MR) {
    const rows = min(MR, mc - i);
    const base = a + ((<isize>i * rs) << 2);
    if (rows == MR && rs == 1) {
      // transposed A: the 4 rows of one column are adjacent
      let src = base;
      const step = <usize>(cs << 2);
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        dst += 16;
        src += step;
      }
    } else if (rows == MR && cs == 1) {
      // row-major A: four values of each of the 4 rows, transposed in registers into 4 steps of k
      const r1 = base + ((<isize>rs) << 2);
      const r2 = base + ((<isize>rs * 2) << 2);
      const r3 = base + ((<isize>rs * 3) << 2);
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const o = <usize>p << 2;
        const x0 = v128.load(base + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
        const t0 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
        v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(dst, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
        v128.store(dst, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
        v128.store(dst, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
        dst += 64;
      }
      for (; p < kc; p++) {
        const o = <usize>p << 2;
        store<f32>(dst, load<f32>(base + o));
        store<f32>(dst, load<f32>(r1 + o), 4);
        store<f32>(dst, load<f32>(r2 + o), 8);
        store<f32>(dst, load<f32>(r3 + o), 12);
        dst += 16;
      }
    } else if (rows == MR) {
      const r0 = base;
      const r1 = base + ((<isize>rs) << 2);
      const r2 = base + ((<isize>rs * 2) << 2);
      const r3 = base + ((<isize>rs * 3) << 2);
      for (let p = 0; p < kc; p++) {
        const o = <usize>((<isize>p * cs) << 2);
        store<f32>(dst, load<f32>(r0 + o));
        store<f32>(dst, load<f32>(r1 + o), 4);
        store<f32>(dst, load<f32>(r2 + o), 8);
        store<f32>(dst, load<f32>(r3 + o), 12);
        dst += 16;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst + (r << 2), r < rows ? load<f32>(base + ((<isize>r * rs + <isize>p * cs) << 2)) : 0);
        }
        dst += 16;
      }
    }
  }
}

/** Pack rows [0, kc) x cols [0, nc) of B into NR-column panels [kc][NR], zero-padded. */
function packB(dst: usize, b: usize, rs: i32, cs: i32, kc: i32, nc: i32): void {
  if (cs == 1) {
    // row-major B: four panels at a time, row by row (128 bytes of each row: two whole cache
    // lines read in order, not 32 bytes of a line per panel; four write streams)
    const quad = nc & ~(4 * NR - 1);
    const panel = <usize>kc << 5;
    for (let j = 0; j < quad; j += 4 * NR) {
      let src = b + (<usize>j << 2);
      let d = dst + ((<usize>j * kc) << 2);
      const step = <usize>(rs << 2);
      for (let p = 0; p < kc; p++) {
        v128.store(d, v128.load(src)); v128.store(d, v128.load(src, 16), 16);
        v128.store(d + panel, v128.load(src, 32)); v128.store(d + panel, v128.load(src, 48), 16);
        v128.store(d + 2 * panel, v128.load(src, 64)); v128.store(d + 2 * panel, v128.load(src, 80), 16);
        v128.store(d + 3 * panel, v128.load(src, 96)); v128.store(d + 3 * panel, v128.load(src, 112), 16);
        d += 32;
        src += step;
      }
    }
    if (quad == nc) return;
    dst += (<usize>quad * kc) << 2;
    b += <usize>quad << 2;
    nc -= quad;
  }
  for (let j = 0; j < nc; j += NR) {
    const cols = min(NR, nc - j);
    const base = b + ((<isize>j * cs) << 2);
    if (cols == NR && cs == 1) {
      let src = base;
      const step = <usize>(rs << 2);
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
        src += step;
      }
    } else if (cols == NR) {
      const c1 = <isize>cs << 2;
      for (let p = 0; p < kc; p++) {
        let src = base + ((<isize>p * rs) << 2);
        store<f32>(dst, load<f32>(src)); src += c1;
        store<f32>(dst, load<f32>(src), 4); src += c1;
        store<f32>(dst, load<f32>(src), 8); src += c1;
        store<f32>(dst, load<f32>(src), 12); src += c1;
        store<f32>(dst, load<f32>(src), 16); src += c1;
        store<f32>(dst, load<f32>(src), 20); src += c1;
        store<f32>(dst, load<f32>(src), 24); src += c1;
        store<f32>(dst, load<f32>(src), 28);
        dst += 32;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let c = 0; c < NR; c++) {
          store<f32>(dst + (c << 2), c < cols ? load<f32>(base + ((<isize>p * rs + <isize>c * cs) << 2)) : 0);
        }
        dst += 32;
      }
    }
  }
}

/**
 * The 4x8 micro-kernel's body: rows `ld` bytes apart, each row's second 4 columns `hi` bytes
 * after its first 4 (16 for a row-major C). Both kernels below inline it: the same sums.
 */
@inline function tile4x8(kc: i32, pa: usize, pb: usize, c: usize, ld: usize, hi: usize, accumulate: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(c00, a, b0); c01 = madd(c01, a, b1);
    a = v128.load32_splat(pa, 4);
    c10 = madd(c10, a, b0); c11 = madd(c11, a, b1);
    a = v128.load32_splat(pa, 8);
    c20 = madd(c20, a, b0); c21 = madd(c21, a, b1);
    a = v128.load32_splat(pa, 12);
    c30 = madd(c30, a, b0); c31 = madd(c31, a, b1);
    pa += 16;
    pb += 32;
  }
  if (accumulate) {
    v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c + hi, f32x4.add(v128.load(c + hi), c01)); c += ld;
    v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c + hi, f32x4.add(v128.load(c + hi), c11)); c += ld;
    v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c + hi, f32x4.add(v128.load(c + hi), c21)); c += ld;
    v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c + hi, f32x4.add(v128.load(c + hi), c31));
  } else {
    v128.store(c, c00); v128.store(c + hi, c01); c += ld;
    v128.store(c, c10); v128.store(c + hi, c11); c += ld;
    v128.store(c, c20); v128.store(c + hi, c21); c += ld;
    v128.store(c, c30); v128.store(c + hi, c31);
  }
}

/**
 * 4x8 micro-kernel over packed panels. Writes (accumulate == 0) or adds (accumulate != 0) the
 * tile into c with leading dimension ldc (elements).
 */
export function kernel4x8(kc: i32, pa: usize, pb: usize, c: usize, ldc: i32, accumulate: i32): void {
  tile4x8(kc, pa, pb, c, <usize>ldc << 2, 16, accumulate);
}

/** kernel4x8 writing the tile (no accumulate) with rows `ld` bytes apart and each row's second half `hi` bytes after its first. */
export function kernel4x8Split(kc: i32, pa: usize, pb: usize, c: usize, ld: usize, hi: usize): void {
  tile4x8(kc, pa, pb, c, ld, hi, 0);
}

/** Width of sgemm's blocks along k: k in equal blocks of at most KC (288 -> 2 x 144, not 256 + 32: a thin last block would re-read and re-write all of C for little work). */
@inline function kcStepOf(k: i32): i32 {
  const kBlocks = (k + KC - 1) / KC;
  return (k + kBlocks - 1) / kBlocks;
}

/**
 * The tiles of one packed block: C[mc, nc] (=|+=) packed A [mc x kc] (MR-row panels) times
 * packed B [kc x nc] (NR-column panels), by micro-tiles; jr outside ir, so a B micro-panel stays
 * in L1 while the A panels pass.
 */
function macroKernel(mc: i32, nc: i32, kc: i32, pa: usize, pb: usize, c: usize, ldc: i32, acc: i32, tmp: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const pbj = pb + ((<usize>jr * kc) << 2);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = min(MR, mc - ir);
      const pai = pa + ((<usize>ir * kc) << 2);
      const cp = c + ((<usize>ir * ldc + <usize>jr) << 2);
      if (mr == MR && nr == NR) {
        kernel4x8(kc, pai, pbj, cp, ldc, acc);
      } else {
        // edge tile: compute the full 4x8 into tmp, then write the valid part
        kernel4x8(kc, pai, pbj, tmp, NR, 0);
        for (let r = 0; r < mr; r++) {
          const crow = cp + ((<usize>r * ldc) << 2);
          const trow = tmp + ((<usize>r * NR) << 2);
          if (acc) {
            for (let q = 0; q < nr; q++) store<f32>(crow + (q << 2), load<f32>(crow + (q << 2)) + load<f32>(trow + (q << 2)));
          } else {
            for (let q = 0; q < nr; q++) store<f32>(crow + (q << 2), load<f32>(trow + (q << 2)));
          }
        }
      }
    }
  }
}

/**
 * C[m, n] = A[m, k] * B[k, n]            (accumulate == 0)
 * C[m, n] += A[m, k] * B[k, n]           (accumulate != 0)
 * Element (i, p) of A is at a + 4 * (i * rsa + p * csa); likewise B; C is row-major, ldc.
 */
export function sgemm(
  m: i32, n: i32, k: i32,
  a: usize, rsa: i32, csa: i32,
  b: usize, rsb: i32, csb: i32,
  c: usize, ldc: i32, accumulate: i32,
  packABuf: usize, packBBuf: usize, tmp: usize,
): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (let i = 0; i < m; i++) memory.fill(c + ((<usize>i * ldc) << 2), 0, <usize>n << 2);
    }
    return;
  }
  const kcStep = kcStepOf(k);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = min(kcStep, k - pc);
      const acc = accumulate || pc > 0 ? 1 : 0;
      packB(packBBuf, b + ((<isize>pc * rsb + <isize>jc * csb) << 2), rsb, csb, kc, nc);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(packABuf, a + ((<isize>ic * rsa + <isize>pc * csa) << 2), rsa, csa, mc, kc);
        macroKernel(mc, nc, kc, packABuf, packBBuf, c + ((<usize>ic * ldc + <usize>jc) << 2), ldc, acc, tmp);
      }
    }
  }
}

// Packed once, then multiplied by tiles: a product cut into many tiles of C packs each row of A
// and column of B once (sgemmPackA / sgemmPackB, any split of rows or columns into chunks),
// into every k block of sgemm's, and sgemmPacked computes a tile from those panels. Each C
// element gets the sums of sgemm (same k blocks, same micro-kernel), so the same bits.
// Packed A: block q (k from pc = q * kcStep) at pc * mPad floats, its MR-row panels [kc][MR]
// one after another (rows i.. at pc * mPad + i * kc); mPad = m rounded up to MR. B likewise,
// NR-column panels, nPad.

/** Pack rows [i0, i0 + mc) of A (a: row i0, column 0; strides rs, cs) into the packed A at pa (m padded to mPad rows), every k block. */
export function sgemmPackA(pa: usize, mPad: i32, i0: i32, a: usize, rs: i32, cs: i32, mc: i32, k: i32): void {
  const kcStep = kcStepOf(k);
  for (let pc = 0; pc < k; pc += kcStep) {
    const kc = min(kcStep, k - pc);
    packA(pa + ((<usize>pc * mPad + <usize>i0 * kc) << 2), a + ((<isize>pc * cs) << 2), rs, cs, mc, kc);
  }
}

/** Pack columns [j0, j0 + nc) of B (b: row 0, column j0; strides rs, cs) into the packed B at pb (n padded to nPad columns), every k block. */
export function sgemmPackB(pb: usize, nPad: i32, j0: i32, b: usize, rs: i32, cs: i32, nc: i32, k: i32): void {
  const kcStep = kcStepOf(k);
  for (let pc = 0; pc < k; pc += kcStep) {
    const kc = min(kcStep, k - pc);
    packB(pb + ((<usize>pc * nPad + <usize>j0 * kc) << 2), b + ((<isize>pc * rs) << 2), rs, cs, kc, nc);
  }
}

/**
 * C[i0 : i0 + m, j0 : j0 + n] = A . B from the packed A (pa, mPad) and B (pb, nPad) of a
 * product with this k; i0 a multiple of MR, j0 of NR; c points at C[i0, j0] (row-major, ldc).
 */
export function sgemmPacked(m: i32, n: i32, k: i32, pa: usize, mPad: i32, i0: i32, pb: usize, nPad: i32, j0: i32, c: usize, ldc: i32, tmp: usize): void {
  const kcStep = kcStepOf(k);
  for (let pc = 0; pc < k; pc += kcStep) {
    const kc = min(kcStep, k - pc);
    macroKernel(m, n, kc, pa + ((<usize>pc * mPad + <usize>i0 * kc) << 2), pb + ((<usize>pc * nPad + <usize>j0 * kc) << 2), c, ldc, pc > 0 ? 1 : 0, tmp);
  }
}

/**
 * C[i, j] += bias[j] over the m x n tile at c (row-major, ldc): a Linear layer's bias, added to
 * a tile of its product right after the tile's full k sums (the same f32 sum per element as
 * binaryF32's ADD of the product and the broadcast bias: the same bits).
 */
export function addRowBias(c: usize, m: i32, n: i32, ldc: i32, bias: usize): void {
  for (let i = 0; i < m; i++) {
    const row = c + ((<usize>i * ldc) << 2);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const p = row + (<usize>j << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(bias + (<usize>j << 2))));
    }
    for (; j < n; j++) {
      const p = row + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + load<f32>(bias + (<usize>j << 2)));
    }
  }
}
