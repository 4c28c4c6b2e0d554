#!/usr/bin/env bash
# LMF quality and fit time, tacit (both negative-sampling rules) and Python's
# implicit 0.7.3 (installed from PyPI into .tools/bench-py), on the same
# generated logs and splits, one after the other, with the same thread count.
#   bash bench/lmf_quality.sh [threads=2] [seed=1]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
threads=${1:-2}
seed=${2:-1}
. bench/implicit_setup.sh
zig build -Doptimize=ReleaseFast
deno run -A bench/lmf_quality.ts --threads "$threads" --seed "$seed"
OPENBLAS_NUM_THREADS=1 PYTHONPATH="$py" python3 -W ignore bench/implicit_lmf_quality.py "$threads" "$seed"
