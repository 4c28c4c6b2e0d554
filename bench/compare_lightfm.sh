#!/usr/bin/env bash
# tacit's HybridFactorization and Python's LightFM 1.17 side by side on the same
# generated data with item features (bench/hybrid_data.ts), one process per
# scale × loss × library × seed, one after the other, then one table
# (bench/hybrid_table.ts): seconds per epoch, interactions/s, CPU time over wall
# time while training, peak RSS (VmHWM, read by each process), precision@10 and
# AUC on the held-out split (LightFM's definitions, computed on both sides from
# the ranks of predict_rank / predictRank), and tacit/LightFM seconds per epoch.
#
#   bash bench/compare_lightfm.sh [--scales small,large] [--losses warp,bpr]
#        [--seeds 1,2,3] [--epochs-small 10] [--epochs-large 3] [--threads 2]
#        [--libs tacit,lightfm] [--runtime deno|bun]
#
# Both sides: no_components 32, adagrad, learning rate 0.05, max_sampled 10,
# alphas 0, item features = identity + genres (rows L1-normalised), no user
# features, `threads` threads (LightFM num_threads, tacit numThreads and
# TACIT_NUM_THREADS), OPENBLAS_NUM_THREADS=1. Seeds are the models' random
# states; the data and the split are the same for every seed. At the large
# scale both sides are evaluated on the same fixed sample of 2,000 test users.
# Time: LightFM's share of the defaults is about 4 minutes on 2 idle cores (at the
# large scale ~10 s per epoch and ~5 s to evaluate, per loss and seed), so the whole
# run stays near 10 minutes if tacit is no slower; a busy machine doubles it (see
# cpu/wall in the table). `--scales small` takes well under a minute. LightFM is installed on first use
# into .tools/bench-py (its sdist builds only without build isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh

scales=small,large losses=warp,bpr seeds=1,2,3 epochs_small=10 epochs_large=3
threads=2 libs=tacit,lightfm runtime=deno
while [ $# -gt 0 ]; do
  case "$1" in
    --scales) scales=$2 ;;
    --losses) losses=$2 ;;
    --seeds) seeds=$2 ;;
    --epochs-small) epochs_small=$2 ;;
    --epochs-large) epochs_large=$2 ;;
    --threads) threads=$2 ;;
    --libs) libs=$2 ;;
    --runtime) runtime=$2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift 2
done

py="$PWD/.tools/bench-py"
if [[ ,$libs, == *,lightfm,* ]]; then
  if ! PYTHONPATH="$py" python3 -c "import lightfm._lightfm_fast_openmp" 2>/dev/null; then
    echo "installing lightfm 1.17 into .tools/bench-py" >&2
    python3 -m pip install --quiet --disable-pip-version-check --target "$py" \
      numpy==2.4.6 scipy==1.17.1 setuptools wheel cython >&2  # the numpy and scipy of bench/implicit_setup.sh
    # No build isolation: the sdist's setup.py needs setuptools from $py (PYTHONPATH);
    # --no-deps: lightfm's scikit-learn and requests serve only its Dataset and downloads.
    PYTHONPATH="$py" python3 -m pip install --quiet --disable-pip-version-check \
      --no-build-isolation --no-deps --target "$py" lightfm==1.17 >&2
  fi
  # Without OpenMP LightFM silently falls back to one thread: refuse to compare then.
  PYTHONPATH="$py" python3 -c "import lightfm._lightfm_fast_openmp" \
    || { echo "lightfm was built without OpenMP" >&2; exit 1; }
fi

IFS=, read -r -a scale_list <<< "$scales"
IFS=, read -r -a loss_list <<< "$losses"
IFS=, read -r -a seed_list <<< "$seeds"
deno run -A bench/hybrid_data.ts "${scale_list[@]}"

results=bench/out/lightfm_results.txt
: > "$results"
export OPENBLAS_NUM_THREADS=1 TACIT_NUM_THREADS="$threads"
for scale in "${scale_list[@]}"; do
  epochs=$epochs_small
  [ "$scale" = large ] && epochs=$epochs_large
  for loss in "${loss_list[@]}"; do
    for seed in "${seed_list[@]}"; do
      args=(--scale "$scale" --loss "$loss" --epochs "$epochs" --seed "$seed" --threads "$threads")
      if [[ ,$libs, == *,tacit,* ]]; then
        if [ "$runtime" = bun ]; then bun bench/hybrid.ts "${args[@]}"
        else deno run -A bench/hybrid.ts "${args[@]}"; fi | tee -a "$results" | grep -v '^RESULT '
      fi
      if [[ ,$libs, == *,lightfm,* ]]; then
        PYTHONPATH="$py" python3 bench/lightfm_hybrid.py "${args[@]}" \
          | tee -a "$results" | grep -v '^RESULT '
      fi
    done
  done
done
echo
deno run -A bench/hybrid_table.ts "$results"
