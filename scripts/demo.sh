#!/usr/bin/env bash
# The main demo on a fresh machine: installs the pinned toolchain if missing,
# then runs examples/listening.ts (the native library is built on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
exec deno run -A examples/listening.ts "$@"
