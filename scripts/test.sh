#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the pinned toolchain if
# missing, runs the static checks (deno fmt --check, deno lint, deno doc --lint
# mod.ts, deno publish --dry-run: one check each), builds the native library,
# compiles the CUDA library (scripts/build_cuda.sh), then runs the Zig unit tests, the
# TypeScript suite (and JSDoc examples) under Deno, the same suite under Bun, and the GPU tests
# on the CUDA kernels compiled for the CPU (scripts/build_cuda_emulated.sh; three thread orders). Ends with one
# line "tests: N passed, M failed, K skipped" summing all (skipped: the GPU tests without a GPU).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/toolchain.sh
set +e
log="$(mktemp -d)"

export NO_COLOR=1
checks_passed=0; checks_failed=0
for check in "deno fmt --check" "deno lint" "deno doc --lint mod.ts" \
  "deno publish --dry-run --allow-dirty"; do
  if $check > "$log/check" 2>&1; then
    checks_passed=$((checks_passed + 1))
  else
    checks_failed=$((checks_failed + 1)); echo "check failed: $check"; tail -n 40 "$log/check"
  fi
done
echo "checks: ${checks_passed} passed, ${checks_failed} failed"

zig build -Doptimize=ReleaseFast || { echo "tests: 0 passed, 1 failed (native build)"; exit 1; }

# The CUDA library compiles on every machine (nvcc from the pinned PyPI wheels, ~30 s); its
# kernels only run where a GPU is (tests/gpu.test.ts skips them, saying why, elsewhere).
if bash scripts/build_cuda.sh > "$log/cuda" 2>&1; then
  checks_passed=$((checks_passed + 1)); echo "check passed: the CUDA library compiles (cuda-out/libtacit_cuda.so)"
else
  checks_failed=$((checks_failed + 1)); echo "check failed: bash scripts/build_cuda.sh"; tail -n 40 "$log/cuda"
fi

zig build test -Doptimize=ReleaseSafe --summary all 2>&1 | tee "$log/zig"
zig_status=${PIPESTATUS[0]}
deno test -A --doc --quiet lib/ mod.ts tests/ 2>&1 | tee "$log/deno"
deno_status=${PIPESTATUS[0]}
bun test tests/ 2>&1 | tee "$log/bun"
bun_status=${PIPESTATUS[0]}
# The GPU parity tests once more, their kernels compiled for the CPU (tests/cuda_emulator:
# every thread a fiber, barriers real): the kernels' logic against the CPU path on any machine.
# Three runs at once (each is single-threaded), the threads between two barriers and the blocks
# in forward, reverse and shuffled order: a read that misses a barrier fails in one of them.
emu_status=0
emu_orders="forward reverse shuffle"
if bash scripts/build_cuda_emulated.sh > "$log/emu_build" 2>&1; then
  for order in $emu_orders; do
    ( TACIT_EMU_ORDER=$order TACIT_CUDA_LIB="$PWD/cuda-out/emulated/libtacit_cuda.so" \
        deno test -A --quiet tests/gpu.test.ts > "$log/emu_$order" 2>&1
      echo $? > "$log/emu_$order.status" ) &
  done
  wait
  for order in $emu_orders; do
    echo "GPU tests on the emulator, threads in $order order:"; cat "$log/emu_$order"
    [ "$(cat "$log/emu_$order.status")" -eq 0 ] || emu_status=1
  done
else
  emu_status=1; echo "check failed: bash scripts/build_cuda_emulated.sh"; tail -n 40 "$log/emu_build"
fi

count() { grep -aEo "$1" "$2" | grep -Eo '[0-9]+' | tail -n 1; }
zig_failed=$(count '[0-9]+ failed' "$log/zig"); zig_failed=${zig_failed:-0}
deno_passed=$(count '[0-9]+ passed' "$log/deno"); deno_failed=$(count '[0-9]+ failed' "$log/deno")
deno_skipped=$(count '[0-9]+ ignored' "$log/deno"); bun_skipped=$(count '^ *[0-9]+ skip$' "$log/bun")
emu_passed=0; emu_failed=0
for order in $emu_orders; do
  p=$(count '[0-9]+ passed' "$log/emu_$order" 2>/dev/null); f=$(count '[0-9]+ failed' "$log/emu_$order" 2>/dev/null)
  emu_passed=$((emu_passed + ${p:-0})); emu_failed=$((emu_failed + ${f:-0}))
done
bun_passed=$(count '^ *[0-9]+ pass$' "$log/bun"); bun_failed=$(count '^ *[0-9]+ fail$' "$log/bun")
# zig prints "N/M tests passed": the passed count is the first number.
zig_passed=$(grep -aEo '[0-9]+/[0-9]+ tests passed' "$log/zig" | tail -n 1 | cut -d/ -f1); zig_passed=${zig_passed:-0}
passed=$(( checks_passed + zig_passed + ${deno_passed:-0} + ${bun_passed:-0} + ${emu_passed:-0} ))
failed=$(( checks_failed + zig_failed + ${deno_failed:-0} + ${bun_failed:-0} + ${emu_failed:-0} ))
status=0
[ "$checks_failed" -eq 0 ] || status=1
for s in $zig_status $deno_status $bun_status $emu_status; do [ "$s" -eq 0 ] || status=1; done
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "checks: ${checks_passed} passed, zig: ${zig_passed} passed, deno: ${deno_passed:-0} passed, bun: ${bun_passed:-0} passed, GPU tests on the emulator (3 orders): ${emu_passed:-0} passed"
skipped=$(( ${deno_skipped:-0} + ${bun_skipped:-0} ))
grep -ah "^skipped tests: " "$log/deno" "$log/bun" 2>/dev/null | sort -u
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
