#!/usr/bin/env bash
# Xeno test runner: unit tests (normal and ASan/UBSan builds), ISA tests in
# bare-metal mode, integration tests on the default guest, short fuzz runs.
# Each test passes, fails or skips; the last line is "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
TSAN_BUILD=${TSAN_BUILD:-build-tsan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
export XENO_VMM=$ROOT/$BUILD/src/vmm/xeno-vmm
export XENO_GUEST_DIR=$ROOT/$BUILD/guest
export XENO_BUILD=$ROOT/$BUILD
LOGDIR=$ROOT/$BUILD/test-logs
mkdir -p "$LOGDIR"
pass=0 fail=0 skip=0
failed=()

# run_one NAME CMD... : exit 0 pass, 77 skip, else fail. Output to a log.
# run_strict NAME CMD... : the same, but 77 is a failure too (programs
# whose exit status is their own result, e.g. a failing ISA test number).
STRICT=0
run_strict() { STRICT=1; run_one "$@"; STRICT=0; }
run_one() {
    local name=$1; shift
    local log="$LOGDIR/$(echo "$name" | tr '/ ' '__').log"
    local t0=$(date +%s.%N)
    "$@" >"$log" 2>&1
    local rc=$?
    local dt=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
    if [ $rc -eq 0 ]; then
        pass=$((pass+1)); printf 'PASS  %-50s %5ss\n' "$name" "$dt"
    elif [ $rc -eq 77 ] && [ $STRICT = 0 ]; then
        skip=$((skip+1)); printf 'SKIP  %-50s (%s)\n' "$name" "$(tail -n1 "$log")"
    else
        fail=$((fail+1)); failed+=("$name")
        printf 'FAIL  %-50s %5ss (exit %d)\n' "$name" "$dt" $rc
        tail -n 15 "$log" | sed 's/^/      | /'
    fi
}

echo "== lint"
run_one "lint/layers" python3 tests/lint/layers.py

# missing CATEGORY WHAT: a category the project builds produced nothing:
# one failure, so a run that silently tested nothing cannot pass.
missing() {
    fail=$((fail+1)); failed+=("$1")
    printf 'FAIL  %-50s (%s)\n' "$1" "$2"
}

echo "== unit tests"
units=$(find "$BUILD"/tests/unit -name "test_*" -type f -executable 2>/dev/null | sort)
[ -n "$units" ] || missing "unit" "no unit tests in $BUILD/tests/unit (is cmocka installed?)"
for t in $units; do
    run_one "unit/$(basename "$t")" "$t"
done
echo "== unit tests under AddressSanitizer + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
units=$(find "$ASAN_BUILD"/tests/unit -name "test_*" -type f -executable 2>/dev/null | sort)
[ -n "$units" ] || missing "asan" "no unit tests in $ASAN_BUILD (make asan)"
for t in $units; do
    run_one "asan/$(basename "$t")" "$t"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

# xend's unit tests, and a real xend under load (89-xend-reliability.sh
# with test VMMs), built with ThreadSanitizer: any report fails.
echo "== xend under ThreadSanitizer"
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
units=$(find "$TSAN_BUILD"/tests/unit -name "test_*" -type f -executable 2>/dev/null | sort)
[ -n "$units" ] || missing "tsan" "no xend unit tests in $TSAN_BUILD (make tsan)"
for t in $units; do
    run_one "tsan/$(basename "$t")" "$t"
done
if [ -x "$TSAN_BUILD/src/xend/xend" ]; then
    run_one "tsan/xend-concurrency" env XEND_TSAN=1 XEND="$ROOT/$TSAN_BUILD/src/xend/xend" \
        timeout 300 bash tests/integration/89-xend-reliability.sh
else
    missing "tsan/xend" "no xend in $TSAN_BUILD (make tsan)"
fi
unset TSAN_OPTIONS

# An ISA test's exit status is the number of its failing check: any
# non-zero status, 77 included, is a failure.
isas=$(ls "$BUILD"/isa/*.elf 2>/dev/null)
echo "== ISA tests (bare-metal, HTIF)"
[ -n "$isas" ] || missing "isa" "no ISA test binaries in $BUILD/isa (make isa)"
for t in $isas; do
    run_strict "isa/$(basename "$t" .elf)" timeout 60 "$XENO_VMM" --bios "$t"
done

echo "== ISA tests on the interpreter (JIT off)"
for t in $isas; do
    run_strict "isa-interp/$(basename "$t" .elf)" env XENO_EMU_JIT=0 timeout 60 "$XENO_VMM" --bios "$t"
done

echo "== fuzz targets (${FUZZ_SECONDS}s each)"
fuzzers=$(find "$FUZZ_BUILD"/tests/fuzz -name "fuzz_*" -type f -executable 2>/dev/null | sort)
[ -n "$fuzzers" ] || missing "fuzz" "no fuzz targets in $FUZZ_BUILD (make fuzz)"
for f in $fuzzers; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus="$ROOT/tests/fuzz/corpus/${name#fuzz_}"
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
    run_one "fuzz/$name" "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 "$work"
    rm -rf "$work"
done

echo "== integration tests"
ls tests/integration/*.sh >/dev/null 2>&1 || missing "integration" "no integration tests"
for t in tests/integration/*.sh; do
    [ -f "$t" ] && run_one "integration/$(basename "$t" .sh)" timeout 300 bash "$t"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
