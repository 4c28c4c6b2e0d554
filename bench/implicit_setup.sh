#!/usr/bin/env bash
# Installs the pinned reference build of Python's implicit into .tools/bench-py once
# (implicit 0.7.3 and the numpy, scipy and threadpoolctl it ran with in the recorded
# comparisons), so every side-by-side figure is measured against the same build.
# Sourced by bench/compare_implicit.sh and bench/lmf_quality.sh; sets $py.
py="$PWD/.tools/bench-py"
implicit_packages="implicit==0.7.3 numpy==2.4.6 scipy==1.17.1 threadpoolctl==3.8.0"
# Installed already when every package of the list has its pinned version.
pinned() {
  PYTHONPATH="$py" python3 -c '
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))' "$@" 2>/dev/null
}
if ! pinned $implicit_packages; then
  echo "installing $implicit_packages into .tools/bench-py" >&2
  python3 -m pip install --quiet --disable-pip-version-check --upgrade --target "$py" $implicit_packages >&2
fi
