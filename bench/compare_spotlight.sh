#!/usr/bin/env bash
# tacit's MinibatchFactorization and Spotlight's ImplicitFactorizationModel
# (PyTorch) side by side on the same generated data (bench/hybrid_data.ts),
# one process per scale × loss × optimizer × threads × library, one after the
# other, then one table (bench/minibatch_table.ts): seconds per epoch, pairs
# per second, CPU over wall time, peak RSS (VmHWM), held-out MRR and
# precision@10 (Spotlight's definitions, train items excluded, over the same
# evaluated users), and Spotlight/tacit seconds per epoch.
#
#   bash bench/compare_spotlight.sh [--scales small,large]
#        [--losses pointwise,bpr,hinge,adaptive_hinge] [--optimizers adam,lazy-adam]
#        [--threads 1,2] [--epochs-small 10] [--epochs-large 2] [--libs tacit,spotlight]
#        [--spotlight-large-threads 2] [--runtime deno|bun]
#
# Both sides: Spotlight's test configuration (embedding 32, batch 1024, lr 1e-2,
# l2 1e-6, 5 negatives for adaptive hinge), seed 1, OPENBLAS_NUM_THREADS=1.
# tacit "adam" is Spotlight's default dense Adam; tacit "lazy-adam" is set
# beside Spotlight's sparse embeddings with torch.optim.SparseAdam, its only
# lazy optimiser, which has no weight decay: both sides run that pair with l2 0.
# Spotlight is not on PyPI: bench/spotlight_setup.sh installs PyTorch and says
# how to provide its source. Time on 2 idle cores: small ~3 minutes; large
# ~40 minutes, most of it Spotlight's dense Adam (~100 s per epoch), so at the
# large scale Spotlight runs only at --spotlight-large-threads.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh

scales=small,large losses=pointwise,bpr,hinge,adaptive_hinge optimizers=adam,lazy-adam
threads=1,2 epochs_small=10 epochs_large=2 libs=tacit,spotlight spotlight_large_threads=2
runtime=deno
while [ $# -gt 0 ]; do
  case "$1" in
    --scales) scales=$2 ;;
    --losses) losses=$2 ;;
    --optimizers) optimizers=$2 ;;
    --threads) threads=$2 ;;
    --epochs-small) epochs_small=$2 ;;
    --epochs-large) epochs_large=$2 ;;
    --libs) libs=$2 ;;
    --spotlight-large-threads) spotlight_large_threads=$2 ;;
    --runtime) runtime=$2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift 2
done

if [[ ,$libs, == *,spotlight,* ]]; then
  spotlight_path=$(bash bench/spotlight_setup.sh | sed -n "s/^PYTHONPATH=//p")
fi

IFS=, read -r -a scale_list <<< "$scales"
IFS=, read -r -a loss_list <<< "$losses"
IFS=, read -r -a optimizer_list <<< "$optimizers"
IFS=, read -r -a thread_list <<< "$threads"
deno run -A bench/hybrid_data.ts "${scale_list[@]}"

results=bench/out/spotlight_results.txt
: > "$results"
export OPENBLAS_NUM_THREADS=1
for scale in "${scale_list[@]}"; do
  epochs=$epochs_small
  [ "$scale" = large ] && epochs=$epochs_large
  for loss in "${loss_list[@]}"; do
    for optimizer in "${optimizer_list[@]}"; do
      for t in "${thread_list[@]}"; do
        # SparseAdam has no weight decay, so lazy Adam runs beside it without l2 too: under
        # Adam's normalisation even 1e-6 moves the rows whose loss gradient has become small.
        l2=1e-6
        [ "$optimizer" = lazy-adam ] && l2=0
        args=(--scale "$scale" --loss "$loss" --epochs "$epochs" --batch-size 1024 --lr 1e-2
          --l2 "$l2" --dim 32 --negatives 5 --seed 1 --threads "$t")
        if [[ ,$libs, == *,tacit,* ]]; then
          export TACIT_NUM_THREADS=$t
          if [ "$runtime" = bun ]; then bun bench/minibatch.ts "${args[@]}" --optimizer "$optimizer"
          else deno run -A bench/minibatch.ts "${args[@]}" --optimizer "$optimizer"; fi \
            | tee -a "$results" | grep -v '^RESULT '
        fi
        if [[ ,$libs, == *,spotlight,* ]] && { [ "$scale" != large ] || [ "$t" = "$spotlight_large_threads" ]; }; then
          reference=adam
          [ "$optimizer" = lazy-adam ] && reference=sparse-adam
          PYTHONPATH="$spotlight_path" python3 bench/spotlight_minibatch.py "${args[@]}" \
            --optimizer "$reference" | tee -a "$results" | grep -v '^RESULT '
        fi
      done
    done
  done
done
echo
deno run -A bench/minibatch_table.ts "$results"
