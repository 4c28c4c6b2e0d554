#!/usr/bin/env bash
# Builds cuda-out/emulated/libtacit_cuda.so: the kernels of cuda/*.cu compiled for the CPU
# with tests/cuda_emulator (each thread a fiber, barriers real, cuBLAS a loop), so the GPU
# parity tests can check the kernels' logic on a machine without a GPU:
#   bash scripts/build_cuda_emulated.sh && TACIT_CUDA_LIB=cuda-out/emulated/libtacit_cuda.so deno test -A tests/gpu.test.ts
# It says nothing of speed, the GPU's memory model or races: scripts/gpu_check.sh does, on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
out=cuda-out/emulated
mkdir -p "$out/src"
for file in cuda/*.cu; do
  python3 tests/cuda_emulator/translate.py "$file" > "$out/src/$(basename "$file" .cu).cpp"
done
cp cuda/common.cuh cuda/tacit_cuda.h "$out/src/"
g++ -O2 -std=c++17 -fPIC -shared -fvisibility=hidden -Wno-unused-result \
  -I tests/cuda_emulator -I "$out/src" \
  "$out"/src/*.cpp tests/cuda_emulator/emulator.cpp -o "$out/libtacit_cuda.so"
echo "cuda: built $out/libtacit_cuda.so (CPU emulation)" >&2
