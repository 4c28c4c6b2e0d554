#!/usr/bin/env bash
# Installs what bench/spotlight_minibatch.py needs into ignored folders under .tools/,
# skipping each part that already imports, then prints the PYTHONPATH to run it with.
#   .tools/torch      torch, numpy, scipy (pip --target)
#   .tools/torch-sk   scikit-learn (Spotlight's layers.py imports sklearn.utils)
#   .tools/spotlight  Spotlight's source: not on PyPI, so it is provided by hand
#
#   bash bench/spotlight_setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/.tools"
mkdir -p "$tools"

imports() { # imports PYTHONPATH MODULE...: whether python3 imports every MODULE
  local path=$1
  shift
  PYTHONPATH="$path" OPENBLAS_NUM_THREADS=1 python3 -c "import $(IFS=,; echo "$*")" 2>/dev/null
}
pip_target() { # pip_target DIR PACKAGE...
  local dir=$1
  shift
  echo "spotlight_setup: installing $* into ${dir#"$PWD/"}" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$dir" "$@" >&2
}

if ! imports "$tools/torch" torch numpy scipy; then
  pip_target "$tools/torch" torch numpy scipy
fi
if ! imports "$tools/torch-sk:$tools/torch" sklearn.utils; then
  pip_target "$tools/torch-sk" scikit-learn
fi

path="$tools/spotlight:$tools/torch-sk:$tools/torch"
if [ ! -f "$tools/spotlight/spotlight/factorization/implicit.py" ]; then
  cat >&2 <<EOF
spotlight_setup: Spotlight's source is missing: expected .tools/spotlight/spotlight/ (the package).
It is not on PyPI and GitHub is not reachable from here. Provide it from a machine that can:
  git clone https://github.com/maciejkula/spotlight && git -C spotlight checkout 75f4c8c
then copy its package folder so that this file exists:
  $tools/spotlight/spotlight/factorization/implicit.py
(e.g. mkdir -p $tools/spotlight && cp -r spotlight/spotlight $tools/spotlight/), and run this again.
EOF
  exit 1
fi
if ! imports "$path" spotlight.factorization.implicit spotlight.evaluation; then
  echo "spotlight_setup: .tools/spotlight/spotlight is there but does not import; try:" >&2
  echo "  PYTHONPATH=$path python3 -c 'import spotlight.factorization.implicit'" >&2
  exit 1
fi

echo "PYTHONPATH=$path"
echo "run: PYTHONPATH=$path OPENBLAS_NUM_THREADS=1 python3 bench/spotlight_minibatch.py --scale small --loss bpr"
