#!/usr/bin/env bash
# tacit and Python's implicit 0.7.3 (from PyPI, installed into .tools/bench-py)
# side by side on the same generated lastfm-360K-sized matrix (bm25-weighted),
# one library after the other, on each thread count, then the table
# (bench/compare_table.ts) with the ratios. Raw lines: bench/out/compare_implicit.txt.
#   bash bench/compare_implicit.sh [--threads 1,2] [--factors 64] [--iterations 3]
#                                  [--kernels als,bpr,lmf,knn]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
threads=1,2 factors=64 iterations=3 kernels=als,bpr,knn
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2 ;;
    --factors) factors=$2 ;;
    --iterations) iterations=$2 ;;
    --kernels) kernels=$2 ;;
    *) echo "unknown option $1; known: --threads --factors --iterations --kernels" >&2; exit 2 ;;
  esac
  shift 2
done
. bench/implicit_setup.sh
log=bench/out/compare_implicit.txt
mkdir -p bench/out
"$DENO" run -A bench/dump_matrix.ts
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(date -u +%F)" | tee "$log"
for t in ${threads//,/ }; do
  OPENBLAS_NUM_THREADS=1 PYTHONPATH="$py" python3 -W ignore bench/implicit_kernels.py "$factors" "$iterations" "$t" "$kernels" | tee -a "$log"
  "$DENO" run -A bench/compare_kernels.ts --factors "$factors" --iterations "$iterations" --threads "$t" --kernels "$kernels" | tee -a "$log"
done
"$DENO" run -A bench/compare_table.ts "$log"
