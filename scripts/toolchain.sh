#!/usr/bin/env bash
# Installs the pinned toolchain into .tools/ when this machine lacks it, then prints
# nothing but errors. Idempotent: a second run only checks versions.
#   Zig  from PyPI (ziglang), unless a zig at the pinned version is already on PATH.
#   Deno and Bun from npm.
#   hyparquet and hyparquet-writer from npm into node_modules (package-lock.json).
#   NumPy and DuckDB from PyPI into .tools/pyref (the interchange tests' independent readers).
# Source it (`. scripts/toolchain.sh`) to get ZIG, DENO and BUN exported and on PATH.
set -euo pipefail
ZIG_VERSION=0.17.0
DENO_VERSION=2.9.6
BUN_VERSION=1.4.4
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"

if command -v zig >/dev/null 2>&1 && [ "$(zig version 2>/dev/null)" = "$ZIG_VERSION" ]; then
  ZIG="$(command -v zig)"
else
  ZIG="$tools/py/ziglang/zig"
  if [ ! -x "$ZIG" ] || [ "$("$ZIG" version)" != "$ZIG_VERSION" ]; then
    echo "toolchain: installing zig $ZIG_VERSION from PyPI into .tools/py" >&2
    rm -rf "$tools/py"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$tools/py" "ziglang==$ZIG_VERSION" >&2
  fi
fi

bin="$tools/node_modules/.bin"
if [ ! -x "$bin/deno" ] || [ ! -x "$bin/bun" ] \
  || [ "$("$bin/deno" --version | head -n1 | cut -d' ' -f2)" != "$DENO_VERSION" ] \
  || [ "$("$bin/bun" --version)" != "$BUN_VERSION" ]; then
  echo "toolchain: installing deno $DENO_VERSION and bun $BUN_VERSION from npm into .tools" >&2
  printf '{"name":"tacit-toolchain","private":true}\n' > "$tools/package.json"
  (cd "$tools" && npm install --silent --no-audit --no-fund --no-save \
    "deno@$DENO_VERSION" "bun@$BUN_VERSION" >&2)
fi
# Independent readers for the interchange tests (tests/python.ts): NumPy and DuckDB from PyPI
# into .tools/pyref. Best effort: without them those tests skip, saying why.
PYREF_PACKAGES="numpy==2.4.6 duckdb==2.0.1"
if [ "$(cat "$tools/pyref/.installed" 2>/dev/null)" != "$PYREF_PACKAGES" ]; then
  echo "toolchain: installing $PYREF_PACKAGES from PyPI into .tools/pyref" >&2
  rm -rf "$tools/pyref"
  if python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$tools/pyref" $PYREF_PACKAGES >&2; then
    echo "$PYREF_PACKAGES" > "$tools/pyref/.installed"
  else
    echo "toolchain: could not install $PYREF_PACKAGES; the tests that read with them skip" >&2
  fi
fi

# The optional ./parquet export's npm dependencies, for Bun (which resolves them from
# node_modules; Deno takes them from deno.json's imports): package-lock.json pins them.
if [ "$(cd "$root" && node -p 'require("./node_modules/hyparquet-writer/package.json").version' \
  2>/dev/null)" != "0.17.0" ]; then
  echo "toolchain: installing the ./parquet dependencies (package-lock.json) into node_modules" >&2
  (cd "$root" && npm ci --silent --no-audit --no-fund >&2)
fi

DENO="$bin/deno"
BUN="$bin/bun"
export ZIG DENO BUN TACIT_ZIG="$ZIG"
export PATH="$(dirname "$ZIG"):$bin:$PATH"
