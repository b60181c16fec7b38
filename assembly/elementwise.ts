// Elementwise kernels over contiguous float32 buffers, plus the strided gather that makes a
// view contiguous. Semantics follow the js reference (src/backend/js/elementwise.ts), which
// computes in f64 and rounds to f32: ops that are exactly rounded in f32 (+ - * /, sqrt, min,
// max, comparisons, relu, abs, neg) use f32x4 and give the very same bits; ops with a double
// scalar parameter (addScalar, mulScalar, leakyRelu, clamp, inRange) compute in f64 like the
// reference; transcendentals (exp, log, log1p, tanh, sigmoid, softplus, pow) use
// AssemblyScript's f64 Math, which can differ from V8's in the last f64 bit, so after rounding
// to f32 they agree with the reference to within 1 f32 ulp (almost always exactly). sigmoid runs
// two f64 lanes at a time on a vector port of that Math.exp (exp.ts), with the scalar's bits.

import { sigmoid, sigmoid2, softplus, softplus2 } from './exp';
import { hi2, lo2, to4 } from './norm';

/** sigmoid of four f32 lanes, each rounded from unaryScalar's f64 sigmoid (demote_f64x2_zero rounds as <f32> does). */
@inline function sigmoid4(v: v128): v128 { return to4(sigmoid2(lo2(v)), sigmoid2(hi2(v))); }
/** softplus likewise. */
@inline function softplus4(v: v128): v128 { return to4(softplus2(lo2(v)), softplus2(hi2(v))); }

/**
 * dst (contiguous) = the 4-d strided view at src: geo = i32[8] {shape[0..3], strides[0..3]}
 * in elements, outermost first. Negative and zero strides are fine.
 */
export function gather4(src: usize, dst: usize, geo: usize): void {
  const n0 = load<i32>(geo), n1 = load<i32>(geo, 4), n2 = load<i32>(geo, 8), n3 = load<i32>(geo, 12);
  const s0 = load<i32>(geo, 16), s1 = load<i32>(geo, 20), s2 = load<i32>(geo, 24), s3 = load<i32>(geo, 28);
  const rowBytes = <usize>n3 << 2;
  for (let i0 = 0; i0 < n0; i0++) {
    for (let i1 = 0; i1 < n1; i1++) {
      for (let i2 = 0; i2 < n2; i2++) {
        const base = src + ((<isize>i0 * s0 + <isize>i1 * s1 + <isize>i2 * s2) << 2);
        if (s3 == 1) {
          memory.copy(dst, base, rowBytes);
        } else if (s3 == 0) {
          const v = load<f32>(base);
          const v4 = f32x4.splat(v);
          let j = 0;
          for (; j + 4 <= n3; j += 4) v128.store(dst + (<usize>j << 2), v4);
          for (; j < n3; j++) store<f32>(dst + (<usize>j << 2), v);
        } else {
          let p = base;
          const step = <isize>s3 << 2;
          for (let j = 0; j < n3; j++, p += step) store<f32>(dst + (<usize>j << 2), load<f32>(p));
        }
        dst += rowBytes;
      }
    }
  }
}

/** erf by the same steps as the js reference (src/backend/js/elementwise.ts). */
function erf(x: f64): f64 {
  const ax = Math.abs(x);
  if (ax != ax) return x;
  const x2 = x * x;
  if (ax < 1.5) {
    let acc: f64 = 0;
    let fk: f64 = 25.5;
    for (let i = 0; i < 25; i++, fk -= 1) acc = 2 + (x2 * acc) / fk;
    return (acc * x * Math.exp(-x2)) / 1.7724538509055159;
  }
  if (ax >= 30) return x > 0 ? 1 : -1;
  let a: f64 = 0, da: f64 = 0.5, p: f64 = 1, pLast: f64 = 0, q: f64 = da + x2, qLast: f64 = 1;
  for (let i = 0; i < 50; i++) {
    a += da;
    da += 2;
    const b = da + x2;
    const tp = p;
    p = b * p - a * pLast;
    pLast = tp;
    const tq = q;
    q = b * q - a * qLast;
    qLast = tq;
  }
  const erfc = ((p / q) * ax * Math.exp(-x2)) / 1.7724538509055159;
  return x > 0 ? 1 - erfc : erfc - 1;
}

// unary op codes (keep in sync with src/backend/wasm/backend.ts)
const NEG = 0, EXP = 1, LOG = 2, LOG1P = 3, SQRT = 4, ABS = 5, SIGN = 6, RELU = 7, SIGMOID = 8, TANH = 9,
  SOFTPLUS = 10, RECIPROCAL = 11, SQUARE = 12, STEP = 13, LEAKY_RELU = 14, CLAMP = 15, POW_SCALAR = 16,
  ADD_SCALAR = 17, MUL_SCALAR = 18, IN_RANGE = 19, ERF = 20;

@inline function unaryScalar(op: i32, v: f32, a: f64, b: f64): f32 {
  const x = <f64>v;
  switch (op) {
    case NEG: return -v;
    case EXP: return <f32>Math.exp(x);
    case LOG: return <f32>Math.log(x);
    case LOG1P: return <f32>Math.log1p(x);
    case SQRT: return <f32>Math.sqrt(x);
    case ABS: return Mathf.abs(v);
    case SIGN: return v > 0 ? 1 : v < 0 ? -1 : v;
    case RELU: return v > 0 ? v : v != v ? v : 0;
    case SIGMOID: return <f32>sigmoid(x);
    case TANH: return <f32>Math.tanh(x);
    case SOFTPLUS: return <f32>softplus(x);
    case RECIPROCAL: return <f32>(1 / x);
    case SQUARE: return <f32>(x * x);
    case STEP: return v > 0 ? 1 : 0;
    case LEAKY_RELU: return v > 0 ? v : <f32>(x * a);
    case CLAMP: return x < a ? <f32>a : x > b ? <f32>b : v;
    case POW_SCALAR: return <f32>Math.pow(x, a);
    case ADD_SCALAR: return <f32>(x + a);
    case MUL_SCALAR: return <f32>(x * a);
    case IN_RANGE: return x >= a && x <= b ? 1 : 0;
    case ERF: return <f32>erf(x);
    default: return NaN;
  }
}

/** out[i] = op(x[i]) for i < n; a, b: the op's scalar parameters. */
export function unaryF32(op: i32, x: usize, out: usize, n: i32, a: f64, b: f64): void {
  let i = 0;
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  // the exactly rounded ops, four lanes at a time
  if (op == RELU) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      v128.store(out + (<usize>i << 2), v128.and(v, v128.or(f32x4.gt(v, zero), f32x4.ne(v, v))));
    }
  } else if (op == NEG) {
    for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.neg(v128.load(x + (<usize>i << 2))));
  } else if (op == ABS) {
    for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.abs(v128.load(x + (<usize>i << 2))));
  } else if (op == SQRT) {
    for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.sqrt(v128.load(x + (<usize>i << 2))));
  } else if (op == SQUARE) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      v128.store(out + (<usize>i << 2), f32x4.mul(v, v));
    }
  } else if (op == RECIPROCAL) {
    for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.div(one, v128.load(x + (<usize>i << 2))));
  } else if (op == STEP) {
    for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), v128.and(f32x4.gt(v128.load(x + (<usize>i << 2)), zero), one));
  } else if (op == SIGMOID) {
    for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), sigmoid4(v128.load(x + (<usize>i << 2))));
  } else if (op == SOFTPLUS) {
    for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), softplus4(v128.load(x + (<usize>i << 2))));
  } else if (op == MUL_SCALAR || op == ADD_SCALAR) {
    // in f64, two lanes at a time (a is a double, as in the reference)
    const a2 = f64x2.splat(a);
    for (; i + 2 <= n; i += 2) {
      const v = f64x2.promote_low_f32x4(v128.load64_zero(x + (<usize>i << 2)));
      const r = op == MUL_SCALAR ? f64x2.mul(v, a2) : f64x2.add(v, a2);
      v128.store64_lane(out + (<usize>i << 2), f32x4.demote_f64x2_zero(r), 0);
    }
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), unaryScalar(op, load<f32>(x + (<usize>i << 2)), a, b));
}

// binary op codes
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, MAXIMUM = 4, MINIMUM = 5, EQ = 6, NE = 7, LT = 8, LE = 9, GT = 10, GE = 11,
  MUL_POS = 12; // x * (y > 0 ? 1 : 0): the ReLU gradient in one pass

@inline function binaryVec(op: i32, u: v128, v: v128, one: v128): v128 {
  switch (op) {
    case ADD: return f32x4.add(u, v);
    case SUB: return f32x4.sub(u, v);
    case MUL: return f32x4.mul(u, v);
    case DIV: return f32x4.div(u, v);
    case MAXIMUM: return f32x4.max(u, v);
    case MINIMUM: return f32x4.min(u, v);
    case EQ: return v128.and(f32x4.eq(u, v), one);
    case NE: return v128.and(f32x4.ne(u, v), one);
    case LT: return v128.and(f32x4.lt(u, v), one);
    case LE: return v128.and(f32x4.le(u, v), one);
    case GT: return v128.and(f32x4.gt(u, v), one);
    case MUL_POS: return f32x4.mul(u, v128.and(f32x4.gt(v, f32x4.splat(0)), one));
    default: return v128.and(f32x4.ge(u, v), one);
  }
}

/** out[i] = x[i] op y[i] for i < n (one lane-wise path; the tail goes through a padded vector). */
export function binaryF32(op: i32, x: usize, y: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  // the switch is hoisted out of the loop by specialising on op
  if (op == ADD) for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.add(v128.load(x + (<usize>i << 2)), v128.load(y + (<usize>i << 2))));
  else if (op == SUB) for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.sub(v128.load(x + (<usize>i << 2)), v128.load(y + (<usize>i << 2))));
  else if (op == MUL) for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), v128.load(y + (<usize>i << 2))));
  else if (op == DIV) for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.div(v128.load(x + (<usize>i << 2)), v128.load(y + (<usize>i << 2))));
  else if (op == MUL_POS) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const y4 = v128.load(y + (<usize>i << 2));
      v128.store(out + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), v128.and(f32x4.gt(y4, zero), one)));
    }
  } else for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), binaryVec(op, v128.load(x + (<usize>i << 2)), v128.load(y + (<usize>i << 2)), one));
  for (; i < n; i++) {
    const r = binaryVec(op, f32x4.splat(load<f32>(x + (<usize>i << 2))), f32x4.splat(load<f32>(y + (<usize>i << 2))), one);
    store<f32>(out + (<usize>i << 2), f32x4.extract_lane(r, 0));
  }
}

// Binary cross-entropy with logits, fused: the very f32/f64 operations of the composition in
// src/ops/loss.ts (BceWithLogits) run kernel by kernel on this backend, so the bits are the same
// (up to a NaN's sign, which WebAssembly leaves unspecified).

/**
 * out[i] = (w == 0 ? 0 : |l| * w) + softplus(-|l|), w = l > 0 ? 1 - t : t: each step rounded
 * to f32 as abs, addScalar (in f64), mul, softplus (in f64) and add do one after another.
 */
export function bceWithLogits(l: usize, t: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const lv = v128.load(l + o), tv = v128.load(t + o);
    const a = f32x4.abs(lv);
    const nt = f32x4.neg(tv);
    const one = f64x2.splat(1);
    const w = v128.bitselect(to4(f64x2.add(lo2(nt), one), f64x2.add(hi2(nt), one)), tv, f32x4.gt(lv, f32x4.splat(0)));
    const m = v128.andnot(f32x4.mul(a, w), f32x4.eq(w, f32x4.splat(0)));
    v128.store(out + o, f32x4.add(m, softplus4(f32x4.neg(a))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const lv = load<f32>(l + o), tv = load<f32>(t + o);
    const a = Mathf.abs(lv);
    const w: f32 = lv > 0 ? <f32>(<f64>(-tv) + 1) : tv;
    const m: f32 = w == 0 ? 0 : a * w;
    store<f32>(out + o, m + <f32>softplus(<f64>(-a)));
  }
}

/** out[i] = g[i] * (sigmoid(l[i]) - t[i]): the logits' gradient, sigmoid rounded to f32 as unaryF32's. */
export function bceWithLogitsGrad(l: usize, t: usize, g: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(g + o), f32x4.sub(sigmoid4(v128.load(l + o)), v128.load(t + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const s = <f32>sigmoid(<f64>load<f32>(l + o));
    store<f32>(out + o, load<f32>(g + o) * (s - load<f32>(t + o)));
  }
}

// The finiteness test of allFinite: x - x is +0 (all bits clear) for every finite x, denormals
// and -0 included, and NaN for NaN and +-Infinity, so OR-ing the bits of x - x over a buffer
// leaves zero exactly when every value is finite. One subtract and one OR per four floats, four
// independent accumulators: the loop runs at memory speed (no early exit: the usual answer is
// "all finite", which has to read everything anyway).

/** Stores to flag (i32) a value that is nonzero when some of the n floats at x is NaN or +-Infinity, else 0. */
export function nonFinite(x: usize, n: i32, flag: usize): void {
  let a = i32x4.splat(0), b = a, c = a, d = a;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const u = v128.load(p), v = v128.load(p, 16), w = v128.load(p, 32), z = v128.load(p, 48);
    a = v128.or(a, f32x4.sub(u, u));
    b = v128.or(b, f32x4.sub(v, v));
    c = v128.or(c, f32x4.sub(w, w));
    d = v128.or(d, f32x4.sub(z, z));
  }
  for (; i + 4 <= n; i += 4) {
    const u = v128.load(x + (<usize>i << 2));
    a = v128.or(a, f32x4.sub(u, u));
  }
  let r = <i32>v128.any_true(v128.or(v128.or(a, b), v128.or(c, d)));
  for (; i < n; i++) {
    const s = load<f32>(x + (<usize>i << 2));
    r |= reinterpret<i32>(s - s);
  }
  store<i32>(flag, r);
}
