#!/usr/bin/env bash
# Device check for the GPU backend on a fresh Linux machine with an NVIDIA GPU (Debian/Ubuntu,
# the NVIDIA driver installed: it ships the Vulkan driver, nvidia_icd.json). Run from a clone:
#
#   bash bench/gpu-device.sh            # EPOCH_IMAGES=60000 for a full MNIST epoch (default 12800)
#
# It installs the Vulkan loader, builds, prints the renderer the GPU backend runs on, runs the
# GPU test suites (conformance of every kernel on real shaders, the training test) on the GPU,
# the launch profile, the training-step bench (GPU vs wasm) and one training epoch with
# --device gpu and --device cpu, and prints images/s for both. Everything runs with no display
# (ANGLE on Vulkan), as on a server. Exits non-zero when the renderer is not a GPU.
#
# On a machine with no package registry: bring node_modules and a built dist/ along and set
# SKIP_BUILD=1; the script then installs and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCH_IMAGES="${EPOCH_IMAGES:-12800}"
SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"

echo "== packages"
if [ "${SKIP_BUILD:-}" != 1 ] && command -v apt-get >/dev/null && ! dpkg -s libvulkan1 vulkan-tools >/dev/null 2>&1; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libvulkan1 vulkan-tools
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "warning: nvidia-smi not found (is the NVIDIA driver installed?)"
ICD=""
for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json \
         /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$f" ] && { ICD="$f"; break; }
done
if [ -n "$ICD" ]; then
  # only NVIDIA's driver: ANGLE must not pick a CPU device (lavapipe) if mesa-vulkan-drivers is installed too
  export VK_ICD_FILENAMES="$ICD"
  echo "Vulkan driver: $ICD"
else
  echo "warning: no NVIDIA Vulkan ICD (nvidia_icd.json) found; ANGLE will use whatever Vulkan driver exists"
fi
command -v vulkaninfo >/dev/null && (env -u DISPLAY vulkaninfo --summary 2>/dev/null | sed -n '/Devices:/,$p' | head -20 || true)

echo "== install and build"
if [ "${SKIP_BUILD:-}" = 1 ]; then
  [ -f dist/src/index.js ] || { echo "error: SKIP_BUILD=1 but dist/ is not built" >&2; exit 1; }
else
  [ -d node_modules/gl ] && [ -d node_modules/gpu.js ] || npm ci --no-audit --no-fund
  npm run build >/dev/null
fi
unset DISPLAY WAYLAND_DISPLAY VAEGRAD_GPU_MODE

echo "== renderer"
node --input-type=module -e "
  const vg = await import('./dist/src/index.js');
  await vg.setBackend('gpu');
  const i = vg.getBackendInfo();
  console.log(JSON.stringify(i));
  if (i.software) { console.error('error: the GPU backend runs on a software renderer, not the GPU'); process.exit(2); }
"

echo "== GPU test suites on the device (headlessgl: every kernel against the reference; training vs wasm)"
CI=1 node node_modules/vitest/vitest.mjs run test/gpu/

echo "== launch profile (one training step at batch 128, on the device)"
VAEGRAD_GPU_MODE=headlessgl node bench/gpu-profile.mjs

echo "== training step: GPU vs wasm, batch 128"
GPU_BENCH_BATCH=128 GPU_BENCH_STEPS=5 node bench/run.mjs gpu

echo "== one epoch of $EPOCH_IMAGES images, --device gpu vs --device cpu"
out=$(mktemp -d)
for dev in gpu cpu; do
  node bin/vaegrad.js train --device "$dev" --epochs 1 --limit "$EPOCH_IMAGES" --test-limit 1000 --no-images --json --out "$out/$dev" >/dev/null
  node -e "const m = require('fs').readFileSync('$out/$dev/metrics.jsonl', 'utf8').trim().split('\n').pop(); const j = JSON.parse(m); console.log('$dev: ' + j.images_per_s.toFixed(0) + ' images/s, epoch ' + j.seconds.toFixed(1) + ' s, train loss ' + j.train_loss.toFixed(2))"
done
rm -rf "$out"
