// The direct convolution (./conv.ts convDirect) with the inference epilogue applied in registers:
// Conv2d (stride 1) -> bias -> eval-mode BatchNorm -> ReLU -> MaxPool2d(2) (2x2 windows of stride
// 2, no padding). Each block computes two output rows of one or two channels, 4 or 8 pixels wide,
// adds the bias, normalises, and pools them; only the pooled values are stored, never the
// full-size activation (the composition writes it, then reads and rewrites it for the batch norm
// and reads it again for the pool: three passes over a buffer four times the result's size).
//
// Bits: each conv output is convDirect's (+0, then madd per tap in im2col's order, then + bias
// where there is one: directBlock), normalised by bnForward's f32 operations (affine4 with
// bnScale, bnShift); the pooled value is then what maxPool2d gives on the ReLU of those: the first
// NaN of the window in the reference's scan order (top-left, top-right, bottom-left,
// bottom-right), else the largest value. Where no value of a window is NaN, that is the ReLU of
// the largest normalised value, and in a channel whose bias, shift and nonzero scale are finite
// the normalisation y = ((a + bias) * scale) + shift (each step rounded) is a monotone function of
// the conv sum a (non-decreasing for scale > 0, non-increasing for scale < 0), so the largest y
// is that of the largest (or smallest) sum, and y is NaN only where a is. So such a channel pools
// its four sums per window first (pmax or pmin, any order: ties are equal values, and the ReLU
// maps -0 to +0 as it does every negative value) and normalises one vector instead of four; a
// block with a NaN sum (found by one sum of its vectors: a NaN anywhere makes it NaN; inf - inf
// sends a block there too), and every block of another channel (scale 0 or not finite, a bias or
// shift not finite: y can be NaN where a is not), take the composition's own steps: bias, affine
// and relu4 of each value, then maxValue4 in scan order.

import { tapTable } from './conv';
import { madd } from './gemm';
import { affine4, bnScale, bnShift, relu4 } from './norm';
import { maxValue4, storeLanes } from './pool';

@inline function gi(geo: usize, i: i32): i32 { return load<i32>(geo + (<usize>i << 2)); }

@inline function evens(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 0, 2, 4, 6); }
@inline function odds(a: v128, b: v128): v128 { return v128.shuffle<f32>(a, b, 1, 3, 5, 7); }

/**
 * One channel's epilogue on the sums of a block's 2x4 windows: top row t0, t1 (pixels 0..3,
 * 4..7), bottom row b0, b1 (for 4-pixel blocks t1 = t0 and b1 = b0: lanes 2, 3 of the result
 * repeat 0, 1): bias (where bias != 0), the batch norm's affine, ReLU, max pool; `count` pooled
 * values stored at out. coef: the channel's scale, shift, and its order (1 or -1 where the affine
 * is monotone, the sign of the scale; 0 otherwise).
 */
@inline function channelOut(t0: v128, t1: v128, b0: v128, b1: v128, bias: usize, coef: usize, out: usize, count: i32): void {
  const sc = v128.load32_splat(coef), sh = v128.load32_splat(coef, 4);
  const order = load<i32>(coef, 8);
  const s = f32x4.add(f32x4.add(t0, t1), f32x4.add(b0, b1));
  if (order != 0 && !v128.any_true(f32x4.ne(s, s))) {
    let m: v128;
    if (order > 0) {
      const v0 = f32x4.pmax(t0, b0), v1 = f32x4.pmax(t1, b1);
      m = f32x4.pmax(evens(v0, v1), odds(v0, v1));
    } else {
      const v0 = f32x4.pmin(t0, b0), v1 = f32x4.pmin(t1, b1);
      m = f32x4.pmin(evens(v0, v1), odds(v0, v1));
    }
    if (bias != 0) m = f32x4.add(m, v128.load32_splat(bias));
    storeLanes(out, f32x4.pmax(f32x4.splat(0), affine4(m, sc, sh)), count); // pmax(+0, y): relu4's value where y is not NaN
    return;
  }
  if (bias != 0) {
    const b = v128.load32_splat(bias);
    t0 = f32x4.add(t0, b); t1 = f32x4.add(t1, b); b0 = f32x4.add(b0, b); b1 = f32x4.add(b1, b);
  }
  const r0 = relu4(affine4(t0, sc, sh)), r1 = relu4(affine4(t1, sc, sh)), q0 = relu4(affine4(b0, sc, sh)), q1 = relu4(affine4(b1, sc, sh));
  storeLanes(out, maxValue4(evens(r0, r1), odds(r0, r1), evens(q0, q1), odds(q0, q1)), count);
}

/**
 * A block: output rows 2 py and 2 py + 1 (xr: the first one's window corner in the first padded
 * input plane; the second's is rowBytes further) of nc channels (1 or 2) x nv vectors (1 or 2) of
 * 4 pixels, pooled to `count` values per channel at out (channels outPlane bytes apart). The
 * accumulators run as directBlock's: +0, then madd per tap in im2col's order; tab holds a
 * TAP-byte entry per tap up to tabEnd (tapTable: where it reads, the weight of each channel). 2 channels x 2 rows x 8 pixels (8
 * accumulators, 4 loads of x and 2 of w per tap) ran faster than 4 channels x 2 rows x 4 pixels,
 * or 1 x 2 x 8 (batch 128, 1 -> 32 channels 3x3 at 28x28, one thread: 2.5 ms against 2.8 and 3.1,
 * a shared machine).
 */
@inline function poolBlock(nc: i32, nv: i32, xr: usize, rowBytes: usize, tab: usize, tabEnd: usize,
  bias: usize, coef: usize, out: usize, outPlane: usize, count: i32): void {
  let t00 = f32x4.splat(0), t01 = f32x4.splat(0), b00 = f32x4.splat(0), b01 = f32x4.splat(0);
  let t10 = f32x4.splat(0), t11 = f32x4.splat(0), b10 = f32x4.splat(0), b11 = f32x4.splat(0);
  const xb = xr + rowBytes;
  for (let e = tab; e < tabEnd; e += TAP) {
    const off = <usize>load<i32>(e);
    const q = xr + off, qb = xb + off;
    const xt0 = v128.load(q), xb0 = v128.load(qb);
    const xt1 = nv > 1 ? v128.load(q, 16) : xt0, xb1 = nv > 1 ? v128.load(qb, 16) : xb0;
    let s = v128.load32_splat(e, 4);
    t00 = madd(t00, s, xt0); b00 = madd(b00, s, xb0);
    if (nv > 1) { t01 = madd(t01, s, xt1); b01 = madd(b01, s, xb1); }
    if (nc > 1) {
      s = v128.load32_splat(e, 8);
      t10 = madd(t10, s, xt0); b10 = madd(b10, s, xb0);
      if (nv > 1) { t11 = madd(t11, s, xt1); b11 = madd(b11, s, xb1); }
    }
  }
  if (nv == 1) { t01 = t00; b01 = b00; t11 = t10; b11 = b10; }
  channelOut(t00, t01, b00, b01, bias, coef, out, count);
  if (nc > 1) channelOut(t10, t11, b10, b11, bias != 0 ? bias + 4 : 0, coef + 16, out + outPlane, count);
}

/** Pooled row py of nc channels: blocks of 8 conv pixels (4 pooled values), then a last block of 4 or 8 for the rest. */
@inline function poolRow(nc: i32, xr: usize, rowBytes: usize, tab: usize, tabEnd: usize, bias: usize, coef: usize,
  out: usize, outPlane: usize, pw: i32): void {
  let px = 0;
  for (; px + 4 <= pw; px += 4) poolBlock(nc, 2, xr + (<usize>px << 3), rowBytes, tab, tabEnd, bias, coef, out + (<usize>px << 2), outPlane, 4);
  const rest = pw - px;
  if (rest > 2) poolBlock(nc, 2, xr + (<usize>px << 3), rowBytes, tab, tabEnd, bias, coef, out + (<usize>px << 2), outPlane, rest);
  else if (rest > 0) poolBlock(nc, 1, xr + (<usize>px << 3), rowBytes, tab, tabEnd, bias, coef, out + (<usize>px << 2), outPlane, rest);
}

/** Bytes per tap of the tap tables here (tapTable): its offset and the weights of up to 2 channels. */
const TAP: usize = 12;

/**
 * out (nb images, o channels of ph x pw pooled values) = maxPool2d(relu(bnForward(conv(x, w) +
 * bias))) for a stride-1 convolution and 2x2 windows of stride 2 (ph <= oh / 2, pw <= ow / 2: the
 * conv's last row or column of an odd plane is never computed). xp, hp, wp as convDirect's, with
 * wp >= max(4, pw * 2 rounded up to 4) + (kw - 1) * dilW (a row's last block reads up to that).
 * bias: f32[o] or 0; mean, invstd, bw, bb: the batch norm's f32[o] parameters. tmp: 4 o + 3 K
 * words of the thread's scratch (each channel's scale, shift, order and a pad; then a channel
 * block's tap table).
 */
export function convDirectBnReluPool2x2(geo: usize, xp: usize, hp: i32, wp: i32, w: usize, bias: usize,
  mean: usize, invstd: usize, bw: usize, bb: usize, out: usize, ph: i32, pw: i32, tmp: usize): void {
  const nb = gi(geo, 0), c = gi(geo, 1), o = gi(geo, 4);
  const kh = gi(geo, 5), kw = gi(geo, 6);
  const dh = gi(geo, 13), dw = gi(geo, 14), groups = gi(geo, 15);
  const cg = c / groups, og = o / groups;
  const K = cg * kh * kw;
  const wStep = <usize>K << 2;
  const plane = (<usize>hp * wp) << 2;
  const rowBytes = <usize>wp << 2;
  const outPlane = (<usize>ph * pw) << 2, outRow = <usize>pw << 2;
  // bnForward's per-channel scale and shift, and the order of the affine (channelOut)
  const coef = tmp, tab = coef + (<usize>o << 4);
  for (let ch = 0; ch < o; ch++) {
    const k = <usize>ch << 2, cp = coef + (k << 2);
    const scale = bnScale(invstd + k, bw + k), shift = bnShift(bb + k, mean + k, scale);
    const regular = isFinite(scale) && isFinite(shift) && (bias == 0 || isFinite(load<f32>(bias + k)));
    store<f32>(cp, scale);
    store<f32>(cp, shift, 4);
    store<i32>(cp, regular ? (scale > 0 ? 1 : scale < 0 ? -1 : 0) : 0, 8);
  }
  for (let i = 0; i < nb; i++) {
    for (let g = 0; g < groups; g++) {
      const xg = xp + <usize>(i * c + g * cg) * plane;
      let oc = g * og;
      const oEnd = oc + og;
      for (; oc < oEnd; ) {
        const bc = bias != 0 ? bias + (<usize>oc << 2) : 0;
        const cc = coef + (<usize>oc << 4);
        let yp = out + <usize>(i * o + oc) * outPlane;
        let xr = xg;
        const nc = oc + 2 <= oEnd ? 2 : 1;
        const tabEnd = tapTable(tab, TAP, nc, cg, kh, kw, dh, dw, plane, rowBytes, w + <usize>oc * wStep, wStep);
        if (nc == 2) {
          for (let py = 0; py < ph; py++, yp += outRow, xr += rowBytes << 1) poolRow(2, xr, rowBytes, tab, tabEnd, bc, cc, yp, outPlane, pw);
        } else {
          for (let py = 0; py < ph; py++, yp += outRow, xr += rowBytes << 1) poolRow(1, xr, rowBytes, tab, tabEnd, bc, cc, yp, outPlane, pw);
        }
        oc += nc;
      }
    }
  }
}
