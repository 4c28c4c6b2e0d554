#!/usr/bin/env bash
# The GPU check, in two halves.
#
#   bash scripts/gpu_check.sh prepare   here (no GPU needed): builds the portable CPU library
#                                       (x86_64_v3, stripped) and compresses Bun with xz -9 into
#                                       .gpu-carry/ (about 45 MB; the device tool carries 64 MiB)
#   bash scripts/gpu_check.sh run       on a GPU machine that has nvcc 13.x and cuBLAS but no
#                                       Deno, Bun or Zig and no registry: builds the CUDA library
#                                       there with its nvcc, then runs tests/gpu.test.ts and
#                                       bench/gpu.ts under the carried Bun; logs go to $OUT (or
#                                       .gpu-carry/out). Under 5 minutes on an H200 machine.
#
# From this machine, with the device tool: run "bash scripts/gpu_check.sh run" carrying
# .gpu-carry (after "prepare").
set -euo pipefail
cd "$(dirname "$0")/.."
carry=.gpu-carry
mode=${1:-}
[ $# -gt 0 ] && shift

case "$mode" in
prepare)
  . scripts/toolchain.sh
  rm -rf "$carry" && mkdir -p "$carry"
  zig build -Doptimize=ReleaseFast -Dtarget=x86_64-linux-gnu.2.28 -Dcpu=x86_64_v3 -Dstrip=true \
    --prefix "$carry/zig"
  xz -9 -T2 -c "$(readlink -f "$BUN")" > "$carry/bun.xz"
  du -ch "$carry/zig/lib/libtacit.so" "$carry/bun.xz" | tail -n 1 | sed 's/^/gpu_check: to carry: /'
  ;;
run)
  out=${OUT:-$carry/out}
  mkdir -p "$out"
  started=$(date +%s)
  nvcc=${NVCC:-$(command -v nvcc || true)}
  [ -n "$nvcc" ] || nvcc=/usr/local/cuda/bin/nvcc
  [ -x "$nvcc" ] || { echo "gpu_check: no nvcc (set NVCC)"; exit 1; }
  command -v nvidia-smi >/dev/null && nvidia-smi -L | tee "$out/gpu.txt"
  NVCC="$nvcc" bash scripts/build_cuda.sh 2>&1 | tee "$out/build_cuda.txt"
  bun=$(mktemp -d)/bun
  xz -d -c "$carry/bun.xz" > "$bun" && chmod +x "$bun"
  export TACIT_LIB="$PWD/$carry/zig/lib/libtacit.so" TACIT_CUDA_LIB="$PWD/cuda-out/libtacit_cuda.so"
  export NO_COLOR=1 TACIT_PROGRESS=0
  status=0
  "$bun" test tests/gpu.test.ts 2>&1 | tee "$out/gpu_tests.txt" || status=1
  "$bun" bench/gpu.ts "$@" 2>&1 | tee "$out/gpu_bench.txt" || status=1
  echo "gpu_check: $(( $(date +%s) - started )) s, status $status"
  exit $status
  ;;
*)
  echo "usage: bash scripts/gpu_check.sh prepare | run" >&2
  exit 2
  ;;
esac
