#!/usr/bin/env bash
# tacit's approximate-nearest-neighbour indexes beside hnswlib, faiss and annoy on the same
# ALS factors of two generated lastfm-360K-sized matrices, one side after the other:
# setup (bench/ann_setup.sh, when a reference does not import) → data (bench/ann_data.ts,
# cached per scale) → references (bench/ann_reference.py) → tacit (bench/ann.ts) → table
# (bench/ann_table.ts). Results in bench/out/ann/<dataset>/{reference,tacit}.jsonl.
#   bash bench/compare_ann.sh [--scale 1] [--maxSeconds 60]
# --scale shrinks every size (0.05 for a quick check); --maxSeconds stops a sweep after a
# point slower than that.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
scale=1
max_seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --maxSeconds) max_seconds=$2; shift 2 ;;
    *) echo "compare_ann: unknown option $1 (known: --scale, --maxSeconds)" >&2; exit 2 ;;
  esac
done
py="$PWD/.tools/ann-py"
if ! PYTHONPATH="$py" python3 -c "import numpy, hnswlib, faiss, annoy" 2>/dev/null; then
  bash bench/ann_setup.sh >/dev/null
fi
deno run -A bench/ann_data.ts --scale "$scale"
OPENBLAS_NUM_THREADS=1 PYTHONPATH="$py" python3 bench/ann_reference.py --max-seconds "$max_seconds"
deno run -A bench/ann.ts --maxSeconds "$max_seconds"
deno run -A bench/ann_table.ts
