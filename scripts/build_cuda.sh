#!/usr/bin/env bash
# Builds the CUDA library, cuda-out/libtacit_cuda.so, from cuda/*.cu.
#   bash scripts/build_cuda.sh            nvcc from the pinned PyPI wheels (installed into
#                                         .tools/cuda on first use, ~850 MB, ~10 s here)
#   NVCC=/path/to/nvcc bash scripts/build_cuda.sh   a CUDA toolkit already on the machine
#                                         (scripts/gpu_check.sh on a GPU machine)
# Machine code for sm_80 (A100; also runs on sm_86/sm_89), sm_90 (H100/H200),
# sm_100 (B200) and sm_120 (RTX 50xx), plus compute_80 PTX for anything else:
# a driver that supports an older CUDA 13.x runs the machine code without a
# PTX JIT. nvcc compiles the targets in parallel (--threads 0): about 30 s on
# 2 cores. cudart is linked statically, cuBLAS dynamically (rpath to the
# toolkit's lib folder, then the library's own folder).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# nvcc 13.0 matches the GPU machines' toolkit; every part pinned to the same release.
CUDA_PACKAGES="nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 \
nvidia-cuda-runtime==13.0.96 nvidia-cublas==13.0.2.14 nvidia-cuda-cccl==13.0.85"
if [ -z "${NVCC:-}" ]; then
  tools="$root/.tools/cuda"
  if [ "$(cat "$tools/.installed" 2>/dev/null)" != "$CUDA_PACKAGES" ]; then
    echo "cuda: installing $CUDA_PACKAGES from PyPI into .tools/cuda" >&2
    rm -rf "$tools"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$tools" $CUDA_PACKAGES >&2
    echo "$CUDA_PACKAGES" > "$tools/.installed"
  fi
  NVCC="$tools/nvidia/cu13/bin/nvcc"
  cuda_home="$tools/nvidia/cu13"
  # The wheels ship cuBLAS versioned only; the linker wants the plain name.
  ln -sf libcublas.so.13 "$cuda_home/lib/libcublas.so"
  ln -sf libcublasLt.so.13 "$cuda_home/lib/libcublasLt.so"
  include="-I$cuda_home/include -I$cuda_home/include/cccl"
  libdir="$cuda_home/lib"
else
  cuda_home="$(cd "$(dirname "$NVCC")/.." && pwd)"
  include=""
  for dir in "$cuda_home/include" "$cuda_home/include/cccl"; do
    [ -d "$dir" ] && include="$include -I$dir"
  done
  libdir="$cuda_home/lib64"; [ -d "$libdir" ] || libdir="$cuda_home/lib"
fi
mkdir -p cuda-out
"$NVCC" --version | tail -n 2 >&2
"$NVCC" -O3 -std=c++17 --threads 0 -shared -Xcompiler -fPIC,-fvisibility=hidden $include \
  -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_100,code=sm_100 -gencode arch=compute_120,code=sm_120 \
  -gencode arch=compute_80,code=compute_80 \
  -cudart static -L"$libdir" -lcublas \
  -Xlinker -rpath,"$libdir":'$ORIGIN' \
  -o cuda-out/libtacit_cuda.so cuda/*.cu
echo "cuda: built cuda-out/libtacit_cuda.so" >&2
