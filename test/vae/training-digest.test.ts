// Bit-identity of reference-model training across storage and backend refactors: a few Adam steps
// of the reference ConvVAE on the wasm backend (seeded init, seeded batch and noise, train mode, then an eval forward)
// hashed bit for bit. The digest was computed before the wasm backend's storage work began
// (commit d3db185); any change to a kernel's arithmetic or to the order of operations shows here.
// Changed once on purpose, 7815dd04 -> 5d99a813, by the worker pool (issue 11): the conv weight
// gradients now sum fixed chunks of at least 16 per batch (so that every thread gets some) and
// add the chunks' sums in chunk order; with one chunk per batch the new code gives the old bits.
// Changed on purpose, 5d99a813 -> 0d603332, by Adam in float32 (issue 10): the update computes in
// float32 in PyTorch 1.13's order (bit-identical to torch.optim.Adam, test/nn/adam-f32.test.ts)
// instead of float64 per element; one thread, the wasm adamUpdate row went from 6.4-7.1 to
// 4.7-4.8 ms per step (VAEGRAD_THREADS=1 node bench/profile-step.mjs wasm 6, shared machine), and
// the update alone over the 1.68 M parameters from 4.4 to 3.5 ms (node bench/adam.mjs OLD/dist).
// Changed on purpose, 0d603332 -> b6bb0bdf, by batch norm in float32 (issue 10): the elementwise
// passes (normalise, the ReLU mask's recomputed y, dx) compute in float32, each operation rounded,
// with per-channel float32 coefficients (PyTorch's CPU choice; src/backend/js/norm.ts states the
// steps), instead of float64 per element; the sums stay float64. One thread, kernels interleaved
// with the previous build (shared machine): the 2x2 BatchNorm -> ReLU -> MaxPool backward 7.9 ->
// 6.5 ms (32 ch, 28x28, cold caches), its forward 3.6 -> 2.8, the BatchNorm -> ReLU backward
// 11.3 -> 7.7 at that shape; in the training step (VAEGRAD_THREADS=1 prof-shapes) the
// batch-norm kernels went from 38.6 to 34.7 ms.
// Changed on purpose, b6bb0bdf -> a7a487f0, by phase Winograd for 4x4 stride-2 transposed
// convolutions (issue 10): decoder.0's forward (ConvTranspose2d 64 -> 32, 7x7 -> 14x14, the
// conv's input gradient) computes each output phase as a 2x2 convolution by Winograd F(2x2, 2x2)
// (assembly/winogradStride2.ts: 9 multiplies per 4 outputs per channel pair instead of 16, no
// col2im) instead of GEMM + col2im; its rounding differs by a few float32 ulps of the tile's
// magnitude (test/conformance/winograd-stride2.test.ts). decoder.3 (32 -> 1) keeps the GEMM path.
// One thread, batch 128, shared and loaded machine: the kernel 11.5 -> 8.8 ms (old and new
// interleaved in one process, medians); `node bench/vae-ab.mjs <c4ece6f>/dist` (CPU time, medians
// of 6 rounds), two runs: inference batch 40.5 -> 39.1 and 44.2 -> 41.2 ms, training step
// 173.0 -> 169.8 and 188.0 -> 183.0 ms.
// Changed on purpose, a7a487f0 -> 80f0957a, by phase Winograd for 4x4 stride-2 forward
// convolutions (issue 11): decoder.0's input gradient (conv2d 32 -> 64, 14x14 -> 7x7, k4 s2 p1)
// computes as one 2x2 convolution of the input's four phases (4 x 32 channels) by Winograd
// F(2x2, 2x2) (assembly/winogradStride2.ts winogradS2Conv: 9 multiplies per 4 outputs per
// (output, input phase) pair instead of im2col's 16) instead of im2col + GEMM; rounding differs by
// a few float32 ulps of the tile's magnitude (test/conformance/winograd-stride2.test.ts). One
// thread, batch 128, shared machine, CPU time, medians of old/new child processes alternated: the
// kernel 15.6 -> 11.5 ms; `BENCH_ROUNDS=4 node bench/vae-ab.mjs <a0e7f2c>/dist`: training step
// 180.5 -> 173.5 ms, inference unchanged (40.5 -> 40.6).
// Changed on purpose, 80f0957a -> 6cec4b90, by the same path for that layer's weight gradient
// (issue 11): conv2dBackwardFilter of k4 s2 p1 computes per fixed chunk of images the Winograd
// sums over tiles of the transformed phase planes times the transformed dy (winogradS2GradSums),
// chunks added in chunk order, then G^T du G per phase filter, instead of im2col + GEMM; rounding
// differs by a few ulps (test/conformance/winograd-stride2.test.ts). One thread, batch 128,
// shared machine with the test suite running, CPU time: the kernel 14.3 -> 11.5 ms (old/new child
// processes alternated, medians); `BENCH_ROUNDS=4 node bench/vae-ab.mjs <1820ba4>/dist`: training
// step 180.0 -> 177.4 ms.

import { describe, expect, it } from 'vitest';
import * as vg from '../../src/index.js';
import { trainDigest } from './train-digest.js';

describe('reference-model training is bit-identical to the stored digest', () => {
  it('wasm backend (the js reference is pinned against PyTorch by reference-step.test.ts)', async () => {
    await vg.setBackend('wasm');
    expect(trainDigest()).toBe('6cec4b90');
  });
});
