#!/usr/bin/env bash
# Installs the reference ANN libraries bench/ann_reference.py compares against into
# .tools/ann-py (ignored), one package at a time so that one failing to install (hnswlib
# and annoy may build from source with the C++ compiler) leaves the others usable; the
# reason of a failure is kept in .tools/ann-py/<package>.failed. Skips what already imports.
#
#   bash bench/ann_setup.sh          prints the PYTHONPATH to run the reference with
set -uo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.tools/ann-py"
mkdir -p "$dir"

imports() { # imports MODULE: whether python3 imports MODULE from $dir
  PYTHONPATH="$dir" OPENBLAS_NUM_THREADS=1 python3 -c "import $1" 2>/dev/null
}

# package:module pairs; numpy first, the others build against it.
for pair in numpy:numpy hnswlib:hnswlib faiss-cpu:faiss annoy:annoy; do
  package=${pair%%:*}
  module=${pair##*:}
  if imports "$module"; then
    rm -f "$dir/$package.failed"
    continue
  fi
  echo "ann_setup: installing $package into .tools/ann-py" >&2
  if python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$dir" "$package" >"$dir/$package.log" 2>&1 && imports "$module"; then
    rm -f "$dir/$package.failed" "$dir/$package.log"
  else
    tail -n 20 "$dir/$package.log" >"$dir/$package.failed"
    echo "ann_setup: $package did not install; the reason is in .tools/ann-py/$package.failed:" >&2
    tail -n 5 "$dir/$package.failed" >&2
  fi
done
echo "PYTHONPATH=$dir"
