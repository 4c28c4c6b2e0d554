#!/usr/bin/env bash
# tacit and Python's implicit (from PyPI, installed into .tools/bench-py) side by
# side on the same generated lastfm-360K-sized matrix, one after the other.
#   bash bench/compare_implicit.sh [factors=64] [iterations=3] [als|all]
# `als` (default) compares ALS and recommend; `all` adds BPR, LMF and BM25 item-item.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
factors=${1:-64}
iterations=${2:-3}
models=${3:-als}
py="$PWD/.tools/bench-py"
if [ ! -d "$py/implicit" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$py" implicit==0.7.3 numpy scipy threadpoolctl >&2
fi
deno run -A bench/dump_matrix.ts
OPENBLAS_NUM_THREADS=1 PYTHONPATH="$py" python3 bench/implicit_als.py "$factors" "$iterations"
deno run -A bench/als.ts --factors "$factors" --iterations "$iterations"
if [ "$models" = "all" ]; then
  OPENBLAS_NUM_THREADS=1 PYTHONPATH="$py" python3 -W ignore bench/implicit_others.py "$factors"
  deno run -A bench/bpr_lmf.ts --factors "$factors" --bprEpochs 3 --lmfEpochs 1
  deno run -A bench/knn.ts
fi
