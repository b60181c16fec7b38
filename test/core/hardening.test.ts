// Regressions from the adversarial review (issue 15), library side: losses at the edges of their
// domain, RNG states that would spin, and engine errors that must name the op, shape and bytes.

import { beforeAll, describe, expect, it } from 'vitest';
import { Function } from '../../src/autograd/function.js';
import { MemoryLimitError } from '../../src/backend/backend.js';
import { Allocator } from '../../src/backend/wasm/memory/allocator.js';
import { Arena } from '../../src/backend/wasm/memory/arena.js';
import * as vg from '../../src/index.js';

beforeAll(async () => {
  await vg.setBackend('js');
});

function lossAndGrad(fn: (x: vg.Tensor, t: vg.Tensor) => vg.Tensor, x: number, t: number): [number, number] {
  const xt = vg.tensor([x], { requiresGrad: true });
  const loss = fn(xt, vg.tensor([t]));
  loss.backward();
  return [loss.item(), xt.grad!.item()];
}

describe('binary cross-entropy at the edges', () => {
  const bce = (x: vg.Tensor, t: vg.Tensor): vg.Tensor => vg.F.binaryCrossEntropy(x, t, { reduction: 'sum' });
  const bceLogits = (x: vg.Tensor, t: vg.Tensor): vg.Tensor => vg.F.binaryCrossEntropyWithLogits(x, t, { reduction: 'sum' });

  it('binaryCrossEntropy refuses probabilities outside [0, 1] and NaN (PyTorch raises; it used to return NaN)', () => {
    for (const p of [1.5, -0.1, NaN]) {
      expect(() => vg.F.binaryCrossEntropy(vg.tensor([0.5, p]), vg.tensor([1, 0]))).toThrow(/binaryCrossEntropy: input \[2\] must hold probabilities in \[0, 1\], but holds values in/);
    }
    expect(() => new vg.nn.BCELoss().forward(vg.tensor([2]), vg.tensor([1]))).toThrow(/must hold probabilities in \[0, 1\], but holds values in \[2, 2\]/);
  });

  it('binaryCrossEntropy: finite losses and PyTorch gradients at p = 0 and 1 (they used to be NaN)', () => {
    // torch 1.13: F.binary_cross_entropy(p, t, reduction='sum') and p.grad
    expect(lossAndGrad(bce, 0, 0)).toEqual([0, 0]);
    expect(lossAndGrad(bce, 1, 1)[1]).toBe(0);
    const [l01, g01] = lossAndGrad(bce, 0, 1);
    expect(l01).toBe(100);
    expect(g01).toBeCloseTo(-1e12, -6);
    const [l10, g10] = lossAndGrad(bce, 1, 0);
    expect(l10).toBe(100);
    expect(g10).toBeCloseTo(1e12, -6);
    const [l, g] = lossAndGrad(bce, 0.25, 0.5);
    expect(l).toBeCloseTo(-(0.5 * Math.log(0.25) + 0.5 * Math.log(0.75)), 6);
    expect(g).toBeCloseTo((0.25 - 0.5) / (0.25 * 0.75), 5);
  });

  it('binaryCrossEntropyWithLogits: +Inf where the loss diverges, 0 where the target agrees, finite gradients', () => {
    // PyTorch 1.13 gives (inf, 1) for (+Inf, 0) and (inf, 0.7) for (+Inf, 0.3); it gives NaN losses for the other
    // three infinite cases, whose limits are taken here. Its gradients (the ones below) are finite in all of them.
    expect(lossAndGrad(bceLogits, Infinity, 0)).toEqual([Infinity, 1]);
    expect(lossAndGrad(bceLogits, -Infinity, 1)).toEqual([Infinity, -1]);
    expect(lossAndGrad(bceLogits, Infinity, 1)).toEqual([0, 0]);
    expect(lossAndGrad(bceLogits, -Infinity, 0)).toEqual([0, 0]);
    const [l, g] = lossAndGrad(bceLogits, Infinity, 0.3);
    expect(l).toBe(Infinity);
    expect(g).toBeCloseTo(0.7, 6);
    // Finite logits keep their values: torch 1.13 gives 70 and 0.6931471824645996.
    expect(lossAndGrad(bceLogits, 100, 0.3)[0]).toBeCloseTo(70, 4);
    expect(lossAndGrad(bceLogits, 0, 1)[0]).toBeCloseTo(0.6931471824645996, 6);
  });
});

describe('Generator states are validated', () => {
  it('refuses an all-zero xoshiro state (normal() used to spin forever)', () => {
    expect(() => vg.Generator.fromState({ s: [0, 0, 0, 0], spare: null })).toThrow(/Generator.setState: s is all zeros, which xoshiro128\*\* never leaves/);
  });

  it.each<[string, unknown, RegExp]>([
    ['a missing state', undefined, /expected \{ s: \[4 x uint32\], spare \}, got undefined/],
    ['three words', { s: [1, 2, 3], spare: null }, /s must be an array of 4 uint32 values, got an array of 3/],
    ['a non-integer', { s: [1, 2.5, 3, 4], spare: null }, /s\[1\] is 2.5, not an integer in \[0, 2\^32\)/],
    ['a negative word', { s: [1, 2, -3, 4], spare: null }, /s\[2\] is -3/],
    ['a word beyond 2^32', { s: [2 ** 32, 2, 3, 4], spare: null }, /s\[0\] is 4294967296/],
    ['a string word', { s: ['1', 2, 3, 4], spare: null }, /s\[0\] is "1"/],
    ['an infinite spare', { s: [1, 2, 3, 4], spare: Infinity }, /spare is Infinity, not a finite number or null/],
  ])('refuses %s', (_what, state, pattern) => {
    expect(() => vg.Generator.fromState(state as never)).toThrow(pattern);
  });

  it('still restores every state getState gives', () => {
    const g = new vg.Generator(7);
    g.normal();
    const h = vg.Generator.fromState(g.getState());
    expect([h.normal(), h.uniform()]).toEqual([g.normal(), g.uniform()]);
  });
});

describe('allocation errors name the op, the shape and the bytes', () => {
  it.each<[string, () => unknown, RegExp]>([
    // These were a bare RangeError ("Invalid typed array length") or said "internal".
    ['zeros([1e6, 1e6])', () => vg.zeros([1e6, 1e6]), /^full: shape \[1000000, 1000000\] of float32 needs 4000000000000 bytes \(3\.64 TiB\), beyond the 4\.00 GiB one tensor may hold$/],
    ['arange(0, 1e12)', () => vg.arange(0, 1e12), /^arange: shape \[1000000000000\] of float32 needs 4000000000000 bytes/],
    ['randn([1e9, 400])', () => vg.randn([1e9, 400]), /^randn: shape \[1000000000, 400\] of float32 needs 1600000000000 bytes \(1\.46 TiB\)/],
    ['eye(-2, 3)', () => vg.eye(-2, 3), /^eye: shape must be an array of non-negative integers, got \[-2,3\]$/],
    ['eye(1e6)', () => vg.eye(1e6), /^eye: shape \[1000000, 1000000\] of float32 needs 4000000000000 bytes/],
    ['arange(0, NaN)', () => vg.arange(0, NaN), /^arange: start and end must be finite numbers, got 0 and NaN$/],
    ['arange(Infinity)', () => vg.arange(Infinity), /^arange: start and end must be finite numbers, got 0 and Infinity$/],
    ['linspace(0, 1, 2e9)', () => vg.linspace(0, 1, 2e9), /^linspace: shape \[2000000000\] of float32 needs 8000000000 bytes \(7\.45 GiB\)/],
    ['nn.Linear(400, 1e9)', () => new vg.nn.Linear(400, 1e9), /shape \[1000000000, 400\] of float32 needs 1600000000000 bytes/],
  ])('%s', (_what, make, pattern) => {
    let err: unknown;
    try {
      make();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(pattern);
  });

  it('WebAssembly memory that cannot grow gives a MemoryLimitError with the bytes, not Memory.grow()\'s message, and does not grow', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const arena = new Arena(new Allocator(memory, 0));
    arena.reset();
    arena.alloc(1000);
    let err: unknown;
    try {
      arena.alloc(5 * 65536);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MemoryLimitError);
    expect((err as MemoryLimitError).neededBytes).toBe(1024 + 5 * 65536);
    expect((err as Error).message).toMatch(/^one kernel call needs 328704 bytes \(0\.00 GiB\) of WebAssembly memory, but the memory cannot grow beyond/);
    expect(memory.buffer.byteLength).toBe(65536); // the failed request left the memory as it was
    arena.reset(); // and the arena usable: the next call starts over
    expect(arena.alloc(100) % 64).toBe(0);
  });

  it('the op that hit the limit is named, with its input shapes (one place for every op)', () => {
    class Huge extends Function {
      forward(x: vg.Tensor): vg.Tensor {
        throw new MemoryLimitError(3 * 2 ** 30, 2 ** 31);
        return x;
      }
      backward(g: vg.Tensor): vg.Tensor[] {
        return [g];
      }
    }
    expect(() => Huge.apply(vg.zeros([60000, 1, 28, 28]))).toThrow(/^Huge on \[60000, 1, 28, 28\]: one kernel call needs 3221225472 bytes \(3\.00 GiB\) of WebAssembly memory, but the memory cannot grow beyond 2\.00 GiB/);
  });
});
