#!/usr/bin/env bash
# The release-mode decision, measured: builds libtacit ReleaseFast and
# ReleaseSafe into bench/out/<mode>/ and times, with each, the ALS half-sweeps
# (CG and Cholesky) and batched top-k of zig/bench.zig and BPR epochs of
# bench/bpr_lmf.ts, all at lastfm-360K scale on 2 threads.
#
#   bash bench/release_modes.sh [rounds]     (default 2 rounds, alternating modes)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
set +e
rounds=${1:-2}
for mode in ReleaseFast ReleaseSafe; do
  zig build -Doptimize="$mode" --prefix "bench/out/$mode" || exit 1
done
for round in $(seq 1 "$rounds"); do
  for mode in ReleaseFast ReleaseSafe; do
    echo "== round $round: $mode"
    zig build bench -Doptimize="$mode" -- 358000 292000 64 2 2>&1 | grep -E "als_solve|topk_dot|als_loss"
    TACIT_LIB="bench/out/$mode/lib/libtacit.so" deno run -A bench/bpr_lmf.ts --bprEpochs 3 --lmfEpochs 0 2>&1 |
      grep -E "^bpr 2 threads|peak"
  done
done
